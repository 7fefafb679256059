"""The whole store conformance suite against EtcdStore on a real etcd, plus what
only etcd has: several members (a killed member must not stop writes), horizons
set by another client, and the API server running on it end to end.

Each test starts its own etcd (the distribution's ``etcd`` binary, loopback
ports, a temporary data directory): the suite needs a fresh, empty store, and
etcd cannot forget history. ``make test`` installs etcd first (``setup-etcd``);
the tests skip only where it cannot be installed (not root).
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aetcd import rpc

if "tinykube.store.conformance" not in sys.modules:  # plain asserts, detailed failures
    pytest.register_assert_rewrite("tinykube.store.conformance")

from cluster import ApiServer, free_port, kubectl_binary, run_kubectl

from tinykube.store import etcd as etcd_driver
from tinykube.store.conformance import StoreConformance, watching
from tinykube.store.errors import Compacted
from tinykube.store.etcd import EtcdError, EtcdStore, StoreUnavailable, range_end
from tinykube.store.interface import EventType, KeyValue
from tinykube.store.registry import open_store

pytestmark = pytest.mark.integration

ETCD = shutil.which("etcd")
if ETCD is None and os.geteuid() != 0:
    pytest.skip(
        "etcd is not installed and cannot be installed without root"
        " (apt-get install etcd-server etcd-client)",
        allow_module_level=True,
    )


@dataclass
class EtcdMember:
    """One etcd process on loopback ports."""

    name: str
    data_dir: Path
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def start(self, initial_cluster: str) -> None:
        if ETCD is None:
            pytest.fail("etcd is not installed: run `make setup-etcd` (as root)")
        client_url = f"http://{self.endpoint}"
        log = open(self.data_dir.with_suffix(".log"), "ab")  # noqa: SIM115 - etcd owns it
        self.proc = subprocess.Popen(
            [
                ETCD,
                *("--name", self.name, "--data-dir", str(self.data_dir)),
                *("--listen-client-urls", client_url, "--advertise-client-urls", client_url),
                *("--listen-peer-urls", self.peer_url),
                *("--initial-advertise-peer-urls", self.peer_url),
                *("--initial-cluster", initial_cluster, "--initial-cluster-state", "new"),
                *("--heartbeat-interval", "50", "--election-timeout", "500"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_listening(self, timeout: float = 20.0) -> None:
        """Until the client port accepts: a gRPC channel that finds it closed waits a full
        second before it tries again, which every test would pay."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.client_port), timeout=1),
            ):
                return
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@dataclass
class EtcdCluster:
    members: list[EtcdMember]

    @classmethod
    def start(cls, base: Path, size: int) -> "EtcdCluster":
        members = [EtcdMember(f"m{i}", base / f"m{i}") for i in range(size)]
        initial = ",".join(f"{m.name}={m.peer_url}" for m in members)
        cluster = cls(members)
        try:
            for member in members:
                member.start(initial)
            for member in members:
                member.wait_listening()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def stop(self) -> None:
        for member in self.members:
            member.kill()


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    cluster = EtcdCluster.start(tmp_path, 1)
    yield cluster
    cluster.stop()


async def ready_store(endpoints: list[str]) -> EtcdStore:
    """A store whose first call has gone through (the driver retries while etcd starts)."""
    store = EtcdStore(endpoints)
    await store.current_revision()
    return store


class TestEtcdStore(StoreConformance):
    @pytest.fixture
    async def store(self, etcd: EtcdCluster) -> AsyncIterator[EtcdStore]:
        store = await ready_store(etcd.endpoints)
        yield store
        await store.close()


# -- what only etcd has -------------------------------------------------------------


async def test_etcd_url_opens_the_driver(etcd: EtcdCluster) -> None:
    store = await open_store("etcd://" + ",".join(f"http://{e}" for e in etcd.endpoints))
    assert isinstance(store, EtcdStore)
    kv = await store.create("/registry/pods/default/a", b"v")
    assert await store.get(kv.key) == kv
    await store.close()
    with pytest.raises(ValueError):
        await open_store("etcd://")


