"""InterPodAffinity: required and preferred, affinity and anti-affinity, both directions."""

from __future__ import annotations

import pytest
from builders import MakeNode, MakePod
from harness import codes, filter_all, reasons, score_all

from tinykube.scheduler.framework import Code
from tinykube.scheduler.plugins import interpodaffinity as ipa

pytestmark = pytest.mark.unit

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
NODES = [
    MakeNode().name("a").zone("z1").obj(),
    MakeNode().name("b").zone("z1").obj(),
    MakeNode().name("c").zone("z2").obj(),
]
DB_ON_A = MakePod().label("app", "db").node("a").obj()
OK, NO, UNRES = Code.SUCCESS, Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_required_affinity_same_zone() -> None:
    pod = MakePod().pod_affinity({"app": "db"}, ZONE).obj()
    got = filter_all("InterPodAffinity", pod, NODES, [DB_ON_A])
    assert codes(got) == {"a": OK, "b": OK, "c": UNRES}
    assert got["c"].reasons == (ipa.ERR_REASON_AFFINITY,)


def test_required_affinity_other_namespace_does_not_count() -> None:
    db = MakePod().label("app", "db").namespace("other").node("a").obj()
    pod = MakePod().pod_affinity({"app": "db"}, ZONE).obj()
    assert codes(filter_all("InterPodAffinity", pod, NODES, [db])) == {
        "a": UNRES,
        "b": UNRES,
        "c": UNRES,
    }


def test_first_pod_of_self_affine_group_may_go_anywhere_with_the_label() -> None:
    pod = MakePod().label("app", "web").pod_affinity({"app": "web"}, ZONE).obj()
    nodes = [*NODES, MakeNode().name("nozone").obj()]
    assert codes(filter_all("InterPodAffinity", pod, nodes)) == {
        "a": OK,
        "b": OK,
        "c": OK,
        "nozone": UNRES,
    }


def test_anti_affinity_against_itself_across_replicas() -> None:
    def replica() -> MakePod:
        return MakePod().label("app", "web").pod_anti_affinity({"app": "web"}, HOST)

    placed = [replica().node("a").obj(), replica().node("b").obj()]
    got = filter_all("InterPodAffinity", replica().obj(), NODES, placed)
    assert codes(got) == {"a": NO, "b": NO, "c": OK}
    assert got["a"].reasons == (ipa.ERR_REASON_ANTI_AFFINITY,)


def test_existing_pods_anti_affinity_is_symmetric() -> None:
    loner = MakePod().label("app", "loner").pod_anti_affinity({"app": "web"}, ZONE).node("a")
    pod = MakePod().label("app", "web").obj()
    got = filter_all("InterPodAffinity", pod, NODES, [loner.obj()])
    assert reasons(got) == {
        "a": (ipa.ERR_REASON_EXISTING_ANTI_AFFINITY,),
        "b": (ipa.ERR_REASON_EXISTING_ANTI_AFFINITY,),
        "c": (),
    }


def test_no_affinity_anywhere_skips() -> None:
    got = filter_all("InterPodAffinity", MakePod().obj(), NODES, [DB_ON_A])
    assert codes(got) == {"a": OK, "b": OK, "c": OK}


def test_namespace_selector() -> None:
    db = MakePod().label("app", "db").namespace("prod").node("c").obj()
    pod = MakePod().obj()
    pod["spec"]["affinity"] = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "db"}},
                    "namespaceSelector": {"matchLabels": {"env": "prod"}},
                    "topologyKey": ZONE,
                }
            ]
        }
    }
    got = filter_all("InterPodAffinity", pod, NODES, [db], namespaces={"prod": {"env": "prod"}})
    assert codes(got) == {"a": UNRES, "b": UNRES, "c": OK}


def test_preferred_affinity_scores_zone() -> None:
    pod = MakePod().pod_affinity({"app": "db"}, ZONE, weight=5).obj()
    assert score_all("InterPodAffinity", pod, NODES, [DB_ON_A]) == {"a": 100, "b": 100, "c": 0}


def test_preferred_anti_affinity_scores_away() -> None:
    pod = MakePod().pod_anti_affinity({"app": "db"}, ZONE, weight=3).obj()
    assert score_all("InterPodAffinity", pod, NODES, [DB_ON_A]) == {"a": 0, "b": 0, "c": 100}


def test_weights_combine() -> None:
    cache = MakePod().label("app", "cache").node("c").obj()
    pod = (
        MakePod()
        .pod_affinity({"app": "db"}, ZONE, weight=10)
        .pod_affinity({"app": "cache"}, HOST, weight=5)
        .obj()
    )
    # a, b: 10 (zone of db); c: 5 (host of cache) -> min-max scaled
    assert score_all("InterPodAffinity", pod, NODES, [DB_ON_A, cache]) == {
        "a": 100,
        "b": 100,
        "c": 0,
    }


def test_existing_pods_preferences_attract_the_new_pod() -> None:
    fan = MakePod().pod_affinity({"app": "web"}, HOST, weight=7).node("b").obj()
    pod = MakePod().label("app", "web").obj()
    assert score_all("InterPodAffinity", pod, NODES, [fan]) == {"a": 0, "b": 100, "c": 0}


def test_existing_required_affinity_counts_with_hard_weight() -> None:
    fan = MakePod().pod_affinity({"app": "web"}, ZONE).node("c").obj()
    pod = MakePod().label("app", "web").obj()
    assert score_all("InterPodAffinity", pod, NODES, [fan]) == {"a": 0, "b": 0, "c": 100}
    zero = score_all("InterPodAffinity", pod, NODES, [fan], args={"hardPodAffinityWeight": 0})
    assert zero == {"a": 0, "b": 0, "c": 0}
