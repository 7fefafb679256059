"""The whole store conformance suite against SqliteStore on a real file, plus
what only a durable driver has: reopening keeps data, revision and horizon."""

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

if "tinykube.store.conformance" not in sys.modules:  # plain asserts, detailed failures
    pytest.register_assert_rewrite("tinykube.store.conformance")

from tinykube.store import sqlite, sqlschema
from tinykube.store.conformance import StoreConformance, watching
from tinykube.store.errors import Compacted
from tinykube.store.interface import KeyValue
from tinykube.store.registry import open_store
from tinykube.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


class TestSqliteStore(StoreConformance):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.close()


# -- what only the durable driver has --------------------------------------------------


async def test_reopening_keeps_values_revision_and_horizon(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    kept = await store.create("/registry/pods/default/kept", b"v1")
    gone = await store.create("/registry/pods/default/gone", b"x")
    last = await store.delete(gone.key)  # the newest row is a tombstone...
    await store.compact(last.mod_revision)  # ...which compaction deletes
    await store.close()

    store = SqliteStore(path)
    try:
        assert await store.get(kept.key) == kept
        assert await store.get(gone.key) is None
        assert await store.current_revision() == last.mod_revision  # never goes backwards
        assert await store.compacted_revision() == last.mod_revision
        with pytest.raises(Compacted):
            await store.get(kept.key, last.mod_revision - 1)
        again = await store.create(gone.key, b"y")
        assert again.mod_revision == last.mod_revision + 1
    finally:
        await store.close()


async def test_one_store_per_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        with pytest.raises(RuntimeError, match="open in another SqliteStore"):
            SqliteStore(tmp_path / "state.db")
    finally:
        await store.close()
    await SqliteStore(tmp_path / "state.db").close()  # released on close


async def test_replay_pages_through_a_long_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "REPLAY_PAGE", 7)
    store = SqliteStore(tmp_path / "state.db")
    try:
        wanted = []
        for i in range(60):
            kv = await store.create(f"/registry/{'pods' if i % 3 else 'nodes'}/n{i:02d}", b"v")
            if i % 3:
                wanted.append(kv.mod_revision)
        async with watching(store, "/registry/pods/", 0) as watch:
            events = await watch.take(len(wanted))
        assert [e.revision for e in events] == wanted
    finally:
        await store.close()


async def test_compaction_runs_in_steps_and_deletes_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "COMPACT_STEP", 4)
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    kv = await store.create("/registry/pods/default/a", b"0")
    for i in range(1, 30):
        kv = await store.update(kv.key, str(i).encode(), kv.mod_revision)
    doomed = await store.create("/registry/pods/default/doomed", b"x")
    await store.delete(doomed.key)
    await store.compact(await store.current_revision())
    assert await store.get(kv.key) == kv
    await store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT id FROM kine").fetchall() == [(kv.mod_revision,)]


async def test_database_rejects_two_writes_from_one_base(tmp_path: Path) -> None:
    """The unique (name, prev_revision) index is the last line of the CAS guard."""
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    kv = await store.create("/registry/pods/default/a", b"0")
    await store.update(kv.key, b"1", kv.mod_revision)
    await store.close()
    with closing(sqlite3.connect(path)) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO kine (name, created, deleted, create_revision, prev_revision, value)"
            " VALUES (?, 0, 0, ?, ?, x'00')",
            (kv.key, kv.create_revision, kv.mod_revision),
        )


async def test_database_settings(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        await store.create("/registry/pods/default/a", b"0")
        conn = sqlite3.connect(tmp_path / "state.db")
        with closing(conn):
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # synchronous is per connection: check the driver's own settings.
        assert "PRAGMA synchronous = FULL" in sqlschema.PRAGMAS
    finally:
        await store.close()


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
async def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool) -> None:
    monkeypatch.chdir(tmp_path)
    url = "sqlite://via-url.db" if relative else f"sqlite://{tmp_path / 'via-url.db'}"
    store = await open_store(url)
    assert isinstance(store, SqliteStore)
    await store.create("/registry/pods/default/a", b"v")
    await store.close()
    assert (tmp_path / "via-url.db").exists()


async def test_a_failing_write_does_not_fail_its_batch(tmp_path: Path) -> None:
    """An unexpected database error rolls the group commit back and replays its
    ops one by one: only the op at fault fails, and it takes no revision."""
    store = SqliteStore(tmp_path / "state.db")
    try:
        unbindable: Any = object()
        attempts = [
            store.create(f"/registry/pods/default/p{i}", unbindable if i == 7 else b"v")
            for i in range(20)
        ]
        outcomes = await asyncio.gather(*attempts, return_exceptions=True)
        assert isinstance(outcomes[7], sqlite3.Error)
        good = [o for o in outcomes if isinstance(o, KeyValue)]
        assert sorted(kv.mod_revision for kv in good) == list(range(1, 20))
        async with watching(store, "/registry/", 0) as watch:
            assert [e.revision for e in await watch.take(19)] == list(range(1, 20))
        assert await store.get("/registry/pods/default/p7") is None
    finally:
        await store.close()
