"""Job syncs against a recording client: suspend and resume, the active deadline, restarts
under ``restartPolicy: OnFailure``, ``podFailurePolicy``, and Events recorded once."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from unit.controllers.recording_client import context
from unit.controllers.workload_builders import NOW, ago

from tinykube.api import errors
from tinykube.api.duration import format_time
from tinykube.controllers.job import failurepolicy, indexed, perindex, successpolicy, tracking, util
from tinykube.controllers.job.controller import JobController
from tinykube.controllers.job.tracking import TRACKING_FINALIZER
from tinykube.controllers.runtime import Requeue

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


class Events:
    """Stands in for the recorder: what a sync announced, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        self.seen.append((kind, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.seen]


def a_job(status: Obj | None = None, restart: str = "Never", **spec: Any) -> Obj:
    template = {
        "metadata": {"labels": {"job-name": "pi"}},
        "spec": {"restartPolicy": restart, "containers": [{"name": "main"}]},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "ns", "uid": "uid-pi", "resourceVersion": "1"},
        "spec": {
            "selector": {"matchLabels": {"job-name": "pi"}},
            "template": template,
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 6,
            **spec,
        },
        "status": status if status is not None else {},
    }


def a_pod(
    name: str,
    phase: str = "Running",
    exit_code: int | None = None,
    restarts: int = 0,
    conditions: list[Obj] | None = None,
) -> Obj:
    state: Obj = {"running": {}}
    if exit_code is not None:
        state = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "labels": {"job-name": "pi"},
            "finalizers": [TRACKING_FINALIZER],
            "creationTimestamp": ago(60),
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "uid-pi"}
                | {"controller": True}
            ],
        },
        "spec": {"nodeName": "n"},
        "status": {
            "phase": phase,
            "conditions": conditions or [],
            "containerStatuses": [{"name": "main", "restartCount": restarts, "state": state}],
        },
    }


def setup(job: Obj, pods: list[Obj]) -> tuple[JobController, Any, Events]:
    ctx, client, _ = context()
    controller = JobController(ctx, now=lambda: NOW)
    events = Events()
    controller.recorder = events  # type: ignore[assignment]
    controller.jobs.replace([job], "1")
    controller.pods.replace(pods, "1")
    return controller, client, events


def condition(status: Obj, kind: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


async def test_a_suspended_job_says_so_and_resuming_restarts_its_clock() -> None:
    job = a_job(suspend=True)
    controller, client, events = setup(job, [])
    await controller.reconcile("ns/pi")
    suspended = condition(client.last_status, "Suspended")
    assert suspended is not None
    assert (suspended["status"], suspended["reason"]) == ("True", "JobSuspended")
    assert "startTime" not in client.last_status
    assert client.verbs("create", "pods") == []
    assert events.seen == [("Normal", "Suspended", "Job suspended")]

    resumed = a_job(copy.deepcopy(client.last_status))
    resumed["status"]["startTime"] = ago(3600)  # an earlier run must not eat the deadline
    controller.jobs.replace([resumed], "2")
    await controller.reconcile("ns/pi")
    cond = condition(client.last_status, "Suspended")
    assert cond is not None
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "JobResumed",
        "Job resumed",
    )
    assert client.last_status["startTime"] == format_time(NOW)
    assert len(client.verbs("create", "pods")) == 1
    assert sorted(events.reasons()) == ["Resumed", "SuccessfulCreate", "Suspended"]


async def test_a_running_job_is_looked_at_again_when_its_deadline_passes() -> None:
    job = a_job({"startTime": ago(10), "active": 1}, activeDeadlineSeconds=30)
    controller, _, _ = setup(job, [a_pod("pi-a")])
    result = await controller.reconcile("ns/pi")
    assert isinstance(result, Requeue)
    assert result.after == pytest.approx(20, abs=0.5)


async def test_past_its_deadline_a_job_stops_its_pods_and_fails_once() -> None:
    job = a_job({"startTime": ago(31), "active": 1}, activeDeadlineSeconds=30)
    controller, client, events = setup(job, [a_pod("pi-a")])
    await controller.reconcile("ns/pi")
    assert client.verbs("delete", "pods") == ["pi-a"]
    target = condition(client.last_status, "FailureTarget")
    assert target is not None and target["reason"] == "DeadlineExceeded"
    assert "DeadlineExceeded" not in events.reasons()  # not failed until its Pods are gone

    controller.jobs.replace(
        [a_job(copy.deepcopy(client.last_status), activeDeadlineSeconds=30)], "2"
    )
    controller.pods.replace([], "2")
    await controller.reconcile("ns/pi")
    failed = condition(client.last_status, "Failed")
    assert failed is not None and failed["reason"] == "DeadlineExceeded"
    assert events.seen[-1] == (
        "Warning",
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )


async def test_the_finished_event_is_not_repeated_by_a_sync_on_a_stale_cache() -> None:
    done = a_pod("pi-a", phase="Succeeded")
    done["metadata"]["finalizers"] = []
    job = a_job({"startTime": ago(5), "succeeded": 1})
    controller, client, events = setup(job, [done])
    await controller.reconcile("ns/pi")
    assert events.seen == [("Normal", "Completed", "Job completed")]

    async def conflict(*_: Any, **__: Any) -> Obj:
        raise errors.Conflict("the object has been modified")

    client.update_status = conflict  # the cache still shows the Job unfinished
    with pytest.raises(errors.Conflict):
        await controller.reconcile("ns/pi")
    assert events.reasons() == ["Completed"]


async def test_restarts_under_on_failure_count_against_the_backoff_limit() -> None:
    job = a_job({"startTime": ago(60), "active": 1}, restart="OnFailure", backoffLimit=2)
    controller, client, _ = setup(job, [a_pod("pi-a", restarts=2)])
    await controller.reconcile("ns/pi")
    target = condition(client.last_status, "FailureTarget")
    assert target is not None and target["reason"] == "BackoffLimitExceeded"
    assert client.verbs("delete", "pods") == ["pi-a"]


async def test_fewer_restarts_than_the_limit_keep_the_job_running() -> None:
    job = a_job({"startTime": ago(60), "active": 1}, restart="OnFailure", backoffLimit=3)
    controller, client, _ = setup(job, [a_pod("pi-a", restarts=2)])
    await controller.reconcile("ns/pi")
    assert client.verbs("delete", "pods") == []
    assert client.verbs("update_status", "jobs") == []  # nothing to say: still running


POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
        },
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}},
    ]
}
DISRUPTED = [{"type": "DisruptionTarget", "status": "True"}]


@pytest.mark.parametrize(
    ("pod", "action", "counts"),
    [
        (a_pod("p", "Failed", exit_code=42), "FailJob", True),
        (a_pod("p", "Failed", exit_code=3), "Count", True),
        (a_pod("p", "Failed", exit_code=1), None, True),
        (a_pod("p", "Failed", exit_code=137, conditions=DISRUPTED), "Ignore", False),
        (a_pod("p", "Failed", exit_code=0), None, True),
    ],
    ids=["exit-42-fails-the-job", "exit-3-counts", "no-rule", "disruption-ignored", "exit-0"],
)
def test_the_first_matching_rule_decides(pod: Obj, action: str | None, counts: bool) -> None:
    verdict = failurepolicy.match(POLICY, pod)
    assert (verdict.action, verdict.counts) == (action, counts)


async def test_a_fail_job_rule_fails_the_job_with_the_reason() -> None:
    job = a_job({"startTime": ago(60), "active": 2}, podFailurePolicy=POLICY, parallelism=2)
    pods = [a_pod("pi-a", "Failed", exit_code=42), a_pod("pi-b")]
    controller, client, events = setup(job, pods)
    await controller.reconcile("ns/pi")
    target = condition(client.last_status, "FailureTarget")
    assert target is not None
    assert target["reason"] == "PodFailurePolicy"
    assert target["message"] == (
        "Container main for pod ns/pi-a failed with exit code 42 matching FailJob rule at index 1"
    )
    assert client.verbs("delete", "pods") == ["pi-b"]
    assert client.verbs("create", "pods") == []

    controller.jobs.replace(
        [a_job(copy.deepcopy(client.last_status), podFailurePolicy=POLICY)], "2"
    )
    gone = a_pod("pi-a", "Failed", exit_code=42)
    gone["metadata"]["finalizers"] = []
    controller.pods.replace([gone], "2")
    await controller.reconcile("ns/pi")
    failed = condition(client.last_status, "Failed")
    assert failed is not None and failed["reason"] == "PodFailurePolicy"
    assert events.seen[-1] == ("Warning", "PodFailurePolicy", target["message"])


