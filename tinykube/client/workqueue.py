"""The work queue between informer events and controller workers.

Controllers do not act on events; they put the *key* of an object that may
need work (``namespace/name``) on this queue, and workers take keys off it and
reconcile the object's whole state. That is what makes controllers level
triggered, and it is why the queue's guarantees, which are client-go's
(``util/workqueue``), matter more than its speed:

1. **A key is never processed by two workers at once.** A key handed out by
   ``get()`` is *processing* until the worker calls ``done(key)``.
2. **Adds fold.** Adding a key that is already waiting does nothing: ten
   events for one object before a worker gets to it cause one reconcile.
3. **Adds while processing are not lost.** A key added while it is being
   processed is marked *dirty* and goes back on the queue when ``done`` is
   called, so the worker's next pass sees the newer state.
4. **Fairness.** Keys come out in the order they were first added.

On top of the plain queue sit delayed adds (``add_after``: "look again in 30
s") and rate-limited adds (``add_rate_limited``: retry a failed key with
per-key exponential backoff, 5 ms doubling to 1000 s, combined with an overall
token bucket of 10 per second with a burst of 100, taking the longer of the
two delays, as client-go's ``DefaultControllerRateLimiter`` does).
``forget(key)`` clears a key's failure count after a success.

The three sets, and where a key can be:

    add ──► dirty ∩ queue ──get──► processing ──done──► (gone)
                ▲                      │ add while processing
                └──────── done ◄── dirty ∩ processing

Everything runs on one event loop, so no locks: a method that does not await
is atomic. Waiting workers park on futures; an add wakes exactly one of them.
Time comes from an injectable ``Clock`` so tests jump over delays.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from tinykube.client.clock import REAL_CLOCK, Clock, Handle

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """``get()`` on a queue that is shut down and has nothing left to hand out."""


# ---- rate limiters ------------------------------------------------------------


class RateLimiter(Protocol):
    """How long a key must wait before its next retry."""

    def when(self, key: Hashable) -> float: ...

    def forget(self, key: Hashable) -> None: ...

    def num_requeues(self, key: Hashable) -> int: ...


class ItemExponentialRateLimiter:
    """Per key: ``base * 2**(failures-1)``, capped at ``max_delay``."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base = base
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        # 2**failures grows without bound; cap the exponent before it overflows a float.
        if failures > 60:
            return self.max_delay
        return min(self.base * (2**failures), self.max_delay)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """An overall token bucket: ``qps`` tokens a second, holding at most ``burst``.

    Each ``when`` reserves one token; when the bucket is empty the delay is the
    time until the reserved token will have been refilled (so reservations
    queue up behind each other, as golang.org/x/time/rate's ``Reserve`` does).
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = REAL_CLOCK) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._last = clock.now()

    def when(self, key: Hashable) -> float:
        now = self.clock.now()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, key: Hashable) -> None:
        return None  # the bucket is shared; nothing per key to forget

    def num_requeues(self, key: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of several limiters asks for."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, key: Hashable) -> float:
        # Every limiter must see every failure (each keeps its own count), so no
        # short-circuit here.
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_rate_limiter(clock: Clock = REAL_CLOCK) -> RateLimiter:
    """client-go's default: per key 5 ms doubling to 1000 s, overall 10 qps burst 100."""
    return MaxOfRateLimiter(
        ItemExponentialRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100, clock)
    )


# ---- the queue -------------------------------------------------------------------


