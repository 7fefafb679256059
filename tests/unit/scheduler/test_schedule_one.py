"""One scheduling cycle: FailedScheduling messages, node sampling, host selection,
the per-node memo, preemption and the configuration file."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pytest
from builders import MakeNode, MakePod
from harness import snapshot

from tinykube.scheduler import command, config
from tinykube.scheduler.framework import (
    CycleState,
    FitError,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
    unresolvable,
    unschedulable,
)
from tinykube.scheduler.runtime import Framework
from tinykube.scheduler.schedule_one import Algorithm

pytestmark = pytest.mark.unit

CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def framework(snap: Snapshot, profile: config.Profile | None = None) -> Framework:
    return Framework(profile or config.default_profile(), lambda: snap)


def schedule(snap: Snapshot, pod: dict, algorithm: Algorithm | None = None) -> str:
    fwk = framework(snap)
    return (algorithm or Algorithm()).schedule(fwk, CycleState(), PodInfo(pod)).node


def fail(snap: Snapshot, pod: dict) -> str:
    """The full FailedScheduling message, preemption included, as the scheduler writes it."""
    fwk = framework(snap)
    state, info = CycleState(), PodInfo(pod)
    with pytest.raises(FitError) as caught:
        Algorithm().schedule(fwk, state, info)
    err = caught.value
    status, _ = fwk.run_post_filter(state, info, err.statuses)
    err.post_filter_msg = status.message
    return str(err)


def test_message_taint_and_cpu() -> None:
    snap = snapshot(
        [
            MakeNode().name("cp").capacity(cpu="4").taint(CONTROL_PLANE).obj(),
            MakeNode().name("w1").capacity(cpu="2").obj(),
            MakeNode().name("w2").capacity(cpu="2").obj(),
        ],
        [MakePod().req(cpu="1").node(n).obj() for n in ("w1", "w2")],
    )
    assert fail(snap, MakePod().req(cpu="1500m").obj()) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
        "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
        "found for incoming pod."
    )


def test_message_counts_every_reason_of_a_node() -> None:
    snap = snapshot([MakeNode().name(n).capacity(cpu="1", memory="1Gi").obj() for n in "ab"])
    message = fail(snap, MakePod().req(cpu="2", memory="2Gi").obj())
    assert message == (
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: "
        "0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


def test_fit_error_without_post_filter_and_with_pre_filter_message() -> None:
    statuses = {"a": unschedulable("Insufficient cpu"), "b": unresolvable("x", "y")}
    assert str(FitError(2, statuses)) == "0/2 nodes are available: 1 Insufficient cpu, 1 x, 1 y."
    assert str(FitError(2, statuses, pre_filter_msg="boom")) == "0/2 nodes are available: boom."


def test_no_requests_fits_and_spreads() -> None:
    snap = snapshot([MakeNode().name(n).capacity(cpu="1", memory="1Gi").obj() for n in "ab"])
    first = schedule(snap, MakePod().obj())
    snap.get(first).add_pod(PodInfo(MakePod().node(first).obj()))
    # the 100m/200Mi scoring defaults make the emptier node better
    assert schedule(snap, MakePod().obj()) != first


def test_ties_are_broken_at_random() -> None:
    snap = snapshot([MakeNode().name(n).capacity(cpu="1").obj() for n in "abcd"])
    rng = random.Random(7)
    chosen = {schedule(snap, MakePod().obj(), Algorithm(rng=rng)) for _ in range(40)}
    assert chosen == set("abcd")


@pytest.mark.parametrize(
    ("nodes", "percentage", "want"),
    [
        (50, 0, 50),
        (100, 0, 100),
        (500, 0, 230),
        (1000, 0, 420),
        (5000, 0, 500),
        (6000, 0, 300),
        (50000, 0, 2500),
        (1000, 30, 300),
        (200, 10, 100),
        (1000, 100, 1000),
    ],
)
def test_num_nodes_to_find(nodes: int, percentage: int, want: int) -> None:
    assert config.num_nodes_to_find(nodes, percentage) == want


def test_filtering_stops_at_enough_nodes_and_rotates() -> None:
    snap = snapshot([MakeNode().name(f"n{i:03d}").capacity(cpu="1").obj() for i in range(500)])
    algorithm = Algorithm()
    fwk = framework(snap)
    result = algorithm.schedule(fwk, CycleState(), PodInfo(MakePod().obj()))
    assert result.feasible == 230
    assert algorithm.next_start == 230
    algorithm.schedule(fwk, CycleState(), PodInfo(MakePod().obj()))
    assert algorithm.next_start == 460


def test_memo_sees_node_changes() -> None:
    """Same spec twice; the node filled by the first pod must not be reused from memory."""
    snap = snapshot([MakeNode().name(n).capacity(cpu="1").obj() for n in "ab"])
    fwk = framework(snap)
    algorithm = Algorithm()
    placed = []
    for _ in range(2):
        info = PodInfo(MakePod().req(cpu="1").obj())
        node = algorithm.schedule(fwk, CycleState(), info).node
        snap.get(node).add_pod(info)
        placed.append(node)
    assert sorted(placed) == ["a", "b"]
    with pytest.raises(FitError):
        algorithm.schedule(fwk, CycleState(), PodInfo(MakePod().req(cpu="1").obj()))


def test_preemption_picks_node_with_lowest_priority_victims() -> None:
    snap = snapshot(
        [MakeNode().name(n).capacity(cpu="2").obj() for n in ("a", "b", "c")]
        + [MakeNode().name("t").capacity(cpu="8").taint("x").obj()],
        [
            MakePod().name("a-low").req(cpu="2").priority(10).node("a").obj(),
            MakePod().name("b-mid").req(cpu="2").priority(50).node("b").obj(),
            MakePod().name("c-high").req(cpu="2").priority(500).node("c").obj(),
        ],
    )
    fwk = framework(snap)
    state, info = CycleState(), PodInfo(MakePod().req(cpu="2").priority(100).obj())
    with pytest.raises(FitError) as caught:
        Algorithm().schedule(fwk, state, info)
    status, result = fwk.run_post_filter(state, info, caught.value.statuses)
    assert status.success
    assert result is not None
    assert result.nominated_node_name == "a"
    assert [v.name for v in result.victims] == ["a-low"]


def test_preemption_reprieves_pods_it_does_not_need_to_evict() -> None:
    snap = snapshot(
        [MakeNode().name("a").capacity(cpu="4").obj()],
        [
            MakePod().name("small").req(cpu="1").priority(1).node("a").obj(),
            MakePod().name("big").req(cpu="2").priority(2).node("a").obj(),
        ],
    )
    fwk = framework(snap)
    state, info = CycleState(), PodInfo(MakePod().req(cpu="2").priority(100).obj())
    with pytest.raises(FitError) as caught:
        Algorithm().schedule(fwk, state, info)
    _, result = fwk.run_post_filter(state, info, caught.value.statuses)
    assert result is not None
    # "big" is more important, is put back first and still leaves room: only "small" goes.
    assert [v.name for v in result.victims] == ["small"]


def test_nominated_pods_keep_their_room() -> None:
    snap = snapshot([MakeNode().name("a").capacity(cpu="2").obj()])
    waiting = PodInfo(MakePod().req(cpu="2").priority(100).nominated("a").obj())
    fwk = Framework(config.default_profile(), lambda: snap, nominated_pods=lambda n: [waiting])
    info = PodInfo(MakePod().req(cpu="1").priority(0).obj())
    with pytest.raises(FitError):
        Algorithm().schedule(fwk, CycleState(), info)


def test_config_enable_disable_weights_and_args(tmp_path: Path) -> None:
    path = tmp_path / "sched.yaml"
    path.write_text(
        """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 20
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
      enabled: [{name: ImageLocality, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
- schedulerName: bin-packer
  plugins:
    multiPoint:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit, weight: 4}]
