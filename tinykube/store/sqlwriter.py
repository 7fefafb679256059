"""The single writer thread of ``SqliteStore``, which group-commits.

An fsync per COMMIT is the cost that dominates a durable write (about 4,800
single-row commits/s here, against about 50,000 rows/s when 100 share a
transaction). So callers do not commit: they put an ``Op`` on a queue and await
its future. This thread takes whatever is queued (up to ``MAX_BATCH``), applies
it in one ``BEGIN IMMEDIATE`` ... ``COMMIT`` and only then reports outcomes, so
an acknowledged write is on disk. Under load batches grow by themselves; a lone
writer still gets a commit per write and no added latency.

Ops apply in queue order against the transaction's own view, so a batch is
equivalent to running its ops one by one: two creates of one key in one batch
give one winner and one ``KeyExists``. Expected failures (``StoreError``) are
decided before anything is written, so they never spoil the batch. An
unexpected database error rolls the batch back and replays its ops one per
transaction, so only the op at fault fails.

Being the only writer also makes revisions trivial: the thread knows the last
id and assigns the next ones itself; watch events are built here, from the
rows just written, and handed to ``deliver`` in commit order.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tinykube.store import sqlschema as sql
from tinykube.store.errors import KeyExists, NotFoundError, RevisionConflict, StoreError
from tinykube.store.interface import Event, EventType, KeyValue

log = logging.getLogger(__name__)

MAX_BATCH = 1000


class OpKind(Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    COMPACT = "compact"  # ``expected`` carries the target revision


@dataclass(slots=True)
class Op:
    kind: OpKind
    key: str
    value: bytes
    expected: int
    future: asyncio.Future[Any]


@dataclass(slots=True)
class Committed:
    """What one transaction did, handed to ``deliver`` after COMMIT."""

    outcomes: list[tuple[asyncio.Future[Any], object]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    revision: int = 0
    horizon: int = 0


class GroupCommitWriter:
    """Owns the write connection; ``deliver`` is called from this thread."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        revision: int,
        horizon: int,
        deliver: Callable[[Committed], None],
    ) -> None:
        self._conn = conn
        self._revision = revision
        self._horizon = horizon
        self._deliver = deliver
        self._queue: queue.SimpleQueue[Op | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name="sqlite-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, op: Op) -> None:
        self._queue.put(op)

    def stop(self) -> None:
        """Finish what is queued, then close the connection. Blocks: call in a thread."""
        self._queue.put(None)
        self._thread.join()

    def _main(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self._deliver(self._run(batch))
        finally:
            self._conn.close()

    def _take(self) -> list[Op] | None:
        """Block for one op, then drain what else is queued. None means stop."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(op)
        return batch

    def _run(self, batch: list[Op]) -> Committed:
        base, horizon = self._revision, self._horizon
        done = Committed()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                self._apply(op, done)
            self._conn.execute("COMMIT")
        except Exception as exc:  # the loop boundary: a failed batch must not kill the writer
            self._rollback()
            self._revision, self._horizon = base, horizon
            if len(batch) == 1:
                log.error("component=store op=%s key=%s error=%r", batch[0].kind, batch[0].key, exc)
                return Committed([(batch[0].future, exc)], [], base, horizon)
            return self._run_one_by_one(batch)
        done.revision, done.horizon = self._revision, self._horizon
        return done

    def _run_one_by_one(self, batch: list[Op]) -> Committed:
        merged = Committed()
        for op in batch:
            part = self._run([op])
            merged.outcomes += part.outcomes
            merged.events += part.events
        merged.revision, merged.horizon = self._revision, self._horizon
        return merged

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _apply(self, op: Op, done: Committed) -> None:
        try:
            if op.kind is OpKind.COMPACT:
                result: object = self._compact(op.expected)
            else:
                result = self._write(op, done.events)
        except StoreError as exc:
            result = exc
        done.outcomes.append((op.future, result))

    def _write(self, op: Op, events: list[Event]) -> KeyValue:
        latest = self._conn.execute(sql.LATEST, (op.key,)).fetchone()
        live = latest is not None and not latest[1]
        if op.kind is OpKind.CREATE:
            if live:
                raise KeyExists(op.key)
            return self._create(op, latest[0] if latest else 0, events)
        if not live:
            raise NotFoundError(op.key)
        current = KeyValue(op.key, latest[3], latest[0], latest[2])
        if op.expected and op.expected != current.mod_revision:
            raise RevisionConflict(op.key, current)
        if op.kind is OpKind.UPDATE:
            return self._update(op, current, events)
        return self._delete(op, current, events)

    def _insert(
        self, key: str, value: bytes, created: bool, deleted: bool, create: int, prev: int
    ) -> int:
        self._revision += 1
        rev = self._revision
        self._conn.execute(sql.INSERT, (rev, key, created, deleted, create or rev, prev, value))
        return rev

    def _create(self, op: Op, prev: int, events: list[Event]) -> KeyValue:
        rev = self._insert(op.key, op.value, True, False, 0, prev)
        self._conn.execute(sql.CURRENT_INSERT, (op.key, rev))
        kv = KeyValue(op.key, op.value, rev, rev)
        events.append(Event(EventType.ADDED, kv, None))
        return kv

    def _update(self, op: Op, current: KeyValue, events: list[Event]) -> KeyValue:
        created = current.create_revision
        rev = self._insert(op.key, op.value, False, False, created, current.mod_revision)
        self._conn.execute(sql.CURRENT_UPDATE, (rev, op.key))
        kv = KeyValue(op.key, op.value, rev, created)
        events.append(Event(EventType.MODIFIED, kv, current))
        return kv

    def _delete(self, op: Op, current: KeyValue, events: list[Event]) -> KeyValue:
        created = current.create_revision
        rev = self._insert(op.key, current.value, False, True, created, current.mod_revision)
        self._conn.execute(sql.CURRENT_DELETE, (op.key,))
        kv = KeyValue(op.key, current.value, rev, created)
        events.append(Event(EventType.DELETED, kv, current))
        return kv

    def _compact(self, target: int) -> int:
        """Compact ``(horizon, target]``; the caller keeps windows small."""
        target = min(target, self._revision)
        if target <= self._horizon:
            return self._horizon
        window = (self._horizon, target)
        self._conn.execute(sql.COMPACT_SUPERSEDED, window)
        self._conn.execute(sql.COMPACT_TOMBSTONES, window)
        self._conn.execute(sql.SET_HORIZON, (target,))
        self._horizon = target
        return target
