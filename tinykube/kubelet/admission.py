"""Pod admission: whether this node takes a pod bound to it, before anything runs.

The scheduler's checks are not enough on their own: a pod may be bound by
writing ``spec.nodeName`` directly, a static pod never meets a scheduler, and
the node may have changed since the pod was placed. So upstream's kubelet runs
the scheduler's node-level checks again (``lifecycle/predicate.go``, with
``scheduler.AdmissionCheck``) for every new pod, against the pods it has
already admitted, and refuses a pod that does not fit: the pod goes straight
to phase ``Failed`` with the failed check's reason (``OutOfcpu``,
``NodeAffinity``...) and its message after ``Pod was rejected:``, and a Warning
Event with that reason and message goes on the pod. The pod never runs.

The checks, in upstream's order (the first failure is the one reported):

1. the pod's ``kubernetes.io/os`` label, then ``spec.os.name``, against the node;
2. resources (``NodeResourcesFit``'s ``Fits``): the pod count, then cpu,
   memory, ephemeral-storage and the other resources the node reports, each
   compared with allocatable less what the admitted pods request (requests
   counted by ``pod_total``: containers summed, init containers' largest,
   sidecars, plus overhead). Extended resources the node does not know are
   dropped first, as upstream does for cluster-level resources;
3. ``nodeSelector`` and required node affinity; the node name; host ports;
4. NoExecute taints the pod does not tolerate (not for static pods).

Upstream lets a critical pod that fails only on resources preempt other pods
to make room (``HandleAdmissionFailure``); tinykube does not: such a pod is
rejected like any other. Without preemption and device plugins, upstream's
``UnexpectedAdmissionError`` (either of them failing) cannot happen here.
Pure functions over dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinykube.api import podresources, quantity

Obj = dict[str, Any]

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"
LINUX = "linux"
OS_LABEL = "kubernetes.io/os"
SOURCE_ANNOTATION = "kubernetes.io/config.source"

REJECTED_PREFIX = "Pod was rejected: "
OUT_OF_PREFIX = "OutOf"  # OutOfcpu, OutOfmemory, OutOfpods, OutOfephemeral-storage, OutOf<name>
OS_SELECTOR_MISMATCH = "PodOSSelectorNodeLabelDoesNotMatch"
OS_SELECTOR_MESSAGE = "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label"
OS_NOT_SUPPORTED = "PodOSNotSupported"
OS_NOT_SUPPORTED_MESSAGE = "Failed to admit pod as the OS field doesn't match node OS"

# (predicate name, description) as the scheduler plugins name their failures.
NODE_AFFINITY = ("NodeAffinity", "node(s) didn't match Pod's node affinity/selector")
NODE_NAME = ("NodeName", "node(s) didn't match the requested node name")
NODE_PORTS = ("NodePorts", "node(s) didn't have free ports for the requested pod ports")
TAINT_TOLERATION = ("TaintToleration", "node(s) had taints that the pod didn't tolerate")


@dataclass(frozen=True)
class Rejection:
    """Why a pod was refused: the pod status' ``reason`` and the Event's message."""

    reason: str
    message: str


def insufficient(resource: str, requested: int, used: int, capacity: int) -> Rejection:
    """upstream's ``InsufficientResourceError``: cpu in millicores, memory in bytes."""
    return Rejection(
        OUT_OF_PREFIX + resource,
        f"Node didn't have enough resource: {resource}, requested: {requested}, "
        f"used: {used}, capacity: {capacity}",
    )


def predicate_failed(predicate: tuple[str, str]) -> Rejection:
    name, description = predicate
    return Rejection(name, f"Predicate {name} failed: {description}")


def is_static(pod: Mapping[str, Any]) -> bool:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return annotations.get(SOURCE_ANNOTATION, "api") != "api"


# ---- the checks --------------------------------------------------------------------


def admit(pod: Obj, node: Obj, admitted: Sequence[Obj]) -> Rejection | None:
    """None when ``node`` takes ``pod`` next to the ``admitted`` (non-terminal) pods."""
    rejection = _os_check(pod)
    if rejection is not None:
        return rejection
    allocatable = resource_list((node.get("status") or {}).get("allocatable"))
    failures = fits(_known_resources(requests_of(pod), allocatable), allocatable, admitted)
    failures += [predicate_failed(p) for p in _placement_failures(pod, node, admitted)]
    return failures[0] if failures else None


def _os_check(pod: Obj) -> Rejection | None:
    """The node's OS is the kubelet's own (upstream ignores a node label saying otherwise)."""
    pod_labels = (pod.get("metadata") or {}).get("labels") or {}
    if OS_LABEL in pod_labels and pod_labels[OS_LABEL] != LINUX:
        return Rejection(OS_SELECTOR_MISMATCH, OS_SELECTOR_MESSAGE)
    os_field = (pod.get("spec") or {}).get("os")
    if os_field is not None and os_field.get("name") != LINUX:
        return Rejection(OS_NOT_SUPPORTED, OS_NOT_SUPPORTED_MESSAGE)
    return None


