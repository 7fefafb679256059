"""Defaults for ``autoscaling/v2``: one replica minimum and 80% CPU when no metric is given."""

from __future__ import annotations

from typing import Any

DEFAULT_CPU_UTILIZATION = 80


def default_horizontal_pod_autoscaler(hpa: dict[str, Any]) -> None:
    spec = hpa.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": DEFAULT_CPU_UTILIZATION,
                    },
                },
            }
        ]


DEFAULTERS = {"HorizontalPodAutoscaler": default_horizontal_pod_autoscaler}
