"""The one retry delay every client loop uses: exponential, capped, jittered.

Reflectors re-watching after a dropped connection, leader electors retrying a
Lease, anything that must not hammer a struggling API server, wait through a
``Backoff``. Jitter spreads many clients that failed at the same instant (an
API server restart) so they do not all come back at the same instant too.
``reset()`` after a success returns the delay to its start.
"""

from __future__ import annotations

import random

from tinykube.client.clock import REAL_CLOCK, Clock


class Backoff:
    """Delays ``initial * factor**n`` capped at ``cap``, each plus up to ``jitter`` of itself."""

    def __init__(
        self,
        initial: float = 0.8,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        *,
        clock: Clock = REAL_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self.clock = clock
        self._rng = rng or random.Random()
        self._current = initial

    def next_delay(self) -> float:
        """The delay to wait now; the following one will be longer (up to the cap)."""
        base = self._current
        self._current = min(self.cap, self._current * self.factor)
        return min(self.cap, base + base * self.jitter * self._rng.random())

    async def sleep(self) -> float:
        """Wait the next delay; returns how long that was."""
        delay = self.next_delay()
        await self.clock.sleep(delay)
        return delay

    def reset(self) -> None:
        self._current = self.initial
