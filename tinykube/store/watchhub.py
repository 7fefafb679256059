"""In-process watch fan-out, and the replay-then-follow algorithm both drivers share.

Each driver is the only writer of its log, so it knows every change the moment
it commits: it hands the committed events to ``WatchHub.publish`` on the event
loop, in revision order, and the hub appends each one to the queue of every
subscriber whose prefix matches. No polling, no gaps to fill (kine needs both
because other processes write to its table; we do not allow that).

A watch from an older revision must join history and live events without a gap
or a duplicate. ``follow_log`` does it in this order, all on the loop:

1. subscribe (from now on every published event lands in our queue);
2. read the driver's current revision ``upto`` with no await in between, so
   every event above ``upto`` is in the queue and every event at or below it
   is already committed to the log;
3. replay ``(from_revision, upto]`` from the log (the driver raises
   ``Compacted`` there if that history is gone);
4. drain the queue, which starts exactly at ``upto + 1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Final

from tinykube.store.interface import Event

_CLOSED: Final = None

Replay = Callable[[str, int, int], AsyncIterator[Event]]


class Subscription:
    """One watcher's queue of live events. Unbounded: the API server's watch
    cache is the consumer and keeps up; a per-watcher cap belongs there."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def offer(self, event: Event) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._queue.put_nowait(_CLOSED)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self._queue.get()) is not _CLOSED:
            yield event


class WatchHub:
    """The set of live subscriptions of one store. Loop-thread only."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    def publish(self, events: Iterable[Event]) -> None:
        """Deliver committed events, which must come in revision order."""
        if not self._subscriptions:
            return
        for event in events:
            key = event.kv.key
            for sub in self._subscriptions:
                if key.startswith(sub.prefix):
                    sub.offer(event)

    @contextmanager
    def subscribe(self, prefix: str) -> Iterator[Subscription]:
        sub = Subscription(prefix)
        if self._closed:
            sub.close()
        self._subscriptions.add(sub)
        try:
            yield sub
        finally:
            self._subscriptions.discard(sub)

    def close(self) -> None:
        """End every watch (their iterators stop) and refuse new ones."""
        self._closed = True
        for sub in self._subscriptions:
            sub.close()

    def __len__(self) -> int:
        return len(self._subscriptions)


async def follow_log(
    hub: WatchHub,
    prefix: str,
    from_revision: int,
    current_revision: Callable[[], int],
    replay: Replay,
) -> AsyncIterator[Event]:
    """Every event under ``prefix`` above ``from_revision``: history, then live."""
    with hub.subscribe(prefix) as sub:
        upto = current_revision()  # no await since subscribe: see module docstring
        async for event in replay(prefix, from_revision, upto):
            yield event
        floor = max(from_revision, upto)
        async for event in sub:
            if event.revision > floor:
                yield event
