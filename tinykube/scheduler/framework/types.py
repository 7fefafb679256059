"""``PodInfo`` and ``NodeInfo``: a pod's derived facts, and a node with what its pods add up to.

Both are computed once and read many times: a PodInfo when the pod enters a
cycle (or the cache), a NodeInfo incrementally as pods come and go. Every
change to a NodeInfo takes a new ``generation``, which is what lets the
framework remember per-node results safely.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinykube.api import selectors
from tinykube.scheduler.framework.resources import (
    CPU,
    MEMORY,
    Resources,
    pod_requests,
    resource_list,
)

Obj = dict[str, Any]

# ---- pods ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A parsed PodAffinityTerm: which pods (namespaces + selector) share which topology."""

    selector: selectors.Selector
    topology_key: str
    namespaces: frozenset[str]
    namespace_selector: selectors.Selector
    weight: int = 0

    def matches(self, pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
        """True when ``pod`` is one of the pods this term talks about."""
        if pod.namespace in self.namespaces or (
            ns_labels is not None and self.namespace_selector.matches(ns_labels)
        ):
            return self.selector.matches(pod.labels)
        return False


def _affinity_term(pod_ns: str, term: Mapping[str, Any], weight: int = 0) -> AffinityTerm:
    namespaces = term.get("namespaces") or []
    ns_sel = term.get("namespaceSelector")
    if not namespaces and ns_sel is None:
        namespaces = [pod_ns]
    return AffinityTerm(
        selectors.label_selector_as_selector(term.get("labelSelector")),
        term.get("topologyKey", ""),
        frozenset(namespaces),
        selectors.label_selector_as_selector(ns_sel),
        weight,
    )


def _terms(pod_ns: str, block: Mapping[str, Any] | None) -> tuple[list[Any], list[Any]]:
    block = block or {}
    required = [
        _affinity_term(pod_ns, t)
        for t in block.get("requiredDuringSchedulingIgnoredDuringExecution") or []
    ]
    preferred = [
        _affinity_term(pod_ns, w.get("podAffinityTerm") or {}, int(w.get("weight", 0)))
        for w in block.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ]
    return required, preferred


HostPort = tuple[str, str, int]
"""(hostIP, protocol, hostPort); an empty hostIP is 0.0.0.0, as upstream defaults it."""


def host_ports(pod: Mapping[str, Any]) -> list[HostPort]:
    out: list[HostPort] = []
    spec = pod.get("spec") or {}
    containers = itertools.chain(spec.get("containers") or [], spec.get("initContainers") or [])
    for container in containers:
        for port in container.get("ports") or []:
            if int(port.get("hostPort") or 0) > 0:
                ip = port.get("hostIP") or "0.0.0.0"
                out.append((ip, port.get("protocol") or "TCP", int(port["hostPort"])))
    return out


_uids = itertools.count()


class PodInfo:
    """A pod and its derived facts, computed once (``framework.PodInfo`` upstream)."""

    __slots__ = (
        "_non_zero",
        "_requests",
        "key",
        "labels",
        "name",
        "namespace",
        "node_name",
        "pod",
        "ports",
        "preferred_affinity",
        "preferred_anti_affinity",
        "priority",
        "required_affinity",
        "required_anti_affinity",
    )

    def __init__(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.namespace: str = meta.get("namespace", "")
        self.name: str = meta.get("name", "")
        self.key: str = meta.get("uid") or f"{self.namespace}/{self.name}#{next(_uids)}"
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.node_name: str = spec.get("nodeName", "")
        self.priority: int = int(spec.get("priority") or 0)
        self.ports = host_ports(pod)
        affinity = spec.get("affinity") or {}
        self.required_affinity, self.preferred_affinity = _terms(
            self.namespace, affinity.get("podAffinity")
        )
        self.required_anti_affinity, self.preferred_anti_affinity = _terms(
            self.namespace, affinity.get("podAntiAffinity")
        )
        self._requests: Resources | None = None
        self._non_zero: Resources | None = None

    @property
    def requests(self) -> Resources:
        if self._requests is None:
            self._requests = pod_requests(self.pod)
        return self._requests

    @property
    def non_zero_requests(self) -> Resources:
        if self._non_zero is None:
            self._non_zero = pod_requests(self.pod, non_zero=True)
        return self._non_zero

    @property
    def has_affinity(self) -> bool:
        return bool(
            self.required_affinity
            or self.preferred_affinity
            or self.required_anti_affinity
            or self.preferred_anti_affinity
        )

    def __repr__(self) -> str:
        return f"PodInfo({self.namespace}/{self.name})"


# ---- nodes ---------------------------------------------------------------------


@dataclass(slots=True)
class ImageState:
    """An image on a node: its size and on how many nodes of the cluster it is."""

    size: int
    num_nodes: int = 1


def normalized_image_name(name: str) -> str:
    """``nginx`` and ``nginx:latest`` are one image (the tag defaults to latest)."""
    if "@" in name:
        return name
    if ":" not in name.rsplit("/", 1)[-1]:
        return name + ":latest"
    return name


_generation = itertools.count(1)


class NodeInfo:
    """A node, its pods (bound and assumed) and what they add up to."""

    __slots__ = (
        "allocatable",
        "generation",
        "image_states",
        "labels",
        "name",
        "node",
        "non_zero_requested",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "requested",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: Obj | None = None, pods: Iterable[PodInfo] = ()) -> None:
        self.node: Obj | None = None
        self.name = ""
        self.labels: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.unschedulable = False
        self.allocatable: Resources = {}
        self.image_states: dict[str, ImageState] = {}
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.requested: Resources = {}
        self.non_zero_requested: Resources = {CPU: 0, MEMORY: 0}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}
        self.generation = next(_generation)
        if node is not None:
            self.set_node(node)
        for pod in pods:
            self.add_pod(pod)

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        self.node = node
        self.name = meta.get("name", "")
        self.labels = meta.get("labels") or {}
        spec = node.get("spec") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        status = node.get("status") or {}
        self.allocatable = resource_list(status.get("allocatable") or status.get("capacity"))
        self.image_states = {}
        for image in status.get("images") or []:
            for name in image.get("names") or []:
                self.image_states[normalized_image_name(name)] = ImageState(
                    int(image.get("sizeBytes") or 0)
                )
        self.generation = next(_generation)

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.key] = pod
        if pod.has_affinity:
            self.pods_with_affinity[pod.key] = pod
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.key] = pod
        self._account(pod, 1)

    def replace_pod(self, pod: PodInfo) -> bool:
        """Swap in a newer object of a pod already here, if nothing counted changed.

        A binding confirmed by the informer, or a status update, changes the pod
        but not what it takes from the node; keeping the generation then keeps
        every remembered per-node result valid. False: remove and add instead.
        """
        old = self.pods.get(pod.key)
        if (
            old is None
            or old.requests != pod.requests
            or old.non_zero_requests != pod.non_zero_requests
            or old.ports != pod.ports
            or old.has_affinity != pod.has_affinity
            or bool(old.required_anti_affinity) != bool(pod.required_anti_affinity)
        ):
            return False
        self.pods[pod.key] = pod
        if pod.has_affinity:
            self.pods_with_affinity[pod.key] = pod
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.key] = pod
        return True

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self.pods_with_affinity.pop(key, None)
            self.pods_with_required_anti_affinity.pop(key, None)
            self._account(pod, -1)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        for name, value in pod.requests.items():
            self.requested[name] = self.requested.get(name, 0) + sign * value
        nz = pod.non_zero_requests
        self.non_zero_requested[CPU] += sign * nz[CPU]
        self.non_zero_requested[MEMORY] += sign * nz[MEMORY]
        for ip, proto, port in pod.ports:
            ips = self.used_ports.setdefault((proto, port), {})
            ips[ip] = ips.get(ip, 0) + sign
            if ips[ip] <= 0:
                del ips[ip]
                if not ips:
                    del self.used_ports[(proto, port)]
        self.generation = next(_generation)

    def port_conflicts(self, wanted: Sequence[HostPort]) -> bool:
        """True when a wanted host port is taken: same ip, or 0.0.0.0 on either side."""
        for ip, proto, port in wanted:
            ips = self.used_ports.get((proto, port))
            if ips and (ip == "0.0.0.0" or ip in ips or "0.0.0.0" in ips):
                return True
        return False

    def clone(self) -> NodeInfo:
        """A copy whose pods can be removed (preemption's what-if) without touching this one."""
        copy = NodeInfo.__new__(NodeInfo)
        copy.node, copy.name, copy.labels, copy.taints = (
            self.node,
            self.name,
            self.labels,
            self.taints,
        )
        copy.unschedulable = self.unschedulable
        copy.allocatable = self.allocatable
        copy.image_states = self.image_states
        copy.pods = dict(self.pods)
        copy.pods_with_affinity = dict(self.pods_with_affinity)
        copy.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        copy.requested = dict(self.requested)
        copy.non_zero_requested = dict(self.non_zero_requested)
        copy.used_ports = {k: dict(v) for k, v in self.used_ports.items()}
        copy.generation = self.generation
        return copy

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"
