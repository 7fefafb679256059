"""Recording Kubernetes Events: what a controller did, where ``kubectl describe`` shows it.

A controller calls ``recorder.event(obj, "Normal", "SuccessfulCreate", "Created
pod: web-x7k2p")`` from its sync code; that call never blocks and never fails.
The event goes on a bounded queue that ``run()`` drains by POSTing core/v1
Events. A full queue drops the event (and logs it): losing an Event is better
than stalling a controller, which is also client-go's trade-off.

Repeats are aggregated as client-go's ``EventCorrelator`` does for identical
events: the same (object, type, reason, message) from the same component
PATCHes ``count`` and ``lastTimestamp`` of the Event already posted instead of
creating another, so a controller retrying every few seconds produces one
Event with ``count: 40``, not forty. The memory of posted events is an LRU of
``CACHE_SIZE`` entries. If the Event is gone (its TTL expired) the recorder
posts a new one.

Events about cluster-scoped objects (Nodes) are stored in ``default``, as
upstream does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tinykube.api import errors
from tinykube.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NORMAL = "Normal"
WARNING = "Warning"
QUEUE_SIZE = 1000
CACHE_SIZE = 4096


@dataclass
class _Posted:
    namespace: str
    name: str
    count: int
    first_timestamp: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: Obj) -> Obj:
    """The ``involvedObject`` for an object: kind, namespace, name, uid, apiVersion, RV."""
    meta = obj.get("metadata") or {}
    ref = {
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """Posts Events for one component (``source.component``, e.g. replicaset-controller)."""

    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[tuple[Obj, str, str, str]] = asyncio.Queue(QUEUE_SIZE)
        self._posted: OrderedDict[tuple[str, ...], _Posted] = OrderedDict()

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record an event about ``obj``; returns at once (posted by ``run``)."""
        try:
            self._queue.put_nowait((obj, type_, reason, message))
        except asyncio.QueueFull:
            log.warning("events queue full; dropping %s %s", reason, message)

    def eventf(self, obj: Obj, type_: str, reason: str, fmt: str, *args: object) -> None:
        self.event(obj, type_, reason, fmt % args if args else fmt)

    async def run(self) -> None:
        """Post queued events until cancelled."""
        while True:
            obj, type_, reason, message = await self._queue.get()
            try:
                await self.emit(obj, type_, reason, message)
            except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                # A loop boundary: an Event that cannot be written is not worth a retry.
                log.info("event %s for %s not recorded: %s", reason, _name(obj), exc)

    async def emit(self, obj: Obj, type_: str, reason: str, message: str) -> Obj:
        """Post (or aggregate) one event now; returns the stored Event."""
        ref = object_reference(obj)
        key = (
            ref.get("uid", ""),
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            type_,
            reason,
            message,
        )
        now = _now()
        posted = self._posted.get(key)
        if posted is not None:
            try:
                return await self._bump(key, posted, now)
            except errors.NotFound:
                pass  # expired or deleted: post a fresh one
        event = self._new_event(ref, type_, reason, message, now)
        stored = await self.client.create("v1", "events", event, event["metadata"]["namespace"])
        meta = stored.get("metadata") or {}
        self._remember(key, _Posted(meta.get("namespace", ""), meta.get("name", ""), 1, now))
        return stored

    async def _bump(self, key: tuple[str, ...], posted: _Posted, now: str) -> Obj:
        posted.count += 1
        patch = {"count": posted.count, "lastTimestamp": now}
        stored = await self.client.patch("v1", "events", posted.name, patch, posted.namespace)
        self._remember(key, posted)
        return stored

    def _new_event(self, ref: Obj, type_: str, reason: str, message: str, now: str) -> Obj:
        namespace = ref.get("namespace") or "default"
        # client-go names events <object>.<unix nanoseconds in hex>.
        name = f"{ref.get('name', 'unknown')}.{time.time_ns():x}"
        source = {"component": self.component}
        if self.host:
            source["host"] = self.host
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type_,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }

    def _remember(self, key: tuple[str, ...], posted: _Posted) -> None:
        self._posted[key] = posted
        self._posted.move_to_end(key)
        while len(self._posted) > CACHE_SIZE:
            self._posted.popitem(last=False)


def _name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))
