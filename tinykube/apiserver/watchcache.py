"""The watch cache: every stored object in memory, plus a window of recent events.

kube-apiserver's cacher keeps, per resource, the current objects and a ring of
recent watch events, fed by one etcd watch; LIST and WATCH are served from it
and never touch storage. This one does the same with a single store watch on
``/registry/``, because one global stream gives one global revision: the
cache's ``revision`` is exactly the store revision it has applied, so a
*consistent read* is "wait until the cache reaches the store's current
revision, then answer from memory" (what upstream calls consistent reads from
cache).

Data flow::

    store.watch("/registry/", rev) ──► _apply(event) ──► objects[resource][key]
                                            │          └─► window (deque of events)
                                            └─► every Subscription of that resource
                                                (a bounded queue; a watcher that
                                                falls too far behind is closed and
                                                re-lists, as upstream does)

Objects handed out are shared dicts: callers must copy before changing one.
Each cached object already carries ``metadata.resourceVersion`` = the
revision of its last write; a DELETED event carries the revision of the delete.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tinykube.store.errors import Compacted
from tinykube.store.interface import Event, EventType, KeyValue, Store

log = logging.getLogger(__name__)

WINDOW = 50_000  # events kept for watches that resume from a recent revision
QUEUE_LIMIT = 20_000
ENCODED_LIMIT = 500_000  # memoised serializations kept before the memo is reset  # events a single watcher may lag behind before it is closed


def resource_of(key: str) -> str:
    """``/registry/pods/default/web`` → ``pods``."""
    parts = key.split("/", 3)
    return parts[2] if len(parts) > 2 else ""


def decode(kv: KeyValue, revision: int | None = None) -> dict[str, Any]:
    """Stored bytes → object dict with resourceVersion set from the store revision."""
    obj = orjson.loads(kv.value)
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    meta["resourceVersion"] = str(revision if revision is not None else kv.mod_revision)
    return obj


@dataclass(slots=True)
class CachedEvent:
    revision: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: str
    key: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None


@dataclass(eq=False)
class Subscription:
    """A live feed of one resource's events; closed (``overflowed``) when it lags."""

    resource: str
    queue: asyncio.Queue[CachedEvent | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, ev: CachedEvent) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(ev)


class WatchCache:
    def __init__(self, store: Store, window: int = WINDOW) -> None:
        self._store = store
        self._objects: dict[str, dict[str, dict[str, Any]]] = collections.defaultdict(dict)
        self._window: collections.deque[CachedEvent] = collections.deque(maxlen=window)
        self._subs: dict[str, set[Subscription]] = collections.defaultdict(set)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.revision = 0
        self.start_revision = 0  # events after this revision are (or were) in the window
        self.ready = asyncio.Event()
        self._listeners: list[Callable[[CachedEvent], None]] = []
        # JSON of cached objects, made once and shared by every LIST and watcher
        # (upstream's cacher caches serializations the same way).
        self._encoded: dict[int, tuple[dict[str, Any], bytes]] = {}

    # ---- feeding --------------------------------------------------------
    async def run(self) -> None:
        """Load everything, then follow the store until cancelled."""
        while True:
            try:
                await self._load()
                async for ev in self._store.watch("/registry/", self.revision):
                    self._apply(ev)
            except asyncio.CancelledError:
                raise
            except Compacted:
                log.warning("component=apiserver watch cache fell behind compaction; reloading")
            except Exception:
                log.exception("component=apiserver watch cache stream failed; reloading")
                await asyncio.sleep(0.5)

    async def _load(self) -> None:
        result = await self._store.list("/registry/")
        objects: dict[str, dict[str, dict[str, Any]]] = collections.defaultdict(dict)
        for kv in result.items:
            objects[resource_of(kv.key)][kv.key] = decode(kv)
        self._objects = objects
        self._window.clear()
        # Watchers opened before a reload cannot be continued consistently.
        for subs in self._subs.values():
            for sub in subs:
                sub.overflowed = True
                sub.queue.put_nowait(None)
        self.revision = self.start_revision = result.revision
        self.ready.set()
        self._wake()

    def _apply(self, ev: Event) -> None:
        key = ev.kv.key
        resource = resource_of(key)
        bucket = self._objects[resource]
        prev = bucket.get(key)
        if prev is not None:
            self._encoded.pop(id(prev), None)
        if ev.type == EventType.DELETED:
            obj = decode(ev.kv, ev.kv.mod_revision)
            bucket.pop(key, None)
        else:
            obj = decode(ev.kv)
            bucket[key] = obj
        cached = CachedEvent(ev.kv.mod_revision, str(ev.type), resource, key, obj, prev)
        if len(self._window) == self._window.maxlen:
            self.start_revision = self._window[0].revision
        self._window.append(cached)
        self.revision = ev.kv.mod_revision
        for sub in self._subs.get(resource, ()):
            sub.offer(cached)
        for listener in self._listeners:
            listener(cached)
        self._wake()

    def add_listener(self, fn: Callable[[CachedEvent], None]) -> None:
        """Called synchronously for every event (allocators, bookkeeping)."""
        self._listeners.append(fn)

    def _wake(self) -> None:
        if not self._waiters:
            return
        keep = []
        for rev, fut in self._waiters:
            if rev <= self.revision:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((rev, fut))
        self._waiters = keep

    # ---- reading --------------------------------------------------------
    async def wait_until(self, revision: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Block until the cache has applied ``revision``; TimeoutError otherwise."""
        await asyncio.wait_for(self.ready.wait(), timeout)
        if self.revision >= revision:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            if not fut.done():
                fut.cancel()

    async def sync(self) -> None:
        """A consistent read point: the cache holds every write acknowledged so far."""
        await self.wait_until(await self._store.current_revision())

    def get(self, key: str) -> dict[str, Any] | None:
        return self._objects.get(resource_of(key), {}).get(key)

    def items(self, prefix: str) -> list[dict[str, Any]]:
        """Objects whose key starts with ``prefix``, in key order."""
        bucket = self._objects.get(resource_of(prefix), {})
        keys = sorted(k for k in bucket if k.startswith(prefix))
        return [bucket[k] for k in keys]

    def keyed_items(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        bucket = self._objects.get(resource_of(prefix), {})
        return sorted((k, v) for k, v in bucket.items() if k.startswith(prefix))

    def encode(self, obj: dict[str, Any]) -> bytes:
        """``orjson.dumps(obj)``, memoised for objects owned by the cache."""
        hit = self._encoded.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        raw = orjson.dumps(obj)
        if len(self._encoded) >= ENCODED_LIMIT:
            self._encoded.clear()
        self._encoded[id(obj)] = (obj, raw)
        return raw

    def count(self, resource: str) -> int:
        return len(self._objects.get(resource, {}))

    # ---- watching -------------------------------------------------------
    def subscribe(self, resource: str) -> Subscription:
        sub = Subscription(resource)
        self._subs[resource].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(KeyError):
            self._subs[sub.resource].remove(sub)

    def events_after(self, resource: str, revision: int) -> list[CachedEvent] | None:
        """Window events of ``resource`` after ``revision``; None when the window
        no longer reaches back that far (the caller falls back to storage)."""
        if revision < self.start_revision:
            return None
        return [e for e in self._window if e.revision > revision and e.resource == resource]
