"""The work queue keeps client-go's guarantees: one worker per key, folding, re-queue after done,
delays and per-key backoff. Time is a FakeClock; nothing here sleeps for real."""

from __future__ import annotations

import asyncio
import random

import pytest

from tinykube.client.clock import FakeClock, settle
from tinykube.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialRateLimiter,
    MaxOfRateLimiter,
    ShutDown,
    WorkQueue,
    default_rate_limiter,
)

pytestmark = pytest.mark.unit


def make_queue() -> tuple[WorkQueue[str], FakeClock]:
    clock = FakeClock()
    return WorkQueue("test", clock=clock), clock


async def drain(q: WorkQueue[str]) -> list[str]:
    """Every key that is ready right now, each marked done."""
    out = []
    while len(q):
        key = await q.get()
        out.append(key)
        q.done(key)
    return out


# ---- table tests: a script of operations and the keys get() hands out ----------

# Ops: ("add", k), ("get", expected), ("done", k), ("len", n).
SCRIPTS = {
    "fifo": [("add", "a"), ("add", "b"), ("get", "a"), ("get", "b"), ("len", 0)],
    "adds fold while queued": [("add", "a"), ("add", "b"), ("add", "a"), ("len", 2)],
    "add while processing waits for done": [
        ("add", "a"),
        ("get", "a"),
        ("add", "a"),
        ("len", 0),
        ("done", "a"),
        ("len", 1),
        ("get", "a"),
    ],
    "many adds while processing fold into one": [
        ("add", "a"),
        ("get", "a"),
        ("add", "a"),
        ("add", "a"),
        ("add", "a"),
        ("done", "a"),
        ("len", 1),
        ("get", "a"),
        ("done", "a"),
        ("len", 0),
    ],
    "done without re-add forgets the key": [
        ("add", "a"),
        ("get", "a"),
        ("done", "a"),
        ("len", 0),
        ("add", "a"),
        ("len", 1),
    ],
    "re-queued key goes to the back": [
        ("add", "a"),
        ("get", "a"),
        ("add", "a"),
        ("add", "b"),
        ("done", "a"),
        ("get", "b"),
        ("get", "a"),
    ],
}


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
async def test_queue_script(script: list[tuple[str, object]]) -> None:
    q, _ = make_queue()
    for op, arg in script:
        if op == "add":
            q.add(arg)
        elif op == "done":
            q.done(arg)
        elif op == "get":
            assert await asyncio.wait_for(q.get(), 1) == arg
        elif op == "len":
            assert len(q) == arg, op


async def test_get_waits_for_an_add() -> None:
    q, _ = make_queue()
    getter = asyncio.create_task(q.get())
    await settle()
    assert not getter.done()
    q.add("a")
    assert await asyncio.wait_for(getter, 1) == "a"


async def test_one_add_wakes_one_worker() -> None:
    q, _ = make_queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await settle()
    q.add("a")
    await settle()
    assert sum(g.done() for g in getters) == 1
    for g in getters:
        g.cancel()
    await asyncio.gather(*getters, return_exceptions=True)


async def test_cancelled_worker_passes_its_wakeup_on() -> None:
    """A worker cancelled just after an add woke it must not swallow the key."""
    q, _ = make_queue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await settle()
    q.add("a")  # resolves the first parked future...
    first.cancel()  # ...but that worker is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    assert await asyncio.wait_for(second, 1) == "a"


# ---- shutdown -------------------------------------------------------------------


async def test_shutdown_hands_out_queued_keys_then_raises() -> None:
    q, _ = make_queue()
    q.add("a")
    q.shutdown()
    q.add("b")  # refused
    assert await q.get() == "a"
    with pytest.raises(ShutDown):
        await q.get()


async def test_shutdown_wakes_parked_workers() -> None:
    q, _ = make_queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await settle()
    q.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), 1)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_shutdown_with_drain_waits_for_processing() -> None:
    q, _ = make_queue()
    q.add("a")
    key = await q.get()
    drained = asyncio.create_task(q.shutdown_with_drain())
    await settle()
    assert not drained.done()
    q.done(key)
    await asyncio.wait_for(drained, 1)


# ---- delays -----------------------------------------------------------------------


async def test_add_after_waits_for_the_clock() -> None:
    q, clock = make_queue()
    q.add_after("a", 10)
    assert len(q) == 0
    await clock.advance(9.9)
    assert len(q) == 0
    await clock.advance(0.1)
    assert len(q) == 1


async def test_parked_worker_wakes_when_a_delayed_key_is_due() -> None:
    q, clock = make_queue()
    getter = asyncio.create_task(q.get())
    await settle()
    q.add_after("a", 5)
    await settle()
    assert not getter.done()
    await clock.advance(5)
    assert await asyncio.wait_for(getter, 1) == "a"


async def test_earlier_add_after_wins() -> None:
    q, clock = make_queue()
    q.add_after("a", 60)
    q.add_after("a", 1)
    q.add_after("a", 30)  # later than the 1 s already pending: ignored
    await clock.advance(1)
    assert await drain(q) == ["a"]
    await clock.advance(100)
    assert await drain(q) == []  # the 60 s and 30 s entries were superseded


async def test_delayed_keys_come_out_in_deadline_order() -> None:
    q, clock = make_queue()
    q.add_after("c", 3)
    q.add_after("a", 1)
    q.add_after("b", 2)
    await clock.advance(3)
    assert await drain(q) == ["a", "b", "c"]


