"""PodTopologySpread: skew filter, minDomains, node inclusion policies, scoring, defaults."""

from __future__ import annotations

import pytest
from builders import MakeNode, MakePod
from harness import codes, filter_all, reasons, score_all

from tinykube.api import selectors
from tinykube.scheduler.framework import Code
from tinykube.scheduler.plugins import podtopologyspread as pts

pytestmark = pytest.mark.unit

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
OK, NO, UNRES = Code.SUCCESS, Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE
WEB = {"app": "web"}


def web(node: str) -> dict:
    return MakePod().labels(WEB).node(node).obj()


NODES = [
    MakeNode().name("a").zone("z1").obj(),
    MakeNode().name("b").zone("z1").obj(),
    MakeNode().name("c").zone("z2").obj(),
]


def test_zone_skew() -> None:
    pod = MakePod().labels(WEB).spread(1, ZONE, WEB).obj()
    got = filter_all("PodTopologySpread", pod, NODES, [web("a"), web("b")])
    assert codes(got) == {"a": NO, "b": NO, "c": OK}
    assert got["a"].reasons == (pts.ERR_REASON_CONSTRAINTS_NOT_MATCH,)


def test_balanced_allows_everywhere_within_skew() -> None:
    pod = MakePod().labels(WEB).spread(1, ZONE, WEB).obj()
    got = filter_all("PodTopologySpread", pod, NODES, [web("a"), web("c")])
    assert codes(got) == {"a": OK, "b": OK, "c": OK}


def test_missing_label_is_unresolvable() -> None:
    pod = MakePod().labels(WEB).spread(1, ZONE, WEB).obj()
    nodes = [*NODES, MakeNode().name("nozone").obj()]
    got = filter_all("PodTopologySpread", pod, nodes)
    assert got["nozone"].code is UNRES
    assert got["nozone"].reasons == (pts.ERR_REASON_NODE_LABEL_NOT_MATCH,)


def test_pod_not_matching_its_selector_adds_nothing() -> None:
    pod = MakePod().spread(1, ZONE, WEB).obj()
    got = filter_all("PodTopologySpread", pod, NODES, [web("a")])
    assert codes(got) == {"a": OK, "b": OK, "c": OK}


def test_min_domains_forces_global_minimum_zero() -> None:
    pod = MakePod().labels(WEB).spread(1, ZONE, WEB, minDomains=3).obj()
    got = filter_all("PodTopologySpread", pod, NODES, [web("a"), web("c")])
    # only 2 zones < 3: min is 0, so every zone that has a pod is at skew 2
    assert codes(got) == {"a": NO, "b": NO, "c": NO}


def test_node_affinity_policy_honor_excludes_other_zones() -> None:
    pod = MakePod().labels(WEB).spread(1, ZONE, WEB).node_selector({ZONE: "z1"}).obj()
    got = filter_all("PodTopologySpread", pod, NODES, [web("a")])
    # z2 is not eligible, so the minimum is z1's own count (c is NodeAffinity's to reject)
    assert codes(got) == {"a": OK, "b": OK, "c": OK}


def test_node_affinity_policy_ignore_counts_all_zones() -> None:
    pod = (
        MakePod()
        .labels(WEB)
        .spread(1, ZONE, WEB, nodeAffinityPolicy="Ignore")
        .node_selector({ZONE: "z1"})
        .obj()
    )
    got = filter_all("PodTopologySpread", pod, NODES, [web("a")])
    assert codes(got) == {"a": NO, "b": NO, "c": OK}


def test_match_label_keys() -> None:
    pod = MakePod().labels({**WEB, "rev": "2"}).spread(1, HOST, WEB, matchLabelKeys=["rev"]).obj()
    old = [web("a"), web("a")]  # rev-less pods are not counted
    got = filter_all("PodTopologySpread", pod, NODES, old)
    assert codes(got) == {"a": OK, "b": OK, "c": OK}


def test_schedule_anyway_scores_emptier_hosts_higher() -> None:
    nodes = [MakeNode().name(n).obj() for n in "abc"]
    pod = MakePod().labels(WEB).spread(1, HOST, WEB, when="ScheduleAnyway").obj()
    got = score_all("PodTopologySpread", pod, nodes, [web("a"), web("a"), web("b")])
    assert got == {"a": 0, "b": 33, "c": 100}


def test_schedule_anyway_does_not_filter() -> None:
    pod = MakePod().labels(WEB).spread(1, ZONE, WEB, when="ScheduleAnyway").obj()
    assert reasons(filter_all("PodTopologySpread", pod, NODES, [web("a")] * 3)) == {
        "a": (),
        "b": (),
        "c": (),
    }


def test_cluster_defaults_spread_owned_pods() -> None:
    pod = MakePod().labels(WEB).obj()
    owner = selectors.Selector.from_set(WEB)
    got = score_all(
        "PodTopologySpread",
        pod,
        NODES,
        [web("a"), web("a"), web("b")],
        spread_selectors=[owner],
    )
    assert got["c"] == 100
    assert got["a"] < got["b"] < got["c"]


def test_cluster_defaults_need_an_owner() -> None:
    pod = MakePod().labels(WEB).obj()
    assert score_all("PodTopologySpread", pod, NODES, [web("a")]) == {"a": 0, "b": 0, "c": 0}
