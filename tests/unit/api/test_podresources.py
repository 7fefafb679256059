"""Containers, init containers and sidecars add up as upstream's PodRequests/PodLimits."""

from __future__ import annotations

from tinykube.api.podresources import pod_total


def amounts(container: dict) -> dict:
    return container["x"]


def test_regular_add_init_take_the_largest_sidecars_keep_running() -> None:
    spec = {
        "containers": [{"x": {"cpu": 100}}, {"x": {"cpu": 50, "memory": 10}}],
        "initContainers": [
            {"x": {"cpu": 120}},
            {"x": {"cpu": 30, "memory": 5}, "restartPolicy": "Always"},
            {"x": {"cpu": 100}},
        ],
    }
    # regular 150 + sidecar 30 = 180 cpu; init: max(120, 30 + 100) = 130 -> 180 wins
    assert pod_total(spec, amounts) == {"cpu": 180, "memory": 15}
    big_init = {"containers": [{"x": {"cpu": 10}}], "initContainers": [{"x": {"cpu": 500}}]}
    assert pod_total(big_init, amounts) == {"cpu": 500}
    assert pod_total({}, amounts) == {}
