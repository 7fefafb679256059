"""Durable creates per second through SqliteStore, against raw sqlite3 in the same run.

    python -m bench.store [--dir DIR] [--rows N]

The baseline inserts the same rows (a ~3 KB JSON pod per key, a log row plus
its current-state row, into the very schema the driver uses) with the stdlib
sqlite3 module, WAL and synchronous=FULL: once with one row per transaction
(what a naive driver pays per write) and once with 100 rows per transaction
(what group commit can at best approach). SqliteStore is then driven by 1 and
by 64 concurrent writers; with one writer it can only commit one row per
transaction, with 64 its writer thread batches whatever is queued. Last, reads
of the current state of the keys just written (a full list, a paged list,
single gets), because current-state queries must stay fast at 10,000+ keys.

Files go in ``--dir`` (default: a temporary directory next to the working
directory, so fsync hits the same disk the project runs on).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
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


def raw_inserts(path: Path, rows: int, per_transaction: int) -> float:
    """Rows/s of plain sqlite3 inserts into the driver's schema, synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in (*sqlschema.PRAGMAS, *sqlschema.SCHEMA):
        conn.execute(statement)
    started = time.perf_counter()
    for first in range(1, rows + 1, per_transaction):
        conn.execute("BEGIN IMMEDIATE")
        for rev in range(first, min(first + per_transaction, rows + 1)):
            name = key_of("raw", rev)
            conn.execute(sqlschema.INSERT, (rev, name, 1, 0, rev, 0, pod_value(name)))
            conn.execute(sqlschema.CURRENT_INSERT, (name, rev))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


async def store_creates(store: SqliteStore, run: str, rows: int, writers: int) -> float:
    """Creates/s through the store with ``writers`` concurrent tasks."""

    async def writer(w: int) -> None:
        for i in range(w, rows, writers):
            name = key_of(run, i)
            await store.create(name, pod_value(name))

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


async def bench_store(path: Path, rows_single: int, rows_many: int) -> dict[str, float]:
    store = SqliteStore(path)
    try:
        results = {
            "store-1": await store_creates(store, "one", rows_single, 1),
            "store-64": await store_creates(store, "many", rows_many, 64),
        }
        prefix = "/registry/pods/many/"
        # The first reads fill each reader connection's page cache; later ones are warm.
        results["list-all-cold-ms"] = await timed(lambda: store.list(prefix))
        for _ in range(READER_THREADS):
            await timed(lambda: store.list(prefix))
        results["list-all-ms"] = await timed(lambda: store.list(prefix), 3)
        results["list-paged-500-ms"] = await timed(lambda: paged_list(store, prefix, 500), 3)
        results["get-ms"] = await timed(lambda: store.get(key_of("many", 4321)), 1000)
    finally:
        await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument("--rows", type=int, default=20_000, help="rows for the batched runs")
    args = parser.parse_args()
    single = max(args.rows // 10, 100)
    with tempfile.TemporaryDirectory(prefix=".bench-store-", dir=args.dir) as tmp:
        d = Path(tmp)
        raw1 = raw_inserts(d / "raw1.db", single, 1)
        raw100 = raw_inserts(d / "raw100.db", args.rows, 100)
        got = asyncio.run(bench_store(d / "store.db", single, args.rows))
    print(f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL, ~3 KB values")
    print(f"{'':34}{'rows/s':>10}{'vs raw 1/txn':>14}{'vs raw 100/txn':>16}")
    for label, rate in [
        ("raw sqlite3, 1 row per txn", raw1),
        ("raw sqlite3, 100 rows per txn", raw100),
        ("SqliteStore, 1 writer", got["store-1"]),
        ("SqliteStore, 64 concurrent writers", got["store-64"]),
    ]:
        print(f"{label:34}{rate:>10,.0f}{rate / raw1:>13.2f}x{rate / raw100:>15.2f}x")
    print(
        f"current state at {args.rows:,} keys: list all {got['list-all-ms']:.0f} ms"
        f" (first, cold: {got['list-all-cold-ms']:.0f} ms), list in pages of 500"
        f" {got['list-paged-500-ms']:.0f} ms, get {got['get-ms']:.3f} ms"
    )


if __name__ == "__main__":
    main()
