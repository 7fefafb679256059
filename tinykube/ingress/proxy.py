"""The data plane: an aiohttp reverse proxy that sends each request where the table says.

``IngressProxy.handle`` is the one handler of both listeners (HTTP and
HTTPS). It asks its ``Lookup`` for the backend of the request's host and
path, then for that backend's ready pod addresses, and takes the next one
round robin. Requests go straight to pod IPs, not through the Service's
ClusterIP, as ingress-nginx does: the controller already knows the
endpoints, and skipping kube-proxy keeps connection reuse and errors honest.

- no backend: 404 (upstream's "default backend" answer);
- a backend without ready endpoints (or without its Service): 503;
- a pod that refuses the connection: 502, the next request tries the next pod.

Bodies stream both ways (no buffering, so uploads and long downloads work),
hop-by-hop headers are dropped, the ``Host`` header is passed through, and
``X-Forwarded-For`` (appended), ``-Proto``, ``-Host``, ``-Port`` and
``X-Real-IP`` are set as ingress-nginx sets them. A WebSocket upgrade is
answered by the proxy and bridged message by message to a WebSocket opened
to the pod. Plain HTTP is served as it is for hosts that also have TLS (no
redirect to HTTPS, as Traefik does; ingress-nginx would answer 308).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote

import aiohttp
from aiohttp import web
from yarl import URL

from tinykube.ingress.routes import Backend

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
NOT_FOUND_BODY = "default backend - 404\n"
UNAVAILABLE_BODY = "503 Service Temporarily Unavailable\n"
BAD_GATEWAY_BODY = "502 Bad Gateway\n"
CONNECT_TIMEOUT = 5.0
PATH_SAFE = "/:@!$&'()*+,;=-._~"  # RFC 3986 pchar and "/", left as they are


class Lookup(Protocol):
    """What the proxy needs from the controller: the table and the endpoints."""

    def backend(self, host: str, path: str) -> tuple[Backend, str] | None:
        """The backend and the path to send it (rewritten, without the query)."""

    def endpoints(self, backend: Backend) -> list[tuple[str, int]]: ...


class IngressProxy:
    """One aiohttp handler over a ``Lookup``; ``close`` releases its connection pool."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self._turns: dict[Backend, itertools.count[int]] = {}
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No pool limit: aiohttp's default of 100 connections would queue the
            # 101st request behind long downloads and open WebSockets.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def pick(self, backend: Backend) -> tuple[str, int] | None:
        """The next ready endpoint of ``backend``, round robin."""
        endpoints = self.lookup.endpoints(backend)
        if not endpoints:
            return None
        turn = next(self._turns.setdefault(backend, itertools.count()))
        return endpoints[turn % len(endpoints)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host or ""
        found = self.lookup.backend(host, request.path)
        if found is None:
            return web.Response(status=404, text=NOT_FOUND_BODY)
        backend, path = found
        if path == request.path:
            path = request.raw_path.split("?", 1)[0]  # as the client encoded it
        else:
            path = quote(path, safe=PATH_SAFE)  # a rewritten path, made of decoded parts
        query = request.rel_url.raw_query_string
        path_qs = f"{path}?{query}" if query else path
        target = self.pick(backend)
        if target is None:
            return web.Response(status=503, text=UNAVAILABLE_BODY)
        ip, port = target
        authority = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        log.debug(
            "component=ingress %s %s%s -> %s (%s)",
            request.method,
            host,
            path_qs,
            authority,
            backend,
        )
        try:
            if _is_websocket(request):
                return await self._websocket(
                    request, URL(f"ws://{authority}{path_qs}", encoded=True)
                )
            return await self._forward(request, URL(f"http://{authority}{path_qs}", encoded=True))
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            log.info("component=ingress backend=%s endpoint=%s failed: %s", backend, authority, exc)
            return web.Response(status=502, text=BAD_GATEWAY_BODY)

    async def _forward(self, request: web.Request, url: URL) -> web.StreamResponse:
        body = request.content if request.body_exists else None
        async with self.session().request(
            request.method,
            url,
            headers=forwarded_headers(request),
            data=body,
            allow_redirects=False,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def _websocket(self, request: web.Request, url: URL) -> web.StreamResponse:
        headers = {
            k: v
            for k, v in forwarded_headers(request).items()
            if not k.lower().startswith("sec-websocket")
        }
        protocols = [
            p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p
        ]
        async with self.session().ws_connect(url, headers=headers, protocols=protocols) as up:
            down = web.WebSocketResponse(protocols=[up.protocol] if up.protocol else [])
            await down.prepare(request)
            async with asyncio.TaskGroup() as tg:
                a = tg.create_task(_pump(down, up.send_str, up.send_bytes, up.close))
                b = tg.create_task(_pump(up, down.send_str, down.send_bytes, down.close))
                await asyncio.wait({a, b}, return_when=asyncio.FIRST_COMPLETED)
                for task in (a, b):
                    task.cancel()
            await down.close()
            return down


def _is_websocket(request: web.Request) -> bool:
    connection = request.headers.get("Connection", "").lower()
    return "upgrade" in connection and request.headers.get("Upgrade", "").lower() == "websocket"


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    send_str: Callable[[str], object],
    send_bytes: Callable[[bytes], object],
    close: Callable[[], object],
) -> None:
    """Copy messages one way until either side closes."""
    async for msg in source:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await send_str(msg.data)  # type: ignore[misc]
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await send_bytes(msg.data)  # type: ignore[misc]
        else:
            break
    await close()  # type: ignore[misc]


def forwarded_headers(request: web.Request) -> dict[str, str]:
    """The request's end-to-end headers plus the X-Forwarded-* set ingress-nginx sends."""
    out: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.lower() in HOP_BY_HOP:
            continue
        out[name] = f"{out[name]}, {value}" if name in out else value
    peer = request.remote or ""
    prior = request.headers.get("X-Forwarded-For")
    out["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    out["X-Real-IP"] = peer
    out["X-Forwarded-Proto"] = request.scheme
    out["X-Forwarded-Host"] = request.host or ""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if sockname:
        out["X-Forwarded-Port"] = str(sockname[1])
    if request.body_exists and "Content-Length" in request.headers:
        out["Content-Length"] = request.headers["Content-Length"]
    return out
