"""What an object costs against a ResourceQuota: upstream's quota evaluators.

The API server's ResourceQuota admission charges a new object's usage to
every quota of its namespace, and the resourcequota controller adds up the
usage of every object already there; both must count the same way, so the
counting lives here, as pure functions over dicts (upstream keeps it in
``pkg/quota/v1/evaluator/core`` and ``apiserver/pkg/quota/v1/generic``).

- **Pods** cost ``count/pods`` always; while not terminal (and not stuck in
  deletion past their grace period) also ``pods``, ``cpu``/``requests.cpu``,
  ``limits.cpu``, the same for memory and ephemeral-storage, hugepages and
  extended resources, from the pod's effective requests and limits.
- **Services** cost ``services``, ``count/services``, ``services.nodeports``
  (a port each for NodePort and LoadBalancer) and ``services.loadbalancers``.
- **PersistentVolumeClaims** cost ``persistentvolumeclaims`` and
  ``requests.storage``, also per storage class
  (``<class>.storageclass.storage.k8s.io/requests.storage``).
- **Everything else** costs ``count/<resource>[.<group>]``, plus the legacy
  name for configmaps, secrets, replicationcontrollers and resourcequotas.

Scopes (``spec.scopes``, ``spec.scopeSelector``) select pods only; a quota
with a scope matches no other kind, as upstream's no-scope matcher says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from tinykube.api import quantity
from tinykube.api.duration import parse_time
from tinykube.api.podresources import pod_total
from tinykube.api.quantity import Quantity

Obj = Mapping[str, Any]
Usage = dict[str, Quantity]

STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
LEGACY_COUNTS = {
    "configmaps": "configmaps",
    "resourcequotas": "resourcequotas",
    "replicationcontrollers": "replicationcontrollers",
    "secrets": "secrets",
}
POD_RESOURCES = frozenset(
    {
        "count/pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
    }
)
POD_PREFIXES = ("hugepages-", "requests.hugepages-")
# Upstream calls it a mistake, kept for compatibility: a quota on these makes
# every container state them.
POD_VALIDATION_SET = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)
SERVICE_RESOURCES = frozenset(
    {"count/services", "services", "services.loadbalancers", "services.nodeports"}
)
PVC_RESOURCES = frozenset(
    {"count/persistentvolumeclaims", "persistentvolumeclaims", "requests.storage"}
)
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
_ONE = Quantity(Fraction(1))
_ZERO = Quantity(Fraction(0))
_NANO = 10**9


def count_name(plural: str, group: str) -> str:
    """``count/pods``, ``count/deployments.apps``: the object-count resource name."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def add(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> Usage:
    """The sum of two usages; a zero takes the other's format, as Quantity.Add does."""
    out = dict(a)
    for name, value in b.items():
        out[name] = _plus(out[name], value) if name in out else value
    return out


def _plus(a: Quantity, b: Quantity) -> Quantity:
    return Quantity(a.amount + b.amount, b.format if a.is_zero() else a.format)


