"""The read side of ``SqliteStore``: plain functions over a reader connection.

Each function runs on a reader thread and reads inside one transaction, so all
its statements see the same WAL snapshot: the revision a list reports, the
horizon it is checked against and the rows it returns belong together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tinykube.store import sqlschema as sql
from tinykube.store.errors import Compacted, FutureRevision
from tinykube.store.interface import Event, KeyValue, ListResult
from tinykube.store.keys import prefix_end
from tinykube.store.log import LogRow, event_of


def scalar(conn: sqlite3.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def check_readable(conn: sqlite3.Connection, revision: int) -> None:
    """Raise unless the state at ``revision`` is still (or already) in the log."""
    horizon = scalar(conn, sql.HORIZON)
    if revision < horizon:
        raise Compacted(revision, horizon)
    current = scalar(conn, sql.REVISION)
    if revision > current:
        raise FutureRevision(revision, current)


def get_current(conn: sqlite3.Connection, key: str) -> KeyValue | None:
    row = conn.execute(sql.GET_CURRENT, (key,)).fetchone()
    return None if row is None else KeyValue(key, row[2], row[0], row[1])


def get_at(conn: sqlite3.Connection, key: str, revision: int) -> KeyValue | None:
    with snapshot(conn):
        check_readable(conn, revision)
        row = conn.execute(sql.GET_AT, (key, revision)).fetchone()
    if row is None or row[3]:
        return None
    return KeyValue(key, row[2], row[0], row[1])


def key_bounds(column: str, prefix: str, start_after: str) -> tuple[str, list[str]]:
    """A WHERE clause for keys under ``prefix`` and after ``start_after``, as one
    index range (the tighter of the two lower bounds, so paging stays linear)."""
    end = prefix_end(prefix)
    after = bool(start_after) and start_after >= prefix
    where = sql.key_range(column, not after, end is not None)
    params = [start_after if after else prefix]
    if end is not None:
        params.append(end)
    return where, params


def list_range(
    conn: sqlite3.Connection, prefix: str, limit: int, start_after: str, revision: int
) -> ListResult:
    with snapshot(conn):
        current_where, bounds = key_bounds("c.name", prefix, start_after)
        if revision:
            check_readable(conn, revision)
            log_where = key_bounds("k.name", prefix, start_after)[0]
            page_sql, page_args = sql.list_at(log_where), (*bounds, revision, revision)
            count_sql = sql.count_at(current_where, log_where)
            count_args = (*bounds, revision, revision, *bounds, revision)
        else:
            revision = scalar(conn, sql.REVISION)
            page_sql, page_args = sql.list_current(current_where), tuple(bounds)
            count_sql, count_args = sql.count_current(current_where), tuple(bounds)
        rows = conn.execute(page_sql, (*page_args, limit + 1 if limit else -1)).fetchall()
        more = bool(limit) and len(rows) > limit
        remaining = 0
        if more:
            rows = rows[:limit]
            remaining = conn.execute(count_sql, count_args).fetchone()[0] - limit
    return ListResult([KeyValue(r[0], r[1], r[2], r[3]) for r in rows], revision, more, remaining)


@dataclass(frozen=True, slots=True)
class ReplayPage:
    events: list[Event]


def replay_page(
    conn: sqlite3.Connection, prefix: str, after: int, upto: int, limit: int
) -> ReplayPage:
    """Events for log rows in ``(after, upto]`` under ``prefix``, at most ``limit``."""
    where, params = key_bounds("k.name", prefix, "")
    with snapshot(conn):
        horizon = scalar(conn, sql.HORIZON)
        if after < horizon:
            raise Compacted(after, horizon)
        rows = conn.execute(sql.replay(where), (after, upto, *params, limit)).fetchall()
    return ReplayPage([_event(r) for r in rows])


def _event(r: tuple[object, ...]) -> Event:
    row = LogRow(r[0], r[1], bool(r[2]), bool(r[3]), r[4], r[5], r[6])  # type: ignore[arg-type]
    prev = None if r[7] is None else KeyValue(row.name, r[9], r[7], r[8])  # type: ignore[arg-type]
    return event_of(row, prev)
