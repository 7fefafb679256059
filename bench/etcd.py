"""Creates per second through EtcdStore, against plain aetcd puts in the same run.

    python -m bench.etcd [--endpoints HOST:PORT,...] [--rows N] [--rounds R]

What EtcdStore adds on top of etcd is one transaction per write (compare
mod_revision, then put, else get) instead of a bare put, plus its own gRPC
plumbing; the baseline isolates that cost. Both sides write the same ~3 KB pod
values (``bench.store.pod_value``) to fresh keys, with 1 and with 32 concurrent
writers. The baseline is aetcd's own client doing ``put`` without a
transaction. etcd's fsync times drift, so each round runs baseline and store
interleaved and the median round is reported.

Without ``--endpoints`` a single-member etcd (the distribution's ``etcd``
binary) is started on free loopback ports with a data directory next to the
working directory, so fsync hits the disk the project runs on; it is killed at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aetcd

from bench.store import pod_value
from tinykube.store.etcd import EtcdStore

WRITERS = (1, 32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_etcd() -> Iterator[str]:
    """A throwaway single-member etcd; yields its client endpoint."""
    binary = shutil.which("etcd")
    if binary is None:
        raise SystemExit("etcd is not installed (make setup-etcd), or pass --endpoints")
    client, peer = f"127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory(prefix="tinykube-bench-etcd-", dir=".") as tmp:
        args = [binary, "--name", "bench", "--data-dir", str(Path(tmp) / "data")]
        args += ["--listen-client-urls", f"http://{client}"]
        args += ["--advertise-client-urls", f"http://{client}"]
        args += ["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer]
        args += ["--initial-cluster", f"bench={peer}"]
        with open(Path(tmp) / "etcd.log", "wb") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            try:
                yield client
            finally:
                proc.kill()
                proc.wait()


def dataset(run: str, rows: int) -> list[tuple[str, bytes]]:
    """Keys and values, built before any clock starts."""
    keys = [f"/registry/pods/{run}/pod-{i:06d}" for i in range(rows)]
    return [(k, pod_value(k)) for k in keys]


async def rate(
    data: list[tuple[str, bytes]], writers: int, write: Callable[[str, bytes], Awaitable[object]]
) -> float:
    """Writes/s of ``write`` over ``data`` split among ``writers`` tasks."""

    async def writer(w: int) -> None:
        for key, value in data[w::writers]:
            await write(key, value)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for w in range(writers):
            tg.create_task(writer(w))
    return len(data) / (time.perf_counter() - started)


async def baseline(endpoint: str, data: list[tuple[str, bytes]], writers: int) -> float:
    host, _, port = endpoint.rpartition(":")
    async with aetcd.Client(host=host, port=int(port)) as client:
        await client.get(b"warm-up")  # connect outside the clock
        return await rate(data, writers, lambda k, v: client.put(k.encode(), v))


async def through_store(endpoints: list[str], data: list[tuple[str, bytes]], writers: int) -> float:
    store = EtcdStore(endpoints)
    try:
        await store.current_revision()  # connect outside the clock
        return await rate(data, writers, store.create)
    finally:
        await store.close()


async def bench(endpoints: list[str], rows: int, rounds: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    probe = EtcdStore(endpoints)
    await probe.current_revision()  # waits (with retries) for a starting etcd
    await probe.close()
    for r in range(rounds):
        for writers in WRITERS:
            base = dataset(f"base-{r}-{writers}", rows)
            ours = dataset(f"store-{r}-{writers}", rows)
            results.setdefault(f"aetcd put, {writers} writers", []).append(
                await baseline(endpoints[0], base, writers)
            )
            results.setdefault(f"EtcdStore.create, {writers} writers", []).append(
                await through_store(endpoints, ours, writers)
            )
    return results


def report(results: dict[str, list[float]], rows: int, rounds: int) -> None:
    print(f"etcd creates/s ({rows} fresh keys of ~3 KB per run, median of {rounds} rounds)")
    for writers in WRITERS:
        base = statistics.median(results[f"aetcd put, {writers} writers"])
        ours = statistics.median(results[f"EtcdStore.create, {writers} writers"])
        print(
            f"  {writers:>2} writers: aetcd put {base:8.0f}/s   EtcdStore.create {ours:8.0f}/s"
            f"   ({ours / base:.0%} of baseline)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", help="host:port[,host:port...] of a running etcd")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.endpoints:
        endpoints = args.endpoints.split(",")
        report(asyncio.run(bench(endpoints, args.rows, args.rounds)), args.rows, args.rounds)
        return
    with local_etcd() as endpoint:
        report(asyncio.run(bench([endpoint], args.rows, args.rounds)), args.rows, args.rounds)


if __name__ == "__main__":
    main()
