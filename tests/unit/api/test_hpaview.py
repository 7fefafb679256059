"""autoscaling/v1 <-> v2 HorizontalPodAutoscalers, with the round-trip annotations."""

from __future__ import annotations

from tinykube.api.hpaview import METRICS, to_v1, to_v2

V2 = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "100Mi"},
                },
            },
        ],
    },
    "status": {
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": 90, "averageValue": "90m"},
                },
            },
        ],
        "conditions": [{"type": "AbleToScale", "status": "True"}],
    },
}


def test_v1_shows_the_cpu_target_and_keeps_the_rest_in_annotations() -> None:
    v1 = to_v1(V2)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert "metrics" not in v1["spec"]
    assert v1["status"]["currentCPUUtilizationPercentage"] == 90
    assert "conditions" not in v1["status"]
    assert '"memory"' in v1["metadata"]["annotations"][METRICS]
    assert V2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60  # untouched


def test_round_trip_through_v1_loses_nothing() -> None:
    assert to_v2(to_v1(V2)) == V2


def test_a_v1_change_of_the_target_reaches_v2() -> None:
    v1 = to_v1(V2)
    v1["spec"]["targetCPUUtilizationPercentage"] = 75
    back = to_v2(v1)
    assert back["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 75
    assert back["spec"]["metrics"][1]["resource"]["name"] == "memory"
