"""The Job controller: run Pods until enough succeed, or give up after too many fail.

Per key (upstream ``job_controller.go``'s ``syncJob``): claim the Pods, count
the finished ones exactly once (``tracking``), then, unless the Job is
finished:

- a failure criterion (a Pod matching a ``FailJob`` rule of the
  ``podFailurePolicy``, more than ``backoffLimit`` failures, or past
  ``activeDeadlineSeconds``) or the success criterion sets ``FailureTarget``
  or ``SuccessCriteriaMet`` and deletes the Pods still running; once none is
  left, ``Failed`` (reason ``PodFailurePolicy``/``BackoffLimitExceeded``/
  ``DeadlineExceeded``) or ``Complete`` with ``completionTime`` follows;
- a suspended Job has its Pods deleted and the ``Suspended`` condition;
- otherwise Pods are created or deleted towards ``util.want_active`` (for an
  Indexed Job, one per pending index, ``indexed``; with per-index backoff
  limits, failed indexes are not pending, ``perindex``), in slow-start
  batches, after the pod-failure backoff.

Then ``active``, ``ready`` and ``terminating`` are written if anything changed.
The Events that announce a change of state (Suspended, Resumed, Completed,
BackoffLimitExceeded, ...) are recorded only once that write succeeded: a sync
that acted on a stale cache fails its write and must not repeat them. A Job
with ``activeDeadlineSeconds`` is looked at again when the deadline passes,
since no Pod event need come then.
Orphaned Pods that still carry our finalizer (their Job was deleted, or
deleted with ``--cascade=orphan``, which leaves them no owner at all) get it
removed, so they can go.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api.duration import format_time
from tinykube.api.selectors import SelectorError, label_selector_as_selector
from tinykube.client.informers import key_of
from tinykube.controllers.expectations import Expectations
from tinykube.controllers.job import (
    failurepolicy,
    indexed,
    perindex,
    successpolicy,
    tracking,
    util,
)
from tinykube.controllers.job.tracking import TRACKING_FINALIZER, Census
from tinykube.controllers.podutil import controller_ref, meta, pod_key, pods_to_delete
from tinykube.controllers.refmanager import claim, new_controller_ref
from tinykube.controllers.replicasetutil import slow_start_batches
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]


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
        backoff_base: float = util.BACKOFF_BASE,
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
        elif TRACKING_FINALIZER in (meta(pod).get("finalizers") or []):
            # An orphan still holding our finalizer: its Job is gone, or it was orphaned
            # (delete --cascade=orphan takes its ownerReferences away altogether).
            self.queue.add(f"pod:{pod_key(pod)}")

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
            selector = label_selector_as_selector(util.job_spec(job).get("selector"))
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
        census = tracking.take_census(job, pods)
        finished_before = util.is_finished(job)
        events: list[tuple[str, str, str]] = []
        if not finished_before:
            if (change := util.sync_suspended(job, now)) is not None:
                events.append(("Normal", *change))
            if not util.job_spec(job).get("suspend") and not status.get("startTime"):
                status["startTime"] = format_time(now)
            self._target_pod_failure(job, pods, now)
        await self._count(job, census)
        requeue: Requeue | None = None
        if not util.is_finished(job):
            requeue = await self._progress(key, job, census, now)
        status["active"] = len(census.active)
        status["ready"] = census.ready
        status["terminating"] = census.terminating
        if util.normal(status) != util.normal(before):
            await self._write_status(job)
        if not finished_before and (finished := util.finished_event(job)) is not None:
            events.append(finished)
        for kind, reason, message in events:
            self.recorder.event(job, kind, reason, message)
        return _sooner(requeue, self._deadline_requeue(job, now))

    def _target_pod_failure(self, job: Obj, pods: list[Obj], now: datetime) -> None:
        """A Pod matching a FailJob rule dooms the Job: record why (``FailureTarget``)
        before its finalizer goes, so the reason survives the Pod (upstream does the same)."""
        status = job["status"]
        if util.has_condition(status, util.FAILURE_TARGET):
            return
        message = failurepolicy.fail_job_message(job, pods)
        if message is not None:
            cond = util.new_condition(util.FAILURE_TARGET, (failurepolicy.REASON, message), now)
            status["conditions"] = [*(status.get("conditions") or []), cond]

    def _deadline_requeue(self, job: Obj, now: datetime) -> Requeue | None:
        if util.is_finished(job):
            return None
        remaining = util.deadline_remaining(job, now)
        return None if remaining is None else Requeue(after=max(remaining, 0.0) + 0.05)

    async def _count(self, job: Obj, census: Census) -> None:
        """The three steps of ``tracking``'s protocol."""
        status = job["status"]
        completed: set[int] | None = None
        if indexed.is_indexed(job):
            completed = indexed.parse_indexes(status.get("completedIndexes"))
            completed |= {i for p in census.new_succeeded if (i := indexed.index_of(p)) is not None}
            if completed:
                status["completedIndexes"] = indexed.format_indexes(completed)
            if perindex.limit_of(job) is not None:
                failed = perindex.failed_indexes(job) | perindex.newly_failed(
                    job, census.new_failed
                )
                status["failedIndexes"] = indexed.format_indexes(failed)
        if tracking.record_uncounted(status, census):
            await self._write_status(job)
            self._record_outcomes(key_of(job), census)
        await asyncio.gather(*(self._unfinalize(p) for p in census.to_unfinalize))
        tracking.move_counted(status, len(completed) if completed is not None else None)

    def _record_outcomes(self, key: str, census: Census) -> None:
        """Failures since the last success set the replacement delay (upstream's
        ``failuresAfterLastSuccess``): a success in between starts the count again."""
        failed = tracking.failures_since_success(census)
        if census.new_succeeded:
            self._backoff.pop(key, None)
        if not failed:
            return
        record = self._backoff.setdefault(key, _Backoff())
        record.failures += len(failed)
        record.last_failure = self.ctx.clock.now()

    async def _progress(self, key: str, job: Obj, census: Census, now: datetime) -> Requeue | None:
        status = job["status"]
        spec = util.job_spec(job)
        failed, succeeded = int(status.get("failed") or 0), int(status.get("succeeded") or 0)
        failure = _failure(job, failed, census.active, now)
        why = failure or _success(job, succeeded, len(census.active))
        if why is not None:
            await self._finish(job, census, why, failure is None, now)
            return None
        if spec.get("suspend"):
            await self._delete_pods(job, census.active)
            return None
        if not self.expectations.satisfied(key) or meta(job).get("deletionTimestamp"):
            return None  # a Job being deleted gets no new Pods (upstream skips manageJob)
        return await self._manage(key, job, census, succeeded, now)

    async def _finish(
        self, job: Obj, census: Census, why: tuple[str, str], succeeded: bool, now: datetime
    ) -> None:
        """The interim condition first; the final one once no Pod runs or terminates
        any more (upstream delays the terminal condition the same way since 1.31)."""
        status = job["status"]
        target = util.SUCCESS_CRITERIA_MET if succeeded else util.FAILURE_TARGET
        if not util.has_condition(status, target):
            status.setdefault("conditions", []).append(util.new_condition(target, why, now))
        if census.active:
            await self._delete_pods(job, census.active)
            return
        if census.terminating:
            return  # their deletion brings the Job back here
        final = util.COMPLETE if succeeded else util.FAILED
        status["conditions"].append(util.new_condition(final, why, now))
        if succeeded:
            status["completionTime"] = format_time(now)

    async def _manage(
        self, key: str, job: Obj, census: Census, succeeded: int, now: datetime
    ) -> Requeue | None:
        surplus, missing = self._plan(job, census, succeeded, now)
        if surplus:
            await self._delete_pods(job, surplus)
            return None
        if not missing:
            return None
        record = self._backoff.get(key)
        if record is not None and record.failures:
            ready_at = record.last_failure + util.backoff_delay(record.failures, self.backoff_base)
            wait = ready_at - self.ctx.clock.now()
            if wait > 0:
                return Requeue(after=wait)
        await self._create_pods(key, job, missing, census.pods)
        return None

    def _plan(
        self, job: Obj, census: Census, succeeded: int, now: datetime
    ) -> tuple[list[Obj], list[int | None]]:
        """(Pods to delete, Pods to create: an index each for Indexed Jobs, else None).
        Held Pods (being deleted, to be replaced only once Failed) take their slot."""
        active, held = census.active, census.held
        if indexed.is_indexed(job):
            completions = int(util.job_spec(job).get("completions") or 0)
            done = indexed.parse_indexes(job["status"].get("completedIndexes"))
            done |= perindex.failed_indexes(job)  # a failed index is not retried
            surplus = indexed.surplus_pods(completions, done, active)
            room = util.want_active(job, succeeded, len(active)) - (len(active) - len(surplus))
            room -= len(held)
            pending = indexed.pending_indexes(completions, done, active + held, max(0, room))
            return surplus, list(pending)
        want = util.want_active(job, succeeded, len(active))
        if len(active) > want:
            return pods_to_delete(active, active, len(active) - want, now), []
        return [], [None] * max(0, want - len(active) - len(held))

    async def _create_pods(
        self, key: str, job: Obj, slots: list[int | None], pods: list[Obj]
    ) -> None:
        self.expectations.expect_creations(key, len(slots))
        body = util.pod_from_job(job)
        bodies = [body if i is None else indexed.pod_for_index(job, body, i) for i in slots]
        if perindex.limit_of(job) is not None:
            for one, index in zip(bodies, slots, strict=True):
                counts = perindex.replacement_counts(job, pods, index or 0)
                one["metadata"].setdefault("annotations", {}).update(counts)
        created, start = 0, 0
        failure: BaseException | None = None
        for size in slow_start_batches(len(bodies)):
            batch = bodies[start : start + size]
            start += size
            results = await asyncio.gather(
                *(self._create_pod(job, b) for b in batch), return_exceptions=True
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            created += size - len(failures)
            if failures:
                failure = failures[0]
                break
        for _ in range(len(bodies) - created):
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
        owner = self._owner(pod)
        if owner is None or util.is_finished(owner):
            await self._unfinalize(pod)

    async def _write_status(self, job: Obj) -> None:
        updated = await self.client.update_status("batch/v1", "jobs", job)
        job["metadata"]["resourceVersion"] = meta(updated).get("resourceVersion")


def _failure(job: Obj, failed: int, active: list[Obj], now: datetime) -> tuple[str, str] | None:
    """Why the Job fails now, if it does: a FailureTarget already set (by an earlier
    sync, or a FailJob rule) keeps its reason; then the backoff limit, the deadline,
    and failed indexes, in upstream's order."""
    if (target := util.failure_target(job["status"])) is not None:
        return target
    too_many = failed > int(util.job_spec(job).get("backoffLimit", 6))
    if too_many or util.past_backoff_limit_on_failure(job, active):
        return util.BACKOFF_LIMIT_EXCEEDED
    if util.past_deadline(job, now):
        return util.DEADLINE_EXCEEDED
    completed = indexed.parse_indexes(job["status"].get("completedIndexes"))
    return perindex.failure(job, completed, perindex.failed_indexes(job))


def _success(job: Obj, succeeded: int, active: int) -> tuple[str, str] | None:
    """Why the Job is done now, if it is: success criteria met by an earlier sync keep
    their reason; then a rule of the success policy; then enough completions."""
    if (met := util.condition_reason(job["status"], util.SUCCESS_CRITERIA_MET)) is not None:
        return met
    if indexed.is_indexed(job):
        completed = indexed.parse_indexes(job["status"].get("completedIndexes"))
        if (matched := successpolicy.match(job, completed)) is not None:
            return matched
    return util.COMPLETIONS_REACHED if util.succeeded_enough(job, succeeded, active) else None


def _sooner(a: Requeue | None, b: Requeue | None) -> Requeue | None:
    if a is None or b is None:
        return a or b
    return a if a.after <= b.after else b
