"""The CronJob controller: start a Job at every scheduled time, and keep a short history.

Per key (upstream ``cronjob_controllerv2.go``):

1. reconcile ``status.active`` with the Jobs that exist: finished ones leave
   the list, vanished ones too; any Job of ours that succeeded moves
   ``lastSuccessfulTime``. A running Job the list does not name (one made by
   ``kubectl create job --from=cronjob/...``) is not adopted into it, as
   upstream does not: it gets an ``UnexpectedJob`` warning, and neither the
   ACTIVE column nor ``concurrencyPolicy`` counts it. A Job we created but
   crashed before recording is found again by its deterministic name in 4;
2. unless suspended, find the most recent scheduled time not yet acted on
   (since ``lastScheduleTime``, or creation), skipping it when it is older
   than ``startingDeadlineSeconds``;
3. apply ``concurrencyPolicy``: Allow starts another Job, Forbid skips while
   one is active, Replace deletes the active ones first;
4. create the Job ``<cronjob>-<scheduled time in minutes since the epoch>``
   (a deterministic name, so a retried create cannot start it twice);
5. delete finished Jobs beyond ``successfulJobsHistoryLimit`` /
   ``failedJobsHistoryLimit``, oldest first;
6. requeue for the next scheduled time: time is a requeue, never a sleep.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tinykube.api import errors
from tinykube.api.duration import format_time, parse_time
from tinykube.controllers import cronschedule
from tinykube.controllers.podutil import controller_ref, meta
from tinykube.controllers.refmanager import new_controller_ref
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "cronjob-controller"  # upstream --controllers name; alias "cronjob"
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100


# ---- pure decisions ----------------------------------------------------------------------


def job_finished(job: Obj) -> str | None:
    """ "Complete" or "Failed" when the Job has finished, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def zone_of(cj: Obj) -> tzinfo:
    """The CronJob's time zone; raises ZoneInfoNotFoundError (or ValueError) for unknown names."""
    name = (cj.get("spec") or {}).get("timeZone")
    return ZoneInfo(name) if name else UTC


def unmet_schedule(
    cj: Obj, now: datetime, schedule: cronschedule.Schedule, zone: tzinfo
) -> tuple[datetime | None, int]:
    """(the most recent scheduled time not yet started, how many were missed in all)."""
    status = cj.get("status") or {}
    earliest = (
        parse_time(status.get("lastScheduleTime"))
        or parse_time(meta(cj).get("creationTimestamp"))
        or now
    )
    deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if deadline is not None:
        window_start = now.timestamp() - int(deadline)
        if window_start > earliest.timestamp():
            earliest = datetime.fromtimestamp(window_start, UTC)
    latest: datetime | None = None
    missed = 0
    moment = schedule.next_after(earliest, zone)
    while moment is not None and moment <= now:
        latest, missed = moment, missed + 1
        if missed > 100_000:
            break
        moment = schedule.next_after(moment, zone)
    return latest, missed


def job_name(cj: Obj, scheduled: datetime) -> str:
    return f"{meta(cj)['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime, zone: tzinfo) -> Obj:
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = scheduled.astimezone(zone).isoformat().replace("+00:00", "Z")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(cj, scheduled),
            "namespace": meta(cj).get("namespace"),
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [new_controller_ref(cj, "batch/v1", "CronJob")],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def job_reference(job: Obj) -> Obj:
    m = meta(job)
    return {
        "kind": "Job",
        "namespace": m.get("namespace"),
        "name": m.get("name"),
        "uid": m.get("uid"),
        "apiVersion": "batch/v1",
        "resourceVersion": m.get("resourceVersion"),
    }


def history_to_delete(cj: Obj, jobs: list[Obj]) -> list[Obj]:
    """Finished Jobs beyond the history limits, oldest first."""
    spec = cj.get("spec") or {}
    victims: list[Obj] = []
    for outcome, field, default in (
        ("Complete", "successfulJobsHistoryLimit", 3),
        ("Failed", "failedJobsHistoryLimit", 1),
    ):
        limit = spec.get(field, default)
        if limit is None:
            continue
        done = [j for j in jobs if job_finished(j) == outcome]
        done.sort(
            key=lambda j: (
                (j.get("status") or {}).get("startTime") or meta(j).get("creationTimestamp") or ""
            )
        )
        victims.extend(done[: max(0, len(done) - int(limit))])
    return victims


# ---- the controller ------------------------------------------------------------------------


