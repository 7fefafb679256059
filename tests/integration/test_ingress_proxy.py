"""The ingress data plane over real sockets: aiohttp backends behind ``IngressProxy``.

The routing table comes from ``routes.build_routes`` over an Ingress dict and
the endpoints are the loopback servers the test starts, so what is checked is
the proxy itself: forwarding headers, streamed bodies both ways, round robin,
404/502/503, WebSocket upgrades and SNI certificate choice.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from tinykube.client import healthz
from tinykube.ingress import certs, routes
from tinykube.ingress.proxy import IngressProxy
from tinykube.ingress.routes import Backend

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
BIG = 3 * 1024 * 1024 + 7


def ingress(*paths: tuple[str, str], annotations: Obj | None = None) -> Obj:
    items = [
        {
            "path": p,
            "pathType": "Prefix",
            "backend": {"service": {"name": svc, "port": {"number": 80}}},
        }
        for p, svc in paths
    ]
    return {
        "metadata": {"name": "i", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"rules": [{"host": "app.example", "http": {"paths": items}}]},
    }


class Endpoints:
    """A table plus a fixed endpoint list per Service: the proxy's ``Lookup``."""

    def __init__(self, ings: list[Obj], endpoints: dict[str, list[tuple[str, int]]]) -> None:
        self.routes = routes.build_routes(ings)
        self.by_service = endpoints

    def backend(self, host: str, path: str) -> tuple[Backend, str] | None:
        return self.routes.resolve(host, path)

    def endpoints(self, backend: Backend) -> list[tuple[str, int]]:
        return self.by_service.get(backend.service, [])


async def serve(app_or_handler: Any, ssl_context: ssl.SSLContext | None = None) -> Any:
    if isinstance(app_or_handler, web.Application):
        runner: web.BaseRunner = web.AppRunner(app_or_handler)
    else:
        runner = web.ServerRunner(web.Server(app_or_handler))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner, runner.addresses[0][1]