def fits(
    wanted: Mapping[str, int], allocatable: Mapping[str, int], admitted: Sequence[Obj]
) -> list[Rejection]:
    """Every resource short, in upstream's order: pods, cpu, memory, storage, the rest."""
    used: dict[str, int] = {}
    for other in admitted:
        for name, value in requests_of(other).items():
            used[name] = used.get(name, 0) + value
    out = []
    allowed = allocatable.get(PODS, 0)
    if len(admitted) + 1 > allowed:
        out.append(insufficient(PODS, 1, len(admitted), allowed))
    others = sorted(n for n in wanted if n not in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS))
    for name in (CPU, MEMORY, EPHEMERAL_STORAGE, *others):
        want = wanted.get(name, 0)
        if want > 0 and want > allocatable.get(name, 0) - used.get(name, 0):
            out.append(insufficient(name, want, used.get(name, 0), allocatable.get(name, 0)))
    return out


def _placement_failures(pod: Obj, node: Obj, admitted: Sequence[Obj]) -> list[tuple[str, str]]:
    spec = pod.get("spec") or {}
    name = (node.get("metadata") or {}).get("name", "")
    out = []
    if not required_affinity_matches(spec, node):
        out.append(NODE_AFFINITY)
    if spec.get("nodeName") and spec["nodeName"] != name:
        out.append(NODE_NAME)
    if _ports_conflict(host_ports(pod), _used_ports(admitted)):
        out.append(NODE_PORTS)
    if not is_static(pod):
        taints = (node.get("spec") or {}).get("taints") or []
        tolerations = spec.get("tolerations") or []
        if any(
            t.get("effect") == "NoExecute" and not any(tolerates(tol, t) for tol in tolerations)
            for t in taints
        ):
            out.append(TAINT_TOLERATION)
    return out


# ---- requests -------------------------------------------------------------------


def _is_counted(name: str) -> bool:
    """cpu, memory, ephemeral-storage, hugepages and extended (``example.com/gpu``)."""
    if name in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS) or name.startswith("hugepages-"):
        return True
    return _is_extended(name)


def _is_extended(name: str) -> bool:
    return "/" in name and not name.startswith(("kubernetes.io/", "requests."))


def resource_list(resources: Mapping[str, Any] | None) -> dict[str, int]:
    """A ResourceList as integers: cpu in millicores, the rest in whole units."""
    out: dict[str, int] = {}
    for name, text in (resources or {}).items():
        if not _is_counted(name):
            continue
        try:
            amount = quantity.parse(text)
        except quantity.QuantityError:
            continue
        out[name] = amount.milli_value() if name == CPU else amount.value()
    return out


def requests_of(pod: Mapping[str, Any]) -> dict[str, int]:
    """What the pod takes from the node: ``pod_total`` of requests, plus the overhead."""
    spec = pod.get("spec") or {}
    total = podresources.pod_total(
        spec, lambda c: resource_list((c.get("resources") or {}).get("requests"))
    )
    for name, value in resource_list(spec.get("overhead")).items():
        total[name] = total.get(name, 0) + value
    return total


def _known_resources(wanted: Mapping[str, int], allocatable: Mapping[str, int]) -> dict[str, int]:
    """Drop extended resources the node does not report (cluster-level resources)."""
    return {n: v for n, v in wanted.items() if not _is_extended(n) or n in allocatable}


# ---- placement ------------------------------------------------------------------


def _requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    op, values = req.get("operator"), req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def _term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    """A NodeSelectorTerm; an empty one matches nothing, as upstream's does."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    if not all(_requirement_matches(r, labels.get(r.get("key", ""))) for r in expressions):
        return False
    return all(
        r.get("key") == "metadata.name" and _requirement_matches(r, meta.get("name"))
        for r in fields
    )


def required_affinity_matches(spec: Mapping[str, Any], node: Obj) -> bool:
    """``nodeSelector`` (every label) and the required node affinity (any term)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort)
WILDCARD = "0.0.0.0"


def host_ports(pod: Mapping[str, Any]) -> set[HostPort]:
    out = set()
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ip = port.get("hostIP") or WILDCARD
                out.add((ip, port.get("protocol") or "TCP", int(port["hostPort"])))
    return out


def _used_ports(pods: Iterable[Obj]) -> set[HostPort]:
    used: set[HostPort] = set()
    for pod in pods:
        used |= host_ports(pod)
    return used


def _ports_conflict(wanted: set[HostPort], used: set[HostPort]) -> bool:
    """Same protocol and port on the same address, or on 0.0.0.0 against any address."""
    return any(
        w[1:] == u[1:] and (w[0] == u[0] or WILDCARD in (w[0], u[0])) for w in wanted for u in used
    )


# ---- the refused pod's status -----------------------------------------------------


def rejected_status(pod: Obj, rejection: Rejection, qos_class: str, start_time: str) -> Obj:
    """What upstream's ``rejectPod`` writes: Failed, the reason, the prefixed message."""
    return {
        "phase": "Failed",
        "reason": rejection.reason,
        "message": REJECTED_PREFIX + rejection.message,
        "qosClass": qos_class,
        "startTime": (pod.get("status") or {}).get("startTime") or start_time,
    }
