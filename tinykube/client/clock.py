"""Time, injectable: the real loop clock, and a fake one tests can jump.

Everything in the client that waits for time to pass (the work queue's
delayed adds and backoffs, the reflector's watch backoff, leader election's
renew and retry periods, informer resync) asks a ``Clock`` instead of calling
``asyncio.sleep`` or ``time.monotonic`` itself. Tests then hand in a
``FakeClock`` and move time with ``advance()``: a 1000-second backoff is
checked without waiting 1000 seconds, and nothing depends on how busy the
test machine is (trio's ``MockClock`` is the model).

A clock has three operations: ``now()`` (monotonic seconds), ``call_at()``
(run a plain callback at a time, returning a cancellable handle) and
``sleep()``. ``call_at`` is what lets the work queue wait for "an add or the
next delayed item, whichever comes first" without a background task.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time in seconds, timers and sleeping."""

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """``time.monotonic`` and the running event loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle:
        delay = max(0.0, when - self.now())
        return asyncio.get_running_loop().call_later(delay, callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


REAL_CLOCK = RealClock()


class _Timer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when a test calls ``advance``.

    Timers due at or before the new time fire in deadline order during
    ``advance``; sleepers wake when their deadline passes. ``advance`` is
    async and yields to the loop after firing so woken tasks get to run.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle:
        timer = _Timer(callback)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        fut = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        handle = self.call_at(self._now + max(0.0, seconds), wake)
        try:
            await fut
        finally:
            handle.cancel()

    def pending(self) -> int:
        """How many live timers are waiting (sleepers included)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers in order, and let woken tasks run.

        Tasks woken by a timer run before the next timer fires, so a loop that
        sleeps again (a renew loop, a backoff) sees each of its deadlines.
        """
        target = self._now + seconds
        await settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if not timer.cancelled:
                timer.callback()
                await settle()
        self._now = target
        await settle()


async def settle(rounds: int = 20) -> None:
    """Give other tasks a chance to run: a few loop turns without real time passing."""
    for _ in range(rounds):
        await asyncio.sleep(0)
