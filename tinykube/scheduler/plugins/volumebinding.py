"""VolumeBinding: a pod's PersistentVolumeClaims must exist and be bindable where it goes.

Upstream's ``volumebinding`` plugin, for what tinykube's volumes need:

- ``pre_filter`` looks up every claim the pod uses (``persistentVolumeClaim``
  volumes, and ``ephemeral`` ones, whose claim is ``<pod>-<volume>``). A
  missing claim, one being deleted, or one not bound yet whose class binds
  Immediately (or which has no class) rejects the pod on every node at once,
  with upstream's words: the PV controller, not the scheduler, must act
  first, and a PVC or PV event moves the pod back to the queue
  (``Scheduler``'s storage informers). A pod with no claims is skipped, so its
  filters stay node-local and memoised.
- ``filter`` checks, per node, that each bound claim's volume exists and that
  its ``nodeAffinity`` admits the node, and that each WaitForFirstConsumer
  claim could be satisfied there: an Available volume that fits it and the
  node, or a class with a provisioner.

Everything is read from ``handle.volumes``, the scheduler's informer caches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tinykube.api import quantity
from tinykube.scheduler.framework import (
    SKIP,
    SUCCESS,
    CycleState,
    Handle,
    NodeInfo,
    NodeSelectorTerm,
    PodInfo,
    Snapshot,
    Status,
    unresolvable,
    unschedulable,
)

NAME = "VolumeBinding"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
_STATE = "VolumeBinding/claims"

Obj = dict[str, Any]


@dataclass
class _Claims:
    """What pre_filter learned about the pod's claims, for the per-node filter."""

    bound: list[Obj] = field(default_factory=list)  # the PersistentVolumes (None: missing)
    missing_volume: bool = False
    delayed: list[tuple[Obj, Obj]] = field(default_factory=list)  # (claim, class)


def claim_names(pod: Mapping[str, Any]) -> list[str]:
    """The claims a pod uses, in volume order."""
    meta = pod.get("metadata") or {}
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("persistentVolumeClaim"):
            names.append(volume["persistentVolumeClaim"].get("claimName", ""))
        elif volume.get("ephemeral"):
            names.append(f"{meta.get('name', '')}-{volume.get('name', '')}")
    return names


def class_of(claim: Obj) -> str:
    beta = ((claim.get("metadata") or {}).get("annotations") or {}).get(BETA_CLASS)
    if beta is not None:
        return str(beta)
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def _storage(value: Any) -> Fraction:
    try:
        return quantity.parse(value if value is not None else "0").amount
    except ValueError:
        return Fraction(0)


def node_affinity_admits(volume: Obj, node: NodeInfo) -> bool:
    """A volume's ``spec.nodeAffinity.required`` terms (ORed) admit ``node``."""
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not required:
        return True
    terms = [NodeSelectorTerm.parse(t) for t in required.get("nodeSelectorTerms") or []]
    return any(term.matches(node) for term in terms)


def _fits(volume: Obj, claim: Obj) -> bool:
    spec, want = volume.get("spec") or {}, claim.get("spec") or {}
    ref = spec.get("claimRef")
    meta = claim.get("metadata") or {}
    if ref and (ref.get("namespace"), ref.get("name")) != (meta.get("namespace"), meta.get("name")):
        return False
    if not ref and (volume.get("status") or {}).get("phase") not in (None, "", "Available"):
        return False
    if class_of(volume) != class_of(claim):
        return False
    if not set(want.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    wanted = ((want.get("resources") or {}).get("requests") or {}).get("storage")
    return _storage((spec.get("capacity") or {}).get("storage")) >= _storage(wanted)


class VolumeBinding:
    """The plugin; it reads claims, volumes and classes through the handle."""

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Snapshot) -> Status:
        names = claim_names(pod.pod)
        if not names:
            return SKIP
        namespace = (pod.pod.get("metadata") or {}).get("namespace", "")
        store = self.handle.volumes
        found = _Claims()
        for name in names:
            claim = store.persistent_volume_claim(namespace, name)
            if claim is None:
                return unresolvable(f'persistentvolumeclaim "{name}" not found')
            if (claim.get("metadata") or {}).get("deletionTimestamp"):
                return unresolvable(f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if volume_name:
                volume = store.persistent_volume(volume_name)
                if volume is None:
                    found.missing_volume = True
                else:
                    found.bound.append(volume)
                continue
            class_name = class_of(claim)
            sc = store.storage_class(class_name) if class_name else None
            if class_name and sc is None:
                return unresolvable(f'storageclass.storage.k8s.io "{class_name}" not found')
            if sc is None or sc.get("volumeBindingMode") != WAIT_FOR_FIRST_CONSUMER:
                return unresolvable(ERR_UNBOUND_IMMEDIATE)
            found.delayed.append((claim, sc))
        state[_STATE] = found
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        found: _Claims | None = state.get(_STATE)
        if found is None:
            return SUCCESS
        if found.missing_volume:
            return unresolvable(ERR_PV_NOT_EXIST)
        if not all(node_affinity_admits(v, node) for v in found.bound):
            return unresolvable(ERR_NODE_CONFLICT)
        if found.delayed and not self._delayed_fit(found.delayed, node):
            return unschedulable(ERR_BIND_CONFLICT)
        return SUCCESS

    def _delayed_fit(self, delayed: Sequence[tuple[Obj, Obj]], node: NodeInfo) -> bool:
        volumes = self.handle.volumes.persistent_volumes()
        taken: set[str] = set()
        for claim, sc in delayed:
            match = next(
                (
                    v
                    for v in volumes
                    if (v.get("metadata") or {}).get("name") not in taken
                    and not (v.get("metadata") or {}).get("deletionTimestamp")
                    and _fits(v, claim)
                    and node_affinity_admits(v, node)
                ),
                None,
            )
            if match is not None:
                taken.add(match["metadata"]["name"])
            elif sc.get("provisioner", NO_PROVISIONER) == NO_PROVISIONER:
                return False
        return True


def new(args: Mapping[str, Any] | None, handle: Handle) -> VolumeBinding:
    return VolumeBinding(handle)
