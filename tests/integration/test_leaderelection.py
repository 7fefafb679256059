"""Leader election against a real API server: of two candidates exactly one leads, and
the other takes over when the leader stops renewing (after the lease expires) or at once
when it releases the lease."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cluster import BIN, ApiServer, run_kubectl

from tinykube.client import Client
from tinykube.client.leaderelection import Callbacks, LeaderElector

pytestmark = pytest.mark.integration

LEASE_DURATION = 3.0
RENEW_DEADLINE = 2.0
RETRY_PERIOD = 0.5


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(apiserver.kubeconfig) as c:
        yield c


class Candidate:
    """One elector and what it went through."""

    def __init__(self, client: Client, lease: str, identity: str, release: bool) -> None:
        self.identity = identity
        self.leading = asyncio.Event()
        self.stopped = asyncio.Event()
        self.observed: list[str] = []
        self.elector = LeaderElector(
            client,
            "default",
            lease,
            identity,
            lease_duration=LEASE_DURATION,
            renew_deadline=RENEW_DEADLINE,
            retry_period=RETRY_PERIOD,
            release_on_cancel=release,
        )
        self.task: asyncio.Task[None] | None = None

    async def _lead(self) -> None:
        self.leading.set()
        await asyncio.Event().wait()

    def start(self) -> None:
        callbacks = Callbacks(self._lead, self.stopped.set, self.observed.append)
        self.task = asyncio.create_task(self.elector.run(callbacks))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def first_leader(*candidates: Candidate, within: float = 10) -> Candidate:
    waits = {asyncio.create_task(c.leading.wait()): c for c in candidates}
    done, pending = await asyncio.wait(waits, timeout=within, return_when="FIRST_COMPLETED")
    for task in pending:
        task.cancel()
    assert done, "nobody became leader"
    return waits[done.pop()]


def lease_name() -> str:
    return f"le-{uuid.uuid4().hex[:8]}"


async def test_exactly_one_of_two_leads(client: Client) -> None:
    name = lease_name()
    a, b = Candidate(client, name, "a", True), Candidate(client, name, "b", True)
    a.start()
    b.start()
    try:
        leader = await first_leader(a, b)
        follower = b if leader is a else a
        await asyncio.sleep(LEASE_DURATION + 1)  # long enough for a wrong takeover to happen
        assert leader.leading.is_set() and not follower.leading.is_set()
        assert leader.elector.is_leader and not follower.elector.is_leader
        assert follower.elector.leader == leader.identity
        lease = await client.get("coordination.k8s.io/v1", "leases", name, "default")
        spec = lease["spec"]
        assert spec["holderIdentity"] == leader.identity
        assert spec["leaseDurationSeconds"] == int(LEASE_DURATION)
        assert spec["leaseTransitions"] == 0
        assert spec["renewTime"].endswith("Z") and "." in spec["renewTime"]  # MicroTime
    finally:
        await a.stop()
        await b.stop()


async def test_takeover_after_the_leader_stops_renewing(client: Client) -> None:
    name = lease_name()
    # No release: cancelling the leader is a crash, as far as the lease can tell.
    a, b = Candidate(client, name, "a", False), Candidate(client, name, "b", False)
    a.start()
    leader = await first_leader(a)
    b.start()
    await asyncio.sleep(RETRY_PERIOD * 3)
    assert not b.leading.is_set()
    crashed = time.monotonic()
    await leader.stop()
    assert a.stopped.is_set()
    await first_leader(b, within=LEASE_DURATION * 4)
    took = time.monotonic() - crashed
    # b waits for the lease to expire from when it last saw the record change.
    assert LEASE_DURATION - RETRY_PERIOD * 2.2 - 0.5 <= took <= LEASE_DURATION + 3
    lease = await client.get("coordination.k8s.io/v1", "leases", name, "default")
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] == 1
    assert b.observed[-1] == "b" and "a" in b.observed
    await b.stop()


async def test_released_lease_is_taken_at_once(client: Client) -> None:
    name = lease_name()
    a, b = Candidate(client, name, "a", True), Candidate(client, name, "b", True)
    a.start()
    await first_leader(a)
    b.start()
    await asyncio.sleep(RETRY_PERIOD * 2)
    released = time.monotonic()
    await a.stop()
    lease = await client.get("coordination.k8s.io/v1", "leases", name, "default")
    assert not lease["spec"].get("holderIdentity")
    await first_leader(b, within=LEASE_DURATION * 2)
    assert time.monotonic() - released < LEASE_DURATION  # no waiting for expiry
    await b.stop()


async def test_leader_that_cannot_renew_steps_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The API server goes away: the leader stops leading after the renew deadline."""
    server = ApiServer(tmp_path / "data")
    server.start()
    try:
        async with await Client.from_kubeconfig(server.kubeconfig) as c:
            a = Candidate(c, lease_name(), "a", False)
            a.start()
            await first_leader(a)
            await asyncio.to_thread(server.stop)
            async with asyncio.timeout(RENEW_DEADLINE + RETRY_PERIOD * 4 + 5):
                await a.stopped.wait()
            assert a.task is not None
            await a.task  # run() returns when leadership is lost
            assert not a.elector.is_leader
    finally:
        server.stop()


# ---- two controller managers -----------------------------------------------------------


def start_manager(server: ApiServer, log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - the process owns it
    return subprocess.Popen(
        [
            str(BIN / "tinykube"),
            "controller-manager",
            "--kubeconfig",
            str(server.kubeconfig),
            "--controllers",
            "serviceaccount",
            "--secure-port=0",  # two managers on one host: no health port
            "--leader-elect",
            "--leader-elect-lease-duration",
            f"{int(LEASE_DURATION)}s",
            "--leader-elect-renew-deadline",
            f"{int(RENEW_DEADLINE)}s",
            "--leader-elect-retry-period",
            "500ms",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def holder(server: ApiServer) -> str:
    out = run_kubectl(
        server,
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-controller-manager",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def wait_until(check: Callable[[], bool], within: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
    return time.monotonic() - start


def test_two_controller_managers_one_leads_and_the_other_takes_over(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "data")
    server.start()
    logs = [tmp_path / "cm-0.log", tmp_path / "cm-1.log"]
    procs = [start_manager(server, path) for path in logs]
    try:
        wait_until(lambda: bool(holder(server)), 20)
        first = holder(server)
        leaders = [i for i, p in enumerate(logs) if f"acquired by {first}" in p.read_text()]
        assert len(leaders) == 1, "exactly one manager acquired the lease"
        leader, standby = leaders[0], 1 - leaders[0]
        time.sleep(LEASE_DURATION)
        assert holder(server) == first  # renewed, not stolen
        assert "starting controllers" not in logs[standby].read_text()
        procs[leader].kill()  # no release: the standby must wait for expiry
        took = wait_until(lambda: holder(server) not in ("", first), LEASE_DURATION * 4)
        assert took <= LEASE_DURATION + 2.2 * 0.5 + 3
        wait_until(lambda: "starting controllers" in logs[standby].read_text(), 10)
        second = holder(server)
        procs[standby].terminate()  # a clean stop releases the lease
        assert procs[standby].wait(10) == 0
        assert holder(server) == ""
        assert second != first
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        server.stop()
