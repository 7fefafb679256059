"""The autoscaler's arithmetic: utilization, tolerance, stabilization."""

from __future__ import annotations

from tinykube.controllers.podautoscaler import proposal, requests_of


def pod(name: str, cpu_request: str) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu_request}}}]},
    }


def usage(cpu: str) -> dict:
    return {"containers": [{"name": "c", "usage": {"cpu": cpu, "memory": "10Mi"}}]}


CPU_50 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}  # fmt: skip


def test_utilization_over_target_scales_by_the_ratio() -> None:
    pods = [pod("a", "100m"), pod("b", "100m")]
    replicas, entry = proposal(CPU_50, pods, {"a": usage("100m"), "b": usage("100m")}, 2)
    assert replicas == 4  # 100% used of a 50% target: twice the pods
    assert entry["resource"]["current"] == {"averageValue": "100m", "averageUtilization": 100}


def test_within_tolerance_nothing_changes_and_unmeasured_pods_are_left_out() -> None:
    pods = [pod("a", "100m"), pod("b", "100m")]
    replicas, entry = proposal(CPU_50, pods, {"a": usage("53m")}, 2)
    assert replicas == 2
    assert entry["resource"]["current"]["averageUtilization"] == 53


def test_average_value_target_and_requests() -> None:
    spec = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "50m"}}}  # fmt: skip
    replicas, _ = proposal(spec, [pod("a", "1")], {"a": usage("10m")}, 4)
    assert replicas == 1  # a fifth of the target per pod: scale down to ceil(0.2 * 1)
    assert requests_of(pod("a", "1500m"), "cpu") == 1500
