"""Job decisions as pure functions: how many Pods to run, when it is done, what is counted."""

from __future__ import annotations

import pytest
from workload_builders import NOW, ago, pod

from tinykube.controllers.job import indexed, tracking
from tinykube.controllers.job import util as job

pytestmark = pytest.mark.unit


def a_job(**spec: object) -> dict:
    return {
        "metadata": {"name": "pi", "namespace": "ns", "uid": "uid-pi"},
        "spec": spec,
        "status": {},
    }


@pytest.mark.parametrize(
    ("spec", "succeeded", "active", "want"),
    [
        ({"completions": 5, "parallelism": 2}, 0, 0, 2),
        ({"completions": 5, "parallelism": 2}, 4, 1, 1),
        ({"completions": 5, "parallelism": 2}, 5, 0, 0),
        ({"parallelism": 3}, 0, 1, 3),
        ({"parallelism": 3}, 1, 2, 2),  # a work queue: once one succeeded, start no more
        ({"completions": 1, "parallelism": 0}, 0, 0, 0),
    ],
)
def test_want_active(spec: dict, succeeded: int, active: int, want: int) -> None:
    assert job.want_active(a_job(**spec), succeeded, active) == want


@pytest.mark.parametrize(
    ("spec", "succeeded", "active", "done"),
    [
        ({"completions": 3}, 3, 0, True),
        ({"completions": 3}, 2, 1, False),
        ({"parallelism": 2}, 1, 1, False),
        ({"parallelism": 2}, 1, 0, True),
    ],
)
def test_success_criteria(spec: dict, succeeded: int, active: int, done: bool) -> None:
    assert job.succeeded_enough(a_job(**spec), succeeded, active) is done


def test_census_counts_finished_pods_once() -> None:
    tracked = [tracking.TRACKING_FINALIZER]
    ok = pod("ok", phase="Succeeded")
    ok["metadata"]["finalizers"] = tracked
    bad = pod("bad", phase="Failed")
    bad["metadata"]["finalizers"] = tracked
    deleted = pod("deleted", phase="Running", deleting=True)
    deleted["metadata"]["finalizers"] = tracked
    counted = pod("counted", phase="Succeeded")  # finalizer already removed
    running = pod("running", ready_for=5)
    the_job = a_job()
    the_job["status"]["uncountedTerminatedPods"] = {"failed": ["uid-bad"]}
    census = tracking.take_census(the_job, [ok, bad, deleted, counted, running])
    assert [p["metadata"]["uid"] for p in census.new_succeeded] == ["uid-ok"]
    # bad is already uncounted; a Pod deleted before it succeeded counts as failed
    assert [p["metadata"]["uid"] for p in census.new_failed] == ["uid-deleted"]
    assert sorted(p["metadata"]["name"] for p in census.to_unfinalize) == ["bad", "deleted", "ok"]
    assert [p["metadata"]["name"] for p in census.active] == ["running"]
    assert census.ready == 1 and census.terminating == 1


@pytest.mark.parametrize(("failures", "delay"), [(0, 0), (1, 10), (2, 20), (4, 80), (10, 360)])
def test_pod_failure_backoff(failures: int, delay: float) -> None:
    assert job.backoff_delay(failures) == delay


def test_active_deadline() -> None:
    the_job = a_job(activeDeadlineSeconds=30)
    the_job["status"]["startTime"] = ago(31)
    assert job.past_deadline(the_job, NOW)
    the_job["status"]["startTime"] = ago(29)
    assert not job.past_deadline(the_job, NOW)


def test_pods_carry_the_tracking_finalizer_and_controller_ref() -> None:
    the_job = a_job(
        template={"metadata": {"labels": {"job-name": "pi"}}, "spec": {"containers": []}}
    )
    body = job.pod_from_job(the_job)
    assert body["metadata"]["generateName"] == "pi-"
    assert body["metadata"]["finalizers"] == [tracking.TRACKING_FINALIZER]
    assert body["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert body["metadata"]["labels"] == {"job-name": "pi"}


@pytest.mark.parametrize(
    ("text", "indexes"),
    [("", set()), ("3", {3}), ("0-2,5", {0, 1, 2, 5}), ("1,3,4,7-9", {1, 3, 4, 7, 8, 9})],
)
def test_completed_indexes_round_trip(text: str, indexes: set[int]) -> None:
    assert indexed.parse_indexes(text) == indexes
    assert indexed.format_indexes(indexes) == text


def with_index(name: str, index: int | None) -> dict:
    p = pod(name)
    if index is not None:
        p["metadata"]["annotations"] = {indexed.INDEX_KEY: str(index)}
    return p


def test_pending_indexes_skip_completed_and_running() -> None:
    active = [with_index("a", 1), with_index("b", 3)]
    assert indexed.pending_indexes(6, {0, 2}, active, 5) == [4, 5]
    assert indexed.pending_indexes(6, set(), active, 2) == [0, 2]


def test_surplus_pods_are_duplicates_out_of_range_or_done() -> None:
    active = [
        with_index("a", 1),
        with_index("b", 1),
        with_index("c", 9),
        with_index("d", 0),
        with_index("e", None),
    ]
    surplus = indexed.surplus_pods(3, {0}, active)
    assert sorted(p["metadata"]["name"] for p in surplus) == ["b", "c", "d", "e"]


def test_indexed_pod_identity() -> None:
    the_job = a_job(template={"spec": {"containers": [{"name": "c"}]}})
    body = indexed.pod_for_index(the_job, job.pod_from_job(the_job), 4)
    assert body["metadata"]["generateName"] == "pi-4-"
    assert body["metadata"]["annotations"][indexed.INDEX_KEY] == "4"
    assert body["metadata"]["labels"][indexed.INDEX_KEY] == "4"
    assert body["spec"]["hostname"] == "pi-4"
    (env,) = body["spec"]["containers"][0]["env"]
    assert env["name"] == "JOB_COMPLETION_INDEX"
