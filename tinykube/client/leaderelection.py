"""Leader election on a coordination.k8s.io/v1 Lease: of several replicas, one acts.

Two controller managers running the same controllers would fight over every
object, so each candidate runs a ``LeaderElector`` on the same Lease and only
the holder runs its controllers. The protocol is client-go's
(``tools/leaderelection``), which every Kubernetes component speaks, so a
tinykube controller manager and kubectl both read the Lease the same way:

- ``spec.holderIdentity`` names the leader; ``spec.renewTime`` (a MicroTime)
  is when it last proved it is alive; ``spec.leaseDurationSeconds`` (15) is
  how long the others wait after the last renewal they saw before taking over;
  ``acquireTime`` and ``leaseTransitions`` record changes of leader.
- A candidate tries to acquire every ``retry_period`` (2 s, jittered). It may
  take the Lease when it does not exist, when nobody holds it, or when the
  holder's record has not changed for ``lease_duration`` *as measured on the
  candidate's own clock*. Expiry is judged from when this process last saw the
  record change, never from the timestamps in it, so clock skew between
  machines cannot make a candidate take a live lease.
- Every write is a compare-and-swap on the Lease's resourceVersion; two
  candidates racing for an expired lease both PUT, one wins, the other gets
  409 Conflict and stays a follower. That is what makes "exactly one leads"
  hold.
- The leader renews every ``retry_period``; if it cannot renew for
  ``renew_deadline`` (10 s, shorter than the lease) it stops leading *before*
  the others may take over, so two leaders never act at once.
- On a clean stop (cancellation) the leader releases the Lease (empty holder,
  ``leaseDurationSeconds: 1``) so a successor takes over at once instead of
  after 15 s.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tinykube.api import errors
from tinykube.client.clock import REAL_CLOCK, Clock
from tinykube.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
LEASES = ("coordination.k8s.io/v1", "leases")
JITTER = 1.2  # retries wait retry_period * (1 + up to 1.2), as client-go's JitterUntil


def micro_time(when: datetime | None = None) -> str:
    """A metav1.MicroTime: RFC 3339 with microseconds, in UTC."""
    when = when or datetime.now(UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """``<hostname>_<uuid>``, as kube-controller-manager names itself."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass
class Callbacks:
    """What to run while leading, and what to tell when that changes.

    ``on_started_leading`` is awaited as a task while this candidate leads and
    cancelled the moment leadership is lost. ``on_stopped_leading`` runs after
    leadership ends (lost or released). ``on_new_leader`` hears every change of
    holder this candidate observes, itself included.
    """

    on_started_leading: Callable[[], Awaitable[None]]
    on_stopped_leading: Callable[[], None] | None = None
    on_new_leader: Callable[[str], None] | None = None