async def test_horizon_set_by_another_client_is_learned(etcd: EtcdCluster) -> None:
    """Another API server's compactor moved the horizon: reads and watches find it."""
    ours, theirs = await ready_store(etcd.endpoints), await ready_store(etcd.endpoints)
    try:
        kvs = [await ours.create(f"/registry/pods/default/p{i}", b"v") for i in range(6)]
        horizon = kvs[3].mod_revision
        await theirs.compact(horizon)
        assert await ours.compacted_revision() == 0  # etcd does not say, until asked
        with pytest.raises(Compacted) as caught:
            await ours.get(kvs[0].key, kvs[1].mod_revision)
        assert (caught.value.requested, caught.value.compacted) == (kvs[1].mod_revision, horizon)
        assert await ours.compacted_revision() == horizon
        fresh = await ready_store(etcd.endpoints)
        try:
            async with watching(fresh, "/registry/", horizon - 1) as watch:
                with pytest.raises(Compacted):
                    await watch.next()
            assert await fresh.compacted_revision() == horizon
        finally:
            await fresh.close()
    finally:
        await ours.close()
        await theirs.close()


async def leader_index(cluster: EtcdCluster) -> int:
    """Which member leads, from each member's own status."""
    for i, member in enumerate(cluster.members):
        async with rpc.insecure_channel(member.endpoint) as channel:
            status = await rpc.MaintenanceStub(channel).Status(rpc.StatusRequest(), timeout=10)
        if status.leader == status.header.member_id:
            return i
    raise AssertionError("no member leads")


@pytest.mark.parametrize("victim", ["follower", "leader"])
async def test_three_members_survive_a_killed_member(tmp_path: Path, victim: str) -> None:
    """Kill the member the store talks to (a follower: no election; the leader: an
    election first). Writes continue on the other members and the watch resumes
    there, delivering every acknowledged write once, in order. A write in flight
    when the member dies, or caught in the election, may fail as
    ``StoreUnavailable``: its outcome is unknown, as clientv3 reports it too."""
    cluster = EtcdCluster.start(tmp_path, 3)
    try:
        first = await ready_store(cluster.endpoints)
        leader = await leader_index(cluster)
        await first.close()
        doomed = cluster.members[leader if victim == "leader" else (leader + 1) % 3]
        order = [doomed] + [m for m in cluster.members if m is not doomed]
        store = await ready_store([m.endpoint for m in order])
        try:
            await check_failover(store, doomed)
        finally:
            await store.close()
    finally:
        cluster.stop()


async def check_failover(store: EtcdStore, doomed: EtcdMember) -> None:
    start = await store.current_revision()
    async with watching(store, "/registry/pods/", start) as watch:
        before = [await store.create(f"/registry/pods/default/b{i}", b"v") for i in range(5)]
        assert [e.kv for e in await watch.take(5)] == before
        doomed.kill()
        after, unknown = await create_through_failures(store, 20)
        assert unknown <= 2
        kv = await store.update(after[0].key, b"w", after[0].mod_revision)
        events = await watch.take_through(before[-1].mod_revision, kv.mod_revision)
    revisions = [e.revision for e in events]
    assert revisions == sorted(set(revisions))  # in order, none twice
    acknowledged = [e for e in events if e.kv in after]
    assert [e.kv for e in acknowledged] == after
    assert len(events) - len(after) - 1 <= unknown  # extras: only writes of unknown outcome
    assert (events[-1].type, events[-1].kv) == (EventType.MODIFIED, kv)