async def test_add_after_zero_is_an_add() -> None:
    q, _ = make_queue()
    q.add_after("a", 0)
    assert len(q) == 1


async def test_delayed_key_folds_with_queued_key() -> None:
    q, clock = make_queue()
    q.add("a")
    q.add_after("a", 1)
    await clock.advance(1)
    assert await drain(q) == ["a"]


async def test_shutdown_drops_delayed_keys() -> None:
    q, clock = make_queue()
    q.add_after("a", 1)
    q.shutdown()
    await clock.advance(2)
    with pytest.raises(ShutDown):
        await q.get()


# ---- rate limiting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (1, 0.005),
        (2, 0.01),
        (3, 0.02),
        (10, 0.005 * 2**9),
        (18, 655.36),
        (19, 1000.0),
        (200, 1000.0),
    ],
    ids=["first", "second", "third", "tenth", "eighteenth", "capped", "huge-count"],
)
def test_item_exponential_backoff(failures: int, delay: float) -> None:
    limiter = ItemExponentialRateLimiter(0.005, 1000.0)
    got = [limiter.when("k") for _ in range(failures)]
    assert got[-1] == pytest.approx(delay)
    assert limiter.num_requeues("k") == failures


def test_item_backoff_is_per_key_and_forgotten() -> None:
    limiter = ItemExponentialRateLimiter(0.005, 1000.0)
    for _ in range(5):
        limiter.when("a")
    assert limiter.when("b") == pytest.approx(0.005)
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == pytest.approx(0.005)


async def test_bucket_allows_a_burst_then_spaces_requests() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(qps=10, burst=3, clock=clock)
    assert [bucket.when(i) for i in range(3)] == [0, 0, 0]
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)  # reservations queue up
    await clock.advance(10)
    assert bucket.when("z") == 0  # refilled (capped at the burst)


def test_max_of_takes_the_longest_delay() -> None:
    clock = FakeClock()
    limiter = MaxOfRateLimiter(
        ItemExponentialRateLimiter(1.0, 100.0), BucketRateLimiter(1, 1, clock)
    )
    assert limiter.when("a") == 1.0  # item says 1, bucket 0
    assert limiter.when("b") == 1.0  # item says 1, bucket says 1 (empty)
    assert limiter.when("a") == 2.0  # item says 2, bucket says 2
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


async def test_add_rate_limited_backs_off_and_forget_resets() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock, rate_limiter=ItemExponentialRateLimiter(1, 60))
    q.add_rate_limited("a")
    await clock.advance(0.99)
    assert len(q) == 0
    await clock.advance(0.01)
    assert await drain(q) == ["a"]
    q.add_rate_limited("a")  # second failure: 2 s
    await clock.advance(1.5)
    assert len(q) == 0
    await clock.advance(0.5)
    assert await drain(q) == ["a"]
    assert q.num_requeues("a") == 2
    q.forget("a")
    q.add_rate_limited("a")
    await clock.advance(1)
    assert await drain(q) == ["a"]


def test_default_rate_limiter_matches_client_go() -> None:
    limiter = default_rate_limiter(FakeClock())
    assert limiter.when("a") == pytest.approx(0.005)
    assert limiter.when("a") == pytest.approx(0.01)


# ---- concurrency: many workers, many adds, the invariants hold --------------------


async def test_no_key_is_processed_twice_at_once() -> None:
    q: WorkQueue[int] = WorkQueue("stress")
    rng = random.Random(7)
    active: set[int] = set()
    processed: dict[int, int] = {}
    violations: list[int] = []
    last_add: dict[int, int] = {}
    seen_after_add: dict[int, int] = {}
    tick = 0

    async def worker() -> None:
        nonlocal tick
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in active:
                violations.append(key)
            active.add(key)
            tick += 1
            seen_after_add[key] = tick  # this pass observes every add made before it
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            active.discard(key)
            processed[key] = processed.get(key, 0) + 1
            q.done(key)

    async def producer() -> None:
        nonlocal tick
        for _ in range(3000):
            key = rng.randrange(20)
            tick += 1
            last_add[key] = tick
            q.add(key)
            if rng.random() < 0.3:
                await asyncio.sleep(0)

    async with asyncio.TaskGroup() as tg:
        for _ in range(8):
            tg.create_task(worker())
        await producer()
        await q.shutdown_with_drain()
    assert violations == []
    # Rule 3: every key's last add was followed by a processing pass that saw it.
    for key, added in last_add.items():
        assert seen_after_add[key] > added, key
    # Folding: far fewer passes than adds.
    assert sum(processed.values()) < 3000


async def test_every_added_key_is_processed_with_delays_and_retries() -> None:
    clock = FakeClock()
    q: WorkQueue[int] = WorkQueue(clock=clock, rate_limiter=ItemExponentialRateLimiter(0.01, 1))
    failures_left = {k: k % 3 for k in range(30)}
    succeeded: set[int] = set()

    async def worker() -> None:
        while True:
            key = await q.get()
            try:
                if failures_left[key]:
                    failures_left[key] -= 1
                    q.add_rate_limited(key)
                else:
                    q.forget(key)
                    succeeded.add(key)
            finally:
                q.done(key)

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(4)]
        for k in range(30):
            q.add_after(k, (k % 5) * 0.5)
        for _ in range(20):
            await clock.advance(0.5)
        for t in tasks:
            t.cancel()
    assert succeeded == set(range(30))
    assert all(q.num_requeues(k) == 0 for k in range(30))