async def test_an_ignored_failure_is_replaced_without_counting() -> None:
    disrupted = a_pod("pi-a", "Failed", exit_code=137, conditions=DISRUPTED)
    job = a_job({"startTime": ago(60), "active": 1}, podFailurePolicy=POLICY, backoffLimit=0)
    controller, client, _ = setup(job, [disrupted])
    await controller.reconcile("ns/pi")
    assert client.last_status.get("failed", 0) == 0
    assert condition(client.last_status, "FailureTarget") is None
    assert client.verbs("patch", "pods") == ["pi-a"]  # its finalizer goes all the same
    assert len(client.verbs("create", "pods")) == 1


def test_the_deadline_does_not_run_while_suspended() -> None:
    job = a_job({"startTime": ago(100)}, activeDeadlineSeconds=30, suspend=True)
    assert util.deadline_remaining(job, NOW) is None
    job["spec"]["suspend"] = False
    assert util.deadline_remaining(job, NOW + timedelta(seconds=0)) == pytest.approx(-70)


def indexed_pod(index: int, phase: str = "Running", failures: int | None = None, **kw: Any) -> Obj:
    p = a_pod(f"pi-{index}-{phase.lower()}", phase, **kw)
    p["metadata"]["labels"][indexed.INDEX_KEY] = str(index)
    p["metadata"]["annotations"] = {indexed.INDEX_KEY: str(index)}
    if failures is not None:
        p["metadata"]["annotations"][perindex.FAILURE_COUNT_KEY] = str(failures)
    return p


def per_index_job(status: Obj, **spec: Any) -> Obj:
    return a_job(
        {"startTime": ago(60), **status},
        completionMode="Indexed",
        completions=3,
        parallelism=3,
        backoffLimitPerIndex=1,
        backoffLimit=2**31 - 1,
        **spec,
    )


class Creations:
    """Captures the Pods a sync created, with their annotations."""

    def __init__(self, client: Any) -> None:
        self.bodies: list[Obj] = []
        create = client.create

        async def capture(api_version: str, resource: str, obj: Obj, *a: Any, **kw: Any) -> Obj:
            if resource == "pods":
                self.bodies.append(copy.deepcopy(obj))
            return await create(api_version, resource, obj, *a, **kw)

        client.create = capture


async def test_a_retried_index_carries_its_failure_count() -> None:
    counted = indexed_pod(0, "Failed", failures=0, exit_code=1)
    counted["metadata"]["finalizers"] = []  # its failure was counted by an earlier sync
    pods = [counted, indexed_pod(1), indexed_pod(2)]
    controller, client, _ = setup(per_index_job({"active": 3, "failed": 1}), pods)
    created = Creations(client)
    await controller.reconcile("ns/pi")
    assert client.last_status["failedIndexes"] == ""
    (body,) = created.bodies
    annotations = body["metadata"]["annotations"]
    assert annotations[indexed.INDEX_KEY] == "0"
    assert annotations[perindex.FAILURE_COUNT_KEY] == "1"


async def test_an_index_out_of_retries_fails_alone_and_is_not_retried() -> None:
    pods = [indexed_pod(0), indexed_pod(1, "Failed", failures=1, exit_code=1), indexed_pod(2)]
    controller, client, _ = setup(per_index_job({"active": 3}), pods)
    await controller.reconcile("ns/pi")
    assert client.last_status["failedIndexes"] == "1"
    assert client.last_status["failed"] == 1
    assert condition(client.last_status, "FailureTarget") is None  # 0 and 2 still run
    assert client.verbs("create", "pods") == []
    assert client.verbs("delete", "pods") == []


async def test_with_every_index_done_failed_indexes_fail_the_job() -> None:
    status = {"completedIndexes": "0,2", "succeeded": 2, "failedIndexes": "1", "failed": 2}
    controller, client, events = setup(per_index_job(status), [])
    await controller.reconcile("ns/pi")
    failed = condition(client.last_status, "Failed")
    assert failed is not None
    assert (failed["reason"], failed["message"]) == ("FailedIndexes", "Job has failed indexes")
    assert events.seen == [("Warning", "FailedIndexes", "Job has failed indexes")]