async def create_through_failures(store: EtcdStore, count: int) -> tuple[list[KeyValue], int]:
    """``count`` acknowledged creates, and how many attempts had an unknown outcome."""
    acknowledged: list[KeyValue] = []
    unknown = 0
    async with asyncio.timeout(60):
        while len(acknowledged) < count:
            try:
                name = f"a{len(acknowledged)}-{unknown}"
                acknowledged.append(await store.create(f"/registry/pods/default/{name}", b"v"))
            except StoreUnavailable:
                unknown += 1
    return acknowledged, unknown


async def test_etcd_errors_outside_the_contract(
    etcd: EtcdCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await ready_store(etcd.endpoints)
    try:
        with pytest.raises(EtcdError, match="too large"):  # etcd's request limit: 1.5 MiB
            await store.create("/registry/configmaps/default/huge", b"x" * 2_000_000)
    finally:
        await store.close()
    monkeypatch.setattr(etcd_driver, "RETRY_WINDOW", 1.0)
    with pytest.raises(StoreUnavailable):
        down = EtcdStore([f"127.0.0.1:{free_port()}"])
        try:
            await asyncio.wait_for(down.current_revision(), 30)
        finally:
            await down.close()


async def test_close_with_calls_in_flight(etcd: EtcdCluster) -> None:
    """close() ends calls in flight with RuntimeError, never a stray CancelledError."""
    store = await ready_store(etcd.endpoints)
    calls = [asyncio.ensure_future(store.list("/registry/")) for _ in range(20)]
    calls += [asyncio.ensure_future(store.create(f"/registry/x/{i}", b"v")) for i in range(20)]
    await asyncio.sleep(0.001)
    await store.close()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(not isinstance(o, BaseException) or isinstance(o, RuntimeError) for o in outcomes)


def test_key_ranges() -> None:
    assert range_end(b"/registry/pods/") == b"/registry/pods0"
    assert range_end(b"a\xff\xff") == b"b"
    assert range_end(b"\xff") == range_end(b"") == b"\0"  # no bound: every key


# -- the API server on etcd -----------------------------------------------------------


def test_apiserver_serves_from_etcd(etcd: EtcdCluster, tmp_path: Path) -> None:
    """kubectl create, list and watch a ConfigMap through an API server on etcd."""
    server = ApiServer(tmp_path / "data", extra_args=["--storage", f"etcd://{etcd.endpoints[0]}"])
    server.start()
    watcher = None
    try:
        base = ["-n", "default"]
        watcher = subprocess.Popen(
            [*kubectl(server), *base, "get", "configmaps", "--watch", "-o", "name"],
            stdout=subprocess.PIPE,
            text=True,
        )
        made = run_kubectl(server, *base, "create", "configmap", "on-etcd", "--from-literal=k=v")
        assert made.returncode == 0, made.stderr + server.logs()
        got = run_kubectl(server, *base, "get", "configmaps", "-o", "json")
        assert got.returncode == 0, got.stderr
        names = [item["metadata"]["name"] for item in json.loads(got.stdout)["items"]]
        assert "on-etcd" in names
        assert wait_for_line(watcher, "configmap/on-etcd", timeout=30)
    finally:
        if watcher is not None:
            watcher.kill()
            watcher.wait()
        server.stop()
    asyncio.run(check_stored_in_etcd(etcd, "/registry/configmaps/default/on-etcd"))


async def check_stored_in_etcd(etcd: EtcdCluster, key: str) -> None:
    """The object lives in etcd, not in the API server's data directory."""
    store = await ready_store(etcd.endpoints)
    try:
        assert await store.get(key) is not None
    finally:
        await store.close()


def kubectl(server: ApiServer) -> list[str]:
    return [kubectl_binary(), f"--kubeconfig={server.kubeconfig}"]


def wait_for_line(proc: subprocess.Popen[str], wanted: str, timeout: float) -> bool:
    """Read ``proc``'s stdout until a line equals ``wanted`` (False at the deadline)."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    deadline, buffered = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            buffered += chunk
            if wanted in buffered.splitlines():
                return True
        time.sleep(0.05)
    return False
