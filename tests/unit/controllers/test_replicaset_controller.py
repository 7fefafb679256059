"""ReplicaSet decisions as pure functions: which Pods go first, batches, status, claims,
expectations."""

from __future__ import annotations

import pytest
from workload_builders import NOW, pod, replica_set

from tinykube.api.selectors import Selector
from tinykube.client.clock import FakeClock
from tinykube.controllers.expectations import EXPECTATIONS_TIMEOUT, Expectations
from tinykube.controllers.podutil import is_pod_available, pods_to_delete
from tinykube.controllers.refmanager import plan_claims
from tinykube.controllers.replicaset import (
    REPLICA_SET,
    REPLICATION_CONTROLLER,
    availability_requeue,
    pod_from_template,
    replica_set_status,
    slow_start_batches,
    status_needs_update,
)

pytestmark = pytest.mark.unit


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize(
    ("pods", "count", "first"),
    [
        pytest.param([pod("a", node="n1"), pod("b")], 1, ["b"], id="unscheduled-before-scheduled"),
        pytest.param(
            [pod("a", node="n", phase="Running"), pod("b", node="n", phase="Pending")],
            1,
            ["b"],
            id="pending-before-running",
        ),
        pytest.param(
            [pod("a", node="n", phase="Running"), pod("b", node="n", phase="Unknown")],
            1,
            ["b"],
            id="unknown-before-running",
        ),
        pytest.param(
            [pod("a", node="n", ready_for=100), pod("b", node="n")], 1, ["b"], id="not-ready-first"
        ),
        pytest.param(
            [
                pod("a", node="n1", ready_for=9),
                pod("b", node="n2", ready_for=9),
                pod("c", node="n1", ready_for=9),
            ],
            2,
            ["a", "c"],
            id="doubled-up-node-first",
        ),
        pytest.param(
            [pod("a", node="n", ready_for=10000), pod("b", node="n", ready_for=10)],
            1,
            ["b"],
            id="recently-ready-first",
        ),
        pytest.param(
            [
                pod("a", node="n", ready_for=60, restarts=0),
                pod("b", node="n", ready_for=60, restarts=5),
            ],
            1,
            ["b"],
            id="more-restarts-first",
        ),
        pytest.param(
            [pod("a", node="n", created_ago=100000), pod("b", node="n", created_ago=10)],
            1,
            ["b"],
            id="newer-first",
        ),
        pytest.param(
            [pod("b", node="n", created_ago=100), pod("a", node="n", created_ago=101)],
            1,
            ["a"],
            id="same-log-bucket-breaks-ties-by-uid",
        ),
        pytest.param([pod("a"), pod("b")], 5, ["a", "b"], id="more-than-there-are"),
    ],
)
def test_pods_to_delete_ranking(pods: list[dict], count: int, first: list[str]) -> None:
    assert sorted(names(pods_to_delete(pods, pods, count, NOW))) == sorted(first)


def test_ranking_is_in_upstream_order_of_criteria() -> None:
    pods = [
        pod("ready-old", node="n1", ready_for=5000, created_ago=9000),
        pod("ready-new", node="n2", ready_for=5, created_ago=10),
        pod("not-ready", node="n3"),
        pod("pending", node="n4", phase="Pending"),
        pod("unscheduled", phase="Pending"),
    ]
    order = names(pods_to_delete(pods, pods, 4, NOW))
    assert order == ["unscheduled", "pending", "not-ready", "ready-new"]


@pytest.mark.parametrize(
    ("ready_for", "min_ready", "available"),
    [(None, 0, False), (0, 0, True), (5, 10, False), (10, 10, True), (11, 10, True)],
)
def test_pod_available_after_min_ready_seconds(
    ready_for: float | None, min_ready: int, available: bool
) -> None:
    assert is_pod_available(pod("p", ready_for=ready_for), min_ready, NOW) is available


@pytest.mark.parametrize(
    ("count", "batches"),
    [(0, []), (1, [1]), (3, [1, 2]), (10, [1, 2, 4, 3]), (500, [1, 2, 4, 8, 16, 32, 64, 128, 245])],
)
def test_slow_start_batches_double(count: int, batches: list[int]) -> None:
    assert slow_start_batches(count) == batches
    assert sum(batches) == count


