"""The reflector against a scripted server: list then watch, re-watch from the last version,
back off on dropped connections, relist on 410, and the watch-list variant."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from client_fakes import HANG, FakeListWatch, RecordingStore, bookmark, cm, expired, page

from tinykube.api import errors
from tinykube.client.clock import FakeClock
from tinykube.client.informers.reflector import Reflector

pytestmark = pytest.mark.unit


async def run_until_idle(
    fake: FakeListWatch, clock: FakeClock | None = None, **kw: object
) -> tuple[RecordingStore, Reflector]:
    """Run a reflector until the script is used up, moving the fake clock past backoffs."""
    clock = clock or FakeClock()
    store = RecordingStore()
    reflector = Reflector(fake, "v1", "configmaps", store, clock=clock, **kw)  # type: ignore[arg-type]
    task = asyncio.create_task(reflector.run())
    try:
        async with asyncio.timeout(5):
            while not fake.idle.is_set():
                await clock.advance(60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return store, reflector


def rvs(calls: list[dict[str, object]]) -> list[object]:
    return [c.get("resource_version") for c in calls]


async def test_lists_then_watches_from_the_list_version() -> None:
    fake = FakeListWatch(
        lists=[page([cm("a", "5")], "7")],
        watches=[[("ADDED", cm("b", "8")), ("MODIFIED", cm("a", "9")), HANG]],
    )
    store, reflector = await run_until_idle(fake)
    assert rvs(fake.list_calls) == ["0"]  # the first list may come from the watch cache
    assert rvs(fake.watch_calls) == ["7"]
    assert store.calls == [("replace", (["a"], "7")), ("add", "b"), ("update", "a")]
    assert reflector.last_sync_resource_version == "9"


async def test_watch_asks_for_bookmarks_and_a_5_to_10_minute_timeout() -> None:
    fake = FakeListWatch(lists=[page([], "1")], watches=[[HANG]])
    await run_until_idle(fake)
    call = fake.watch_calls[0]
    assert call["allow_bookmarks"] is True
    assert 300 <= call["timeout_seconds"] < 600


async def test_list_items_get_their_kind_back() -> None:
    fake = FakeListWatch(lists=[page([cm("a", "5")], "7")], watches=[[HANG]])
    seen = []

    class Store(RecordingStore):
        def replace(self, items, resource_version):  # type: ignore[no-untyped-def]
            seen.extend(items)

    reflector = Reflector(fake, "v1", "configmaps", Store(), clock=FakeClock())  # type: ignore[arg-type]
    task = asyncio.create_task(reflector.run())
    await asyncio.wait_for(fake.idle.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert seen[0]["kind"] == "ConfigMap"
    assert seen[0]["apiVersion"] == "v1"


async def test_paged_list_follows_continue() -> None:
    fake = FakeListWatch(
        lists=[page([cm("a", "2")], "9", cont="tok"), page([cm("b", "3")], "9")],
        watches=[[HANG]],
    )
    store, _ = await run_until_idle(fake, page_size=1)
    assert [c["continue_"] for c in fake.list_calls] == ["", "tok"]
    assert rvs(fake.list_calls) == ["0", None]  # the token pins the snapshot
    assert all(c["limit"] == 1 for c in fake.list_calls)
    assert store.calls == [("replace", (["a", "b"], "9"))]


async def test_normal_close_rewatches_from_the_last_version() -> None:
    fake = FakeListWatch(
        lists=[page([], "3")],
        watches=[[("ADDED", cm("a", "4"))], [("ADDED", cm("b", "5"))], [HANG]],
    )
    await run_until_idle(fake)
    assert rvs(fake.watch_calls) == ["3", "4", "5"]
    assert len(fake.list_calls) == 1


async def test_bookmarks_advance_the_resume_version() -> None:
    fake = FakeListWatch(lists=[page([], "3")], watches=[[bookmark("40")], [HANG]])
    store, _ = await run_until_idle(fake)
    assert rvs(fake.watch_calls) == ["3", "40"]
    assert store.calls == [("replace", ([], "3"))]  # bookmarks change nothing in the store


@pytest.mark.parametrize(
    "failure",
    [
        aiohttp.ClientConnectionError("refused"),
        ConnectionResetError(),
        aiohttp.ServerDisconnectedError(),
        errors.ServiceUnavailable("restarting"),
        errors.TooManyRequests("slow down"),
    ],
    ids=["refused", "reset", "disconnected", "503", "429"],
)
async def test_transport_failure_rewatches_without_relist(failure: Exception) -> None:
    fake = FakeListWatch(lists=[page([], "3")], watches=[failure, [HANG]])
    clock = FakeClock()
    start = clock.now()
    await run_until_idle(fake, clock)
    assert rvs(fake.watch_calls) == ["3", "3"]
    assert len(fake.list_calls) == 1
    assert clock.now() > start  # it backed off


async def test_dropped_stream_rewatches_from_the_last_event() -> None:
    fake = FakeListWatch(
        lists=[page([], "3")],
        watches=[[("ADDED", cm("a", "4")), aiohttp.ClientPayloadError("cut")], [HANG]],
    )
    await run_until_idle(fake)
    assert rvs(fake.watch_calls) == ["3", "4"]
    assert len(fake.list_calls) == 1


@pytest.mark.parametrize(
    "gone",
    [[expired()], errors.Expired("too old resource version: 3 (9)"), errors.Gone("gone")],
    ids=["error-event", "http-410-expired", "http-410-gone"],
)
async def test_410_relists_with_a_consistent_read(gone: object) -> None:
    fake = FakeListWatch(
        lists=[page([cm("a", "2")], "3"), page([cm("b", "8")], "9")],
        watches=[gone, [HANG]],
    )
    store, _ = await run_until_idle(fake)
    assert rvs(fake.list_calls) == ["0", ""]
    assert rvs(fake.watch_calls) == ["3", "9"]
    assert store.calls == [("replace", (["a"], "3")), ("replace", (["b"], "9"))]


async def test_expired_first_list_retries_consistently() -> None:
    fake = FakeListWatch(
        lists=[errors.Expired("too old"), page([], "9")],
        watches=[[HANG]],
    )
    await run_until_idle(fake)
    assert rvs(fake.list_calls) == ["0", ""]


async def test_too_large_resource_version_relists_consistently() -> None:
    too_large = errors.Timeout("Too large resource version: 90, current: 12")
    fake = FakeListWatch(lists=[too_large, page([], "12")], watches=[[HANG]])
    await run_until_idle(fake)
    assert rvs(fake.list_calls) == ["0", ""]


async def test_failed_list_backs_off_and_retries() -> None:
    fake = FakeListWatch(
        lists=[
            aiohttp.ClientConnectionError("refused"),
            errors.InternalError("boom"),
            page([], "2"),
        ],
        watches=[[HANG]],
    )
    clock = FakeClock()
    start = clock.now()
    await run_until_idle(fake, clock)
    assert len(fake.list_calls) == 3
    assert clock.now() - start >= 0.8 + 1.6  # two backoffs


async def test_watch_that_closes_at_once_is_backed_off() -> None:
    fake = FakeListWatch(lists=[page([], "3")], watches=[[], [], [HANG]])
    clock = FakeClock()
    start = clock.now()
    await run_until_idle(fake, clock)
    assert rvs(fake.watch_calls) == ["3", "3", "3"]
    assert len(fake.list_calls) == 1
    assert clock.now() - start >= 0.8 + 1.6


async def test_other_api_errors_back_off_then_relist() -> None:
    fake = FakeListWatch(
        lists=[page([], "3"), page([], "5")],
        watches=[errors.Forbidden("no"), [HANG]],
    )
    await run_until_idle(fake)
    assert len(fake.list_calls) == 2
    assert rvs(fake.watch_calls) == ["3", "5"]


# ---- watch-list (sendInitialEvents) -------------------------------------------------


async def test_watch_list_replaces_at_the_initial_events_bookmark() -> None:
    fake = FakeListWatch(
        watches=[
            [
                ("ADDED", cm("a", "2")),
                ("ADDED", cm("b", "3")),
                bookmark("5", initial_end=True),
                ("ADDED", cm("c", "6")),
                HANG,
            ]
        ]
    )
    store, reflector = await run_until_idle(fake, use_watch_list=True)
    assert fake.list_calls == []
    assert fake.watch_calls[0]["send_initial_events"] is True
    assert store.calls == [("replace", (["a", "b"], "5")), ("add", "c")]
    assert reflector.last_sync_resource_version == "6"


async def test_watch_list_falls_back_to_list_when_refused() -> None:
    fake = FakeListWatch(
        lists=[page([], "4")],
        watches=[errors.Invalid("sendInitialEvents: Forbidden"), [HANG]],
    )
    _, reflector = await run_until_idle(fake, use_watch_list=True)
    assert len(fake.list_calls) == 1
    assert fake.watch_calls[1]["send_initial_events"] is None
    assert reflector.use_watch_list is False


async def test_watch_list_ended_early_starts_over() -> None:
    fake = FakeListWatch(
        watches=[
            [("ADDED", cm("a", "2"))],  # closed before the end-of-initial-events bookmark
            [("ADDED", cm("a", "2")), bookmark("3", initial_end=True), HANG],
        ]
    )
    store, _ = await run_until_idle(fake, use_watch_list=True)
    assert store.calls == [("replace", (["a"], "3"))]
