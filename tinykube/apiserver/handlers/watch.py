"""WATCH: a stream of newline-delimited JSON events, served from the watch cache.

Start points, as kube-apiserver defines them:

- ``resourceVersion`` unset or "0" (and no ``sendInitialEvents``): synthetic
  ADDED events for the current state, then live changes;
- ``sendInitialEvents=true`` (the streaming list of KEP-3157 that client-go
  1.35+ uses): the same ADDED events, then a BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"``, then live changes;
- ``resourceVersion=N``: every change after N. Recent history comes from the
  cache's window; older history from storage; history that was compacted
  away is an ERROR event with a 410 Expired Status, which makes clients re-list.

Selectors are evaluated against both the old and the new object, so an object
that stops matching is seen as DELETED and one that starts matching as ADDED.
The subscription is taken in the same loop turn as the snapshot or backlog is
read, so no event can fall between the two (asyncio runs one thing at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from aiohttp import web

from tinykube.api import errors
from tinykube.api.resources import Resource
from tinykube.apiserver.handlers import common
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.handlers.resource import build_match
from tinykube.apiserver.registry.generic import identity, view
from tinykube.apiserver.requestinfo import RequestInfo
from tinykube.apiserver.watchcache import CachedEvent, decode, resource_of
from tinykube.store.errors import Compacted
from tinykube.store.interface import EventType

BOOKMARK_INTERVAL = 10.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"

Match = Callable[[dict[str, Any]], bool] | None


def _validate(request: web.Request) -> tuple[str, bool | None, str]:
    rv = request.query.get("resourceVersion", "")
    rv_match = request.query.get("resourceVersionMatch", "")
    raw = request.query.get("sendInitialEvents")
    send_initial = None if raw is None else raw.lower() in ("true", "1")
    if send_initial is not None and rv_match != "NotOlderThan":
        raise errors.Invalid(
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless "
            "resourceVersionMatch is set to NotOlderThan"
        )
    if rv_match and send_initial is None:
        raise errors.Invalid(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
            "unless sendInitialEvents is provided"
        )
    if rv and not rv.isdigit():
        raise errors.BadRequest(f'invalid resource version: "{rv}"')
    return rv, send_initial, rv_match


class _Stream:
    """Writes events in the negotiated shape; Tables carry columns only once."""

    def __init__(
        self,
        resp: web.StreamResponse,
        res: Resource,
        out: common.Output,
        encode: Callable[[dict[str, Any]], bytes] = orjson.dumps,
    ) -> None:
        self.resp = resp
        self.res = res
        self.out = out
        self.encode = encode
        self.columns_sent = False
        _stored, to_view, _ = view(res)
        self.to_view = None if to_view is identity else to_view

    async def send(self, kind: str, obj: dict[str, Any]) -> None:
        if self.to_view is not None and kind not in ("ERROR", "BOOKMARK"):
            obj = self.to_view(obj)  # a second view of another resource's objects
        elif (
            self.res.crd
            and kind not in ("ERROR", "BOOKMARK")
            and obj.get("apiVersion") != (self.res.api_version)
        ):
            obj = {**obj, "apiVersion": self.res.api_version}  # another version of the CRD
        elif self.out.kind == "object" and kind != "ERROR":
            # The object's JSON is made once and shared by every watcher.
            line = b'{"type":"' + kind.encode() + b'","object":' + self.encode(obj) + b"}\n"
            await self.resp.write(line)
            return
        if self.out.kind == "table" and kind != "BOOKMARK" and kind != "ERROR":
            rv = obj.get("metadata", {}).get("resourceVersion", "")
            obj = common.to_table(
                self.res, [obj], self.out, {"resourceVersion": rv}, not self.columns_sent
            )
            self.columns_sent = True
        elif self.out.kind == "partial" and kind not in ("ERROR",):
            obj = common.partial(obj, self.out.version)
        await self.resp.write(orjson.dumps({"type": kind, "object": obj}) + b"\n")

    async def bookmark(self, revision: int, initial_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": self.res.kind, "apiVersion": self.res.api_version, "metadata": meta}
        await self.resp.write(orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n")


def transition(
    ev_type: str, obj: dict[str, Any], prev: dict[str, Any] | None, prefix: str, match: Match
) -> str | None:
    """Which event (if any) a watcher with this scope and selector sees."""

    def visible(o: dict[str, Any] | None) -> bool:
        return o is not None and (match is None or match(o))

    if ev_type == "DELETED":
        return "DELETED" if visible(obj) else None
    now = visible(obj)
    before = ev_type == "MODIFIED" and visible(prev)
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


async def watch(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.StreamResponse:
    out = common.negotiate(request)
    match = build_match(request, res)
    rv, send_initial, _ = _validate(request)
    bookmarks = common.flag(request, "allowWatchBookmarks")
    timeout = common.int_param(request, "timeoutSeconds")
    if timeout is None:
        timeout = random.randint(1800, 3600)
    prefix = res.list_prefix(info.namespace)
    if info.name:
        # An item URL with watch=true watches that one object.
        name = info.name
        inner = match
        match = lambda o: o["metadata"].get("name") == name and (inner is None or inner(o))  # noqa: E731

    cache = ctx.cache
    initial: list[dict[str, Any]] | None = None
    if send_initial or (send_initial is None and rv in ("", "0")):
        if rv and rv != "0":
            await cache.wait_until(int(rv), timeout=5.0)
        elif not rv:
            await cache.sync()
        else:
            await asyncio.wait_for(cache.ready.wait(), 5.0)
    elif rv:
        with contextlib.suppress(TimeoutError):
            await cache.wait_until(int(rv), timeout=1.0)

    # --- the snapshot/backlog and the subscription, in one loop turn ---
    storage_resource = resource_of(prefix)
    sub = cache.subscribe(storage_resource)
    start_rev = cache.revision
    backlog: list[CachedEvent] | None = []
    if send_initial or (send_initial is None and rv in ("", "0")):
        initial = [o for o in cache.items(prefix) if match is None or match(o)]
    elif rv:
        backlog = cache.events_after(storage_resource, int(rv))

    resp = web.StreamResponse(
        status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
    )
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        stream = _Stream(resp, res, out, cache.encode)
        async with asyncio.timeout(timeout):
            if backlog is None:
                cache.unsubscribe(sub)
                await _watch_from_store(ctx, stream, res, prefix, int(rv), match)
                return resp
            if initial is not None:
                for obj in initial:
                    await stream.send("ADDED", obj)
                if send_initial and bookmarks:
                    await stream.bookmark(start_rev, initial_end=True)
            for ev in backlog:
                await _deliver(stream, ev, prefix, match)
            await _follow(stream, sub, prefix, match, bookmarks, cache)
    except TimeoutError:
        pass
    except (ConnectionResetError, asyncio.CancelledError):
        cache.unsubscribe(sub)
        raise
    finally:
        cache.unsubscribe(sub)
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp


async def _deliver(stream: _Stream, ev: CachedEvent, prefix: str, match: Match) -> None:
    if not ev.key.startswith(prefix):
        return
    kind = transition(ev.type, ev.obj, ev.prev, prefix, match)
    if kind is not None:
        await stream.send(kind, ev.obj)


async def _follow(
    stream: _Stream, sub: Any, prefix: str, match: Match, bookmarks: bool, cache: Any
) -> None:
    queue = sub.queue
    while True:
        try:
            ev = await asyncio.wait_for(queue.get(), BOOKMARK_INTERVAL)
        except TimeoutError:
            if bookmarks and queue.empty():
                await stream.bookmark(cache.revision)
            continue
        if ev is None:  # overflowed or the cache reloaded: the client must re-watch
            return
        await _deliver(stream, ev, prefix, match)


async def _watch_from_store(
    ctx: ServerContext, stream: _Stream, res: Resource, prefix: str, rv: int, match: Match
) -> None:
    """History older than the cache window: replay from storage, then stay on it."""
    events: AsyncIterator[Any] = ctx.registry.store.watch(prefix, rv)
    try:
        async for ev in events:
            obj = decode(ev.kv)
            prev = decode(ev.prev) if ev.prev is not None else None
            kind = transition(str(ev.type), obj, prev, prefix, match)
            if ev.type == EventType.DELETED:
                kind = "DELETED" if match is None or match(obj) else None
            if kind is not None:
                await stream.send(kind, obj)
    except Compacted as exc:
        err = errors.Expired(f"too old resource version: {rv} ({exc.compacted + 1})")
        await stream.send("ERROR", err.status())