def test_status_counts_ready_available_and_fully_labeled() -> None:
    rs = replica_set("rs", 4)
    rs["spec"]["minReadySeconds"] = 30
    rs["spec"]["template"]["metadata"]["labels"]["extra"] = "x"
    pods = [
        pod("a", ready_for=60, labels={**rs["spec"]["template"]["metadata"]["labels"]}),
        pod("b", ready_for=10),
        pod("c"),
    ]
    status = replica_set_status(rs, pods, None, NOW)
    assert status["replicas"] == 3
    assert status["fullyLabeledReplicas"] == 1
    assert status["readyReplicas"] == 2
    assert status["availableReplicas"] == 1
    assert "conditions" not in status
    assert availability_requeue(rs, pods, NOW) == pytest.approx(20)


def test_status_omits_zero_counts_but_always_has_replicas() -> None:
    status = replica_set_status(replica_set("rs", 0), [], None, NOW)
    assert status == {"replicas": 0, "observedGeneration": 1}


@pytest.mark.parametrize(
    ("pods", "replicas", "reason"),
    [(0, 2, "FailedCreate"), (3, 1, "FailedDelete")],
)
def test_manage_error_sets_replica_failure(pods: int, replicas: int, reason: str) -> None:
    rs = replica_set("rs", replicas)
    status = replica_set_status(rs, [pod(f"p{i}") for i in range(pods)], "quota exceeded", NOW)
    (cond,) = status["conditions"]
    assert cond["type"] == "ReplicaFailure" and cond["status"] == "True"
    assert cond["reason"] == reason and cond["message"] == "quota exceeded"


def test_success_clears_replica_failure() -> None:
    rs = replica_set("rs", 1)
    rs["status"]["conditions"] = [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}
    ]
    assert "conditions" not in replica_set_status(rs, [pod("a")], None, NOW)


def test_status_update_needed_only_on_change() -> None:
    rs = replica_set("rs", 2)
    rs["status"] = {"replicas": 2, "observedGeneration": 1}
    assert not status_needs_update(rs, {"replicas": 2})
    assert status_needs_update(rs, {"replicas": 1})
    rs["metadata"]["generation"] = 2
    assert status_needs_update(rs, {"replicas": 2})


def test_pod_from_template_has_generate_name_and_controller_ref() -> None:
    rs = replica_set("web-abc", 1)
    rs["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    body = pod_from_template(rs, REPLICA_SET)
    assert body["metadata"]["generateName"] == "web-abc-"
    assert body["metadata"]["labels"] == rs["spec"]["template"]["metadata"]["labels"]
    assert body["metadata"]["annotations"] == {"a": "b"}
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-abc",
            "uid": "uid-web-abc",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert body["spec"] == rs["spec"]["template"]["spec"]
    assert body["spec"] is not rs["spec"]["template"]["spec"]


def test_replication_controller_selector_is_a_label_map() -> None:
    rc = {"spec": {"selector": {"app": "web"}}}
    assert REPLICATION_CONTROLLER.selector(rc).matches({"app": "web", "x": "y"})
    assert not REPLICATION_CONTROLLER.selector(rc).matches({"app": "db"})


def test_claims_adopt_orphans_release_strays_and_leave_others() -> None:
    owner = replica_set("rs", 3)
    uid = owner["metadata"]["uid"]
    selector = Selector.from_set({"app": "web"})
    mine = pod("mine", owner_uid=uid)
    stray = pod("stray", owner_uid=uid, labels={"app": "other"})
    orphan = pod("orphan")
    foreign = pod("foreign", owner_uid="someone-else")
    dying_orphan = pod("dying", deleting=True)
    unrelated = pod("unrelated", labels={"app": "db"})
    plan = plan_claims(owner, selector, [mine, stray, orphan, foreign, dying_orphan, unrelated])
    assert names(plan.owned) == ["mine"]
    assert names(plan.adopt) == ["orphan"]
    assert names(plan.release) == ["stray"]


def test_a_deleted_owner_neither_adopts_nor_releases() -> None:
    owner = replica_set("rs", 3)
    owner["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    uid = owner["metadata"]["uid"]
    plan = plan_claims(
        owner, Selector.from_set({"app": "web"}), [pod("o"), pod("s", owner_uid=uid, labels={})]
    )
    assert plan.adopt == [] and plan.release == []


async def test_expectations_block_until_observed_or_expired() -> None:
    clock = FakeClock()
    exp = Expectations(clock)
    assert exp.satisfied("ns/rs")
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    exp.deletion_observed("ns/rs", "ns/other")
    assert exp.pending("ns/rs") == (0, 2)
    exp.deletion_observed("ns/rs", "ns/a")
    assert not exp.satisfied("ns/rs")
    await clock.advance(EXPECTATIONS_TIMEOUT + 1)
    assert exp.satisfied("ns/rs")
