"""Fluent builders for API objects in tests, in the manner of upstream's
``pkg/scheduler/testing/wrappers.go``: ``MakePod().name("p").req(cpu="1").obj()``.

Each builder holds a plain dict (the API's JSON shape) and every method returns
the builder, so a test states only what matters to it. ``obj()`` returns the
dict itself.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Self

Obj = dict[str, Any]
_uids = itertools.count(1)


class MakePod:
    """A Pod with one container ``c0`` unless told otherwise."""

    def __init__(self) -> None:
        n = next(_uids)
        self._pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"pod-{n}", "namespace": "default", "uid": f"uid-pod-{n}"},
            "spec": {"containers": [], "schedulerName": "default-scheduler"},
        }

    @property
    def _meta(self) -> Obj:
        return self._pod["metadata"]

    @property
    def _spec(self) -> Obj:
        return self._pod["spec"]

    def name(self, name: str) -> Self:
        self._meta["name"] = name
        return self

    def namespace(self, ns: str) -> Self:
        self._meta["namespace"] = ns
        return self

    def uid(self, uid: str) -> Self:
        self._meta["uid"] = uid
        return self

    def label(self, key: str, value: str) -> Self:
        self._meta.setdefault("labels", {})[key] = value
        return self

    def labels(self, labels: dict[str, str]) -> Self:
        self._meta.setdefault("labels", {}).update(labels)
        return self

    def node(self, name: str) -> Self:
        self._spec["nodeName"] = name
        return self

    def scheduler_name(self, name: str) -> Self:
        self._spec["schedulerName"] = name
        return self

    def priority(self, value: int, class_name: str = "") -> Self:
        self._spec["priority"] = value
        if class_name:
            self._spec["priorityClassName"] = class_name
        return self

    def preemption_policy(self, policy: str) -> Self:
        self._spec["preemptionPolicy"] = policy
        return self

    def container(
        self,
        image: str = "registry.k8s.io/pause:3.10",
        requests: dict[str, str] | None = None,
        ports: list[Obj] | None = None,
        name: str = "",
    ) -> Self:
        c: Obj = {"name": name or f"c{len(self._spec['containers'])}", "image": image}
        if requests:
            c["resources"] = {"requests": dict(requests)}
        if ports:
            c["ports"] = ports
        self._spec["containers"].append(c)
        return self

    def req(self, **requests: str) -> Self:
        """A container requesting ``cpu=``, ``memory=``, ... (``ephemeral_storage=`` too)."""
        return self.container(requests={k.replace("_", "-"): v for k, v in requests.items()})

    def res(self, requests: dict[str, str]) -> Self:
        """A container with a requests dict whose names need no keyword form (``example.com/gpu``)."""
        return self.container(requests=requests)

    def init_req(self, sidecar: bool = False, **requests: str) -> Self:
        c: Obj = {
            "name": f"init{len(self._spec.get('initContainers', []))}",
            "image": "busybox",
            "resources": {"requests": {k.replace("_", "-"): v for k, v in requests.items()}},
        }
        if sidecar:
            c["restartPolicy"] = "Always"
        self._spec.setdefault("initContainers", []).append(c)
        return self

    def overhead(self, **overhead: str) -> Self:
        self._spec["overhead"] = {k.replace("_", "-"): v for k, v in overhead.items()}
        return self

    def host_port(self, port: int, protocol: str = "TCP", host_ip: str = "") -> Self:
        p: Obj = {"containerPort": port, "hostPort": port, "protocol": protocol}
        if host_ip:
            p["hostIP"] = host_ip
        return self.container(ports=[p])

    def toleration(
        self, key: str = "", operator: str = "Equal", value: str = "", effect: str = ""
    ) -> Self:
        t: Obj = {"operator": operator}
        if key:
            t["key"] = key
        if value:
            t["value"] = value
        if effect:
            t["effect"] = effect
        self._spec.setdefault("tolerations", []).append(t)
        return self

    def node_selector(self, selector: dict[str, str]) -> Self:
        self._spec["nodeSelector"] = dict(selector)
        return self

    def _affinity(self, kind: str) -> Obj:
        return self._spec.setdefault("affinity", {}).setdefault(kind, {})

    def node_affinity_required(self, *terms: list[Obj]) -> Self:
        """Each term is a list of matchExpressions; terms are ORed."""
        block = self._affinity("nodeAffinity").setdefault(
            "requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": []}
        )
        for exprs in terms:
            block["nodeSelectorTerms"].append({"matchExpressions": exprs})
        return self

    def node_affinity_in(self, key: str, values: list[str]) -> Self:
        return self.node_affinity_required([expr(key, "In", values)])

    def node_affinity_preferred(self, weight: int, exprs: list[Obj]) -> Self:
        block = self._affinity("nodeAffinity").setdefault(
            "preferredDuringSchedulingIgnoredDuringExecution", []
        )
        block.append({"weight": weight, "preference": {"matchExpressions": exprs}})
        return self

    def _pod_term(self, kind: str, labels: dict[str, str], topology: str, weight: int) -> Self:
        term: Obj = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": topology}
        block = self._affinity(kind)
        if weight:
            block.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
                {"weight": weight, "podAffinityTerm": term}
            )
        else:
            block.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(term)
        return self

    def pod_affinity(self, labels: dict[str, str], topology: str, weight: int = 0) -> Self:
        return self._pod_term("podAffinity", labels, topology, weight)

    def pod_anti_affinity(self, labels: dict[str, str], topology: str, weight: int = 0) -> Self:
        return self._pod_term("podAntiAffinity", labels, topology, weight)

    def spread(
        self,
        max_skew: int,
        topology: str,
        labels: dict[str, str],
        when: str = "DoNotSchedule",
        **extra: Any,
    ) -> Self:
        c: Obj = {
            "maxSkew": max_skew,
            "topologyKey": topology,
            "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": dict(labels)},
            **extra,
        }
        self._spec.setdefault("topologySpreadConstraints", []).append(c)
        return self

    def phase(self, phase: str) -> Self:
        self._pod.setdefault("status", {})["phase"] = phase
        return self

    def nominated(self, node: str) -> Self:
        self._pod.setdefault("status", {})["nominatedNodeName"] = node
        return self

    def obj(self) -> Obj:
        if not self._spec["containers"]:
            self.container()
        return self._pod

    def copy(self) -> Obj:
        return copy.deepcopy(self.obj())


def expr(key: str, operator: str, values: list[str] | None = None) -> Obj:
    """A matchExpressions entry."""
    e: Obj = {"key": key, "operator": operator}
    if values is not None:
        e["values"] = values
    return e


class MakeNode:
    """A Ready Node with 110 pods allocatable and nothing else unless told."""

    def __init__(self) -> None:
        n = next(_uids)
        self._node: Obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"node-{n}",
                "uid": f"uid-node-{n}",
                "labels": {"kubernetes.io/hostname": f"node-{n}"},
            },
            "spec": {},
            "status": {
                "capacity": {"pods": "110"},
                "allocatable": {"pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }

    def name(self, name: str) -> Self:
        self._node["metadata"]["name"] = name
        self._node["metadata"]["labels"]["kubernetes.io/hostname"] = name
        return self

    def label(self, key: str, value: str) -> Self:
        self._node["metadata"]["labels"][key] = value
        return self

    def zone(self, zone: str) -> Self:
        return self.label("topology.kubernetes.io/zone", zone)

    def capacity(self, **resources: str) -> Self:
        """Allocatable (and capacity) ``cpu=``, ``memory=``, ``pods=``, ..."""
        values = {k.replace("_", "-"): v for k, v in resources.items()}
        return self.resources(values)

    def resources(self, values: dict[str, str]) -> Self:
        self._node["status"]["capacity"].update(values)
        self._node["status"]["allocatable"].update(values)
        return self

    def taint(self, key: str, value: str = "", effect: str = "NoSchedule") -> Self:
        t: Obj = {"key": key, "effect": effect}
        if value:
            t["value"] = value
        self._node["spec"].setdefault("taints", []).append(t)
        return self

    def unschedulable(self, value: bool = True) -> Self:
        self._node["spec"]["unschedulable"] = value
        return self

    def image(self, size: int, *names: str) -> Self:
        self._node["status"].setdefault("images", []).append(
            {"names": list(names), "sizeBytes": size}
        )
        return self

    def obj(self) -> Obj:
        return self._node

    def copy(self) -> Obj:
        return copy.deepcopy(self._node)
