"""SqliteStore: the embedded default driver, a kine-style log in one SQLite file.

Data flow. Writes become ``Op``s for the one writer thread (``sqlwriter``),
which group-commits them and, after each COMMIT, hands the outcomes and the
watch events to the event loop in one callback: that callback advances the
loop's view of the revision, publishes the events to the ``WatchHub`` and only
then resolves the callers' futures, so a caller that sees its write
acknowledged can already watch from its revision. Reads run on a small pool of
reader threads, each with its own connection; WAL lets them read a consistent
snapshot while the writer commits. Nothing here touches SQLite on the loop.

The store binds to the event loop that first uses it, and one process owns a
database file at a time (an advisory ``flock`` on ``<path>.lock`` enforces it):
revisions are assigned in memory by the writer and watchers are fed in
process, both of which assume no other writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tinykube.store import sqlreads as reads
from tinykube.store import sqlschema as sql
from tinykube.store.errors import Compacted, FutureRevision
from tinykube.store.interface import Event, KeyValue, ListResult
from tinykube.store.sqlwriter import Committed, GroupCommitWriter, Op, OpKind
from tinykube.store.watchhub import WatchHub, follow_log

T = TypeVar("T")

READER_THREADS = 4
REPLAY_PAGE = 1000  # log rows per read transaction when a watch catches up
COMPACT_STEP = 10_000  # revisions per compaction transaction, so writers are not held up


class SqliteStore:
    """A durable ``Store`` in the SQLite file at ``path`` (created if missing)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock_fd = _lock(self.path)
        try:
            conn = _open_schema(self.path)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._revision = reads.scalar(conn, sql.REVISION)
        self._horizon = reads.scalar(conn, sql.HORIZON)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._hub = WatchHub()
        self._writer = GroupCommitWriter(conn, self._revision, self._horizon, self._from_writer)
        self._writer.start()
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_conns_lock = threading.Lock()

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("SqliteStore used from two event loops")
        return loop

    # -- writes (through the writer thread) ----------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        result: KeyValue = await self._submit(OpKind.CREATE, key, value, 0)
        return result

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        result: KeyValue = await self._submit(OpKind.UPDATE, key, value, expected_revision)
        return result

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        result: KeyValue = await self._submit(OpKind.DELETE, key, b"", expected_revision)
        return result

    async def compact(self, revision: int) -> None:
        """Compact up to ``revision`` in steps of ``COMPACT_STEP`` revisions."""
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)
        step = self._horizon
        while step < revision:
            step = min(revision, step + COMPACT_STEP)
            await self._submit(OpKind.COMPACT, "", b"", step)

    async def _submit(self, kind: OpKind, key: str, value: bytes, expected: int) -> Any:
        """Queue one op and wait for its COMMIT. A cancelled caller may still have
        written: the op stays queued, as a request already sent to etcd would."""
        loop = self._bind()
        if self._closed:
            raise RuntimeError("SqliteStore is closed")
        future: asyncio.Future[Any] = loop.create_future()
        self._writer.submit(Op(kind, key, value, expected, future))
        return await future

    def _from_writer(self, committed: Committed) -> None:
        """Writer thread: pass a committed batch to the loop, in commit order."""
        assert self._loop is not None  # every op was submitted from the loop
        with contextlib.suppress(RuntimeError):  # the loop is gone; nobody is waiting
            self._loop.call_soon_threadsafe(self._deliver, committed)

    def _deliver(self, committed: Committed) -> None:
        self._revision = max(self._revision, committed.revision)
        self._horizon = max(self._horizon, committed.horizon)
        self._hub.publish(committed.events)
        for future, outcome in committed.outcomes:
            if future.done():  # the caller gave up waiting
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    # -- reads (on reader threads) -------------------------------------------------

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        if revision == 0:
            return await self._read(reads.get_current, key)
        return await self._read(reads.get_at, key, revision)

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        return await self._read(reads.list_range, prefix, limit, start_after, revision)

    async def current_revision(self) -> int:
        return self._revision

    async def compacted_revision(self) -> int:
        return self._horizon

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = self._bind()
        if self._closed:
            raise RuntimeError("SqliteStore is closed")
        return await loop.run_in_executor(self._readers, self._in_reader, fn, args)

    def _in_reader(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
            with self._reader_conns_lock:
                self._reader_conns.append(conn)
        return fn(conn, *args)

    # -- watch ---------------------------------------------------------------------

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        return follow_log(self._hub, prefix, from_revision, lambda: self._revision, self._replay)

    async def _replay(self, prefix: str, after: int, upto: int) -> AsyncIterator[Event]:
        """Log rows in ``(after, upto]`` under ``prefix``, a page per read transaction."""
        if self._closed:
            raise RuntimeError("SqliteStore is closed")
        if after < self._horizon:
            raise Compacted(after, self._horizon)
        while after < upto:
            page = await self._read(reads.replay_page, prefix, after, upto, REPLAY_PAGE)
            for event in page.events:
                yield event
            if len(page.events) < REPLAY_PAGE:
                return
            after = page.events[-1].revision

    # -- lifecycle -----------------------------------------------------------------

    async def close(self) -> None:
        """Finish queued writes, end every watch, close the database."""
        if self._closed:
            return
        self._closed = True
        # The writer's last deliveries are queued on the loop before this await ends.
        await asyncio.to_thread(self._writer.stop)
        self._hub.close()
        await asyncio.to_thread(self._readers.shutdown, True)
        with self._reader_conns_lock:
            for conn in self._reader_conns:
                conn.close()
        os.close(self._lock_fd)


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves. Connections move
    # between threads only at close.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in sql.PRAGMAS:
        conn.execute(pragma)
    return conn


def _open_schema(path: str) -> sqlite3.Connection:
    conn = _connect(path)
    try:
        for statement in sql.SCHEMA:
            conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


def _lock(path: str) -> int:
    """Take the advisory lock that makes this process the file's only writer."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RuntimeError(f"{path} is open in another SqliteStore") from None
    return fd