def backend_app(name: str) -> web.Application:
    async def echo(request: web.Request) -> web.StreamResponse:
        size = 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
        h = request.headers
        text = "|".join(
            [name, request.path_qs, h["Host"], h["X-Forwarded-For"], h["X-Forwarded-Proto"],
             h["X-Forwarded-Host"], str(size)]
        )  # fmt: skip
        return web.Response(text=text)

    async def download(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(BIG // 65536):
            await response.write(b"x" * 65536)
        await response.write(b"x" * (BIG % 65536))
        return response

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await sock.send_str(f"{name}:{msg.data}")
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await sock.send_bytes(msg.data[::-1])
        return sock

    app = web.Application()
    app.router.add_get("/ws/socket", ws)
    app.router.add_get("/big/file", download)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[int, IngressProxy]]:
    runners = []
    ports = {}
    for name in ("one", "two"):
        runner, port = await serve(backend_app(name))
        runners.append(runner)
        ports[name] = port
    ing = ingress(("/both", "both"), ("/none", "empty"), ("/dead", "dead"), ("/", "one"))
    rewrite = ingress(
        ("/strip(/|$)(.*)", "two"), annotations={routes.REWRITE_TARGET_ANNOTATION: "/new/$2"}
    )
    lookup = Endpoints(
        [ing, rewrite],
        {
            "both": [("127.0.0.1", ports["one"]), ("127.0.0.1", ports["two"])],
            "one": [("127.0.0.1", ports["one"])],
            "two": [("127.0.0.1", ports["two"])],
            "dead": [("127.0.0.1", 1)],  # nothing listens on port 1
        },
    )
    proxy = IngressProxy(lookup)
    runner, port = await serve(proxy.handle)
    runners.append(runner)
    try:
        yield port, proxy
    finally:
        await proxy.close()
        for r in runners:
            await r.cleanup()


async def test_forwards_headers_and_streams_bodies(proxied: tuple[int, IngressProxy]) -> None:
    port, _ = proxied
    url = f"http://127.0.0.1:{port}"
    headers = {"Host": "app.example:8000", "X-Forwarded-For": "203.0.113.9"}

    async def upload() -> AsyncIterator[bytes]:  # chunked: no Content-Length
        for _ in range(BIG // 65536):
            yield b"y" * 65536

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/path?q=1", data=upload(), headers=headers) as r:
            assert r.status == 200
            name, path, host, xff, proto, xhost, size = (await r.text()).split("|")
        assert (name, path, host, proto, xhost) == (
            "one", "/path?q=1", "app.example:8000", "http", "app.example:8000"
        )  # fmt: skip
        assert xff == "203.0.113.9, 127.0.0.1"  # the proxy appends the client it saw
        assert int(size) == BIG // 65536 * 65536
        async with http.get(f"{url}/big/file", headers=headers) as r:
            assert r.status == 200
            assert len(await r.read()) == BIG


async def test_paths_keep_their_encoding_and_rewrites_keep_the_query(
    proxied: tuple[int, IngressProxy],
) -> None:
    port, _ = proxied
    url = f"http://127.0.0.1:{port}"
    host = {"Host": "app.example"}
    async with aiohttp.ClientSession() as http:
        raw = URL(f"{url}/a%2Fb%20c?x=%26y", encoded=True)
        async with http.get(raw, headers=host) as r:
            assert (await r.text()).split("|")[:2] == ["one", "/a%2Fb%20c?x=%26y"]
        rewritten = URL(f"{url}/strip/deep%20er?q=1", encoded=True)
        async with http.get(rewritten, headers=host) as r:
            assert (await r.text()).split("|")[:2] == ["two", "/new/deep%20er?q=1"]


async def test_round_robin_and_errors(proxied: tuple[int, IngressProxy]) -> None:
    port, _ = proxied
    url = f"http://127.0.0.1:{port}"
    host = {"Host": "app.example"}
    async with aiohttp.ClientSession() as http:
        seen = []
        for _ in range(4):
            async with http.get(f"{url}/both", headers=host) as r:
                seen.append((await r.text()).split("|")[0])
        assert sorted(seen) == ["one", "one", "two", "two"]
        assert seen[0] != seen[1]
        async with http.get(f"{url}/", headers={"Host": "other.example"}) as r:
            assert r.status == 404
        async with http.get(f"{url}/none", headers=host) as r:
            assert r.status == 503
        async with http.get(f"{url}/dead", headers=host) as r:
            assert r.status == 502


async def test_websocket_is_bridged(proxied: tuple[int, IngressProxy]) -> None:
    port, _ = proxied
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/ws/socket"
        async with http.ws_connect(url, headers={"Host": "app.example"}) as ws:
            await ws.send_str("hello")
            assert await asyncio.wait_for(ws.receive_str(), 10) == "one:hello"
            await ws.send_bytes(b"abc")
            assert await asyncio.wait_for(ws.receive_bytes(), 10) == b"cba"


def tls_secret(host: str) -> tuple[Obj, bytes]:
    cert, key = healthz.self_signed([host])
    data = {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}
    return {"metadata": {"resourceVersion": "1"}, "data": data, "type": "kubernetes.io/tls"}, cert


async def peer_cert(port: int, name: str | None) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=name or ""
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return bytes(der)


async def test_sni_picks_the_secret_of_the_host() -> None:
    a, a_pem = tls_secret("a.example")
    w, w_pem = tls_secret("*.w.example")
    secrets = {("ns", "a"): a, ("ns", "w"): w}
    ing = {
        "metadata": {"name": "i", "namespace": "ns"},
        "spec": {
            "tls": [
                {"hosts": ["a.example"], "secretName": "a"},
                {"hosts": ["*.w.example"], "secretName": "w"},
                {"hosts": ["gone.example"], "secretName": "missing"},
            ]
        },
    }
    store = certs.CertStore()
    store.refresh([ing], lambda ns, name: secrets.get((ns, name)))

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    runner, port = await serve(hello, ssl_context=store.default)
    try:
        assert await peer_cert(port, "a.example") == ssl.PEM_cert_to_DER_cert(a_pem.decode())
        assert await peer_cert(port, "x.w.example") == ssl.PEM_cert_to_DER_cert(w_pem.decode())
        default = await peer_cert(port, "gone.example")  # its Secret does not exist
        assert default not in (
            ssl.PEM_cert_to_DER_cert(a_pem.decode()),
            ssl.PEM_cert_to_DER_cert(w_pem.decode()),
        )
        assert await peer_cert(port, "w.example") == default  # the wildcard needs a label
        assert await peer_cert(port, None) == default
    finally:
        await runner.cleanup()
