"""MemoryStore: the log-structured store kept in Python containers, for unit tests.

It keeps the very rows the SQLite driver keeps (``log.LogRow``, one per
revision) and applies the same rules to them: compare-and-swap on the latest
row of a key, reads at an older revision from the log, compaction deleting
superseded rows and tombstones at or below the horizon, watch by replaying the
log and then following the in-process fan-out. Everything runs on the event
loop without awaiting, so each method is atomic and concurrent callers see a
serial order, as they do behind the SQLite writer thread.
"""

from __future__ import annotations

import bisect
import builtins
from collections.abc import AsyncIterator

from tinykube.store.errors import (
    Compacted,
    FutureRevision,
    KeyExists,
    NotFoundError,
    RevisionConflict,
)
from tinykube.store.interface import Event, KeyValue, ListResult
from tinykube.store.log import LogRow, event_of
from tinykube.store.watchhub import WatchHub, follow_log


def _keys_under(keys: list[str], prefix: str, start_after: str) -> list[str]:
    """The keys of sorted ``keys`` under ``prefix`` and strictly after ``start_after``."""
    lo = bisect.bisect_right(keys, start_after) if start_after >= prefix else 0
    lo = max(lo, bisect.bisect_left(keys, prefix))
    out: list[str] = []
    for key in keys[lo:]:
        if not key.startswith(prefix):
            break
        out.append(key)
    return out


class MemoryStore:
    """An in-process ``Store`` with exactly the SQLite driver's semantics."""

    def __init__(self) -> None:
        self._rows: dict[int, LogRow] = {}  # id -> row, in id order
        self._latest: dict[str, int] = {}  # key -> id of its newest row (tombstones too)
        self._live: list[str] = []  # sorted keys that currently exist
        self._revision = 0
        self._horizon = 0
        self._hub = WatchHub()
        self._closed = False

    # -- writes -------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        self._check_open()
        latest = self._latest_row(key)
        if latest is not None and not latest.deleted:
            raise KeyExists(key)
        rev = self._revision + 1
        prev = latest.id if latest is not None else 0
        row = LogRow(rev, key, True, False, rev, prev, value)
        bisect.insort(self._live, key)
        return self._append(row, None)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        self._check_open()
        current = self._current_row(key, expected_revision)
        row = LogRow(
            self._revision + 1, key, False, False, current.create_revision, current.id, value
        )
        return self._append(row, current.key_value())

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        self._check_open()
        current = self._current_row(key, expected_revision)
        row = LogRow(
            self._revision + 1,
            key,
            False,
            True,
            current.create_revision,
            current.id,
            current.value,
        )
        del self._live[bisect.bisect_left(self._live, key)]
        return self._append(row, current.key_value())

    def _latest_row(self, key: str) -> LogRow | None:
        rev = self._latest.get(key)
        return None if rev is None else self._rows[rev]

    def _current_row(self, key: str, expected_revision: int) -> LogRow:
        """The key's live row, checked against ``expected_revision`` (0: any)."""
        row = self._latest_row(key)
        if row is None or row.deleted:
            raise NotFoundError(key)
        if expected_revision and row.id != expected_revision:
            raise RevisionConflict(key, row.key_value())
        return row

    def _append(self, row: LogRow, prev: KeyValue | None) -> KeyValue:
        self._rows[row.id] = row
        self._latest[row.name] = row.id
        self._revision = row.id
        self._hub.publish([event_of(row, prev)])
        return row.key_value()

    # -- reads --------------------------------------------------------------------

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        self._check_open()
        if revision == 0:
            row = self._latest_row(key)
        else:
            self._check_readable(revision)
            row = self._row_at(key, revision)
        return None if row is None or row.deleted else row.key_value()

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        self._check_open()
        if revision == 0:
            at = self._revision
            keys = _keys_under(self._live, prefix, start_after)
            rows = [self._rows[self._latest[k]] for k in keys]
        else:
            self._check_readable(revision)
            at = revision
            rows = self._state_at(prefix, start_after, revision)
        if limit and len(rows) > limit:
            return ListResult([r.key_value() for r in rows[:limit]], at, True, len(rows) - limit)
        return ListResult([r.key_value() for r in rows], at, False, 0)

    def _row_at(self, key: str, revision: int) -> LogRow | None:
        rev = self._latest.get(key)
        while rev:
            row = self._rows.get(rev)
            if row is None:  # compacted away: nothing older survives either
                return None
            if row.id <= revision:
                return row
            rev = row.prev_revision
        return None

    def _state_at(self, prefix: str, start_after: str, revision: int) -> builtins.list[LogRow]:
        keys = _keys_under(sorted(self._latest), prefix, start_after)
        rows = (self._row_at(key, revision) for key in keys)
        return [row for row in rows if row is not None and not row.deleted]

    def _check_readable(self, revision: int) -> None:
        if revision < self._horizon:
            raise Compacted(revision, self._horizon)
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)

    async def current_revision(self) -> int:
        return self._revision

    async def compacted_revision(self) -> int:
        return self._horizon

    # -- watch --------------------------------------------------------------------

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        return follow_log(self._hub, prefix, from_revision, lambda: self._revision, self._replay)

    async def _replay(self, prefix: str, after: int, upto: int) -> AsyncIterator[Event]:
        self._check_open()
        if after < self._horizon:
            raise Compacted(after, self._horizon)
        # Snapshot before the first yield: compaction may run while we are suspended.
        rows = [r for r in self._rows.values() if after < r.id <= upto]
        events = [self._event(r) for r in rows if r.name.startswith(prefix)]
        for event in events:
            yield event

    def _event(self, row: LogRow) -> Event:
        prev = self._rows.get(row.prev_revision)
        return event_of(row, prev.key_value() if prev is not None else None)

    # -- compaction ---------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        """Drop rows superseded at or below ``revision`` and tombstones at or below it."""
        self._check_open()
        if revision <= self._horizon:
            return
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)
        window = [r for r in self._rows.values() if self._horizon < r.id <= revision]
        for row in window:
            self._rows.pop(row.prev_revision, None)
        for row in window:
            if row.deleted:
                self._rows.pop(row.id, None)
                if self._latest.get(row.name) == row.id:
                    del self._latest[row.name]
        self._horizon = revision

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("MemoryStore is closed")

    async def close(self) -> None:
        self._closed = True
        self._hub.close()