class LeaderElector:
    """One candidate for one Lease (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        namespace: str,
        name: str,
        identity: str | None = None,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = True,
        clock: Clock = REAL_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        if not lease_duration > renew_deadline > retry_period * JITTER:
            raise ValueError("need lease_duration > renew_deadline > retry_period * 1.2")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self.clock = clock
        self._rng = rng or random.Random()
        self._observed_spec: Obj = {}  # the lease spec as last read or written
        self._observed_rv = ""
        self._observed_time = 0.0  # our clock when that spec last changed
        self._leader = ""

    @property
    def leader(self) -> str:
        """The holder as last observed ("" if none)."""
        return self._leader

    @property
    def is_leader(self) -> bool:
        return self._leader == self.identity and bool(self.identity)

    def check(self, max_tolerable_expired_lease: float) -> None:
        """client-go's watchdog: raise if this process leads but its lease has not changed
        for longer than the lease duration plus the tolerance. A healthy leader steps down
        long before that; one that has not is stuck, and its health check says so."""
        if not self.is_leader:
            return  # a standby is healthy however old the lease it watches
        if (
            self.clock.now() - self._observed_time
            > self.lease_duration + max_tolerable_expired_lease
        ):
            raise RuntimeError(f"failed election to renew leadership on lease {self.name}")

    async def run(self, callbacks: Callbacks) -> None:
        """Acquire, lead while renewing, and release on cancellation.

        Returns when leadership is lost (the caller decides whether to exit,
        as kube-controller-manager does, or to stand again).
        """
        await self._acquire(callbacks)
        try:
            async with asyncio.TaskGroup() as tg:
                work = tg.create_task(callbacks.on_started_leading(), name="leading")
                await self._renew_until_lost(callbacks)
                work.cancel()
        finally:
            if self.release_on_cancel and self.is_leader:
                await self._release()
            self._set_leader("", None)
            if callbacks.on_stopped_leading is not None:
                callbacks.on_stopped_leading()

    # ---- the loops ----

    async def _acquire(self, callbacks: Callbacks) -> None:
        log.info(
            "lease=%s/%s identity=%s attempting to acquire",
            self.namespace,
            self.name,
            self.identity,
        )
        while not await self._try(callbacks):
            await self._wait_retry()
        log.info("lease=%s/%s acquired by %s", self.namespace, self.name, self.identity)

    async def _renew_until_lost(self, callbacks: Callbacks) -> None:
        last_renew = self.clock.now()
        while True:
            await self.clock.sleep(self.retry_period)
            if await self._try(callbacks):
                last_renew = self.clock.now()
                continue
            if not self.is_leader or self.clock.now() - last_renew >= self.renew_deadline:
                log.info(
                    "lease=%s/%s leadership lost by %s", self.namespace, self.name, self.identity
                )
                return

    async def _wait_retry(self) -> None:
        await self.clock.sleep(self.retry_period * (1 + JITTER * self._rng.random()))

    async def _try(self, callbacks: Callbacks) -> bool:
        """One acquire-or-renew attempt; False on any failure (it is simply retried)."""
        try:
            return await self._try_acquire_or_renew(callbacks)
        except (errors.Conflict, errors.AlreadyExists):
            return False  # another candidate wrote first
        except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("lease=%s/%s cannot be read or written: %s", self.namespace, self.name, exc)
            return False

    # ---- one attempt ----

    async def _try_acquire_or_renew(self, callbacks: Callbacks) -> bool:
        now = datetime.now(UTC)
        try:
            lease = await self.client.get(*LEASES, self.name, self.namespace)
        except errors.NotFound:
            created = await self.client.create(*LEASES, self._new_lease(now), self.namespace)
            self._observe(created, callbacks)
            return True
        self._observe(lease, callbacks)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and not self._expired():
            return False
        lease["spec"] = self._next_spec(spec, holder, now)
        updated = await self.client.update(*LEASES, lease, self.namespace)
        self._observe(updated, callbacks)
        return True

    def _new_lease(self, now: datetime) -> Obj:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self._next_spec({}, "", now),
        }

    def _next_spec(self, spec: Obj, holder: str, now: datetime) -> Obj:
        stamp = micro_time(now)
        out = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_duration),
            "acquireTime": spec.get("acquireTime") or stamp,
            "renewTime": stamp,
            "leaseTransitions": int(spec.get("leaseTransitions") or 0),
        }
        if holder != self.identity:
            out["acquireTime"] = stamp
            if holder:  # taking over from someone else is a transition
                out["leaseTransitions"] += 1
        return out

    def _expired(self) -> bool:
        duration = float(self._observed_spec.get("leaseDurationSeconds") or self.lease_duration)
        return self._observed_time + duration <= self.clock.now()

    def _observe(self, lease: Obj, callbacks: Callbacks) -> None:
        """Remember the record and *when we saw it change* (the basis of expiry)."""
        spec = lease.get("spec") or {}
        rv = (lease.get("metadata") or {}).get("resourceVersion", "")
        # Any write moves the resourceVersion, so a renewal counts even if its
        # renewTime happened to equal the previous one.
        if spec != self._observed_spec or rv != self._observed_rv:
            self._observed_time = self.clock.now()
        self._observed_spec = spec
        self._observed_rv = rv
        self._set_leader(spec.get("holderIdentity") or "", callbacks)

    def _set_leader(self, holder: str, callbacks: Callbacks | None) -> None:
        if holder == self._leader:
            return
        self._leader = holder
        if holder and callbacks is not None and callbacks.on_new_leader is not None:
            callbacks.on_new_leader(holder)

    async def _release(self) -> None:
        """Give the lease up so a successor need not wait for it to expire."""
        try:
            async with asyncio.timeout(self.renew_deadline):
                lease = await self.client.get(*LEASES, self.name, self.namespace)
                spec = lease.get("spec") or {}
                if spec.get("holderIdentity") != self.identity:
                    return
                stamp = micro_time()
                lease["spec"] = {
                    "leaseDurationSeconds": 1,
                    "acquireTime": stamp,
                    "renewTime": stamp,
                    "leaseTransitions": int(spec.get("leaseTransitions") or 0),
                }
                await self.client.update(*LEASES, lease, self.namespace)
                log.info("lease=%s/%s released by %s", self.namespace, self.name, self.identity)
        except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("lease=%s/%s could not be released: %s", self.namespace, self.name, exc)