async def test_more_failed_indexes_than_allowed_stop_the_job_early() -> None:
    status = {"failedIndexes": "1", "failed": 2, "active": 2}
    controller, client, _ = setup(
        per_index_job(status, maxFailedIndexes=0), [indexed_pod(0), indexed_pod(2)]
    )
    await controller.reconcile("ns/pi")
    target = condition(client.last_status, "FailureTarget")
    assert target is not None and target["reason"] == "MaxFailedIndexesExceeded"
    assert sorted(client.verbs("delete", "pods")) == ["pi-0-running", "pi-2-running"]


@pytest.mark.parametrize(
    ("indexes", "text"),
    [({3, 4}, "3,4"), ({0, 1, 2}, "0-2"), ({1, 3, 4, 7, 8, 9}, "1,3,4,7-9"), (set(), "")],
)
def test_indexes_are_written_as_upstream_writes_them(indexes: set[int], text: str) -> None:
    assert indexed.format_indexes(indexes) == text
    assert indexed.parse_indexes(text) == indexes


def test_the_completion_index_variable_comes_from_the_label_unless_set() -> None:
    template = {
        "spec": {
            "containers": [
                {"name": "a"},
                {"name": "b", "env": [{"name": "JOB_COMPLETION_INDEX", "value": "7"}]},
            ]
        }
    }
    the_job = a_job(completionMode="Indexed", completions=3, template=template)
    body = indexed.pod_for_index(the_job, util.pod_from_job(the_job), 2)
    first, second = body["spec"]["containers"]
    (env,) = first["env"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['batch.kubernetes.io/job-completion-index']"
    )
    assert second["env"] == [{"name": "JOB_COMPLETION_INDEX", "value": "7"}]


def leader_job(status: Obj, **spec: Any) -> Obj:
    return a_job(
        {"startTime": ago(60), **status},
        completionMode="Indexed",
        completions=3,
        parallelism=3,
        successPolicy={"rules": [{"succeededIndexes": "0"}]},
        **spec,
    )


async def test_a_success_policy_completes_the_job_before_every_index() -> None:
    leader = indexed_pod(0, "Succeeded")
    controller, client, events = setup(
        leader_job({"active": 2}), [leader, indexed_pod(1), indexed_pod(2)]
    )
    await controller.reconcile("ns/pi")
    assert client.last_status["completedIndexes"] == "0"
    met = condition(client.last_status, "SuccessCriteriaMet")
    assert met is not None
    assert (met["reason"], met["message"]) == ("SuccessPolicy", "Matched rules at index 0")
    assert sorted(client.verbs("delete", "pods")) == ["pi-1-running", "pi-2-running"]
    assert events.reasons().count("Completed") == 0

    controller.jobs.replace([leader_job(copy.deepcopy(client.last_status))], "2")
    leader["metadata"]["finalizers"] = []
    controller.pods.replace([leader], "2")
    await controller.reconcile("ns/pi")
    complete = condition(client.last_status, "Complete")
    assert complete is not None and complete["reason"] == "SuccessPolicy"
    assert events.seen[-1] == ("Normal", "Completed", "Job completed")


@pytest.mark.parametrize(
    ("rules", "succeeded", "message"),
    [
        ([{"succeededIndexes": "0-2"}], {0, 1}, None),
        ([{"succeededIndexes": "0-2"}], {0, 1, 2}, "Matched rules at index 0"),
        ([{"succeededIndexes": "0-3", "succeededCount": 2}], {1, 3}, "Matched rules at index 0"),
        ([{"succeededCount": 5}, {"succeededCount": 2}], {4, 7}, "Matched rules at index 1"),
        ([{"succeededIndexes": "9"}], {0}, None),  # beyond completions: nothing to wait for
    ],
    ids=["not-all-listed", "all-listed", "count-of-listed", "second-rule", "out-of-range"],
)
def test_success_policy_rules(rules: list[Obj], succeeded: set[int], message: str | None) -> None:
    the_job = a_job(completionMode="Indexed", completions=8, successPolicy={"rules": rules})
    matched = successpolicy.match(the_job, succeeded)
    assert (matched[1] if matched else None) == message


def being_deleted(pod: Obj) -> Obj:
    pod["metadata"]["deletionTimestamp"] = ago(1)
    return pod


