"""Deployment status and conditions: counts, Available, Progressing reasons, the deadline,
pause and resume, and when a stuck rollout is looked at again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from workload_builders import NOW, ago, deployment, replica_set

from tinykube.controllers.deployment import progress

pytestmark = pytest.mark.unit


def cond(st: dict, kind: str) -> dict:
    found = progress.get_condition(st, kind)
    assert found is not None, st
    return found


def test_status_counts_come_from_the_replica_sets() -> None:
    d = deployment(3, generation=4)
    old = replica_set("old", 1, available=1)
    new = replica_set("new", 3, available=1)
    new["status"]["readyReplicas"] = 2
    st = progress.calculate_status([old, new], new, d, NOW)
    assert st["observedGeneration"] == 4
    assert st["replicas"] == 4
    assert st["updatedReplicas"] == 3
    assert st["readyReplicas"] == 2
    assert st["availableReplicas"] == 2
    assert st["unavailableReplicas"] == 2


@pytest.mark.parametrize(
    ("available", "value", "reason", "message"),
    [
        (3, "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        (
            2,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        ),
    ],
)
def test_available_condition(available: int, value: str, reason: str, message: str) -> None:
    d = deployment(4)  # maxUnavailable 1 -> 3 needed
    st = progress.calculate_status([replica_set("rs", 4, available=available)], None, d, NOW)
    c = cond(st, "Available")
    assert (c["status"], c["reason"], c["message"]) == (value, reason, message)


def test_complete_rollout_reports_new_replica_set_available() -> None:
    d = deployment(2)
    new = replica_set("web-abc", 2)
    st = progress.rollout_status([new], new, d, NOW)
    c = cond(st, "Progressing")
    assert (c["status"], c["reason"]) == ("True", "NewReplicaSetAvailable")
    assert c["message"] == 'ReplicaSet "web-abc" has successfully progressed.'


def test_progress_refreshes_update_time_but_keeps_transition_time() -> None:
    earlier = progress.new_condition(
        "Progressing", "True", "ReplicaSetUpdated", "x", NOW - timedelta(60)
    )
    d = deployment(4, status={"updatedReplicas": 1, "replicas": 4, "conditions": [earlier]})
    new = replica_set("web-abc", 2, available=0)
    old = replica_set("old", 3)
    st = progress.rollout_status([old, new], new, d, NOW)
    c = cond(st, "Progressing")
    assert c["reason"] == "ReplicaSetUpdated"
    assert c["message"] == 'ReplicaSet "web-abc" is progressing.'
    assert c["lastUpdateTime"] == ago(0)
    assert c["lastTransitionTime"] == earlier["lastTransitionTime"]


def _stuck(seconds_since_update: int, deadline: int = 600) -> tuple[dict, dict, list[dict]]:
    last = progress.new_condition("Progressing", "True", "ReplicaSetUpdated", "x", NOW)
    last["lastUpdateTime"] = ago(seconds_since_update)
    st = {"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2, "conditions": [last]}
    d = deployment(2, deadline=deadline, status=st)
    new = replica_set("web-abc", 1, available=0)
    old = replica_set("old", 2)
    return d, new, [old, new]


def test_no_progress_past_the_deadline_times_out() -> None:
    d, new, sets = _stuck(601)
    c = cond(progress.rollout_status(sets, new, d, NOW), "Progressing")
    assert (c["status"], c["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert c["message"] == 'ReplicaSet "web-abc" has timed out progressing.'


def test_no_progress_within_the_deadline_requeues_for_it() -> None:
    d, new, sets = _stuck(100)
    st = progress.rollout_status(sets, new, d, NOW)
    assert cond(st, "Progressing")["reason"] == "ReplicaSetUpdated"
    assert progress.requeue_stuck_after(d, st, NOW) == pytest.approx(501)


def test_without_a_deadline_there_is_no_progressing_condition() -> None:
    d = deployment(1, deadline=2**31 - 1)
    new = replica_set("n", 1)
    assert (
        progress.get_condition(progress.rollout_status([new], new, d, NOW), "Progressing") is None
    )


def test_pause_and_resume_conditions() -> None:
    paused = progress.paused_condition_change(deployment(1, paused=True), NOW)
    assert paused is not None
    assert (paused["status"], paused["reason"], paused["message"]) == (
        "Unknown",
        "DeploymentPaused",
        "Deployment is paused",
    )
    resumed = progress.paused_condition_change(deployment(1, status={"conditions": [paused]}), NOW)
    assert resumed is not None and resumed["reason"] == "DeploymentResumed"
    timed_out = progress.new_condition("Progressing", "False", "ProgressDeadlineExceeded", "x", NOW)
    assert (
        progress.paused_condition_change(
            deployment(1, paused=True, status={"conditions": [timed_out]}), NOW
        )
        is None
    )


def test_replica_failure_is_lifted_from_the_new_replica_set() -> None:
    d = deployment(1)
    new = replica_set("n", 1, available=0)
    new["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": "quota",
            "lastTransitionTime": ago(5),
        }
    ]
    c = cond(progress.rollout_status([new], new, d, NOW), "ReplicaFailure")
    assert (c["reason"], c["message"], c["lastUpdateTime"]) == ("FailedCreate", "quota", ago(5))


def test_set_condition_keeps_transition_time_when_status_is_unchanged() -> None:
    st: dict = {}
    first = progress.new_condition(
        "Progressing", "True", "NewReplicaSetCreated", "a", NOW - timedelta(1)
    )
    progress.set_condition(st, first)
    progress.set_condition(
        st, progress.new_condition("Progressing", "True", "ReplicaSetUpdated", "b", NOW)
    )
    (c,) = st["conditions"]
    assert (
        c["reason"] == "ReplicaSetUpdated"
        and c["lastTransitionTime"] == first["lastTransitionTime"]
    )
