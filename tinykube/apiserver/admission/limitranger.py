"""The LimitRanger admission plugin: a namespace's LimitRanges default and bound resources.

On Pod create, each LimitRange of the namespace first fills in what the
containers (and init containers) left out: ``defaultRequest`` into
``resources.requests`` and ``default`` into ``resources.limits``, noting it in
the ``kubernetes.io/limit-ranger`` annotation (``LimitRanger plugin set: cpu
request for container c``). Then every LimitRange checks the result: a
``Container`` item bounds each container (``min``, ``max``,
``maxLimitRequestRatio``), a ``Pod`` item bounds the pod's totals, and a
``PersistentVolumeClaim`` item bounds a claim's storage request (on create
and update). The first LimitRange that objects refuses the object with 403,
its problems joined as upstream's error aggregate joins them: one alone, or
several inside ``[...]`` separated by ``, ``.

Upstream compares quantities in thousandths when none is too large for that,
else in whole units; ``_common`` does the same, so ``100m`` against ``0.1``
and ``1Gi`` against ``1073741824`` agree with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from tinykube.api import errors, quantity
from tinykube.api.quantity import Quantity
from tinykube.api.quota import pod_resources

ANNOTATION = "kubernetes.io/limit-ranger"
MAX_MILLI = (2**63 - 1) // 1000  # upstream resource.MaxMilliValue

Obj = dict[str, Any]
ListLimitRanges = Callable[[str], list[Obj]]
Resources = dict[str, Quantity]


def admit_pod(pod: Obj, ranges: list[Obj]) -> None:
    """Default, then check, a new Pod against every LimitRange of its namespace."""
    for lr in ranges:
        _default_pod(pod, lr)
    for lr in ranges:
        problems = validate_pod(pod, lr)
        if problems:
            raise _forbidden("pods", pod, problems)


def admit_claim(claim: Obj, ranges: list[Obj]) -> None:
    for lr in ranges:
        problems = validate_claim(claim, lr)
        if problems:
            raise _forbidden("persistentvolumeclaims", claim, problems)


def resized(claim: Obj, old: Obj) -> bool:
    """Whether an update changes what the claim requests (only then is it checked again)."""
    return bool(
        ((claim.get("spec") or {}).get("resources") or {})
        != ((old.get("spec") or {}).get("resources") or {})
    )


def aggregate(problems: list[str]) -> str:
    """Upstream's error aggregate: duplicates once, several inside brackets."""
    unique = list(dict.fromkeys(problems))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _forbidden(plural: str, obj: Obj, problems: list[str]) -> errors.Forbidden:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or ""
    return errors.forbidden(plural, "", name, aggregate(problems))


# ---- defaults ------------------------------------------------------------------------


def container_defaults(lr: Obj) -> tuple[dict[str, Any], dict[str, Any]]:
    """(requests, limits) a container gets from ``lr``'s Container items.

    The stored LimitRange was defaulted on create (default from max,
    defaultRequest from default, then min); the same rule is applied again
    here so an item that only names ``min`` still gives a request.
    """
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for item in _items(lr, "Container"):
        default = dict(item.get("max") or {}) | dict(item.get("default") or {})
        request = dict(item.get("min") or {}) | default | dict(item.get("defaultRequest") or {})
        requests.update(request)
        limits.update(default)
    return requests, limits


def _default_pod(pod: Obj, lr: Obj) -> None:
    requests, limits = container_defaults(lr)
    if not requests and not limits:
        return
    spec = pod.get("spec") or {}
    notes: list[str] = []
    for kind, containers in (
        ("container", spec.get("containers") or []),
        ("init container", spec.get("initContainers") or []),
    ):
        for container in containers:
            notes += _default_container(container, requests, limits, kind)
    if notes:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _default_container(
    container: Obj, requests: Mapping[str, Any], limits: Mapping[str, Any], kind: str
) -> list[str]:
    resources = container.setdefault("resources", {})
    set_limits = _fill(resources.setdefault("limits", {}), limits)
    set_requests = _fill(resources.setdefault("requests", {}), requests)
    name = container.get("name", "")
    notes = []
    if set_requests:
        notes.append(f"{', '.join(sorted(set_requests))} request for {kind} {name}")
    if set_limits:
        notes.append(f"{', '.join(sorted(set_limits))} limit for {kind} {name}")
    for field in ("limits", "requests"):
        if not resources[field]:
            del resources[field]
    return notes


