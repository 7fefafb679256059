"""Pure DaemonSet decisions (upstream ``pkg/controller/daemon/util`` and the predicates of
``daemon_controller.go``): which nodes should run a daemon Pod, the Pod a node
gets, which Pods are up to date, what the status says.

A daemon Pod is pinned to its node by a required node affinity on
``metadata.name`` (the scheduler binds it, as upstream since 1.12), and gets
tolerations for the taints the node lifecycle and kubelet put on nodes that
are not-ready, unreachable, under pressure or cordoned, so that a node's
daemons (networking, logging) keep running through exactly the conditions
that evict everything else.
"""

from __future__ import annotations

import copy
import functools
from datetime import datetime
from typing import Any

from tinykube.controllers.deployment.util import compute_hash, scaled_value
from tinykube.controllers.podutil import is_pod_available, is_pod_ready, meta
from tinykube.controllers.schedulingutil import required_affinity_matches, untolerated_taint

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"

# (key, effect) of the tolerations every daemon Pod gets (AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def template_of(ds: Obj) -> Obj:
    return (ds.get("spec") or {}).get("template") or {}


def revision_hash(ds: Obj) -> str:
    return compute_hash(template_of(ds), (ds.get("status") or {}).get("collisionCount"))


def template_generation(ds: Obj) -> str | None:
    return (meta(ds).get("annotations") or {}).get(TEMPLATE_GENERATION)


def add_daemon_tolerations(pod_spec: Obj) -> None:
    """Add (or replace) the daemon tolerations in ``pod_spec`` (mutates)."""
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    tolerations = list(pod_spec.get("tolerations") or [])
    for key, effect in wanted:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        same = [t for t in tolerations if t.get("key") == key and t.get("effect") == effect]
        if toleration not in same:
            tolerations = [t for t in tolerations if t not in same] + [toleration]
    pod_spec["tolerations"] = tolerations


