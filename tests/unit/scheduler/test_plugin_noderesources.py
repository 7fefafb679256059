"""NodeResourcesFit (filter, three scoring strategies) and NodeResourcesBalancedAllocation."""

from __future__ import annotations

import pytest
from builders import MakeNode, MakePod
from harness import filter_all, score_all

from tinykube.scheduler.framework import Code, pod_requests

pytestmark = pytest.mark.unit


def node(name: str = "n1", cpu: str = "4", memory: str = "8Gi", pods: str = "110", **more: str):
    return MakeNode().name(name).capacity(cpu=cpu, memory=memory, pods=pods, **more).obj()


def on(node_name: str, pod: MakePod) -> dict:
    return pod.node(node_name).obj()


@pytest.mark.parametrize(
    ("pod", "existing", "want"),
    [
        pytest.param(MakePod(), [], (), id="no-requests-fits"),
        pytest.param(MakePod().req(cpu="4", memory="8Gi"), [], (), id="exactly-full"),
        pytest.param(
            MakePod().req(cpu="3"), [MakePod().req(cpu="2")], ("Insufficient cpu",), id="cpu"
        ),
        pytest.param(
            MakePod().req(cpu="3", memory="5Gi"),
            [MakePod().req(cpu="2", memory="4Gi")],
            ("Insufficient cpu", "Insufficient memory"),
            id="cpu-and-memory",
        ),
        pytest.param(
            MakePod().req(ephemeral_storage="2Gi"),
            [],
            ("Insufficient ephemeral-storage",),
            id="ephemeral-storage-not-allocatable",
        ),
        pytest.param(
            MakePod().res({"example.com/gpu": "1"}),
            [],
            ("Insufficient example.com/gpu",),
            id="extended",
        ),
        pytest.param(
            MakePod().req(cpu="1").init_req(cpu="3"),
            [MakePod().req(cpu="1")],
            (),
            id="init-container-max-not-sum",
        ),
        pytest.param(
            MakePod().req(cpu="1").init_req(cpu="4"),
            [MakePod().req(cpu="1")],
            ("Insufficient cpu",),
            id="init-container-larger-than-free",
        ),
        pytest.param(
            MakePod().req(cpu="2").init_req(sidecar=True, cpu="1"),
            [MakePod().req(cpu="1")],
            (),
            id="sidecar-added",
        ),
        pytest.param(
            MakePod().req(cpu="2").init_req(sidecar=True, cpu="1").overhead(cpu="500m"),
            [MakePod().req(cpu="1")],
            ("Insufficient cpu",),
            id="overhead-counted",
        ),
    ],
)
def test_fit_filter(pod: MakePod, existing: list[MakePod], want: tuple[str, ...]) -> None:
    pods = [on("n1", p) for p in existing]
    got = filter_all("NodeResourcesFit", pod.obj(), [node()], pods)["n1"]
    assert got.reasons == want
    assert got.code is (Code.UNSCHEDULABLE if want else Code.SUCCESS) or got.code is (
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    )


def test_fit_too_many_pods_even_without_requests() -> None:
    got = filter_all("NodeResourcesFit", MakePod().obj(), [node(pods="1")], [on("n1", MakePod())])
    assert got["n1"].reasons == ("Too many pods",)
    assert got["n1"].code is Code.UNSCHEDULABLE


def test_fit_larger_than_node_is_unresolvable() -> None:
    got = filter_all("NodeResourcesFit", MakePod().req(cpu="5").obj(), [node()])["n1"]
    assert got.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_fit_ignored_extended_resource() -> None:
    pod = MakePod().res({"example.com/gpu": "1"}).obj()
    args = {"ignoredResourceGroups": ["example.com"]}
    assert filter_all("NodeResourcesFit", pod, [node()], args=args)["n1"].success


def test_pod_requests_sidecars_and_init() -> None:
    pod = (
        MakePod()
        .req(cpu="1", memory="1Gi")
        .init_req(sidecar=True, cpu="500m")
        .init_req(cpu="2")  # runs beside the sidecar: 2.5 > 1.5
        .overhead(cpu="100m", memory="10Mi")
        .obj()
    )
    assert pod_requests(pod) == {"cpu": 2600, "memory": (1024 + 10) * 1024**2}


def test_pod_requests_non_zero_defaults() -> None:
    pod = MakePod().container().req(memory="1Gi").obj()
    assert pod_requests(pod, non_zero=True) == {"cpu": 200, "memory": 200 * 1024**2 + 1024**3}


# Upstream's least_allocated_test: nodes of 4000m/10000 and 6000m/10000, pod of 3000m/5000.
NODES = [node("machine1", "4000m", "10000"), node("machine2", "6000m", "10000")]
POD = MakePod().req(cpu="1000m", memory="2000").req(cpu="2000m", memory="3000")


def test_least_allocated() -> None:
    assert score_all("NodeResourcesFit", POD.obj(), NODES) == {"machine1": 37, "machine2": 50}


def test_least_allocated_no_requests_uses_defaults() -> None:
    nodes = [node("a", "1000m", "2Gi"), node("b", "2000m", "2Gi")]
    # 100m of 1000 -> 90, 100m of 2000 -> 95; 200Mi of 2Gi -> 90 each.
    assert score_all("NodeResourcesFit", MakePod().obj(), nodes) == {"a": 90, "b": 92}


def test_most_allocated() -> None:
    args = {"scoringStrategy": {"type": "MostAllocated"}}
    got = score_all("NodeResourcesFit", POD.obj(), NODES, args=args)
    assert got == {"machine1": 62, "machine2": 50}


def test_requested_to_capacity_ratio() -> None:
    args = {
        "scoringStrategy": {
            "type": "RequestedToCapacityRatio",
            "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
            "requestedToCapacityRatio": {
                "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
            },
        }
    }
    got = score_all("NodeResourcesFit", POD.obj(), NODES, args=args)
    assert got == {"machine1": 63, "machine2": 50}  # 62.5 rounds up, as Go's math.Round


def test_extended_resource_weight() -> None:
    args = {
        "scoringStrategy": {
            "type": "LeastAllocated",
            "resources": [{"name": "cpu", "weight": 1}, {"name": "example.com/gpu", "weight": 3}],
        }
    }
    nodes = [
        node("a", "4", **{"example.com/gpu": "4"}),
        node("b", "4", **{"example.com/gpu": "2"}),
    ]
    pod = MakePod().res({"cpu": "1", "example.com/gpu": "1"}).obj()
    # a: cpu 75, gpu 75 -> 75; b: cpu 75, gpu 50 -> (75 + 150) / 4 = 56
    assert score_all("NodeResourcesFit", pod, nodes, args=args) == {"a": 75, "b": 56}


def test_balanced_allocation() -> None:
    got = score_all("NodeResourcesBalancedAllocation", POD.obj(), NODES)
    assert got == {"machine1": 87, "machine2": 100}


def test_balanced_allocation_skips_best_effort() -> None:
    got = score_all("NodeResourcesBalancedAllocation", MakePod().obj(), NODES)
    assert got == {"machine1": 0, "machine2": 0}


def test_balanced_allocation_counts_existing_pods() -> None:
    existing = [on("machine2", MakePod().req(cpu="3000m"))]
    got = score_all("NodeResourcesBalancedAllocation", POD.obj(), NODES, existing)
    # machine2: cpu 6000/6000 = 1, memory 0.5 -> 75
    assert got == {"machine1": 87, "machine2": 75}
