"""The Job controller: run Pods until enough succeed, or give up after too many fail.

A Job wants ``completions`` successful Pods (or, with completions unset, one
success from a pool of ``parallelism`` workers), running at most
``parallelism`` at a time. Failed Pods are replaced after an exponential delay
(10 s doubling to 6 min, upstream's pod failure backoff) until more than
``backoffLimit`` have failed; ``activeDeadlineSeconds`` bounds the whole run.

**Counting with finalizers.** Pods are created with the
``batch.kubernetes.io/job-tracking`` finalizer, so a finished Pod cannot vanish
(deleted by a user, by pod GC) before the Job counted it. Counting is a
three-step, crash-safe protocol (upstream ``trackJobStatusAndRemoveFinalizers``):

1. a finished Pod that still has the finalizer has its UID written to
   ``status.uncountedTerminatedPods``;
2. its finalizer is removed;
3. UIDs whose Pod no longer has the finalizer (or is gone) move from
   ``uncountedTerminatedPods`` into ``succeeded``/``failed``.

A restart between any two steps repeats at most the step it was in; nothing
is counted twice or lost. A Pod being deleted before it succeeded counts as
failed, as upstream counts it.

**Finishing.** When the success or failure criterion is met, the Job first
gets ``SuccessCriteriaMet`` or ``FailureTarget`` (remaining Pods are deleted),
then, once no Pod is left running, ``Complete`` (with ``completionTime``) or
``Failed`` with reason ``BackoffLimitExceeded`` or ``DeadlineExceeded``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api.duration import format_time, parse_time
from tinykube.api.selectors import SelectorError, label_selector_as_selector
from tinykube.client.informers import key_of
from tinykube.controllers.expectations import Expectations
from tinykube.controllers.podutil import controller_ref, is_pod_ready, meta, pod_key, pods_to_delete
from tinykube.controllers.refmanager import claim, new_controller_ref
from tinykube.controllers.replicaset import slow_start_batches
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "job-controller"  # upstream --controllers name; alias "job"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0

COMPLETE, FAILED = "Complete", "Failed"
SUCCESS_CRITERIA_MET, FAILURE_TARGET, SUSPENDED = "SuccessCriteriaMet", "FailureTarget", "Suspended"
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


# ---- pure decisions ---------------------------------------------------------------------


def job_spec(job: Obj) -> Obj:
    return job.get("spec") or {}


def is_finished(job: Obj) -> bool:
    return any(
        c.get("type") in (COMPLETE, FAILED) and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def has_condition(job_status: Obj, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in job_status.get("conditions") or []
    )


def is_pod_failed(pod: Obj) -> bool:
    """Failed, or deleted before it succeeded (orphans never reach Failed)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Failed" or (bool(meta(pod).get("deletionTimestamp")) and phase != "Succeeded")


def is_pod_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded" or is_pod_failed(pod)


@dataclass
class Census:
    """What the Pods say: who is running, and which finished Pods are not yet counted."""

    active: list[Obj] = field(default_factory=list)
    ready: int = 0
    terminating: int = 0
    new_succeeded: list[str] = field(default_factory=list)
    new_failed: list[str] = field(default_factory=list)
    to_unfinalize: list[Obj] = field(default_factory=list)


def take_census(job: Obj, pods: list[Obj]) -> Census:
    uncounted = (job.get("status") or {}).get("uncountedTerminatedPods") or {}
    already = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
    census = Census()
    for pod in pods:
        tracked = TRACKING_FINALIZER in (meta(pod).get("finalizers") or [])
        if not is_pod_finished(pod):
            census.active.append(pod)
            census.ready += is_pod_ready(pod)
            continue
        if meta(pod).get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in (
            "Failed",
            "Succeeded",
        ):
            census.terminating += 1
        if not tracked:
            continue  # counted before (its finalizer is gone)
        census.to_unfinalize.append(pod)
        uid = meta(pod).get("uid", "")
        if uid in already:
            continue
        if (pod.get("status") or {}).get("phase") == "Succeeded":
            census.new_succeeded.append(uid)
        else:
            census.new_failed.append(uid)
    return census


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """How many Pods should run now (upstream manageJob)."""
    spec = job_spec(job)
    parallelism = int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    if completions is None:
        return active if succeeded > 0 else parallelism
    return max(0, min(int(completions) - succeeded, parallelism))


def succeeded_enough(job: Obj, succeeded: int, active: int) -> bool:
    completions = job_spec(job).get("completions")
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= int(completions)


def past_deadline(job: Obj, now: datetime) -> bool:
    deadline = job_spec(job).get("activeDeadlineSeconds")
    started = parse_time((job.get("status") or {}).get("startTime"))
    return (
        deadline is not None
        and started is not None
        and (now - started).total_seconds() >= int(deadline)
    )


def backoff_delay(failures: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_MAX) -> float:
    if failures <= 0:
        return 0.0
    return min(base * 2 ** min(failures - 1, 30), cap)