def _fill(into: dict[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    added = [name for name in defaults if name not in into]
    for name in added:
        into[name] = defaults[name]
    return added


# ---- checks ----------------------------------------------------------------------------


def validate_pod(pod: Obj, lr: Obj) -> list[str]:
    """Every problem ``lr`` finds with ``pod``, in upstream's words."""
    problems: list[str] = []
    spec = pod.get("spec") or {}
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    for item in _items(lr, "Container"):
        for container in containers:
            resources = container.get("resources") or {}
            requests = _parse(resources.get("requests"))
            limits = _parse(resources.get("limits"))
            problems += _check_item(item, "Container", requests, limits)
    for item in _items(lr, "Pod"):
        requests = pod_resources(spec, "requests")
        limits = pod_resources(spec, "limits")
        problems += _check_item(item, "Pod", requests, limits)
    return problems


def validate_claim(claim: Obj, lr: Obj) -> list[str]:
    """A claim's storage request against ``lr``'s PersistentVolumeClaim items."""
    problems: list[str] = []
    requests = _parse(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    for item in _items(lr, "PersistentVolumeClaim"):
        for name, bound in _parse(item.get("min")).items():
            problems += _min(name, "PersistentVolumeClaim", bound, requests, {})
        for name, bound in _parse(item.get("max")).items():
            problems += _max_request(name, bound, requests)
    return problems


def _check_item(item: Obj, kind: str, requests: Resources, limits: Resources) -> list[str]:
    problems: list[str] = []
    for name, bound in _parse(item.get("min")).items():
        problems += _min(name, kind, bound, requests, limits)
    for name, bound in _parse(item.get("max")).items():
        problems += _max(name, kind, bound, requests, limits)
    for name, bound in _parse(item.get("maxLimitRequestRatio")).items():
        problems += _ratio(name, kind, bound, requests, limits)
    return problems


def _min(
    name: str, kind: str, bound: Quantity, requests: Resources, limits: Resources
) -> list[str]:
    req, lim = requests.get(name), limits.get(name)
    head = f"minimum {name} usage per {kind} is {bound}"
    if req is None:
        return [f"{head}.  No request is specified"]
    if _less(req, bound):
        return [f"{head}, but request is {req}"]
    if lim is not None and _less(lim, bound):
        return [f"{head}, but limit is {lim}"]
    return []


def _max(
    name: str, kind: str, bound: Quantity, requests: Resources, limits: Resources
) -> list[str]:
    req, lim = requests.get(name), limits.get(name)
    head = f"maximum {name} usage per {kind} is {bound}"
    if lim is None:
        return [f"{head}.  No limit is specified"]
    if _less(bound, lim):
        return [f"{head}, but limit is {lim}"]
    if req is not None and _less(bound, req):
        return [f"{head}, but request is {req}"]
    return []


def _max_request(name: str, bound: Quantity, requests: Resources) -> list[str]:
    req = requests.get(name)
    head = f"maximum {name} usage per PersistentVolumeClaim is {bound}"
    if req is None:
        return [f"{head}.  No request is specified"]
    if _less(bound, req):
        return [f"{head}, but request is {req}"]
    return []


def _ratio(
    name: str, kind: str, bound: Quantity, requests: Resources, limits: Resources
) -> list[str]:
    req, lim = requests.get(name), limits.get(name)
    head = f"{name} max limit to request ratio per {kind} is {bound}"
    zero = Quantity(Fraction(0))
    req_v, lim_v = _common(req or zero, lim or zero, bound)
    if req is None or req_v == 0:
        return [f"{head}, but no request is specified or request is 0"]
    if lim is None or lim_v == 0:
        return [f"{head}, but no limit is specified or limit is 0"]
    observed = lim_v / req_v
    shown = observed
    allowed = float(bound.value())
    if bound.value() <= MAX_MILLI:
        observed *= 1000
        allowed = float(bound.milli_value())
    if observed > allowed:
        return [f"{head}, but provided ratio is {shown:f}"]
    return []


def _less(a: Quantity, b: Quantity) -> bool:
    x, y = _common(a, b, b)
    return x < y


def _common(a: Quantity, b: Quantity, c: Quantity) -> tuple[int, int]:
    """``a`` and ``b`` in thousandths when ``a``, ``b`` and ``c`` all allow it, else units."""
    if max(a.value(), b.value(), c.value()) <= MAX_MILLI:
        return a.milli_value(), b.milli_value()
    return a.value(), b.value()


def _items(lr: Obj, kind: str) -> list[Obj]:
    return [i for i in (lr.get("spec") or {}).get("limits") or [] if i.get("type") == kind]


def _parse(raw: Mapping[str, Any] | None) -> Resources:
    out: Resources = {}
    for name, text in (raw or {}).items():
        try:
            out[name] = quantity.parse(text)
        except ValueError:
            continue
    return out
