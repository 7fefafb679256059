"""Informers against a real API server: events reach handlers, a restarted server is
resumed from the last resourceVersion without a relist, and a compacted one is relisted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cluster import ApiServer

from tinykube.client import Client
from tinykube.client.informers import InformerFactory, SharedInformer
from tinykube.store.registry import open_store

pytestmark = pytest.mark.integration


class CountingClient:
    """A client that records the resourceVersion of every LIST it makes."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.lists: list[Any] = []

    async def list(self, *args: Any, **kw: Any) -> dict[str, Any]:
        self.lists.append(kw.get("resource_version"))
        return await self.client.list(*args, **kw)

    def watch(self, *args: Any, **kw: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        return self.client.watch(*args, **kw)


class Recorder:
    """Handlers that log events and let a test wait for one."""

    def __init__(self, informer: SharedInformer) -> None:
        self.events: list[tuple[str, str]] = []
        self.objects: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        informer.add_handler(
            lambda o: self._record("add", o),
            lambda _old, new: self._record("update", new),
            lambda o: self._record("delete", o),
        )

    def _record(self, kind: str, obj: dict[str, Any]) -> None:
        self.events.append((kind, obj["metadata"]["name"]))
        self.objects.append(obj)
        self._changed.set()

    async def wait_for(self, event: tuple[str, str], within: float = 30) -> None:
        async with asyncio.timeout(within):
            while event not in self.events:
                self._changed.clear()
                await self._changed.wait()


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data}


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(apiserver.kubeconfig) as c:
        yield c


async def test_informer_sees_adds_updates_and_deletes(client: Client) -> None:
    ns = f"inf-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": ns}})
    await client.create("v1", "configmaps", cm("before"), ns)
    factory = InformerFactory(client)
    informer = factory.get("v1", "configmaps", namespace=ns)
    assert factory.get("v1", "ConfigMap", namespace=ns) is informer
    seen = Recorder(informer)
    async with asyncio.TaskGroup() as tg:
        task = factory.start(tg)
        await asyncio.wait_for(factory.wait_synced(), 10)
        assert ("add", "before") in seen.events
        await client.create("v1", "configmaps", cm("x", a="1"), ns)
        await seen.wait_for(("add", "x"))
        await client.patch("v1", "configmaps", "x", {"data": {"a": "2"}}, ns)
        await seen.wait_for(("update", "x"))
        assert informer.get(f"{ns}/x")["data"] == {"a": "2"}
        await client.delete("v1", "configmaps", "x", ns)
        await seen.wait_for(("delete", "x"))
        assert informer.get(f"{ns}/x") is None
        assert "before" in [o["metadata"]["name"] for o in informer.list(ns)]
        task.cancel()


async def test_label_selected_informer_sees_objects_enter_and_leave(client: Client) -> None:
    ns = f"inf-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": ns}})
    informer = SharedInformer(client, "v1", "configmaps", namespace=ns, label_selector="app=web")
    seen = Recorder(informer)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 10)
        body = cm("w")
        body["metadata"]["labels"] = {"app": "web"}
        await client.create("v1", "configmaps", body, ns)
        await seen.wait_for(("add", "w"))
        await client.patch("v1", "configmaps", "w", {"metadata": {"labels": {"app": "db"}}}, ns)
        await seen.wait_for(("delete", "w"))  # no longer matches: gone from this informer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _start_informer(server: ApiServer) -> tuple[Client, CountingClient, SharedInformer]:
    client = await Client.from_kubeconfig(server.kubeconfig)
    counting = CountingClient(client)
    informer = SharedInformer(counting, "v1", "configmaps", namespace="default")
    return client, counting, informer


async def test_informer_resumes_after_server_restart(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "data")
    server.start()
    client, counting, informer = await _start_informer(server)
    seen = Recorder(informer)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 10)
        await client.create("v1", "configmaps", cm("one"), "default")
        await seen.wait_for(("add", "one"))
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        await client.create("v1", "configmaps", cm("two"), "default")
        await seen.wait_for(("add", "two"))
        assert counting.lists == ["0"]  # resumed by watching from the last version: no relist
        assert {"one", "two"} <= {o["metadata"]["name"] for o in informer.list()}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        server.stop()


async def _change_and_compact_offline(data_dir: Path) -> None:
    """While the server is down: delete one object, add another, compact all history."""
    store = await open_store(f"sqlite:///{(data_dir / 'state.db').resolve()}")
    try:
        old = await store.get("/registry/configmaps/default/doomed")
        assert old is not None
        await store.delete("/registry/configmaps/default/doomed", old.mod_revision)
        fresh = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "offline",
                "namespace": "default",
                "uid": str(uuid.uuid4()),
                "creationTimestamp": "2026-01-01T00:00:00Z",
            },
            "data": {"made": "offline"},
        }
        await store.create("/registry/configmaps/default/offline", orjson.dumps(fresh))
        await store.compact(await store.current_revision())
    finally:
        await store.close()


async def test_informer_relists_after_410(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "data")
    server.start()
    client, counting, informer = await _start_informer(server)
    seen = Recorder(informer)
    task = asyncio.create_task(informer.run())
    try:
        await client.create("v1", "configmaps", cm("doomed", keep="no"), "default")
        await asyncio.wait_for(informer.wait_synced(), 10)
        await seen.wait_for(("add", "doomed"))
        await asyncio.to_thread(server.stop)
        await _change_and_compact_offline(server.data_dir)
        await asyncio.to_thread(server.start)
        # The watch resumes from a compacted version: 410, then a consistent relist whose
        # difference with the cache is handed out as plain add and delete events.
        await seen.wait_for(("add", "offline"))
        await seen.wait_for(("delete", "doomed"))
        assert counting.lists == ["0", ""]
        gone = next(o for o in seen.objects if o["metadata"]["name"] == "doomed")
        assert gone["data"] == {"keep": "no"}  # the last state the cache knew, unwrapped
        assert informer.get("default/doomed") is None
        assert informer.get("default/offline")["data"] == {"made": "offline"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        server.stop()


async def test_watch_list_informer_needs_no_list(client: Client) -> None:
    ns = f"inf-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": ns}})
    await client.create("v1", "configmaps", cm("initial"), ns)
    counting = CountingClient(client)
    informer = SharedInformer(counting, "v1", "configmaps", namespace=ns, use_watch_list=True)
    seen = Recorder(informer)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 10)
        assert informer.get(f"{ns}/initial") is not None
        await client.create("v1", "configmaps", cm("live"), ns)
        await seen.wait_for(("add", "live"))
        assert counting.lists == []  # the initial state came through the watch stream
        assert informer.reflector.use_watch_list
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
