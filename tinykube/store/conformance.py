"""The conformance suite every Store driver must pass, shipped with the package.

In the manner of trio's ``testing/_check_streams.py``: the behaviour of the
storage contract (``interface.py``) is written down once, as executable
checks, and each driver's test module runs all of it against a real instance.
Subclass ``StoreConformance`` in a test module and give it a ``store`` pytest
fixture that yields a fresh, empty driver (and closes it afterwards)::

    class TestMemoryStore(StoreConformance):
        @pytest.fixture
        async def store(self):
            store = MemoryStore()
            yield store
            await store.close()

The checks use no pytest API (only plain ``assert``), so this module imports
nothing beyond the store package. Nothing sleeps: watches are read with
deadlines, and "no further event" is shown by writing a marker key and seeing
that the marker is the very next event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from tinykube.store.errors import (
    Compacted,
    FutureRevision,
    KeyExists,
    NotFoundError,
    RevisionConflict,
    StoreError,
)
from tinykube.store.interface import Event, EventType, KeyValue, Store

DEADLINE = 10.0  # seconds any single awaited store outcome may take
PODS = "/registry/pods/"


class _Raised:
    value: Any = None


@contextmanager
def raises(kind: type[BaseException]) -> Iterator[_Raised]:
    """Like ``pytest.raises``, without importing pytest into the package."""
    caught = _Raised()
    try:
        yield caught
    except kind as exc:
        caught.value = exc
        return
    raise AssertionError(f"{kind.__name__} not raised")


@asynccontextmanager
async def watching(store: Store, prefix: str, from_revision: int) -> AsyncIterator[Watch]:
    """A watch that is closed when the block ends."""
    watch = Watch(store.watch(prefix, from_revision))
    try:
        yield watch
    finally:
        await watch.close()


class Watch:
    def __init__(self, events: AsyncIterator[Event]) -> None:
        self._events = events

    async def next(self) -> Event:
        async with asyncio.timeout(DEADLINE):
            return await anext(self._events)

    async def take(self, count: int) -> list[Event]:
        return [await self.next() for _ in range(count)]

    async def take_through(self, after: int, revision: int) -> list[Event]:
        """The events of a watch from ``after``, up to and including ``revision``."""
        events: list[Event] = []
        while (events[-1].revision if events else after) < revision:
            events.append(await self.next())
        return events

    async def close(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()


def key(name: str, namespace: str = "default") -> str:
    return f"{PODS}{namespace}/{name}"


def summary(events: list[Event]) -> list[tuple[str, str, bytes, int]]:
    return [(e.type.value, e.kv.key, e.kv.value, e.revision) for e in events]


async def next_is_marker(store: Store, watch: Watch, prefix: str) -> None:
    """Assert the watch has nothing pending: the next event is a fresh marker write."""
    marker = await store.create(f"{prefix}zz-marker-{await store.current_revision()}", b"m")
    event = await watch.next()
    assert (event.kv.key, event.revision) == (marker.key, marker.mod_revision), event


class StoreConformance:
    """Checks of the Store contract. Subclasses provide the ``store`` fixture."""

    # -- create, get, update, delete ------------------------------------------------

    async def test_create_then_get(self, store: Store) -> None:
        kv = await store.create(key("a"), b"one")
        assert kv == KeyValue(key("a"), b"one", kv.mod_revision, kv.mod_revision)
        assert kv.mod_revision == await store.current_revision() > 0
        assert await store.get(key("a")) == kv
        assert await store.get(key("missing")) is None

    async def test_create_existing_key_fails(self, store: Store) -> None:
        first = await store.create(key("a"), b"one")
        with raises(KeyExists) as caught:
            await store.create(key("a"), b"two")
        assert caught.value.key == key("a")
        assert await store.get(key("a")) == first

    async def test_values_are_opaque_bytes(self, store: Store) -> None:
        for i, value in enumerate([b"", b"\x00\xff\xfe", "ünï".encode(), b"x" * 100_000]):
            kv = await store.create(key(f"v{i}"), value)
            assert (await store.get(kv.key)) == kv

    async def test_update_with_current_revision(self, store: Store) -> None:
        created = await store.create(key("a"), b"one")
        updated = await store.update(key("a"), b"two", created.mod_revision)
        assert updated.value == b"two"
        assert updated.mod_revision > created.mod_revision
        assert updated.create_revision == created.create_revision
        assert await store.get(key("a")) == updated

    async def test_update_with_stale_revision_conflicts(self, store: Store) -> None:
        created = await store.create(key("a"), b"one")
        updated = await store.update(key("a"), b"two", created.mod_revision)
        with raises(RevisionConflict) as caught:
            await store.update(key("a"), b"three", created.mod_revision)
        assert caught.value.current == updated
        assert await store.get(key("a")) == updated

    async def test_update_missing_key_is_not_found(self, store: Store) -> None:
        with raises(NotFoundError):
            await store.update(key("a"), b"one", 1)
        kv = await store.create(key("a"), b"one")
        await store.delete(key("a"))
        with raises(NotFoundError):
            await store.update(key("a"), b"two", kv.mod_revision)

    async def test_unconditional_delete_returns_last_value(self, store: Store) -> None:
        created = await store.create(key("a"), b"one")
        updated = await store.update(key("a"), b"two", created.mod_revision)
        deleted = await store.delete(key("a"))
        assert deleted.value == b"two"
        assert deleted.mod_revision > updated.mod_revision
        assert deleted.mod_revision == await store.current_revision()
        assert deleted.create_revision == created.create_revision
        assert await store.get(key("a")) is None
        with raises(NotFoundError):
            await store.delete(key("a"))

    async def test_conditional_delete(self, store: Store) -> None:
        created = await store.create(key("a"), b"one")
        updated = await store.update(key("a"), b"two", created.mod_revision)
        with raises(RevisionConflict) as caught:
            await store.delete(key("a"), created.mod_revision)
        assert caught.value.current == updated
        assert await store.get(key("a")) == updated
        deleted = await store.delete(key("a"), updated.mod_revision)
        assert deleted.value == b"two"
        assert await store.get(key("a")) is None

    async def test_recreate_after_delete_starts_a_new_life(self, store: Store) -> None:
        first = await store.create(key("a"), b"one")
        await store.delete(key("a"))
        again = await store.create(key("a"), b"two")
        assert again.create_revision == again.mod_revision > first.create_revision
        assert await store.get(key("a")) == again

    async def test_revision_is_global_and_monotonic(self, store: Store) -> None:
        start = await store.current_revision()
        a = await store.create(key("a"), b"1")
        b = await store.create("/registry/services/default/b", b"2")
        a2 = await store.update(key("a"), b"3", a.mod_revision)
        gone = await store.delete("/registry/services/default/b")
        revisions = [a.mod_revision, b.mod_revision, a2.mod_revision, gone.mod_revision]
        assert revisions == list(range(start + 1, start + 5))
        assert await store.current_revision() == revisions[-1]

    async def test_failed_writes_do_not_advance_the_revision(self, store: Store) -> None:
        kv = await store.create(key("a"), b"1")
        for attempt in (
            store.create(key("a"), b"2"),
            store.update(key("a"), b"2", kv.mod_revision + 100),
            store.update(key("b"), b"2", 1),
            store.delete(key("b")),
            store.delete(key("a"), kv.mod_revision + 100),
        ):
            with raises(StoreError):
                await attempt
        assert await store.current_revision() == kv.mod_revision
        assert (await store.create(key("b"), b"3")).mod_revision == kv.mod_revision + 1

    # -- reads at a revision ----------------------------------------------------------

    async def test_get_at_older_revisions(self, store: Store) -> None:
        v1 = await store.create(key("a"), b"one")
        v2 = await store.update(key("a"), b"two", v1.mod_revision)
        other = await store.create(key("b"), b"b")
        gone = await store.delete(key("a"))
        assert await store.get(key("a"), v1.mod_revision) == v1
        assert await store.get(key("a"), v2.mod_revision) == v2
        assert await store.get(key("a"), other.mod_revision) == v2
        assert await store.get(key("a"), gone.mod_revision) is None
        assert await store.get(key("b"), v2.mod_revision) is None
        assert await store.get(key("b"), gone.mod_revision) == other

    async def test_read_at_future_revision_fails(self, store: Store) -> None:
        kv = await store.create(key("a"), b"one")
        with raises(FutureRevision):
            await store.get(key("a"), kv.mod_revision + 1)
        with raises(FutureRevision):
            await store.list(PODS, revision=kv.mod_revision + 1)

    async def test_list_at_older_revision(self, store: Store) -> None:
        a = await store.create(key("a"), b"a1")
        b = await store.create(key("b"), b"b1")
        a2 = await store.update(key("a"), b"a2", a.mod_revision)
        await store.delete(key("b"))
        c = await store.create(key("c"), b"c1")
        assert (await store.list(PODS, revision=b.mod_revision)).items == [a, b]
        assert (await store.list(PODS, revision=a2.mod_revision)).items == [a2, b]
        now = await store.list(PODS, revision=c.mod_revision)
        assert now.items == [a2, c]
        assert now.revision == c.mod_revision

    # -- list -------------------------------------------------------------------------

    async def test_list_is_ordered_by_key_and_reports_revision(self, store: Store) -> None:
        for name in ["c", "a", "b"]:
            await store.create(key(name), name.encode())
        result = await store.list(PODS)
        assert [kv.key for kv in result.items] == [key("a"), key("b"), key("c")]
        assert result.revision == await store.current_revision()
        assert (result.more, result.remaining) == (False, 0)

    async def test_list_prefix_is_exact(self, store: Store) -> None:
        keys = [
            "/registry/pods/a",
            "/registry/pods/a/x",
            "/registry/pods/a/y",
            "/registry/pods/ab/z",
            "/registry/pods/a0/z",
            "/registry/podsecurity/a/x",
            "/registry/pods/b/x",
        ]
        for k in keys:
            await store.create(k, b"v")
        assert await self._keys(store, "/registry/pods/a/") == keys[1:3]
        pods = sorted(k for k in keys if k.startswith("/registry/pods/"))
        assert await self._keys(store, "/registry/pods/") == pods
        assert await self._keys(store, "") == sorted(keys)
        assert await self._keys(store, "/registry/pods/c/") == []

    @staticmethod
    async def _keys(store: Store, prefix: str, **kwargs: Any) -> list[str]:
        return [kv.key for kv in (await store.list(prefix, **kwargs)).items]

    async def test_list_pagination(self, store: Store) -> None:
        names = [f"p{i:02d}" for i in range(25)]
        for name in names:
            await store.create(key(name), name.encode())
        await store.create("/registry/pods/other/p00", b"x")
        pages, start, revision = [], "", 0
        while True:
            page = await store.list(key(""), limit=10, start_after=start, revision=revision)
            pages.append(([kv.key for kv in page.items], page.more, page.remaining))
            if not page.more:
                break
            start, revision = page.items[-1].key, page.revision
        assert pages == [
            ([key(n) for n in names[:10]], True, 15),
            ([key(n) for n in names[10:20]], True, 5),
            ([key(n) for n in names[20:]], False, 0),
        ]

    async def test_list_limit_equal_to_size_has_no_more(self, store: Store) -> None:
        for name in "abc":
            await store.create(key(name), b"v")
        page = await store.list(PODS, limit=3)
        assert (len(page.items), page.more, page.remaining) == (3, False, 0)

    async def test_start_after_is_exclusive_and_may_be_any_string(self, store: Store) -> None:
        for name in ["a", "b", "c"]:
            await store.create(key(name), b"v")
        assert await self._keys(store, PODS, start_after=key("a")) == [key("b"), key("c")]
        assert await self._keys(store, PODS, start_after=key("bb")) == [key("c")]
        assert await self._keys(store, PODS, start_after="/registry/a") == [key(n) for n in "abc"]
        assert await self._keys(store, PODS, start_after="/registry/q") == []

    async def test_paging_at_a_revision_ignores_later_writes(self, store: Store) -> None:
        for i in range(6):
            await store.create(key(f"p{i}"), b"v1")
        first = await store.list(PODS, limit=3)
        await store.delete(key("p4"))
        await store.create(key("p3a"), b"new")
        kv = await store.get(key("p5"))
        assert kv is not None
        await store.update(key("p5"), b"v2", kv.mod_revision)
        rest = await store.list(
            PODS, limit=3, start_after=first.items[-1].key, revision=first.revision
        )
        assert [(i.key, i.value) for i in rest.items] == [
            (key("p3"), b"v1"),
            (key("p4"), b"v1"),
            (key("p5"), b"v1"),
        ]
        assert rest.revision == first.revision
        assert not rest.more

    async def test_remaining_counts_the_state_at_the_revision(self, store: Store) -> None:
        for i in range(10):
            await store.create(key(f"p{i}"), b"v")
        then = await store.current_revision()
        await store.delete(key("p1"))
        p2 = await store.get(key("p2"))
        assert p2 is not None
        await store.update(key("p2"), b"w", p2.mod_revision)
        await store.delete(key("p3"))
        await store.create(key("p3"), b"again")
        await store.create(key("p5a"), b"new")
        await store.delete(key("p9"))
        await store.create("/registry/pods/zzz/p9", b"elsewhere")
        first = await store.list(PODS + "default/", limit=2, revision=then)
        assert ([kv.key for kv in first.items], first.more, first.remaining) == (
            [key("p0"), key("p1")],
            True,
            8,
        )
        later = await store.list(PODS + "default/", limit=2, start_after=key("p4"), revision=then)
        assert ([kv.key for kv in later.items], later.remaining) == ([key("p5"), key("p6")], 3)
        now = await store.list(PODS + "default/", limit=2)
        assert ([kv.key for kv in now.items], now.remaining) == ([key("p0"), key("p2")], 7)

    # -- watch ------------------------------------------------------------------------

    async def _history(self, store: Store) -> list[Event]:
        """A small history under PODS covering every event type; returns what a
        watch from 0 must deliver."""
        a = await store.create(key("a"), b"a1")
        b = await store.create(key("b"), b"b1")
        a2 = await store.update(key("a"), b"a2", a.mod_revision)
        gone = await store.delete(key("b"))
        b2 = await store.create(key("b"), b"b2")
        return [
            Event(EventType.ADDED, a, None),
            Event(EventType.ADDED, b, None),
            Event(EventType.MODIFIED, a2, a),
            Event(EventType.DELETED, gone, b),
            Event(EventType.ADDED, b2, None),
        ]

    async def test_watch_from_zero_replays_every_change(self, store: Store) -> None:
        expected = await self._history(store)
        async with watching(store, PODS, 0) as watch:
            assert await watch.take(len(expected)) == expected
            await next_is_marker(store, watch, PODS)

    async def test_watch_from_older_revision_replays_the_rest(self, store: Store) -> None:
        expected = await self._history(store)
        async with watching(store, PODS, expected[1].revision) as watch:
            assert await watch.take(3) == expected[2:]
            await next_is_marker(store, watch, PODS)

    async def test_watch_from_current_sees_only_new_changes(self, store: Store) -> None:
        await self._history(store)
        async with watching(store, PODS, await store.current_revision()) as watch:
            kv = await store.create(key("c"), b"c1")
            assert await watch.next() == Event(EventType.ADDED, kv, None)
            await next_is_marker(store, watch, PODS)

    async def test_watch_events_carry_previous_and_last_values(self, store: Store) -> None:
        async with watching(store, PODS, await store.current_revision()) as watch:
            created = await store.create(key("a"), b"one")
            updated = await store.update(key("a"), b"two", created.mod_revision)
            deleted = await store.delete(key("a"))
            live = await watch.take(3)
        assert live[1] == Event(EventType.MODIFIED, updated, created)
        assert live[2] == Event(EventType.DELETED, deleted, updated)
        assert live[2].kv.value == b"two"
        async with watching(store, PODS, created.mod_revision) as replayed:
            assert await replayed.take(2) == live[1:]

    async def test_watch_filters_by_prefix(self, store: Store) -> None:
        prefix = "/registry/pods/a/"
        async with watching(store, prefix, 0) as watch:
            expected = []
            for k in [
                "/registry/pods/a/x",
                "/registry/pods/ab/x",
                "/registry/pods/b/x",
                "/registry/pods/a",
                "/registry/pods/a/y",
                "/registry/podsx/a/y",
            ]:
                kv = await store.create(k, b"v")
                if k.startswith(prefix):
                    expected.append(kv.key)
            assert [e.kv.key for e in await watch.take(len(expected))] == expected
            await next_is_marker(store, watch, prefix)
        async with watching(store, prefix, 0) as replayed:
            keys = [e.kv.key for e in await replayed.take(len(expected) + 1)]
            assert keys[:-1] == expected
            assert keys[-1].startswith(prefix + "zz-marker-")

    async def test_watches_during_concurrent_writes_get_each_change_once(
        self, store: Store
    ) -> None:
        """Watches that join while writers run, from 0, from a past revision and
        from "now", each see every later revision exactly once, in order."""
        writers, per_writer = 8, 40
        halfway = asyncio.Event()
        watches: list[tuple[int, asyncio.Task[list[Event]]]] = []
        base = (await store.create(key("seed"), b"0")).mod_revision
        final = base + writers * per_writer

        async def write(w: int) -> None:
            kv = await store.create(key(f"w{w}"), b"0")
            for i in range(1, per_writer):
                await asyncio.sleep(0)  # interleave writers even on a store that never waits
                kv = await store.update(kv.key, str(i).encode(), kv.mod_revision)
                if kv.mod_revision >= base + writers * per_writer // 2:
                    halfway.set()

        async with asyncio.TaskGroup() as tg:
            for w in range(writers):
                tg.create_task(write(w))
            for start in (0, base):
                watches.append((start, tg.create_task(self._collect(store, start, final))))
            await halfway.wait()
            for start in (0, base + 1, await store.current_revision()):
                watches.append((start, tg.create_task(self._collect(store, start, final))))
        assert await store.current_revision() == final
        for start, task in watches:
            # A store may hold revisions before ``base`` (a fresh etcd starts at 1), so a
            # watch from an older point sees everything from the seed write on.
            first = max(start, base - 1) + 1
            assert [e.revision for e in task.result()] == list(range(first, final + 1))

    @staticmethod
    async def _collect(store: Store, start: int, final: int) -> list[Event]:
        async with watching(store, PODS, start) as watch:
            return await watch.take_through(start, final)

    # -- compaction -------------------------------------------------------------------

    async def test_compaction_refuses_older_reads_and_watches(self, store: Store) -> None:
        history = await self._history(store)
        horizon = history[2].revision
        await store.compact(horizon)
        assert await store.compacted_revision() == horizon
        with raises(Compacted) as caught:
            await store.get(key("a"), horizon - 1)
        assert (caught.value.requested, caught.value.compacted) == (horizon - 1, horizon)
        with raises(Compacted):
            await store.list(PODS, revision=horizon - 1)
        async with watching(store, PODS, horizon - 1) as watch:
            with raises(Compacted):
                await watch.next()

    async def test_compaction_keeps_the_state_at_and_after_the_horizon(self, store: Store) -> None:
        history = await self._history(store)
        for i in range(5):  # some churn, then deletes of keys created before the horizon
            kv = await store.create(key(f"x{i}"), b"x")
            await store.update(kv.key, b"y", kv.mod_revision)
        await store.delete(key("x0"))
        horizon = (await store.delete(key("x1"))).mod_revision
        tail = await store.create(key("after"), b"z")
        before = {r: await store.list("", revision=r) for r in (horizon, tail.mod_revision)}
        current = await store.list("")
        await store.compact(horizon)
        for revision, listed in before.items():
            assert await store.list("", revision=revision) == listed
        assert await store.list("") == current
        assert await store.get(key("a"), horizon) == history[2].kv
        async with watching(store, PODS, horizon) as watch:
            assert await watch.next() == Event(EventType.ADDED, tail, None)

    async def test_compaction_of_deletes_then_recreate(self, store: Store) -> None:
        await self._history(store)
        gone = await store.delete(key("a"))
        await store.compact(gone.mod_revision)
        assert await store.get(key("a")) is None
        assert await store.get(key("a"), gone.mod_revision) is None
        again = await store.create(key("a"), b"again")
        async with watching(store, PODS, gone.mod_revision) as watch:
            assert await watch.next() == Event(EventType.ADDED, again, None)
        updated = await store.update(key("a"), b"more", again.mod_revision)
        assert await store.get(key("a")) == updated

    async def test_compaction_is_idempotent_and_bounded(self, store: Store) -> None:
        history = await self._history(store)
        await store.compact(history[3].revision)
        await store.compact(history[1].revision)  # below the horizon: nothing to do
        assert await store.compacted_revision() == history[3].revision
        with raises(FutureRevision):
            await store.compact(history[-1].revision + 1)
        await store.compact(history[-1].revision)
        assert await store.compacted_revision() == history[-1].revision

    # -- concurrency ------------------------------------------------------------------

    async def test_concurrent_creates_of_one_key_have_one_winner(self, store: Store) -> None:
        outcomes = await self._race([store.create(key("a"), str(i).encode()) for i in range(50)])
        winners = [o for o in outcomes if isinstance(o, KeyValue)]
        assert len(winners) == 1
        assert all(isinstance(o, KeyExists) for o in outcomes if o is not winners[0])
        assert await store.get(key("a")) == winners[0]

    async def test_concurrent_updates_from_one_base_have_one_winner(self, store: Store) -> None:
        base = await store.create(key("a"), b"base")
        outcomes = await self._race(
            [store.update(key("a"), str(i).encode(), base.mod_revision) for i in range(50)]
        )
        winners = [o for o in outcomes if isinstance(o, KeyValue)]
        assert len(winners) == 1
        losers = [o for o in outcomes if isinstance(o, RevisionConflict)]
        assert len(losers) == 49
        assert all(o.current == winners[0] for o in losers)
        assert await store.get(key("a")) == winners[0]

    async def test_concurrent_writes_to_many_keys_get_distinct_revisions(
        self, store: Store
    ) -> None:
        start = await store.current_revision()
        results = await self._race([store.create(key(f"k{i}"), b"v") for i in range(200)])
        revisions = sorted(kv.mod_revision for kv in results if isinstance(kv, KeyValue))
        assert revisions == list(range(start + 1, start + 201))
        assert len((await store.list(PODS)).items) == 200

    # -- lifecycle ----------------------------------------------------------------------

    async def test_close_ends_watches_and_refuses_calls(self, store: Store) -> None:
        await store.create(key("a"), b"v")
        async with watching(store, PODS, 0) as watch:
            assert (await watch.next()).kv.key == key("a")
            await store.close()
            with raises(StopAsyncIteration):
                await watch.next()
        for call in (store.create(key("b"), b"v"), store.get(key("a")), store.list(PODS)):
            with raises(RuntimeError):
                await call
        async with watching(store, PODS, 0) as late:
            with raises(RuntimeError):
                await late.next()
        await store.close()  # closing twice is harmless

    @staticmethod
    async def _race(attempts: list[Any]) -> list[Any]:
        async with asyncio.timeout(DEADLINE):
            return await asyncio.gather(*attempts, return_exceptions=True)
