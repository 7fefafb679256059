"""The reflector: keep a local store equal to one collection on the API server.

This is the heartbeat of every controller, and it follows client-go's
``tools/cache/reflector.go``:

1. **List** the collection (paged, ``limit=500``), hand every item to the
   store with ``replace(items, rv)``, and remember the list's
   ``resourceVersion``. The very first list asks for ``resourceVersion=0``
   (any recent state, served from the API server's watch cache); a relist
   after the server said "too old" asks for ``""`` (a consistent read), since
   the cache's idea of "recent" is exactly what just failed.
2. **Watch** from that resourceVersion with bookmarks on and a random
   ``timeoutSeconds`` of 5-10 minutes, so that many reflectors started
   together do not all re-watch at the same moment. Every event moves the
   remembered resourceVersion forward; so do BOOKMARK events, which is what
   lets a quiet watch resume without a relist after the server has compacted
   history.
3. When the watch **ends normally** (the server's timeout), watch again from
   the remembered resourceVersion at once: nothing was missed, because the
   server sends every change after that version. A watch that ends in under a
   second with no events is backed off before the next re-watch, so a server
   that keeps closing streams is not hammered.
4. When the connection **drops or is refused** (server restart), wait through
   a capped, jittered backoff and watch again from the remembered version.
   Stored revisions survive a restart, so no relist is needed.
5. When the server answers **410 Gone/Expired** (as an HTTP error or as an
   ERROR event in the stream), the remembered version has been compacted
   away: events were lost and only a full relist can tell what changed. The
   store's ``replace`` computes the difference (adds, updates and the
   deletes it missed).
6. Any other error backs off and relists, as client-go does.

Optionally the list can be a **watch-list** (KEP-3157, ``sendInitialEvents``):
one watch that streams the current objects as ADDED events, then a BOOKMARK
annotated ``k8s.io/initial-events-end``; the reflector collects the initial
events, replaces the store at the bookmark, and carries on with the same
stream. If the server refuses the request, the reflector falls back to
LIST+WATCH for good.

The store is anything with ``replace/add/update/delete`` (the informer).
Store calls are synchronous and made in event order; the reflector never
awaits between taking an event off the stream and applying it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any, Protocol

import aiohttp

from tinykube.api import errors
from tinykube.client.backoff import Backoff
from tinykube.client.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
MIN_WATCH_TIMEOUT = 300  # seconds; each watch asks for a random value in [min, 2*min)
SHORT_WATCH = 1.0  # a watch closing faster than this with no events counts as failed
PAGE_SIZE = 500

# Transport failures: the connection was refused, reset or timed out.
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


class ReflectorStore(Protocol):
    """Where a reflector puts what it sees (the informer implements this)."""

    def replace(self, items: list[Obj], resource_version: str) -> None: ...

    def add(self, obj: Obj) -> None: ...

    def update(self, obj: Obj) -> None: ...

    def delete(self, obj: Obj) -> None: ...


class ListWatchClient(Protocol):
    """The two calls a reflector makes (``rest.Client`` has them; tests fake them)."""

    async def list(
        self, api_version: str, resource: str, namespace: str = "", **kw: Any
    ) -> Obj: ...

    def watch(
        self, api_version: str, resource: str, namespace: str = "", **kw: Any
    ) -> AsyncIterator[tuple[str, Obj]]: ...


class _Relist(Exception):
    """Internal: the remembered resourceVersion is unusable; start over with a list."""


class _ShortWatch(Exception):
    """Internal: the watch closed at once without events; back off before retrying."""


class Reflector:
    """Lists then watches one collection into a store, forever (``run``)."""

    def __init__(
        self,
        client: ListWatchClient,
        api_version: str,
        resource: str,
        store: ReflectorStore,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        use_watch_list: bool = False,
        page_size: int = PAGE_SIZE,
        clock: Clock = REAL_CLOCK,
        rng: random.Random | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.resource = resource
        self.store = store
        self.namespace = namespace
        self.selectors = {"label_selector": label_selector, "field_selector": field_selector}
        self.use_watch_list = use_watch_list
        self.page_size = page_size
        self.clock = clock
        self._rng = rng or random.Random()
        self.backoff = backoff or Backoff(0.8, 30.0, clock=clock, rng=self._rng)
        # The last resourceVersion seen (list, event or bookmark): where a re-watch starts.
        self.last_sync_resource_version = ""
        # After a 410 the next list must be a consistent read (resourceVersion="").
        self._rv_unavailable = False
        # A watch-list stream has not yet sent its initial-events-end bookmark.
        self._awaiting_initial_events = False
        self.name = f"{resource}.{api_version}" + (f" in {namespace}" if namespace else "")

    async def run(self) -> None:
        """List and watch until cancelled; every failure is retried (see the module docstring)."""
        while True:
            try:
                await self._list_and_watch()
            except _Relist:
                continue  # at once: the server is fine, our position is not
            except errors.APIError as exc:
                log.warning("reflector=%s list/watch failed: %s", self.name, exc)
            except _ShortWatch:  # a watch-list stream that ended before its initial state
                log.debug("reflector=%s watch-list closed early; backing off", self.name)
            except TRANSPORT_ERRORS as exc:
                log.info("reflector=%s cannot list: %r; retrying", self.name, exc)
            await self.backoff.sleep()

    async def _list_and_watch(self) -> None:
        if not (self.use_watch_list and await self._watch_list()):
            await self._list()
        await self._watch_forever()

    async def _watch_list(self) -> bool:
        """Get the initial state by a streaming list; False if the server refuses it."""
        try:
            await self._watch(initial=True)
        except (errors.BadRequest, errors.Invalid) as exc:
            # An API server without streaming lists: fall back for good.
            log.info("reflector=%s falling back to regular list: %s", self.name, exc)
            self.use_watch_list = False
            return False
        except TRANSPORT_ERRORS:
            if self._awaiting_initial_events:
                raise  # no complete state yet: start over
            await self.backoff.sleep()  # dropped after the state arrived: just re-watch
        return True

    # ---- list ----

    async def _list(self) -> None:
        rv = "" if self._rv_unavailable else (self.last_sync_resource_version or "0")
        try:
            items, list_rv = await self._list_pages(rv)
        except (errors.Gone, errors.Timeout) as exc:
            # Continue tokens and resource versions can expire mid-list (410), and a
            # server restored from an older backup answers "Too large resource
            # version" (504): either way, start over with a consistent read.
            if isinstance(exc, errors.Timeout) and not _too_large(exc):
                raise
            self._rv_unavailable = True
            items, list_rv = await self._list_pages("")
        self.store.replace(items, list_rv)
        self.last_sync_resource_version = list_rv
        self._rv_unavailable = False

    async def _list_pages(self, rv: str) -> tuple[list[Obj], str]:
        items: list[Obj] = []
        token = ""
        while True:
            page = await self.client.list(
                self.api_version,
                self.resource,
                self.namespace,
                limit=self.page_size,
                continue_=token,
                resource_version=None if token else rv,
                **self.selectors,
            )
            items.extend(_typed(page, page.get("items") or []))
            meta = page.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return items, meta.get("resourceVersion") or ""

    # ---- watch ----

    async def _watch_forever(self) -> None:
        """Re-watch from the last version after every normal close or dropped connection."""
        while True:
            try:
                await self._watch(initial=False)
            except errors.Gone as exc:
                self._rv_unavailable = True
                raise _Relist from exc
            except TRANSPORT_ERRORS as exc:
                log.info("reflector=%s watch dropped: %r; re-watching", self.name, exc)
                await self.backoff.sleep()
            except _ShortWatch:
                log.debug("reflector=%s watch closed at once; backing off", self.name)
                await self.backoff.sleep()
            except (errors.TooManyRequests, errors.ServiceUnavailable, errors.Timeout) as exc:
                log.info("reflector=%s watch refused (%s); backing off", self.name, exc.reason)
                await self.backoff.sleep()

    async def _watch(self, initial: bool) -> None:
        """One watch request, applied to the store until the server closes it."""
        timeout = MIN_WATCH_TIMEOUT + int(self._rng.random() * MIN_WATCH_TIMEOUT)
        started = self.clock.now()
        initial_items: list[Obj] | None = [] if initial else None
        self._awaiting_initial_events = initial
        events = 0
        stream = self.client.watch(
            self.api_version,
            self.resource,
            self.namespace,
            resource_version=None if initial else self.last_sync_resource_version,
            timeout_seconds=timeout,
            allow_bookmarks=True,
            send_initial_events=True if initial else None,
            **self.selectors,
        )
        async for kind, obj in stream:
            events += 1
            initial_items = self._apply(kind, obj, initial_items)
        if initial_items is not None:
            raise _ShortWatch  # the stream ended before the initial events did
        if events == 0 and self.clock.now() - started < SHORT_WATCH:
            raise _ShortWatch
        self.backoff.reset()

    def _apply(self, kind: str, obj: Obj, initial: list[Obj] | None) -> list[Obj] | None:
        """Apply one event; ``initial`` collects a watch-list's items until its end marker."""
        meta = obj.get("metadata") or {}
        rv = meta.get("resourceVersion") or ""
        if kind == "ERROR":
            error = errors.APIError.from_status(obj, int(obj.get("code") or 500))
            if isinstance(error, errors.Gone):
                self._rv_unavailable = True
                raise _Relist from error
            raise error
        if kind == "BOOKMARK":
            if initial is not None and (meta.get("annotations") or {}).get(INITIAL_EVENTS_END):
                self.store.replace(initial, rv)
                self._awaiting_initial_events = False
                self._rv_unavailable = False
                initial = None
            self.last_sync_resource_version = rv or self.last_sync_resource_version
            return initial
        if initial is not None and kind == "ADDED":
            initial.append(obj)
        elif kind == "ADDED":
            self.store.add(obj)
        elif kind == "MODIFIED":
            self.store.update(obj)
        elif kind == "DELETED":
            self.store.delete(obj)
        else:
            log.warning("reflector=%s ignoring event of type %r", self.name, kind)
            return initial
        if rv:
            self.last_sync_resource_version = rv
        return initial


def _too_large(exc: errors.APIError) -> bool:
    causes = {c.reason for c in exc.causes}
    return "ResourceVersionTooLarge" in causes or "Too large resource version" in exc.message


def _typed(page: Obj, items: list[Obj]) -> list[Obj]:
    """List items may omit kind/apiVersion (upstream does); restore them from the list."""
    kind = (page.get("kind") or "").removesuffix("List")
    api_version = page.get("apiVersion") or ""
    if not kind:
        return items
    for item in items:
        item.setdefault("kind", kind)
        item.setdefault("apiVersion", api_version)
    return items