def new_condition(kind: str, reason: tuple[str, str], now: datetime) -> Obj:
    stamp = format_time(now)
    return {
        "type": kind,
        "status": "True",
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason[0],
        "message": reason[1],
    }


def pod_from_job(job: Obj) -> Obj:
    template = job_spec(job).get("template") or {}
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {
        "generateName": f"{meta(job)['name']}-",
        "labels": copy.deepcopy(tmeta.get("labels") or {}),
        "ownerReferences": [new_controller_ref(job, "batch/v1", "Job")],
        "finalizers": [*(tmeta.get("finalizers") or []), TRACKING_FINALIZER],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = copy.deepcopy(tmeta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


# ---- the controller -----------------------------------------------------------------------


@dataclass
class _Backoff:
    failures: int = 0
    last_failure: float = 0.0


class JobController(Controller[str]):
    """Creates a Job's Pods, counts their outcomes and marks the Job finished."""

    name = "job-controller"
    default_workers = 5
    workers_flag = "concurrent-job-syncs"

    def __init__(
        self,
        ctx: ControllerContext,
        now: Callable[[], datetime] | None = None,
        backoff_base: float = BACKOFF_BASE,
    ) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.backoff_base = backoff_base
        self.recorder = ctx.recorder(self.name)
        self.expectations = Expectations(ctx.clock)
        self._backoff: dict[str, _Backoff] = {}
        self.jobs = self.informer("batch/v1", "jobs")
        self.pods = self.informer("v1", "pods")
        self.jobs.add_handler(
            on_add=self.enqueue,
            on_update=lambda _o, n: self.enqueue(n),
            on_delete=self._job_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added,
            on_update=lambda _o, n: self._pod_changed(n),
            on_delete=self._pod_deleted,
        )

    # ---- handlers ----

    def _job_deleted(self, job: Obj) -> None:
        self.expectations.delete(key_of(job))
        self._backoff.pop(key_of(job), None)
        self.enqueue(job)

    def _owner(self, pod: Obj) -> Obj | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.jobs.get_by_name(meta(pod).get("namespace", ""), ref.get("name", ""))
        return job if job is not None and meta(job).get("uid") == ref.get("uid") else None

    def _pod_added(self, pod: Obj) -> None:
        if (job := self._owner(pod)) is not None:
            self.expectations.creation_observed(key_of(job))
        self._pod_changed(pod)

    def _pod_changed(self, pod: Obj) -> None:
        if (job := self._owner(pod)) is not None:
            self.enqueue(job)
        elif (
            TRACKING_FINALIZER in (meta(pod).get("finalizers") or [])
            and controller_ref(pod) is not None
        ):
            self.queue.add(f"pod:{pod_key(pod)}")  # an orphan still holding our finalizer

    def _pod_deleted(self, pod: Obj) -> None:
        if (job := self._owner(pod)) is not None:
            self.expectations.deletion_observed(key_of(job), pod_key(pod))
            self.enqueue(job)

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Requeue | None:
        if key.startswith("pod:"):
            await self._release_orphan(key.removeprefix("pod:"))
            return None
        cached = self.jobs.get(key)
        if cached is None:
            self.expectations.delete(key)
            return None
        job = copy.deepcopy(cached)
        try:
            selector = label_selector_as_selector(job_spec(job).get("selector"))
        except SelectorError as exc:
            log.warning("controller=%s key=%s invalid selector: %s", self.name, key, exc)
            return None
        candidates = self.pods.list(meta(job).get("namespace", ""))
        ref = new_controller_ref(job, "batch/v1", "Job")
        pods = await claim(self.client, "v1", "pods", job, ref, selector, candidates)
        return await self._sync(key, job, pods)

    async def _sync(self, key: str, job: Obj, pods: list[Obj]) -> Requeue | None:
        now = self.now()
        before = copy.deepcopy(job.get("status") or {})
        status = job.setdefault("status", {})
        census = take_census(job, pods)
        if (
            not is_finished(job)
            and not job_spec(job).get("suspend")
            and not status.get("startTime")
        ):
            status["startTime"] = format_time(now)
        await self._count(job, census)
        requeue: Requeue | None = None
        if not is_finished(job):
            requeue = await self._progress(key, job, census, now)
        status["active"] = len([p for p in census.active if not meta(p).get("deletionTimestamp")])
        status["ready"] = census.ready
        status["terminating"] = census.terminating
        if _normal(status) != _normal(before):
            await self._write_status(job)
        return requeue

    async def _count(self, job: Obj, census: Census) -> None:
        """Steps 1-3 of the module docstring's protocol."""
        status = job["status"]
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        if census.new_succeeded or census.new_failed:
            uncounted["succeeded"] = [*(uncounted.get("succeeded") or []), *census.new_succeeded]
            uncounted["failed"] = [*(uncounted.get("failed") or []), *census.new_failed]
            await self._write_status(job)
            if census.new_failed:
                self._record_failures(key_of(job), len(census.new_failed))
        await asyncio.gather(*(self._unfinalize(p) for p in census.to_unfinalize))
        for field_name, counter in (("succeeded", "succeeded"), ("failed", "failed")):
            moved = uncounted.pop(field_name, None) or []
            if moved:
                status[counter] = int(status.get(counter) or 0) + len(moved)

    def _record_failures(self, key: str, count: int) -> None:
        record = self._backoff.setdefault(key, _Backoff())
        record.failures += count
        record.last_failure = self.ctx.clock.now()

    async def _progress(self, key: str, job: Obj, census: Census, now: datetime) -> Requeue | None:
        status = job["status"]
        spec = job_spec(job)
        active = [p for p in census.active if not meta(p).get("deletionTimestamp")]
        failed, succeeded = int(status.get("failed") or 0), int(status.get("succeeded") or 0)
        failure: tuple[str, str] | None = None
        if failed > int(spec.get("backoffLimit", 6)):
            failure = BACKOFF_LIMIT_EXCEEDED
        elif past_deadline(job, now):
            failure = DEADLINE_EXCEEDED
        if failure is not None or succeeded_enough(job, succeeded, len(active)):
            return await self._finish(job, active, failure, now)
        if spec.get("suspend"):
            await self._delete_pods(job, active)
            return None
        if not self.expectations.satisfied(key):
            return None
        return await self._manage(key, job, active, succeeded, now)

    async def _finish(
        self, job: Obj, active: list[Obj], failure: tuple[str, str] | None, now: datetime
    ) -> None:
        status = job["status"]
        target = FAILURE_TARGET if failure else SUCCESS_CRITERIA_MET
        if not has_condition(status, target):
            status.setdefault("conditions", []).append(
                new_condition(target, failure or COMPLETIONS_REACHED, now)
            )
        if active:
            await self._delete_pods(job, active)
            return None
        if failure is not None:
            status["conditions"].append(new_condition(FAILED, failure, now))
            self.recorder.event(job, "Warning", failure[0], failure[1])
        else:
            status["conditions"].append(new_condition(COMPLETE, COMPLETIONS_REACHED, now))
            status["completionTime"] = format_time(now)
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        return None

    async def _manage(
        self, key: str, job: Obj, active: list[Obj], succeeded: int, now: datetime
    ) -> Requeue | None:
        want = want_active(job, succeeded, len(active))
        if len(active) > want:
            await self._delete_pods(job, pods_to_delete(active, active, len(active) - want, now))
            return None
        missing = want - len(active)
        if missing <= 0:
            return None
        record = self._backoff.get(key)
        if record is not None and record.failures:
            wait = (
                record.last_failure
                + backoff_delay(record.failures, self.backoff_base)
                - self.ctx.clock.now()
            )
            if wait > 0:
                return Requeue(after=wait)
        await self._create_pods(key, job, missing)
        return None

    async def _create_pods(self, key: str, job: Obj, count: int) -> None:
        self.expectations.expect_creations(key, count)
        body = pod_from_job(job)
        created = 0
        failure: BaseException | None = None
        for size in slow_start_batches(count):
            results = await asyncio.gather(
                *(self._create_pod(job, body) for _ in range(size)), return_exceptions=True
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            created += size - len(failures)
            if failures:
                failure = failures[0]
                break
        for _ in range(count - created):
            self.expectations.creation_observed(key)
        if failure is not None:
            raise failure

    async def _create_pod(self, job: Obj, body: Obj) -> None:
        try:
            pod = await self.client.create("v1", "pods", body, meta(job).get("namespace", ""))
        except errors.APIError as exc:
            self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {exc.message}")
            raise
        self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {meta(pod)['name']}")

    async def _delete_pods(self, job: Obj, pods: list[Obj]) -> None:
        for pod in pods:
            m = meta(pod)
            try:
                await self.client.delete("v1", "pods", m["name"], m.get("namespace", ""))
            except errors.NotFound:
                continue
            self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {m['name']}")

    async def _unfinalize(self, pod: Obj) -> None:
        m = meta(pod)
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}
        try:
            await self.client.patch(
                "v1", "pods", m["name"], patch, m.get("namespace", ""), patch_type="strategic"
            )
        except errors.NotFound:
            return

    async def _release_orphan(self, key: str) -> None:
        namespace, _, name = key.rpartition("/")
        pod = self.pods.get_by_name(namespace, name)
        if pod is None or TRACKING_FINALIZER not in (meta(pod).get("finalizers") or []):
            return
        if self._owner(pod) is None:
            await self._unfinalize(pod)

    async def _write_status(self, job: Obj) -> None:
        updated = await self.client.update_status("batch/v1", "jobs", job)
        job["metadata"]["resourceVersion"] = meta(updated).get("resourceVersion")


def _normal(status: Obj) -> Obj:
    """Status without zero/empty values, so an unchanged Job is not rewritten."""
    return {k: v for k, v in status.items() if v not in (0, None, [], {}, "")}


def new(ctx: ControllerContext) -> JobController:
    """The factory the controller manager calls for ``--controllers=job-controller``."""
    return JobController(ctx)