"""
    )
    cfg = config.load(path)
    assert cfg.percentage_of_nodes_to_score == 20
    default = cfg.profile("default-scheduler")
    assert default is not None
    scores = dict(default.plugins["score"])
    assert "NodeResourcesBalancedAllocation" not in scores
    assert scores["ImageLocality"] == 5
    assert scores["TaintToleration"] == 3
    fwk = framework(Snapshot(), default)
    assert fwk.instances["NodeResourcesFit"].strategy == "MostAllocated"
    packer = cfg.profile("bin-packer")
    assert packer is not None
    assert packer.plugins["filter"] == [("NodeResourcesFit", 4)]
    assert packer.plugins["score"] == [("NodeResourcesFit", 4)]


def test_config_rejects_unknown_plugins(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("profiles: [{plugins: {filter: {enabled: [{name: Nope}]}}}]\n")
    with pytest.raises(config.ConfigError, match="Nope"):
        config.load(path)


def test_default_profile_matches_upstream_order_and_weights() -> None:
    profile = config.default_profile()
    assert [n for n, _ in profile.plugins["filter"]] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert [n for n, _ in profile.plugins["preFilter"]][-3:] == [
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert dict(profile.plugins["score"]) == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }


def test_command_flags() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    command.register(sub)
    args = parser.parse_args(
        ["scheduler", "--kubeconfig", "k", "--config", "c", "--leader-elect=false", "-v", "4"]
    )
    assert (args.kubeconfig, args.config, args.leader_elect, args.verbosity) == ("k", "c", False, 4)
    assert args.func is command.main


def test_status_helpers() -> None:
    assert Status().success
    assert unresolvable("x").rejected
    assert NodeInfo().name == ""


def _pdb(namespace: str, labels: dict[str, str], allowed: int) -> dict:
    return {
        "metadata": {"name": "budget", "namespace": namespace},
        "spec": {"selector": {"matchLabels": labels}},
        "status": {"disruptionsAllowed": allowed},
    }


def test_preemption_prefers_nodes_without_budget_violations() -> None:
    snap = snapshot(
        [MakeNode().name(n).capacity(cpu="2").obj() for n in ("a", "b")],
        [
            MakePod().name("guarded").label("app", "db").req(cpu="2").priority(1).node("a").obj(),
            MakePod().name("free").label("app", "web").req(cpu="2").priority(5).node("b").obj(),
        ],
    )
    budgets = [_pdb("default", {"app": "db"}, 0)]
    fwk = Framework(config.default_profile(), lambda: snap, pdbs=lambda: budgets)
    state, info = CycleState(), PodInfo(MakePod().req(cpu="2").priority(100).obj())
    with pytest.raises(FitError) as caught:
        Algorithm().schedule(fwk, state, info)
    _, result = fwk.run_post_filter(state, info, caught.value.statuses)
    assert result is not None
    # "guarded" has the lower priority, but evicting it would break its budget.
    assert result.nominated_node_name == "b"
    assert [v.name for v in result.victims] == ["free"]


def test_split_by_budget_spends_allowed_disruptions() -> None:
    from tinykube.scheduler.plugins.defaultpreemption import split_by_budget

    pods = [PodInfo(MakePod().name(f"p{i}").label("app", "db").obj()) for i in range(3)]
    other = PodInfo(MakePod().name("other").namespace("x").label("app", "db").obj())
    violating, fine = split_by_budget([*pods, other], [_pdb("default", {"app": "db"}, 1)])
    assert [p.name for p in fine] == ["p0", "other"]
    assert [p.name for p in violating] == ["p1", "p2"]
