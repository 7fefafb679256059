"""A shared informer: one watched collection, one cache, many event handlers.

Data flow (client-go's ``ARCHITECTURE.md``, without the DeltaFIFO, which an
event loop does not need):

    API server ──list/watch──► Reflector ──replace/add/update/delete──► SharedInformer
                                                                          │ 1. write the Indexer
                                                                          │ 2. call every handler
                                                                          ▼
                                          on_add(obj) / on_update(old, new) / on_delete(obj)

The cache is updated *before* handlers run, so a handler (or a worker it
wakes) that reads the cache sees at least the state the event announced.
Handlers are plain synchronous callables and must be quick: the usual
handler computes a key and puts it on a work queue. A handler that raises is
logged and does not stop the others or the informer.

A relist (after 410 Gone) is turned into the events it implies: an update
for each object still present, an add for each new one, and a delete for each
object that vanished while the watch was broken. client-go hands those deletes
out as ``DeletedFinalStateUnknown`` tombstones; here they are unwrapped, so
``on_delete`` always receives a plain object: the last state the cache knew.

Periodic **resync** (``resync_period`` seconds, 0 = never) calls
``on_update(obj, obj)`` for every cached object, so level-triggered
controllers get a chance to correct drift they were never told about.
Handlers recognise a resync by the unchanged ``resourceVersion``.

**Objects are shared.** The cache, every handler and every reader get the
same dict; nothing is copied. Copy (``copy.deepcopy``) before changing one,
or every other controller sees the change, and the cache no longer matches
the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tinykube.client.clock import REAL_CLOCK, Clock
from tinykube.client.informers.indexer import Indexer, IndexFunc, key_of
from tinykube.client.informers.reflector import ListWatchClient, Reflector

log = logging.getLogger(__name__)

Obj = dict[str, Any]
OnAdd = Callable[[Obj], None]
OnUpdate = Callable[[Obj, Obj], None]
OnDelete = Callable[[Obj], None]


@dataclass(eq=False)
class Handler:
    """One registration; pass it to ``remove_handler`` to stop receiving events."""

    on_add: OnAdd | None = None
    on_update: OnUpdate | None = None
    on_delete: OnDelete | None = None


class SharedInformer:
    """Watches one collection into an ``Indexer`` and fans its events out to handlers."""

    def __init__(
        self,
        client: ListWatchClient,
        api_version: str,
        resource: str,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resync_period: float = 0.0,
        indexers: dict[str, IndexFunc] | None = None,
        use_watch_list: bool = False,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.api_version = api_version
        self.resource = resource
        self.namespace = namespace
        self.resync_period = resync_period
        self.clock = clock
        self.indexer = Indexer(indexers)
        self.reflector = Reflector(
            client,
            api_version,
            resource,
            self,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            use_watch_list=use_watch_list,
            clock=clock,
        )
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()

    # ---- handlers ----

    def add_handler(
        self,
        on_add: OnAdd | None = None,
        on_update: OnUpdate | None = None,
        on_delete: OnDelete | None = None,
    ) -> Handler:
        """Register handlers. Added after the cache synced, it first gets an add per object."""
        handler = Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if self.has_synced and on_add is not None:
            for obj in self.indexer.list():
                self._call(on_add, obj)
        return handler

    def remove_handler(self, handler: Handler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        for name, func in indexers.items():
            self.indexer.add_indexer(name, func)

    # ---- readiness ----

    @property
    def has_synced(self) -> bool:
        """True once the first complete list has been stored and handed to handlers."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    # ---- reads (shared objects: copy before changing) ----

    def get(self, key: str) -> Obj | None:
        return self.indexer.get(key)

    def get_by_name(self, namespace: str, name: str) -> Obj | None:
        return self.indexer.get_by_name(namespace, name)

    def list(self, namespace: str | None = None) -> list[Obj]:
        """Every cached object, or those in one namespace."""
        if namespace is None:
            return self.indexer.list()
        return self.indexer.list_namespace(namespace)

    def by_index(self, index: str, value: str) -> list[Obj]:
        return self.indexer.by_index(index, value)

    # ---- running ----

    async def run(self) -> None:
        """Run the reflector (and the resync timer) until cancelled."""
        log.debug("informer=%s starting", self.reflector.name)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.reflector.run())
            if self.resync_period > 0:
                tg.create_task(self._resync_loop())

    async def _resync_loop(self) -> None:
        while True:
            await self.clock.sleep(self.resync_period)
            if self.has_synced:
                self.resync()

    def resync(self) -> None:
        """Call ``on_update(obj, obj)`` for every cached object."""
        for obj in self.indexer.list():
            self._dispatch_update(obj, obj)

    # ---- ReflectorStore: called by the reflector in event order ----

    def replace(self, items: list[Obj], resource_version: str) -> None:
        old = {key_of(o): o for o in self.indexer.list()}
        self.indexer.replace(items)
        for obj in items:
            previous = old.pop(key_of(obj), None)
            if previous is None:
                self._dispatch_add(obj)
            else:
                self._dispatch_update(previous, obj)
        # Whatever is left vanished while we were not watching: the tombstone case.
        for obj in old.values():
            self._dispatch_delete(obj)
        if not self.has_synced:
            log.debug("informer=%s synced (%d objects)", self.reflector.name, len(items))
        self._synced.set()

    def add(self, obj: Obj) -> None:
        previous = self.indexer.add(obj)
        if previous is None:
            self._dispatch_add(obj)
        else:
            self._dispatch_update(previous, obj)

    update = add

    def delete(self, obj: Obj) -> None:
        self.indexer.delete(obj)
        self._dispatch_delete(obj)

    # ---- dispatch ----

    def _dispatch_add(self, obj: Obj) -> None:
        for handler in list(self._handlers):
            if handler.on_add is not None:
                self._call(handler.on_add, obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for handler in list(self._handlers):
            if handler.on_update is not None:
                self._call(handler.on_update, old, new)

    def _dispatch_delete(self, obj: Obj) -> None:
        for handler in list(self._handlers):
            if handler.on_delete is not None:
                self._call(handler.on_delete, obj)

    def _call(self, func: Callable[..., None], *args: Obj) -> None:
        # A loop boundary: one broken handler must not stop the informer.
        try:
            func(*args)
        except Exception:
            log.exception("informer=%s handler %r failed", self.reflector.name, func)
