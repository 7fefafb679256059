"""Every acknowledged write survives a SIGKILL of the writing process.

A child process streams creates and updates through SqliteStore from many
concurrent tasks (so group commits are large and some are in flight when it
dies) and prints each write only after the store acknowledged it. The test
kills it mid-stream, reopens the file and checks every printed write is there.
"""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

if "tinykube.store.conformance" not in sys.modules:  # plain asserts, detailed failures
    pytest.register_assert_rewrite("tinykube.store.conformance")

from tinykube.store.conformance import watching
from tinykube.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ACKS_BEFORE_KILL = 3000

# The child: 16 writers; each creates keys and bumps one counter key per writer.
# Lines: "C <key> <revision>" and "U <key> <n> <revision>", printed after the ack.
WRITER = """
import asyncio, sys
from tinykube.store.sqlite import SqliteStore

async def writer(store, w):
    counter = await store.create(f"/registry/counters/w{w}", b"0")
    print("U", counter.key, 0, counter.mod_revision, flush=True)
    for i in range(1, 10**9):
        key = f"/registry/pods/w{w}/p{i}"
        kv = await store.create(key, key.encode() * 50)
        print("C", key, kv.mod_revision, flush=True)
        counter = await store.update(counter.key, str(i).encode(), counter.mod_revision)
        print("U", counter.key, i, counter.mod_revision, flush=True)

async def main():
    store = SqliteStore(sys.argv[1])
    await asyncio.gather(*(writer(store, w) for w in range(16)))

asyncio.run(main())
"""


async def run_and_kill(path: Path) -> list[list[str]]:
    """Start the writer, SIGKILL it after enough acks, return every complete ack line."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(path),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(lines) < ACKS_BEFORE_KILL:
                line = await proc.stdout.readline()
                assert line, "writer exited early"
                lines.append(line)
    finally:
        proc.send_signal(signal.SIGKILL)
    rest = await proc.stdout.read()  # acks already in the pipe count too
    assert await proc.wait() == -signal.SIGKILL
    lines += rest.splitlines(keepends=True)
    return [ln.decode().split() for ln in lines if ln.endswith(b"\n")]


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    acks = await run_and_kill(path)
    store = SqliteStore(path)
    try:
        last_count: dict[str, tuple[int, int]] = {}
        for ack in acks:
            if ack[0] == "C":
                kv = await store.get(ack[1])
                assert kv is not None, f"acknowledged create lost: {ack}"
                assert (kv.value, kv.mod_revision) == (ack[1].encode() * 50, int(ack[2]))
            else:
                last_count[ack[1]] = (int(ack[2]), int(ack[3]))
        for key, (count, revision) in last_count.items():
            kv = await store.get(key)
            assert kv is not None
            # A later update may have committed without being acknowledged.
            assert int(kv.value) >= count
            assert kv.mod_revision >= revision
            if int(kv.value) == count:
                assert kv.mod_revision == revision
        current = await store.current_revision()
        assert current >= max(int(a[-1]) for a in acks)
        # The log itself is whole: one row per revision, no gaps, replayable.
        async with watching(store, "/registry/", 0) as watch:
            events = await watch.take(current)
        assert [e.revision for e in events] == list(range(1, current + 1))
    finally:
        await store.close()