class CronJobController(Controller[str]):
    """Creates Jobs on schedule and keeps CronJob status in step with them."""

    name = "cronjob-controller"
    default_workers = 5
    workers_flag = "concurrent-cron-job-syncs"

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.recorder = ctx.recorder(self.name)
        self.cronjobs = self.informer("batch/v1", "cronjobs")
        self.jobs = self.informer("batch/v1", "jobs")
        self.cronjobs.add_handler(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n))
        self.jobs.add_handler(
            on_add=self._job_changed,
            on_update=lambda _o, n: self._job_changed(n),
            on_delete=self._job_changed,
        )

    def _job_changed(self, job: Obj) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.queue.add(f"{meta(job).get('namespace')}/{ref.get('name')}")

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.cronjobs.get(key)
        if cached is None:
            return None
        cj = copy.deepcopy(cached)
        before = copy.deepcopy(cj.get("status") or {})
        jobs = [
            j
            for j in self.jobs.list(meta(cj).get("namespace", ""))
            if (controller_ref(j) or {}).get("uid") == meta(cj).get("uid")
        ]
        cj = await self._sync_active(cj, jobs)
        requeue = await self._schedule(cj)
        if _normal(cj.get("status") or {}) != _normal(before):
            updated = await self.client.update_status("batch/v1", "cronjobs", cj)
            cj["metadata"]["resourceVersion"] = meta(updated).get("resourceVersion")
        await self._cleanup(cj, jobs)
        return requeue

    async def _sync_active(self, cj: Obj, jobs: list[Obj]) -> Obj:
        """``cj`` with its active list matched to ``jobs`` (a fresher copy when the cache
        was behind our own status write)."""
        cj = await self._fresh_if_behind(cj, jobs)
        status = cj.setdefault("status", {})
        by_uid = {meta(j).get("uid"): j for j in jobs}
        active = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None and await self._job_exists(ref):
                active.append(ref)  # the Job informer has not seen it yet
                continue
            if job is None:
                self.recorder.event(
                    cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}"
                )
                continue
            outcome = job_finished(job)
            if outcome is None:
                active.append(ref)
                continue
            self.recorder.event(
                cj,
                "Normal",
                "SawCompletedJob",
                f"Saw completed job: {meta(job)['name']}, status: {outcome}",
            )
        listed = {ref.get("uid") for ref in status.get("active") or []}
        for job in jobs:
            outcome = job_finished(job)
            if outcome is None and meta(job).get("uid") not in listed:
                message = (
                    f"Saw a job that the controller did not create or forgot: {meta(job)['name']}"
                )
                self.recorder.event(cj, "Warning", "UnexpectedJob", message)
            elif outcome == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (not last or done > last):
                    status["lastSuccessfulTime"] = done
        if active:
            status["active"] = active
        else:
            status.pop("active", None)
        return cj

    async def _job_exists(self, ref: Obj) -> bool:
        try:
            job = await self.client.get(
                "batch/v1", "jobs", ref.get("name", ""), ref.get("namespace") or ""
            )
        except errors.NotFound:
            return False
        return bool(meta(job).get("uid") == ref.get("uid"))

    async def _fresh_if_behind(self, cj: Obj, jobs: list[Obj]) -> Obj:
        """The stored CronJob when a running Job is missing from the cached active list:
        the cache may not hold our last status write yet (upstream re-reads too)."""
        listed = {ref.get("uid") for ref in (cj.get("status") or {}).get("active") or []}
        if all(job_finished(j) is not None or meta(j).get("uid") in listed for j in jobs):
            return cj
        m = meta(cj)
        try:
            return await self.client.get("batch/v1", "cronjobs", m["name"], m.get("namespace", ""))
        except errors.NotFound:
            return cj

    async def _schedule(self, cj: Obj) -> Requeue | None:
        spec = cj.get("spec") or {}
        if meta(cj).get("deletionTimestamp"):
            return None
        try:
            zone = zone_of(cj)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            self.recorder.event(
                cj,
                "Warning",
                "UnknownTimeZone",
                f"invalid timeZone: {spec.get('timeZone')!r}: {exc}",
            )
            return None
        if spec.get("suspend"):
            return None
        try:
            schedule = cronschedule.parse(spec.get("schedule") or "")
        except ValueError as exc:
            self.recorder.event(
                cj,
                "Warning",
                "UnparseableSchedule",
                f"unparseable schedule: {spec.get('schedule')!r} : {exc}",
            )
            return None
        now = self.now()
        scheduled, missed = unmet_schedule(cj, now, schedule, zone)
        if missed > MAX_MISSED:
            message = f"too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
            self.recorder.event(cj, "Warning", "TooManyMissedTimes", message)
        if scheduled is not None:
            await self._start(cj, scheduled, zone)
        nxt = schedule.next_after(now, zone)
        return Requeue(after=(nxt - now).total_seconds() + 0.1) if nxt is not None else None

    async def _start(self, cj: Obj, scheduled: datetime, zone: tzinfo) -> None:
        status = cj["status"]
        active = status.get("active") or []
        name = job_name(cj, scheduled)
        if any(ref.get("name") == name for ref in active):
            # Started before, but the status write was lost (a conflict, a crash).
            status["lastScheduleTime"] = format_time(scheduled)
            return
        policy = (cj.get("spec") or {}).get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            message = "Not starting job because prior execution is running and concurrency policy is Forbid"
            self.recorder.event(cj, "Normal", "JobAlreadyActive", message)
            return
        if policy == "Replace":
            for ref in active:
                await self._delete_job(cj, ref.get("name", ""))
            status.pop("active", None)
        try:
            job = await self.client.create(
                "batch/v1",
                "jobs",
                job_from_template(cj, scheduled, zone),
                meta(cj).get("namespace", ""),
            )
        except errors.AlreadyExists:
            job = await self.client.get("batch/v1", "jobs", name, meta(cj).get("namespace", ""))
            if (controller_ref(job) or {}).get("uid") != meta(cj).get("uid"):
                raise
        else:
            self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        if job_finished(job) is None:
            status.setdefault("active", []).append(job_reference(job))
        status["lastScheduleTime"] = format_time(scheduled)

    async def _delete_job(self, cj: Obj, name: str) -> None:
        try:
            await self.client.delete(
                "batch/v1",
                "jobs",
                name,
                meta(cj).get("namespace", ""),
                propagation_policy="Background",
            )
        except errors.NotFound:
            return
        self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")

    async def _cleanup(self, cj: Obj, jobs: list[Obj]) -> None:
        for job in history_to_delete(cj, jobs):
            await self._delete_job(cj, meta(job)["name"])


def _normal(status: Obj) -> Obj:
    return {k: v for k, v in status.items() if v not in (None, [], {}, "")}


def new(ctx: ControllerContext) -> CronJobController:
    """The factory the controller manager calls for ``--controllers=cronjob-controller``."""
    return CronJobController(ctx)
