"""Durable creates per second through SqliteStore, against raw sqlite3 in the same run.

    python -m bench.store [--dir DIR] [--rows N] [--rounds R]

The baseline inserts the same rows (a ~3 KB JSON pod per key, a log row plus
its current-state row, into the very schema the driver uses) with the stdlib
sqlite3 module, WAL and synchronous=FULL: once with one row per transaction
(what a naive driver pays per write) and once with 100 rows per transaction
(what group commit can at best approach). SqliteStore is then driven by 1 and
by 64 concurrent writers; with one writer it can only commit one row per
transaction, with 64 its writer thread batches whatever is queued. Last, reads
of the current state of the keys just written (a full list, a paged list,
single gets), because current-state queries must stay fast at 10,000+ keys.

fsync times on a shared disk drift a lot from second to second, so each round
runs baseline and store runs interleaved, and the median round is reported.
Values are built before the clocks start; both sides insert the same rows.

Files go in ``--dir`` (default: a temporary directory next to the working
directory, so fsync hits the same disk the project runs on).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tinykube.store import sqlschema
from tinykube.store.sqlite import READER_THREADS, SqliteStore


def pod_value(name: str) -> bytes:
    """A pod-shaped JSON document of about 3 KB."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "args": ["x" * 2600]}]},
        "status": {"phase": "Pending"},
    }
    return json.dumps(pod).encode()


def key_of(run: str, i: int) -> str:
    return f"/registry/pods/{run}/pod-{i:06d}"


def dataset(run: str, rows: int) -> list[tuple[str, bytes]]:
    """Keys and values, built before any clock starts."""
    return [(key_of(run, i), pod_value(key_of(run, i))) for i in range(rows)]


def raw_inserts(path: Path, rows: int, per_transaction: int) -> float:
    """Rows/s of plain sqlite3 inserts into the driver's schema, synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in (*sqlschema.PRAGMAS, *sqlschema.SCHEMA):
        conn.execute(statement)
    data = dataset("raw", rows)
    started = time.perf_counter()
    for first in range(0, rows, per_transaction):
        conn.execute("BEGIN IMMEDIATE")
        for rev, (name, value) in enumerate(data[first : first + per_transaction], first + 1):
            conn.execute(sqlschema.INSERT, (rev, name, 1, 0, rev, 0, value))
            conn.execute(sqlschema.CURRENT_INSERT, (name, rev))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


async def store_creates(store: SqliteStore, run: str, rows: int, writers: int) -> float:
    """Creates/s through the store with ``writers`` concurrent tasks."""

    data = dataset(run, rows)

    async def writer(w: int) -> None:
        for name, value in data[w::writers]:
            await store.create(name, value)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for w in range(writers):
            tg.create_task(writer(w))
    return rows / (time.perf_counter() - started)


async def timed(call: Callable[[], Awaitable[object]], repeat: int = 1) -> float:
    """Milliseconds per call."""
    started = time.perf_counter()
    for _ in range(repeat):
        await call()
    return (time.perf_counter() - started) * 1000 / repeat


async def paged_list(store: SqliteStore, prefix: str, limit: int) -> int:
    start, revision, seen = "", 0, 0
    while True:
        page = await store.list(prefix, limit=limit, start_after=start, revision=revision)
        seen += len(page.items)
        if not page.more:
            return seen
        start, revision = page.items[-1].key, page.revision


async def store_run(path: Path, rows: int, writers: int) -> float:
    store = SqliteStore(path)
    try:
        return await store_creates(store, "run", rows, writers)
    finally:
        await store.close()


async def bench_reads(path: Path, rows: int) -> dict[str, float]:
    """Milliseconds for current-state reads over ``rows`` keys."""
    store = SqliteStore(path)
    try:
        await store_creates(store, "many", rows, 64)
        prefix = "/registry/pods/many/"
        # The first reads fill each reader connection's page cache; later ones are warm.
        results = {"list-all-cold": await timed(lambda: store.list(prefix))}
        for _ in range(READER_THREADS):
            await timed(lambda: store.list(prefix))
        results["list-all"] = await timed(lambda: store.list(prefix), 3)
        results["list-paged-500"] = await timed(lambda: paged_list(store, prefix, 500), 3)
        results["get"] = await timed(lambda: store.get(key_of("many", rows // 2)), 1000)
    finally:
        await store.close()
    return results


def measure_round(d: Path, single: int, rows: int) -> dict[str, float]:
    """One of each run, interleaved so that a slow spell of the disk (shared
    with whatever else runs) hits baseline and store alike."""
    return {
        "raw-1": raw_inserts(d / "raw1.db", single, 1),
        "store-1": asyncio.run(store_run(d / "store1.db", single, 1)),
        "raw-100": raw_inserts(d / "raw100.db", rows, 100),
        "store-64": asyncio.run(store_run(d / "store64.db", rows, 64)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument("--rows", type=int, default=20_000, help="rows for the batched runs")
    parser.add_argument("--rounds", type=int, default=3, help="report the median round")
    args = parser.parse_args()
    single = max(args.rows // 10, 100)
    rounds = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix=".bench-store-", dir=args.dir) as tmp:
            rounds.append(measure_round(Path(tmp), single, args.rows))
    with tempfile.TemporaryDirectory(prefix=".bench-store-", dir=args.dir) as tmp:
        reads = asyncio.run(bench_reads(Path(tmp) / "reads.db", args.rows))
    rate = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL, ~3 KB values,")
    print(f"median of {args.rounds} interleaved rounds")
    print(f"{'':36}{'rows/s':>10}{'vs raw 1/txn':>14}{'vs raw 100/txn':>16}")
    for label, name in [
        ("raw sqlite3, 1 row per txn", "raw-1"),
        ("raw sqlite3, 100 rows per txn", "raw-100"),
        ("SqliteStore.create, 1 writer", "store-1"),
        ("SqliteStore.create, 64 writers", "store-64"),
    ]:
        r = rate[name]
        print(f"{label:36}{r:>10,.0f}{r / rate['raw-1']:>13.2f}x{r / rate['raw-100']:>15.2f}x")
    print(
        f"current state at {args.rows:,} keys: list all {reads['list-all']:.0f} ms"
        f" (first, cold: {reads['list-all-cold']:.0f} ms), list in pages of 500"
        f" {reads['list-paged-500']:.0f} ms, get {reads['get']:.3f} ms"
    )


if __name__ == "__main__":
    main()