def subtract_non_negative(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> Usage:
    """``a - b`` per resource, never below zero (upstream SubtractWithNonNegativeResult)."""
    out: Usage = {}
    for name, value in a.items():
        rest = value.amount - (b[name].amount if name in b else 0)
        out[name] = Quantity(max(rest, Fraction(0)), value.format)
    return out


def parse_list(raw: Mapping[str, Any] | None) -> Usage:
    """A ResourceList as quantities; an unparsable value is skipped, validation owns it."""
    out: Usage = {}
    for name, text in (raw or {}).items():
        try:
            out[name] = quantity.parse(text)
        except ValueError:
            continue
    return out


def format_list(usage: Mapping[str, Quantity]) -> dict[str, str]:
    return {name: str(value) for name, value in usage.items()}


# ---- which resources an object's kind can be charged for -------------------------------


def matching_resources(plural: str, group: str, names: Iterable[str]) -> list[str]:
    """The resource names among ``names`` that this kind's usage can fill."""
    return [n for n in names if _tracks(plural, group, n)]


def _tracks(plural: str, group: str, name: str) -> bool:
    if group == "" and plural == "pods":
        return (
            name in POD_RESOURCES
            or name.startswith(POD_PREFIXES)
            or (name.startswith("requests.") and "/" in name)
        )
    if group == "" and plural == "services":
        return name in SERVICE_RESOURCES
    if group == "" and plural == "persistentvolumeclaims":
        return name in PVC_RESOURCES or (
            STORAGE_CLASS_SUFFIX in name
            and name.endswith(("/requests.storage", "/persistentvolumeclaims"))
        )
    return name == count_name(plural, group) or (group == "" and LEGACY_COUNTS.get(plural) == name)


# ---- usage -------------------------------------------------------------------------------


def usage(plural: str, group: str, obj: Obj, now: datetime | None = None) -> Usage:
    """What ``obj`` costs; ``now`` decides whether a deleted pod is past its grace period."""
    if group == "" and plural == "pods":
        return pod_usage(obj, now)
    if group == "" and plural == "services":
        return service_usage(obj)
    if group == "" and plural == "persistentvolumeclaims":
        return claim_usage(obj)
    out: Usage = {count_name(plural, group): _ONE}
    legacy = LEGACY_COUNTS.get(plural) if group == "" else None
    if legacy:
        out[legacy] = _ONE
    return out


def pod_usage(pod: Obj, now: datetime | None = None) -> Usage:
    out: Usage = {"count/pods": _ONE}
    if not counts_against_quota(pod, now):
        return out
    spec = pod.get("spec") or {}
    requests = pod_resources(spec, "requests")
    limits = pod_resources(spec, "limits")
    return add(out, compute_usage(requests, limits))


def counts_against_quota(pod: Obj, now: datetime | None = None) -> bool:
    """Terminal pods, and pods stuck past their deletion grace period, are free."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    stamp, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if stamp and grace is not None and now is not None:
        try:
            deleted = parse_time(stamp)
        except ValueError:
            return True
        if deleted is not None and now > deleted + timedelta(seconds=int(grace)):
            return False
    return True


def compute_usage(requests: Mapping[str, Quantity], limits: Mapping[str, Quantity]) -> Usage:
    """Upstream podComputeUsageHelper: one pod (or container) and its resources."""
    out: Usage = {"pods": _ONE}
    for name in ("cpu", "memory", "ephemeral-storage"):
        if name in requests:
            out[name] = requests[name]
            out[f"requests.{name}"] = requests[name]
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith("hugepages-"):
            out[name] = value
            out[f"requests.{name}"] = value
        elif "/" in name and not name.startswith("kubernetes.io/"):
            out[f"requests.{name}"] = value
    return out


def pod_resources(spec: Obj, field: str) -> Usage:
    """The pod's effective requests or limits (containers, init containers, overhead)."""
    formats: dict[str, quantity.Format] = {}

    def per_container(container: Mapping[str, Any]) -> dict[str, int]:
        amounts = parse_list((container.get("resources") or {}).get(field))
        for name, value in amounts.items():
            formats.setdefault(name, value.format)
        return {name: int(value.amount * _NANO) for name, value in amounts.items()}

    total = pod_total(spec, per_container)
    out = {
        name: Quantity(Fraction(nanos, _NANO), formats.get(name, quantity.Format.DECIMAL_SI))
        for name, nanos in total.items()
    }
    overhead = parse_list(spec.get("overhead"))
    if field == "requests":
        return add(out, overhead)
    # Overhead adds to a limit only where the pod has one.
    return add(out, {n: v for n, v in overhead.items() if n in out})


def service_usage(service: Obj) -> Usage:
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    out: Usage = {
        "count/services": _ONE,
        "services": _ONE,
        "services.loadbalancers": _ZERO,
        "services.nodeports": _ZERO,
    }
    kind = spec.get("type") or "ClusterIP"
    if kind == "NodePort":
        out["services.nodeports"] = Quantity(Fraction(len(ports)))
    elif kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            explicit = sum(1 for p in ports if p.get("nodePort"))
            out["services.nodeports"] = Quantity(Fraction(explicit))
        else:
            out["services.nodeports"] = Quantity(Fraction(len(ports)))
        out["services.loadbalancers"] = _ONE
    return out


def claim_usage(claim: Obj) -> Usage:
    spec = claim.get("spec") or {}
    out: Usage = {"persistentvolumeclaims": _ONE, "count/persistentvolumeclaims": _ONE}
    storage_class = spec.get("storageClassName") or (
        (claim.get("metadata") or {}).get("annotations") or {}
    ).get("volume.beta.kubernetes.io/storage-class", "")
    if storage_class:
        out[f"{storage_class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = _ONE
    requested = parse_list((spec.get("resources") or {}).get("requests")).get("storage")
    allocated = parse_list((claim.get("status") or {}).get("allocatedResources")).get("storage")
    if allocated is not None and (requested is None or allocated > requested):
        requested = allocated
    if requested is not None:
        out["requests.storage"] = requested
        if storage_class:
            out[f"{storage_class}{STORAGE_CLASS_SUFFIX}requests.storage"] = requested
    return out


# ---- scopes and matching ------------------------------------------------------------------


def scope_selectors(quota: Obj) -> list[dict[str, Any]]:
    """``spec.scopes`` as Exists selectors, then ``spec.scopeSelector.matchExpressions``."""
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    out.extend((spec.get("scopeSelector") or {}).get("matchExpressions") or [])
    return out


def matches_scope(plural: str, group: str, selector: Mapping[str, Any], obj: Obj) -> bool:
    if group != "" or plural != "pods":
        return False
    spec = obj.get("spec") or {}
    scope = selector.get("scopeName")
    if scope == "Terminating":
        return is_terminating(obj)
    if scope == "NotTerminating":
        return not is_terminating(obj)
    if scope == "BestEffort":
        return is_best_effort(obj)
    if scope == "NotBestEffort":
        return not is_best_effort(obj)
    if scope == "PriorityClass":
        return _priority_matches(spec.get("priorityClassName") or "", selector)
    if scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(spec)
    return False


def _priority_matches(name: str, selector: Mapping[str, Any]) -> bool:
    op, values = selector.get("operator"), selector.get("values") or []
    if op == "Exists":
        return bool(name)
    if op == "DoesNotExist":
        return not name
    if op == "In":
        return bool(name) and name in values
    if op == "NotIn":
        return not name or name not in values
    return False


def _cross_namespace_affinity(spec: Obj) -> bool:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [
            w.get("podAffinityTerm") or {}
            for w in rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def is_terminating(pod: Obj) -> bool:
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return deadline is not None and int(deadline) >= 0


def is_best_effort(pod: Obj) -> bool:
    """QoS BestEffort: no container asks for or caps any cpu or memory."""
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = container.get("resources") or {}
        for field in ("requests", "limits"):
            amounts = parse_list(resources.get(field))
            if any(not amounts[n].is_zero() for n in ("cpu", "memory") if n in amounts):
                return False
    return True


def matches(quota: Obj, plural: str, group: str, obj: Obj) -> bool:
    """Whether ``quota`` constrains ``obj``: it tracks one of its resources and every scope fits."""
    hard = (quota.get("status") or {}).get("hard") or {}
    if not matching_resources(plural, group, hard):
        return False
    return all(matches_scope(plural, group, s, obj) for s in scope_selectors(quota))


def missing_requests(required: Iterable[str], pod: Obj) -> str:
    """Upstream's pod Constraints: ``""``, or ``must specify requests.cpu for: c; ...``."""
    required_set = set(required) & POD_VALIDATION_SET
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = container.get("resources") or {}
        own = compute_usage(
            parse_list(resources.get("requests")), parse_list(resources.get("limits"))
        )
        for name in required_set - set(own):
            missing.setdefault(name, set()).add(container.get("name", ""))
    if not missing:
        return ""
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)
