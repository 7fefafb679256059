"""A scripted list/watch client for reflector and informer tests.

Each ``list`` call takes the next entry of ``lists`` and each ``watch`` call the
next entry of ``watches``; an entry that is an exception is raised, a watch
entry is a list of events (an exception inside it is raised mid-stream) and
``HANG`` parks the stream until the test cancels it. Every call is recorded
with its arguments so tests assert on what the reflector asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

HANG = object()


def cm(name: str, rv: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv},
        "data": data,
    }


def page(items: list[dict[str, Any]], rv: str, cont: str = "") -> dict[str, Any]:
    meta = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    stripped = [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items]
    return {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": meta, "items": stripped}


def bookmark(rv: str, initial_end: bool = False) -> tuple[str, dict[str, Any]]:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return "BOOKMARK", {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta}


def expired(rv: str = "1") -> tuple[str, dict[str, Any]]:
    return "ERROR", {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": "Expired",
        "code": 410,
        "message": f"too old resource version: {rv} (100)",
    }


class FakeListWatch:
    def __init__(self, lists: list[Any] | None = None, watches: list[Any] | None = None) -> None:
        self.lists = list(lists or [])
        self.watches = list(watches or [])
        self.list_calls: list[dict[str, Any]] = []
        self.watch_calls: list[dict[str, Any]] = []
        self.idle = asyncio.Event()  # set whenever a stream parks on HANG or scripts run out

    async def list(self, api_version: str, resource: str, namespace: str = "", **kw: Any) -> Any:
        self.list_calls.append(kw)
        if not self.lists:
            self.idle.set()
            await asyncio.Event().wait()
        entry = self.lists.pop(0)
        if isinstance(entry, BaseException):
            raise entry
        return entry

    async def watch(
        self, api_version: str, resource: str, namespace: str = "", **kw: Any
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        self.watch_calls.append(kw)
        if not self.watches:
            self.idle.set()
            await asyncio.Event().wait()
        entry = self.watches.pop(0)
        if isinstance(entry, BaseException):
            raise entry
        for event in entry:
            if event is HANG:
                self.idle.set()
                await asyncio.Event().wait()
            if isinstance(event, BaseException):
                raise event
            yield event


class RecordingStore:
    """A ReflectorStore that records what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None:
        self.calls.append(("replace", ([i["metadata"]["name"] for i in items], resource_version)))

    def add(self, obj: dict[str, Any]) -> None:
        self.calls.append(("add", obj["metadata"]["name"]))

    def update(self, obj: dict[str, Any]) -> None:
        self.calls.append(("update", obj["metadata"]["name"]))

    def delete(self, obj: dict[str, Any]) -> None:
        self.calls.append(("delete", obj["metadata"]["name"]))
