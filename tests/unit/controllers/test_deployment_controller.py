"""Deployment decisions as pure functions: the hash, surge/unavailable arithmetic, the rolling
steps (and the bounds a whole rollout keeps), proportional scaling, revisions, cleanup."""

from __future__ import annotations

import copy

import pytest
from workload_builders import deployment, replica_set

from tinykube.controllers.deployment import rollback, rolling, sync, util

pytestmark = pytest.mark.unit

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
}


# ---- the pod-template hash ----------------------------------------------------------------


def test_hash_is_stable_and_order_independent() -> None:
    shuffled = {"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}
    assert util.compute_hash(TEMPLATE) == util.compute_hash(copy.deepcopy(TEMPLATE))
    assert util.compute_hash(TEMPLATE) == util.compute_hash(shuffled)
    assert set(util.compute_hash(TEMPLATE)) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_hash_changes_with_template_and_collision_count() -> None:
    other = copy.deepcopy(TEMPLATE)
    other["spec"]["containers"][0]["image"] = "nginx:2"
    hashes = {
        util.compute_hash(TEMPLATE),
        util.compute_hash(other),
        util.compute_hash(TEMPLATE, 1),
        util.compute_hash(TEMPLATE, 2),
    }
    assert len(hashes) == 4


def test_fnv32a_matches_the_reference_vectors() -> None:
    assert util.fnv32a(b"") == 0x811C9DC5
    assert util.fnv32a(b"a") == 0xE40C292C
    assert util.fnv32a(b"foobar") == 0xBF9CF968


def test_safe_encode_maps_bytes_into_the_alphabet() -> None:
    assert util.safe_encode("0") == "4"  # ord("0") = 48; 48 % 27 = 21 -> "4"


def test_templates_compare_without_the_hash_label() -> None:
    hashed = copy.deepcopy(TEMPLATE)
    hashed["metadata"]["labels"]["pod-template-hash"] = "abc"
    assert util.equal_ignore_hash(TEMPLATE, hashed)
    hashed["metadata"]["labels"]["x"] = "y"
    assert not util.equal_ignore_hash(TEMPLATE, hashed)


# ---- maxSurge / maxUnavailable ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 1, (1, 0)),
        ("25%", "25%", 4, (1, 1)),
        ("31%", "31%", 10, (4, 3)),
        (0, 0, 5, (0, 1)),
        ("0%", "0%", 3, (0, 1)),
        (1, "50%", 3, (1, 1)),
        (2, 0, 0, (2, 0)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailable_down(
    surge: int | str, unavailable: int | str, replicas: int, expected: tuple[int, int]
) -> None:
    assert util.resolve_fenceposts(surge, unavailable, replicas) == expected


def test_max_unavailable_is_capped_by_replicas_and_zero_for_recreate() -> None:
    assert util.max_unavailable(deployment(3, unavailable=5, surge=0)) == 3
    assert util.max_unavailable(deployment(0)) == 0
    assert util.max_unavailable(deployment(4, strategy="Recreate")) == 0
    assert util.max_surge(deployment(4, strategy="Recreate")) == 0


def test_non_percent_strings_are_rejected() -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        util.scaled_value("3", 10, True)


@pytest.mark.parametrize(
    ("replicas", "surge", "old", "new", "expected"),
    [
        pytest.param(10, "25%", 10, 0, 3, id="surge-room"),
        pytest.param(10, "25%", 10, 3, 3, id="at-max-total"),
        pytest.param(10, "25%", 5, 3, 8, id="room-after-scale-down"),
        pytest.param(10, "25%", 0, 8, 10, id="capped-at-replicas"),
        pytest.param(3, 0, 3, 0, 0, id="no-surge"),
    ],
)
def test_new_replica_set_growth(
    replicas: int, surge: int | str, old: int, new: int, expected: int
) -> None:
    d = deployment(replicas, surge=surge)
    sets = [replica_set("old", old), replica_set("new", new)]
    assert util.new_rs_new_replicas(d, sets, sets[1]) == expected


def test_recreate_gives_the_new_replica_set_everything() -> None:
    d = deployment(5, strategy="Recreate")
    assert util.new_rs_new_replicas(d, [replica_set("n", 0)], replica_set("n", 0)) == 5


# ---- rolling steps ---------------------------------------------------------------------------


def test_unhealthy_old_replicas_go_first_oldest_first() -> None:
    older = replica_set("a", 3, available=1, created_ago=500)
    newer = replica_set("b", 3, available=0, created_ago=100)
    plan = rolling.cleanup_unhealthy_plan([newer, older], budget=3)
    assert [(rs["metadata"]["name"], n) for rs, n in plan] == [("a", 1), ("b", 2)]


def test_scale_down_keeps_min_available() -> None:
    d = deployment(10)  # minAvailable 8
    old = replica_set("old", 10)
    new = replica_set("new", 3, available=0)
    assert rolling.max_scaled_down([old, new], new, d) == 13 - 8 - 3
    plan = rolling.scale_down_old_plan([old, new], [old], d)
    assert [(rs["metadata"]["name"], n) for rs, n in plan] == [("old", 8)]


def _simulate(d: dict, old_replicas: int) -> list[tuple[int, int]]:
    """Run a whole rollout on the pure steps; (pods, available) after every change."""
    old = replica_set("old", old_replicas, created_ago=1000)
    new = replica_set("new", 0, available=0, status_replicas=0, created_ago=10)
    seen = []
    for _ in range(100):
        sets = [old, new]
        target = util.new_rs_new_replicas(d, sets, new)
        if target != util.replicas(new):
            new["spec"]["replicas"] = target
            new["status"]["replicas"] = target  # Pods exist, not yet available
        elif rolling.max_scaled_down(sets, new, d) > 0:
            budget = rolling.max_scaled_down(sets, new, d)
            plans = rolling.cleanup_unhealthy_plan([old], budget) or rolling.scale_down_old_plan(
                sets, [old], d
            )
            for rs, size in plans:
                rs["spec"]["replicas"] = size
                rs["status"]["replicas"] = size
                rs["status"]["availableReplicas"] = min(rs["status"]["availableReplicas"], size)
        seen.append(
            (util.status_count(sets, "replicas"), util.status_count(sets, "availableReplicas"))
        )
        new["status"]["availableReplicas"] = util.replicas(new)  # the kubelet catches up
        if util.replicas(old) == 0 and new["status"]["availableReplicas"] == util.replicas(d):
            return seen
    raise AssertionError(f"rollout did not finish: {seen}")


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "most", "least"),
    [
        (10, "25%", "25%", 13, 8),
        (10, 0, 1, 10, 9),
        (10, 1, 0, 11, 10),
        (3, "100%", 0, 6, 3),
        (1, "25%", "25%", 2, 1),
    ],
)
def test_a_whole_rollout_stays_within_surge_and_unavailable(
    replicas: int, surge: int | str, unavailable: int | str, most: int, least: int
) -> None:
    seen = _simulate(deployment(replicas, surge=surge, unavailable=unavailable), replicas)
    assert max(pods for pods, _ in seen) == most
    assert min(available for _, available in seen) == least


