"""autoscaling/v1 HorizontalPodAutoscalers are a view of the stored autoscaling/v2 ones.

Kubernetes stores one HPA and serves it in both versions. v1 knows a single
metric, the CPU utilization target (``spec.targetCPUUtilizationPercentage``,
``status.currentCPUUtilizationPercentage``); everything else v2 holds (other
metrics, ``behavior``, status metrics and conditions) travels in the
annotations upstream uses for the round trip, so an object read in v1 and
written back keeps what only v2 can say.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Obj = dict[str, Any]
V1 = "autoscaling/v1"
V2 = "autoscaling/v2"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"


def _is_cpu_utilization(metric: Obj) -> bool:
    res = metric.get("resource") or {}
    return (
        metric.get("type") == "Resource"
        and res.get("name") == "cpu"
        and (res.get("target") or {}).get("type") == "Utilization"
    )


def to_v1(hpa: Obj) -> Obj:
    """A stored v2 HPA as autoscaling/v1 shows it."""
    out = copy.deepcopy(hpa)
    out["apiVersion"] = V1
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec") or {}
    metrics = spec.pop("metrics", None) or []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    others = [m for m in metrics if m is not cpu]
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization")
    if others:
        annotations[METRICS] = json.dumps(others, separators=(",", ":"))
    if spec.get("behavior"):
        annotations[BEHAVIOR] = json.dumps(spec.pop("behavior"), separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        for m in current:
            if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu":
                value = ((m.get("resource") or {}).get("current") or {}).get("averageUtilization")
                if value is not None:
                    status["currentCPUUtilizationPercentage"] = value
        if current:
            annotations[CURRENT_METRICS] = json.dumps(current, separators=(",", ":"))
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[CONDITIONS] = json.dumps(conditions, separators=(",", ":"))
    if annotations:
        meta["annotations"] = annotations
    return out


def _pop_json(annotations: Obj, key: str) -> Any:
    text = annotations.pop(key, None)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def to_v2(hpa: Obj) -> Obj:
    """An autoscaling/v1 HPA as it is stored (v2)."""
    out = copy.deepcopy(hpa)
    out["apiVersion"] = V2
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    metrics = _pop_json(annotations, METRICS) or []
    if target is not None:
        cpu = {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": target},
            },
        }
        metrics = [cpu, *(m for m in metrics if not _is_cpu_utilization(m))]
    if metrics:
        spec["metrics"] = metrics
    behavior = _pop_json(annotations, BEHAVIOR)
    if behavior:
        spec["behavior"] = behavior
    status = out.get("status")
    current = _pop_json(annotations, CURRENT_METRICS)
    conditions = _pop_json(annotations, CONDITIONS)
    if isinstance(status, dict):
        status.pop("currentCPUUtilizationPercentage", None)
        if current:
            status["currentMetrics"] = current
        if conditions:
            status["conditions"] = conditions
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out
