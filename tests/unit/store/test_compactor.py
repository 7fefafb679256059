"""The periodic compactor, driven by a clock the test controls."""

import asyncio

import pytest

from tinykube.store.compactor import run_compactor
from tinykube.store.memory import MemoryStore

pytestmark = pytest.mark.unit


class FakeClock:
    """``sleep`` parks the compactor until ``tick``; ``asleep`` reports each park."""

    def __init__(self) -> None:
        self.asleep: asyncio.Queue[float] = asyncio.Queue()
        self._wake: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        self.asleep.put_nowait(seconds)
        await self._wake.get()

    async def round(self) -> None:
        """Let one compaction round run to completion."""
        self._wake.put_nowait(None)
        async with asyncio.timeout(5):
            await self.asleep.get()


async def fill(store: MemoryStore, count: int) -> None:
    for _ in range(count):
        await store.create(f"/registry/pods/default/p{await store.current_revision()}", b"v")


async def test_compacts_to_keep_revisions_below_current_each_round() -> None:
    store, clock = MemoryStore(), FakeClock()
    await fill(store, 30)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(run_compactor(store, 60.0, keep_revisions=10, sleep=clock.sleep))
        assert await clock.asleep.get() == 60.0
        assert await store.compacted_revision() == 0  # nothing before the first interval
        await clock.round()
        assert await store.compacted_revision() == 20
        await clock.round()
        assert await store.compacted_revision() == 20  # no new writes, nothing to do
        await fill(store, 5)
        await clock.round()
        assert await store.compacted_revision() == 25
        task.cancel()


async def test_leaves_young_stores_alone() -> None:
    store, clock = MemoryStore(), FakeClock()
    await fill(store, 5)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(run_compactor(store, keep_revisions=10, sleep=clock.sleep))
        assert await clock.asleep.get() == 300.0
        await clock.round()
        assert await store.compacted_revision() == 0
        task.cancel()


class FlakyStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def compact(self, revision: int) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk hiccup")
        await super().compact(revision)


async def test_a_failed_round_is_retried_next_interval(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = FlakyStore(), FakeClock()
    await fill(store, 20)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(run_compactor(store, keep_revisions=10, sleep=clock.sleep))
        await clock.asleep.get()
        await clock.round()
        assert await store.compacted_revision() == 0
        assert "compaction failed" in caplog.text
        await clock.round()
        assert await store.compacted_revision() == 10
        task.cancel()