async def test_the_terminal_condition_waits_for_terminating_pods() -> None:
    status = {"startTime": ago(31), "active": 0}
    target = util.new_condition(util.FAILURE_TARGET, util.DEADLINE_EXCEEDED, NOW)
    job = a_job({**status, "conditions": [target]}, activeDeadlineSeconds=30)
    stopping = being_deleted(a_pod("pi-a"))
    stopping["metadata"]["finalizers"] = []  # counted already; the kubelet still stops it
    controller, client, events = setup(job, [stopping])
    await controller.reconcile("ns/pi")
    assert condition(client.last_status, "Failed") is None
    assert client.last_status["terminating"] == 1
    assert events.seen == []


async def test_under_replacement_policy_failed_a_deleted_pod_is_replaced_once_failed() -> None:
    job = a_job({"startTime": ago(60), "active": 1}, podReplacementPolicy="Failed")
    controller, client, _ = setup(job, [being_deleted(a_pod("pi-a"))])
    await controller.reconcile("ns/pi")
    assert client.verbs("create", "pods") == []
    assert client.verbs("patch", "pods") == []  # its finalizer stays until it failed
    assert client.last_status["terminating"] == 1
    assert client.last_status["active"] == 0

    failed = being_deleted(a_pod("pi-a", "Failed", exit_code=143))
    controller.pods.replace([failed], "2")
    await controller.reconcile("ns/pi")
    assert client.last_status["failed"] == 1
    assert client.verbs("patch", "pods") == ["pi-a"]


async def test_by_default_a_deleted_pod_is_replaced_at_once() -> None:
    job = a_job({"startTime": ago(60), "active": 1}, podReplacementPolicy="TerminatingOrFailed")
    controller, client, _ = setup(job, [being_deleted(a_pod("pi-a"))])
    await controller.reconcile("ns/pi")
    assert client.last_status["failed"] == 1
    assert client.last_status["terminating"] == 1


async def test_a_pod_orphaned_by_cascade_orphan_loses_our_finalizer() -> None:
    controller, client, _ = setup(a_job({"startTime": ago(60), "active": 1}), [])
    controller.jobs.replace([], "2")  # kubectl delete job pi --cascade=orphan
    orphan = a_pod("pi-a")
    del orphan["metadata"]["ownerReferences"]  # the garbage collector took them away
    controller.pods.add(orphan)
    queued = [await controller.queue.get() for _ in range(len(controller.queue))]
    assert "pod:ns/pi-a" in queued
    await controller.reconcile("pod:ns/pi-a")
    assert client.verbs("patch", "pods") == ["pi-a"]


async def test_a_pod_of_a_running_job_keeps_our_finalizer() -> None:
    controller, client, _ = setup(a_job({"startTime": ago(60), "active": 1}), [a_pod("pi-a")])
    await controller.reconcile("pod:ns/pi-a")
    assert client.verbs("patch", "pods") == []


def finished(name: str, phase: str, at: str) -> Obj:
    pod = a_pod(name, phase, exit_code=0 if phase == "Succeeded" else 1)
    pod["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = at
    return pod


def test_only_failures_after_the_last_success_count_for_the_delay() -> None:
    census = tracking.Census(
        new_succeeded=[finished("ok", "Succeeded", ago(20))],
        new_failed=[finished("early", "Failed", ago(30)), finished("late", "Failed", ago(10))],
    )
    assert [p["metadata"]["name"] for p in tracking.failures_since_success(census)] == ["late"]


async def test_a_success_clears_the_replacement_delay() -> None:
    job = a_job({"startTime": ago(60), "active": 1, "failed": 3}, completions=3)
    controller, client, _ = setup(job, [finished("pi-a", "Succeeded", ago(1))])
    # three earlier failures: without the success the next Pod would wait 40 s
    controller._record_outcomes(
        "ns/pi", tracking.Census(new_failed=[a_pod(f"f{i}") for i in range(3)])
    )
    await controller.reconcile("ns/pi")
    assert len(client.verbs("create", "pods")) == 1


async def test_a_job_being_deleted_gets_no_new_pods() -> None:
    job = a_job({"startTime": ago(60)}, parallelism=2, completions=4)
    job["metadata"]["deletionTimestamp"] = ago(1)
    job["metadata"]["finalizers"] = ["foregroundDeletion"]
    controller, client, _ = setup(job, [])
    await controller.reconcile("ns/pi")
    assert client.verbs("create", "pods") == []