def pin_to_node(pod_spec: Obj, node_name: str) -> None:
    """Require ``metadata.name == node_name`` (ReplaceDaemonSetPodNodeNameNodeAffinity)."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    node_affinity = pod_spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    required["nodeSelectorTerms"] = [term]


def daemon_pod_template(ds: Obj, hash_: str) -> Obj:
    """The template every daemon Pod starts from: tolerations plus the revision labels."""
    template = copy.deepcopy(template_of(ds))
    add_daemon_tolerations(template.setdefault("spec", {}))
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    generation = template_generation(ds)
    if generation is not None:
        labels[GENERATION_LABEL] = generation
    if hash_:
        labels[HASH_LABEL] = hash_
    return template


def should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """(should run a new daemon Pod here, may keep an existing one) (NodeShouldRunDaemonPod)."""
    spec = copy.deepcopy(template_of(ds).get("spec") or {})
    wanted_node = spec.get("nodeName") or ""
    name = meta(node).get("name")
    if wanted_node and wanted_node != name:
        return False, False
    add_daemon_tolerations(spec)
    if not required_affinity_matches(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = spec.get("tolerations") or []
    hard = untolerated_taint(
        taints, tolerations, lambda t: t.get("effect") in ("NoSchedule", "NoExecute")
    )
    if hard is None:
        return True, True
    # A NoSchedule taint keeps new daemons off but lets a running one stay.
    evicting = untolerated_taint(taints, tolerations, lambda t: t.get("effect") == "NoExecute")
    return False, evicting is None


def target_node(pod: Obj) -> str:
    """The node a daemon Pod is for: where it runs, or where its affinity pins it."""
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        return str(node)
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            values = req.get("values") or []
            if (
                req.get("key") == "metadata.name"
                and req.get("operator") == "In"
                and len(values) == 1
            ):
                return str(values[0])
    return ""


def is_pod_updated(pod: Obj, hash_: str, generation: str | None) -> bool:
    labels = meta(pod).get("labels") or {}
    hash_matches = bool(hash_) and labels.get(HASH_LABEL) == hash_
    generation_matches = generation is not None and labels.get(GENERATION_LABEL) == generation
    return hash_matches or generation_matches


_PHASE_RANK = {"Running": 0}


def _by_age_and_phase(a: Obj, b: Obj) -> int:
    """Running before not, then oldest first (podByCreationTimestampAndPhase)."""
    ra = _PHASE_RANK.get((a.get("status") or {}).get("phase") or "", 1)
    rb = _PHASE_RANK.get((b.get("status") or {}).get("phase") or "", 1)
    if ra != rb:
        return ra - rb
    ka = (meta(a).get("creationTimestamp") or "", meta(a).get("name") or "")
    kb = (meta(b).get("creationTimestamp") or "", meta(b).get("name") or "")
    return -1 if ka < kb else (1 if ka > kb else 0)


def oldest_first(pods: list[Obj]) -> list[Obj]:
    return sorted(pods, key=functools.cmp_to_key(_by_age_and_phase))


def pods_should_be_on_node(
    node: Obj, pods: list[Obj], ds: Obj, hash_: str, now: datetime
) -> tuple[bool, list[Obj]]:
    """(node needs a daemon Pod, Pods to delete on it) (upstream podsShouldBeOnNode).

    A node whose only daemon Pod failed gets it deleted first; the replacement
    comes on the next sync, once the deletion has been observed.
    """
    run, keep = should_run(node, ds)
    if run and not pods:
        return True, []
    if not keep:
        return False, [p for p in pods if not meta(p).get("deletionTimestamp")]
    to_delete, running = [], []
    for pod in pods:
        if meta(pod).get("deletionTimestamp"):
            continue
        if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            to_delete.append(pod)
        else:
            running.append(pod)
    if not allows_surge(ds):
        if len(running) > 1:
            to_delete.extend(oldest_first(running)[1:])  # keep the oldest, running first
        return False, to_delete
    if not running:
        return run, to_delete
    return False, to_delete + _surge_extras(ds, running, hash_, now)


def _surge_extras(ds: Obj, running: list[Obj], hash_: str, now: datetime) -> list[Obj]:
    """With maxSurge, keep the oldest new Pod and, until it is available, the oldest old one."""
    newest: Obj | None = None
    oldest_old: Obj | None = None
    extras = []
    for pod in oldest_first(running):
        if (meta(pod).get("labels") or {}).get(HASH_LABEL) == hash_:
            if newest is None:
                newest = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        extras.append(pod)
    if newest is not None and oldest_old is not None:
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if not is_pod_ready(oldest_old) or is_pod_available(newest, min_ready, now):
            extras.append(oldest_old)
    return extras


def allows_surge(ds: Obj) -> bool:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return False
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", 0)
    return surge not in (0, "0%", None)


def max_unavailable_and_surge(ds: Obj, desired: int) -> tuple[int, int]:
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, True)
    surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
    if desired > 0 and unavailable == 0 and surge == 0:
        unavailable = 1
    return unavailable, surge


def daemon_status(
    ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str, now: datetime
) -> Obj:
    """The counts ``kubectl get ds`` shows (updateDaemonSetStatus)."""
    desired = current = misscheduled = ready = available = updated = 0
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    for node in nodes:
        run, _ = should_run(node, ds)
        pods = by_node.get(meta(node).get("name", "")) or []
        if not run:
            misscheduled += 1 if pods else 0
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = oldest_first(pods)[0]
        if is_pod_ready(pod):
            ready += 1
            available += 1 if is_pod_available(pod, min_ready, now) else 0
        updated += 1 if is_pod_updated(pod, hash_, generation) else 0
    status: Obj = {
        "currentNumberScheduled": current,
        "numberMisscheduled": misscheduled,
        "desiredNumberScheduled": desired,
        "numberReady": ready,
    }
    extra = {"updatedNumberScheduled": updated, "numberAvailable": available}
    extra["numberUnavailable"] = desired - available
    status.update({k: v for k, v in extra.items() if v})
    old = ds.get("status") or {}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    return status