# ---- proportional scaling ----------------------------------------------------------------------


def sizes(plan: list[tuple[dict, int, str]]) -> dict[str, int]:
    return {rs["metadata"]["name"]: n for rs, n, _ in plan}


def test_scale_up_mid_rollout_is_proportional() -> None:
    d = deployment(20)  # surge 5 -> 25 allowed
    old = replica_set("old", 8, max_replicas=13, created_ago=100)
    new = replica_set("new", 5, max_replicas=13, created_ago=10)
    assert sizes(sync.scale_plan(d, new, [old])) == {"old": 15, "new": 10}


def test_scale_down_mid_rollout_is_proportional() -> None:
    d = deployment(10)  # 13 allowed
    old = replica_set("old", 15, max_replicas=25, created_ago=100)
    new = replica_set("new", 10, max_replicas=25, created_ago=10)
    assert sizes(sync.scale_plan(d, new, [old])) == {"old": 8, "new": 5}


def test_leftovers_go_to_the_largest_replica_set() -> None:
    d = deployment(10, surge=0, unavailable=1)
    a = replica_set("a", 1, max_replicas=3, created_ago=300)
    b = replica_set("b", 1, max_replicas=3, created_ago=200)
    c = replica_set("c", 1, max_replicas=3, created_ago=100)
    plan = sizes(sync.scale_plan(d, c, [a, b]))
    assert sum(plan.values()) == 10
    assert plan == {"c": 4, "b": 3, "a": 3}


def test_single_active_replica_set_takes_the_whole_count() -> None:
    d = deployment(7)
    old = replica_set("old", 0)
    new = replica_set("new", 3)
    assert [(rs["metadata"]["name"], n) for rs, n, _ in sync.scale_plan(d, new, [old])] == [
        ("new", 7)
    ]


def test_saturated_new_replica_set_scales_old_ones_to_zero() -> None:
    d = deployment(3)
    old = replica_set("old", 2)
    new = replica_set("new", 3, desired=3)
    assert sizes(sync.scale_plan(d, new, [old])) == {"old": 0}


