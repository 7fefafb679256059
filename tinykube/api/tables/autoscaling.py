"""Printers for HorizontalPodAutoscalers and PodDisruptionBudgets.

An HPA's TARGETS cell lists up to two metrics as ``current/target`` (for
resources ``cpu: 40%/80%``), ``<unknown>`` until the controller has measured
them, then ``+ N more...``. Quantities are printed as stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tinykube.api.tables._common import (
    AGE,
    NAME,
    NONE,
    UNSET,
    Cells,
    Obj,
    Printer,
    age_of,
    col,
    count,
    dig,
    name_of,
)

_MAX_METRICS = 2
_UNKNOWN = "<unknown>"


def _quantity(value: Any) -> str:
    # Go prints a nil *Quantity as "<nil>".
    return "<nil>" if value is None else str(value)


def _status_of(statuses: list[Obj], index: int, key: str) -> Obj | None:
    if index >= len(statuses):
        return None
    found = statuses[index].get(key)
    return found if isinstance(found, dict) else None


def _value_metric(spec: Obj, status: Obj | None) -> str:
    """External and Object metrics: an average or a plain value."""
    target = spec.get("target") or {}
    current = (status or {}).get("current") or {}
    if target.get("averageValue") is not None:
        now = _UNKNOWN
        if status is not None and current.get("averageValue") is not None:
            now = str(current["averageValue"])
        return f"{now}/{target['averageValue']} (avg)"
    now = _quantity(current.get("value")) if status is not None else _UNKNOWN
    return f"{now}/{_quantity(target.get('value'))}"


def _resource_metric(spec: Obj, status: Obj | None) -> str:
    """Resource and ContainerResource metrics: a value or a utilization percentage."""
    target = spec.get("target") or {}
    current = (status or {}).get("current") or {}
    name = spec.get("name", "")
    if target.get("averageValue") is not None:
        now = _quantity(current.get("averageValue")) if status is not None else _UNKNOWN
        return f"{name}: {now}/{target['averageValue']}"
    now = _UNKNOWN
    if status is not None and current.get("averageUtilization") is not None:
        now = f"{current['averageUtilization']}%"
    goal = target.get("averageUtilization")
    return f"{name}: {now}/{'<auto>' if goal is None else f'{goal}%'}"


def _pods_metric(spec: Obj, status: Obj | None) -> str:
    current = (status or {}).get("current") or {}
    now = _quantity(current.get("averageValue")) if status is not None else _UNKNOWN
    return f"{now}/{_quantity(dig(spec, 'target', 'averageValue'))}"


_METRIC_KINDS: dict[str, tuple[str, Callable[[Obj, Obj | None], str]]] = {
    "External": ("external", _value_metric),
    "Object": ("object", _value_metric),
    "Pods": ("pods", _pods_metric),
    "Resource": ("resource", _resource_metric),
    "ContainerResource": ("containerResource", _resource_metric),
}


def hpa_targets(hpa: Obj) -> str:
    specs = dig(hpa, "spec", "metrics", default=[])
    if not specs:
        return NONE
    statuses = dig(hpa, "status", "currentMetrics", default=[])
    shown = []
    for index, spec in enumerate(specs):
        kind = _METRIC_KINDS.get(spec.get("type", ""))
        if kind is None:
            shown.append("<unknown type>")
            continue
        key, render = kind
        shown.append(render(spec.get(key) or {}, _status_of(statuses, index, key)))
    text = ", ".join(shown[:_MAX_METRICS])
    if len(shown) > _MAX_METRICS:
        return f"{text} + {len(shown) - _MAX_METRICS} more..."
    return text


def _hpa_cells(hpa: Obj, now: datetime) -> Cells:
    ref = dig(hpa, "spec", "scaleTargetRef", default={})
    minimum = dig(hpa, "spec", "minReplicas")
    return [
        name_of(hpa),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        hpa_targets(hpa),
        UNSET if minimum is None else str(minimum),
        count(dig(hpa, "spec", "maxReplicas")),
        count(dig(hpa, "status", "currentReplicas")),
        age_of(hpa, now),
    ]


HORIZONTAL_POD_AUTOSCALER = Printer(
    (
        NAME,
        col("Reference", "The scaled object, as Kind/name."),
        col("Targets", "Current and target values of the metrics."),
        col("MinPods", "The lower replica bound."),
        col("MaxPods", "The upper replica bound."),
        col("Replicas", "Replicas the autoscaler last saw."),
        AGE,
    ),
    _hpa_cells,
)


def _int_or_string(value: Any) -> str:
    return "N/A" if value is None else str(value)


POD_DISRUPTION_BUDGET = Printer(
    (
        NAME,
        col("Min Available", "Pods that must stay available."),
        col("Max Unavailable", "Pods that may be unavailable."),
        col("Allowed Disruptions", "Pods that may be disrupted right now.", "integer"),
        AGE,
    ),
    lambda pdb, now: [
        name_of(pdb),
        _int_or_string(dig(pdb, "spec", "minAvailable")),
        _int_or_string(dig(pdb, "spec", "maxUnavailable")),
        count(dig(pdb, "status", "disruptionsAllowed")),
        age_of(pdb, now),
    ],
)

PRINTERS = {
    ("autoscaling", "HorizontalPodAutoscaler"): HORIZONTAL_POD_AUTOSCALER,
    ("policy", "PodDisruptionBudget"): POD_DISRUPTION_BUDGET,
}