class WorkQueue(Generic[K]):
    """A de-duplicating, delaying, rate-limited queue of keys (see the module docstring)."""

    def __init__(
        self,
        name: str = "",
        *,
        clock: Clock = REAL_CLOCK,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.name = name
        self.clock = clock
        self.rate_limiter = rate_limiter or default_rate_limiter(clock)
        self._queue: deque[K] = deque()  # ready keys, in order; each also in _dirty
        self._dirty: set[K] = set()  # keys that need processing (queued or re-queued)
        self._processing: set[K] = set()  # keys handed to a worker, not yet done
        self._waiters: deque[asyncio.Future[None]] = deque()  # workers parked in get()
        self._shutting_down = False
        self._drained: asyncio.Event | None = None
        # Delayed adds: a heap of (ready_at, seq, key) plus the earliest time per
        # key, so a key waiting for 60 s that is asked for again in 1 s moves up
        # (client-go keeps only the earliest) and stale heap entries are skipped.
        self._delayed: list[tuple[float, int, K]] = []
        self._ready_at: dict[K, float] = {}
        self._seq = itertools.count()

    # ---- plain queue ----

    def add(self, key: K) -> None:
        """Mark ``key`` as needing work; folds with a waiting add (see rules 2 and 3)."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done(); never handed to a second worker
        self._queue.append(key)
        self._wake_one()

    async def get(self) -> K:
        """The next key to work on; the caller must call ``done(key)`` when finished.

        Waits while nothing is ready. After ``shutdown()`` the keys already
        queued are still handed out, then ``ShutDown`` is raised.
        """
        while True:
            self._promote_due()
            if self._queue:
                key = self._queue.popleft()
                self._processing.add(key)
                self._dirty.discard(key)
                return key
            if self._shutting_down:
                raise ShutDown(self.name)
            await self._park()

    def done(self, key: K) -> None:
        """Finish processing ``key``; if it was added meanwhile it is queued again."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()
        if self._drained is not None and not self._processing:
            self._drained.set()

    def __len__(self) -> int:
        """Keys ready to be handed out (not those processing or still delayed)."""
        self._promote_due()
        return len(self._queue)

    def is_processing(self, key: K) -> bool:
        return key in self._processing

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        """Refuse new adds, drop delayed ones, and wake every parked worker."""
        self._shutting_down = True
        self._delayed.clear()
        self._ready_at.clear()
        while self._waiters:
            self._wake_one()

    async def shutdown_with_drain(self) -> None:
        """``shutdown()``, then wait until every key being processed is done."""
        self.shutdown()
        if self._processing:
            self._drained = asyncio.Event()
            await self._drained.wait()

    # ---- delays and rate limiting ----

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed (at once if ``delay <= 0``)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self.clock.now() + delay
        current = self._ready_at.get(key)
        if current is not None and current <= ready_at:
            return  # already due earlier; the earlier time wins
        self._ready_at[key] = ready_at
        heapq.heappush(self._delayed, (ready_at, next(self._seq), key))
        # A parked worker may be waiting for a later deadline (or none): wake one
        # so it re-arms its timer for this earlier one.
        self._wake_one()

    def add_rate_limited(self, key: K) -> None:
        """Retry ``key`` after the rate limiter's delay (backoff grows per failure)."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Stop tracking ``key``'s failures (call after it succeeds)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.num_requeues(key)

    # ---- internals ----

    def _promote_due(self) -> None:
        """Move delayed keys whose time has come onto the queue."""
        now = self.clock.now()
        while self._delayed and self._delayed[0][0] <= now:
            ready_at, _, key = heapq.heappop(self._delayed)
            if self._ready_at.get(key) != ready_at:
                continue  # superseded by an earlier add_after for the same key
            del self._ready_at[key]
            self.add(key)

    def _next_deadline(self) -> float | None:
        while self._delayed and self._ready_at.get(self._delayed[0][2]) != self._delayed[0][0]:
            heapq.heappop(self._delayed)  # drop stale entries so the head is live
        return self._delayed[0][0] if self._delayed else None

    async def _park(self) -> None:
        """Wait until an add, a shutdown or the next delayed key's deadline."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        deadline = self._next_deadline()
        timer: Handle | None = None
        if deadline is not None:
            timer = self.clock.call_at(deadline, lambda: _resolve(fut))
        try:
            await fut
        except asyncio.CancelledError:
            # If an add woke us just as we were cancelled, the wake-up would be
            # lost and the key would sit in the queue with workers asleep: pass
            # it on to the next parked worker.
            if fut.done() and not fut.cancelled():
                self._wake_one()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _wake_one(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
