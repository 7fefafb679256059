"""The TTL-after-finished controller: delete finished Jobs once their time is up.

A Job with ``spec.ttlSecondsAfterFinished`` is deleted that many seconds after
it finished (the ``lastTransitionTime`` of its ``Complete`` or ``Failed``
condition), with foreground propagation so its Pods go first (upstream
``pkg/controller/ttlafterfinished``). Time is a requeue: a Job that is not due
yet is looked at again when it will be. Before deleting, the Job is read
fresh from the API server and the delete carries its resourceVersion as a
precondition, so a user who just raised the TTL (or restarted the Job) wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tinykube.api import errors
from tinykube.api.duration import parse_time
from tinykube.controllers.podutil import meta
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "ttl-after-finished-controller"  # upstream --controllers name; alias "ttl-after-finished"


def finished_at(job: Obj) -> datetime | None:
    """When the Job completed or failed, from its condition (None while running)."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            try:
                return parse_time(cond.get("lastTransitionTime"))
            except ValueError:
                return None
    return None


def expires_at(job: Obj) -> datetime | None:
    """When the Job should be deleted; None if it has no TTL or has not finished."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    done = finished_at(job)
    if ttl is None or done is None or meta(job).get("deletionTimestamp"):
        return None
    return done + timedelta(seconds=int(ttl))


class TTLAfterFinishedController(Controller[str]):
    """Deletes each finished Job ``ttlSecondsAfterFinished`` after it finished."""

    name = "ttl-after-finished-controller"
    default_workers = 5
    workers_flag = "concurrent-ttl-after-finished-syncs"

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.jobs = self.informer("batch/v1", "jobs")
        self.jobs.add_handler(on_add=self._changed, on_update=lambda _o, n: self._changed(n))

    def _changed(self, job: Obj) -> None:
        if expires_at(job) is not None:
            self.enqueue(job)

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.jobs.get(key)
        if cached is None or (due := expires_at(cached)) is None:
            return None
        if due > self.now():
            return Requeue(after=(due - self.now()).total_seconds())
        namespace, _, name = key.rpartition("/")
        try:
            fresh = await self.client.get("batch/v1", "jobs", name, namespace)
        except errors.NotFound:
            return None
        due = expires_at(fresh)
        if due is None:
            return None
        if due > self.now():
            return Requeue(after=(due - self.now()).total_seconds())
        rv = meta(fresh).get("resourceVersion", "")
        try:
            await self.client.delete(
                "batch/v1",
                "jobs",
                name,
                namespace,
                propagation_policy="Foreground",
                preconditions={"resourceVersion": rv},
            )
        except errors.NotFound:
            return None
        log.debug("controller=%s key=%s deleted: TTL after finished expired", self.name, key)
        return None


def new(ctx: ControllerContext) -> TTLAfterFinishedController:
    """The factory the controller manager calls for ``--controllers=ttl-after-finished-controller``."""
    return TTLAfterFinishedController(ctx)
