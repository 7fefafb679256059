"""The in-process fan-out under both drivers' watches."""

import asyncio

import pytest

from tinykube.store.interface import Event, EventType, KeyValue
from tinykube.store.watchhub import WatchHub

pytestmark = pytest.mark.unit


def added(key: str, revision: int) -> Event:
    return Event(EventType.ADDED, KeyValue(key, b"v", revision, revision), None)


async def drain(events: object, count: int) -> list[Event]:
    got = []
    async with asyncio.timeout(5):
        async for event in events:  # type: ignore[attr-defined]
            got.append(event)
            if len(got) == count:
                break
    return got


async def test_publish_reaches_matching_subscriptions_in_order() -> None:
    hub = WatchHub()
    with hub.subscribe("/registry/pods/a/") as pods_a, hub.subscribe("/registry/") as everything:
        events = [added("/registry/pods/a/x", 1), added("/registry/pods/ab/x", 2)]
        events.append(added("/registry/pods/a/y", 3))
        hub.publish(events)
        assert await drain(pods_a, 2) == [events[0], events[2]]
        assert await drain(everything, 3) == events


async def test_leaving_the_block_unsubscribes() -> None:
    hub = WatchHub()
    with hub.subscribe("/"):
        assert len(hub) == 1
    assert len(hub) == 0


async def test_close_ends_current_and_later_subscriptions() -> None:
    hub = WatchHub()
    with hub.subscribe("/") as sub:
        hub.publish([added("/a", 1)])
        hub.close()
        assert [e async for e in sub] == [added("/a", 1)]
    with hub.subscribe("/") as late:
        assert [e async for e in late] == []
