"""Leader election decisions on a fake clock and an in-memory Lease store: expiry is judged
from when a candidate saw the record change, writes are compare-and-swap, renew failures
end leadership before the lease could be taken."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.client.clock import FakeClock, settle
from tinykube.client.leaderelection import Callbacks, LeaderElector

pytestmark = pytest.mark.unit


class FakeLeases:
    """Just enough of the REST client for leases: get/create/update with resourceVersion CAS."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.rv = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise errors.ServiceUnavailable("down")

    async def get(self, api_version: str, resource: str, name: str, ns: str) -> dict[str, Any]:
        self._check()
        if name not in self.objects:
            raise errors.NotFound(f'leases "{name}" not found')
        return copy.deepcopy(self.objects[name])

    async def create(self, api_version: str, resource: str, obj: dict, ns: str) -> dict:
        self._check()
        name = obj["metadata"]["name"]
        if name in self.objects:
            raise errors.AlreadyExists("exists")
        return self._store(obj)

    async def update(self, api_version: str, resource: str, obj: dict, ns: str) -> dict:
        self._check()
        current = self.objects[obj["metadata"]["name"]]
        if obj["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise errors.Conflict("modified")
        return self._store(obj)

    def _store(self, obj: dict) -> dict:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[obj["metadata"]["name"]] = obj
        return copy.deepcopy(obj)


def elector(leases: FakeLeases, clock: FakeClock, identity: str, **kw: Any) -> LeaderElector:
    return LeaderElector(leases, "kube-system", "lock", identity, clock=clock, **kw)  # type: ignore[arg-type]


class Run:
    def __init__(self, e: LeaderElector) -> None:
        self.leading = False
        self.stopped = False
        self.task = asyncio.create_task(e.run(Callbacks(self._lead, self._stop)))

    async def _lead(self) -> None:
        self.leading = True
        await asyncio.Event().wait()

    def _stop(self) -> None:
        self.leading = False
        self.stopped = True

    async def cancel(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_first_candidate_creates_the_lease_and_leads() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = Run(elector(leases, clock, "a"))
    await settle()
    assert a.leading
    spec = leases.objects["lock"]["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0 and spec["acquireTime"] == spec["renewTime"]
    await a.cancel()


async def test_follower_waits_a_full_lease_duration_of_silence() -> None:
    leases, clock = FakeLeases(), FakeClock()
    ea, eb = elector(leases, clock, "a"), elector(leases, clock, "b")
    a = Run(ea)
    await settle()
    b = Run(eb)
    await clock.advance(60)  # a keeps renewing: b never gets in
    assert a.leading and not b.leading
    assert eb.leader == "a"
    # a stops renewing without releasing (a crash): leases.objects keep "a"
    ea.release_on_cancel = False
    await a.cancel()
    await clock.advance(10)
    assert not b.leading  # not yet: less than 15 s since b saw the record change
    # b saw the last change at most one jittered retry (4.4 s) after the crash, the lease
    # then lasts 15 s, and b notices at its next retry: at most 23.8 s in all.
    await clock.advance(14)
    assert b.leading
    assert leases.objects["lock"]["spec"]["leaseTransitions"] == 1
    await b.cancel()


async def test_release_lets_the_follower_in_at_once() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = Run(elector(leases, clock, "a"))
    await settle()
    b = Run(elector(leases, clock, "b"))
    await clock.advance(5)
    await a.cancel()
    assert a.stopped
    assert leases.objects["lock"]["spec"].get("holderIdentity") is None
    await clock.advance(5)  # one retry period (with jitter), far less than 15 s
    assert b.leading
    await b.cancel()


async def test_leader_steps_down_when_it_cannot_renew() -> None:
    leases, clock = FakeLeases(), FakeClock()
    e = elector(leases, clock, "a")
    a = Run(e)
    await settle()
    leases.down = True
    await clock.advance(8)
    assert a.leading  # still within the renew deadline (10 s)
    await clock.advance(4)
    assert a.stopped and not a.leading
    await asyncio.wait_for(a.task, 1)  # run() returns: leadership lost


async def test_racing_candidates_cannot_both_win() -> None:
    leases, clock = FakeLeases(), FakeClock()
    runs = [Run(elector(leases, clock, name)) for name in "abcde"]
    for _ in range(20):
        await clock.advance(1)
        assert sum(r.leading for r in runs) == 1
    for r in runs:
        await r.cancel()


def test_timings_must_nest() -> None:
    with pytest.raises(ValueError, match="lease_duration"):
        LeaderElector(FakeLeases(), "ns", "x", "a", lease_duration=5, renew_deadline=10)  # type: ignore[arg-type]