def test_scaling_event_is_read_from_desired_replicas() -> None:
    d = deployment(5)
    assert sync.is_scaling_event(d, [replica_set("a", 3, desired=3)])
    assert not sync.is_scaling_event(d, [replica_set("a", 3, desired=5)])
    assert not sync.is_scaling_event(d, [replica_set("a", 0, desired=3)])


# ---- revisions, the new ReplicaSet, history ------------------------------------------------------


def test_new_replica_set_is_named_and_labelled_by_hash() -> None:
    d = deployment(4)
    rs = sync.new_replica_set(d, [], "1")
    pod_hash = util.compute_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["selector"]["matchLabels"]["pod-template-hash"] == pod_hash
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    assert rs["spec"]["replicas"] == 4
    assert rs["metadata"]["annotations"] == {
        util.REVISION: "1",
        util.DESIRED_REPLICAS: "4",
        util.MAX_REPLICAS: "5",
    }


def test_rolling_back_to_an_old_replica_set_records_its_revision_history() -> None:
    d = deployment(1)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "undo", util.REVISION: "2"}
    rs = replica_set("old", 0, revision=1)
    assert util.set_new_rs_annotations(d, rs, "3", exists=True)
    notes = rs["metadata"]["annotations"]
    assert notes[util.REVISION] == "3"
    assert notes[util.REVISION_HISTORY] == "1"
    assert notes["kubernetes.io/change-cause"] == "undo"
    assert not util.set_new_rs_annotations(d, rs, "3", exists=True)
    util.set_new_rs_annotations(d, rs, "5", exists=True)
    assert rs["metadata"]["annotations"][util.REVISION_HISTORY] == "1,3"


def test_revisions() -> None:
    sets = [replica_set("a", 0, revision=3), replica_set("b", 0, revision=7), replica_set("c", 0)]
    assert util.max_revision(sets) == 7
    assert util.last_revision(sets) == 3
    assert util.last_revision(sets[:1]) == 0


def test_find_new_prefers_the_oldest_matching_replica_set() -> None:
    d = deployment(1)
    young = replica_set("young", 1, created_ago=10)
    old = replica_set("old", 1, created_ago=100)
    other = replica_set("other", 1, image="nginx:2")
    assert util.find_new(d, [young, other, old])["metadata"]["name"] == "old"
    assert [rs["metadata"]["name"] for rs in util.find_old(d, [young, other, old])] == [
        "young",
        "other",
    ]


def test_cleanup_deletes_oldest_revisions_beyond_the_limit_that_are_scaled_down() -> None:
    d = deployment(1, history_limit=1)
    busy = replica_set("busy", 1, revision=1)
    r2 = replica_set("r2", 0, revision=2)
    r3 = replica_set("r3", 0, revision=3)
    r4 = replica_set("r4", 0, revision=4)
    victims = sync.cleanup_plan(d, [r4, busy, r3, r2])
    assert [rs["metadata"]["name"] for rs in victims] == ["r2", "r3"]
    assert sync.cleanup_plan(deployment(1, history_limit=None), [r2, r3]) == []


def test_rollback_annotation_copies_template_and_annotations() -> None:
    d = deployment(1, image="nginx:2")
    d["metadata"]["annotations"] = {util.REVISION: "2", util.ROLLBACK_TO: "0", "note": "x"}
    target = replica_set("old", 0, revision=1, image="nginx:1")
    target["metadata"]["annotations"]["kubernetes.io/change-cause"] = "first"
    assert rollback.rollback_to(d) == 0
    rollback.apply_template(d, target)
    assert d["spec"]["template"] == TEMPLATE
    assert d["metadata"]["annotations"] == {
        util.REVISION: "2",
        util.ROLLBACK_TO: "0",
        "kubernetes.io/change-cause": "first",
    }


def test_a_stale_old_replica_set_status_does_not_spend_the_budget_twice() -> None:
    d = deployment(10)  # minAvailable 8
    old = replica_set("old", 5, available=10)  # just shrunk from 10; its Pods are not gone yet
    new = replica_set("new", 3, available=3)
    assert rolling.scale_down_old_plan([old, new], [old], d) == []


def test_old_pods_not_yet_deleted_still_count_against_surge() -> None:
    d = deployment(10)  # at most 13 Pods
    old = replica_set("old", 5, status_replicas=10)  # told to shrink, Pods not gone yet
    new = replica_set("new", 3)
    assert util.new_rs_new_replicas(d, [old, new], new) == 3
    old["status"]["replicas"] = 5
    assert util.new_rs_new_replicas(d, [old, new], new) == 8
