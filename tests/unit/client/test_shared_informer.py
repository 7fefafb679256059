"""The shared informer: cache first, then handlers; relists become adds, updates and
unwrapped deletes; late handlers catch up; resync; a failing handler is contained."""

from __future__ import annotations

import asyncio

import pytest
from client_fakes import HANG, FakeListWatch, cm, page

from tinykube.client.clock import FakeClock, settle
from tinykube.client.informers.factory import InformerFactory
from tinykube.client.informers.informer import SharedInformer

pytestmark = pytest.mark.unit


def recorder(informer: SharedInformer) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    informer.add_handler(
        lambda o: events.append(("add", o["metadata"]["name"])),
        lambda old, new: events.append(("update", new["metadata"]["name"])),
        lambda o: events.append(("delete", o["metadata"]["name"])),
    )
    return events


def make(fake: FakeListWatch, **kw: object) -> SharedInformer:
    return SharedInformer(fake, "v1", "configmaps", clock=kw.pop("clock", FakeClock()), **kw)  # type: ignore[arg-type]


async def test_replace_then_events_reach_handlers_and_cache() -> None:
    informer = make(FakeListWatch())
    events = recorder(informer)
    assert not informer.has_synced
    informer.replace([cm("a", "1"), cm("b", "2")], "2")
    assert informer.has_synced
    informer.add(cm("c", "3"))
    informer.update(cm("a", "4"))
    informer.delete(cm("b", "5"))
    assert events == [("add", "a"), ("add", "b"), ("add", "c"), ("update", "a"), ("delete", "b")]
    assert sorted(o["metadata"]["name"] for o in informer.list()) == ["a", "c"]
    assert informer.get("default/a")["metadata"]["resourceVersion"] == "4"


async def test_relist_yields_updates_adds_and_plain_deletes() -> None:
    informer = make(FakeListWatch())
    informer.replace([cm("a", "1"), cm("gone", "2")], "2")
    deleted: list[dict] = []
    events = recorder(informer)
    informer.add_handler(on_delete=deleted.append)
    events.clear()
    informer.replace([cm("a", "5"), cm("new", "6")], "6")
    assert sorted(events) == [("add", "new"), ("delete", "gone"), ("update", "a")]
    # the tombstone is unwrapped: the handler gets the last known object itself
    assert deleted == [cm("gone", "2")]


async def test_cache_is_written_before_handlers_run() -> None:
    informer = make(FakeListWatch())
    seen = []
    informer.add_handler(on_add=lambda o: seen.append(informer.get("default/a") is o))
    informer.replace([], "1")
    informer.add(cm("a", "2"))
    assert seen == [True]


async def test_late_handler_gets_the_current_objects() -> None:
    informer = make(FakeListWatch())
    informer.replace([cm("a", "1"), cm("b", "1")], "1")
    events = recorder(informer)
    assert sorted(events) == [("add", "a"), ("add", "b")]


async def test_failing_handler_does_not_stop_the_others() -> None:
    informer = make(FakeListWatch())

    def broken(obj: dict) -> None:
        raise RuntimeError("boom")

    informer.add_handler(on_add=broken)
    events = recorder(informer)
    informer.replace([cm("a", "1")], "1")
    assert events == [("add", "a")]


async def test_removed_handler_hears_nothing() -> None:
    informer = make(FakeListWatch())
    seen: list[dict] = []
    handler = informer.add_handler(on_add=seen.append)
    informer.remove_handler(handler)
    informer.replace([cm("a", "1")], "1")
    assert seen == []


async def test_resync_calls_update_with_the_same_object() -> None:
    clock = FakeClock()
    fake = FakeListWatch(lists=[page([cm("a", "1")], "1")], watches=[[HANG]])
    informer = make(fake, clock=clock, resync_period=30)
    pairs: list[tuple[dict, dict]] = []
    informer.add_handler(on_update=lambda old, new: pairs.append((old, new)))
    task = asyncio.create_task(informer.run())
    await asyncio.wait_for(informer.wait_synced(), 5)
    await clock.advance(29)
    assert pairs == []
    await clock.advance(1)
    assert len(pairs) == 1
    assert pairs[0][0] is pairs[0][1]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_run_syncs_from_the_reflector() -> None:
    fake = FakeListWatch(
        lists=[page([cm("a", "1")], "1")], watches=[[("ADDED", cm("b", "2")), HANG]]
    )
    informer = make(fake)
    events = recorder(informer)
    task = asyncio.create_task(informer.run())
    await asyncio.wait_for(fake.idle.wait(), 5)
    assert events == [("add", "a"), ("add", "b")]
    assert informer.last_sync_resource_version == "2"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_factory_shares_one_informer_per_collection() -> None:
    factory = InformerFactory(FakeListWatch())
    a = factory.get("v1", "configmaps")
    assert factory.get("v1", "ConfigMap") is a  # kind or plural, same collection
    assert factory.get("v1", "configmaps", "ns") is not a
    assert factory.get("v1", "configmaps", label_selector="x=y") is not a
    assert factory.get("apps/v1", "deployments") is not a
    assert len(factory.informers()) == 4


async def test_factory_starts_informers_created_after_run() -> None:
    fake = FakeListWatch(lists=[page([], "1"), page([], "1")], watches=[[HANG], [HANG]])
    factory = InformerFactory(fake, clock=FakeClock())
    first = factory.get("v1", "configmaps")
    task = asyncio.create_task(factory.run())
    await asyncio.wait_for(factory.wait_synced(), 5)
    late = factory.get("v1", "secrets")
    await settle()
    await asyncio.wait_for(late.wait_synced(), 5)
    assert first.has_synced and factory.has_synced
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
