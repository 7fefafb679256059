"""The ingress controller's loop against a real API server: routes follow the objects,
statuses are written and taken back, endpoints are read live.

No kubelet runs here: the backend is an aiohttp server on loopback, written into
an EndpointSlice by hand as a selector-less Service's owner would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cluster import ApiServer, free_port

from tinykube.client import Client
from tinykube.ingress.controller import IngressController, Options

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
NET = "networking.k8s.io/v1"


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(apiserver.kubeconfig) as c:
        yield c


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    try:
        async with asyncio.timeout(within):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"not {what} within {within:.0f}s") from None


async def backend() -> tuple[web.AppRunner, int]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"web {request.path}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


def endpoint_slice(ns: str, port: int) -> Obj:
    return {
        "metadata": {
            "name": "web-1",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    }


def ingress(ns: str, cls: str) -> Obj:
    path = {
        "path": "/app",
        "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"name": "http"}}},
    }
    return {
        "metadata": {"name": "site", "namespace": ns},
        "spec": {
            "ingressClassName": cls,
            "rules": [{"host": "site.example", "http": {"paths": [path]}}],
        },
    }


async def test_routes_status_and_class_changes(client: Client) -> None:
    run = uuid.uuid4().hex[:8]
    ns, cls, controller = f"ing-{run}", f"tk-{run}", f"test.tinykube.io/{run}"
    await client.create("v1", "namespaces", {"metadata": {"name": ns}})
    await client.create(NET, "ingressclasses", {"metadata": {"name": cls}, "spec": {"controller": controller}})  # fmt: skip
    web_runner, web_port = await backend()
    svc = {"metadata": {"name": "web", "namespace": ns}, "spec": {"ports": [{"name": "http", "port": 80}]}}  # fmt: skip
    await client.create("v1", "services", svc, ns)
    await client.create("discovery.k8s.io/v1", "endpointslices", endpoint_slice(ns, web_port), ns)

    http_port = free_port()
    options = Options(
        controller_class=controller,
        publish_status_address="192.0.2.10",
        bind_address="127.0.0.1",
        http_port=http_port,
        https_port=free_port(),
    )
    ctl = IngressController(client, options)
    task = asyncio.create_task(ctl.run())
    url = f"http://127.0.0.1:{http_port}/app/x"
    host = {"Host": "site.example"}
    try:
        async with asyncio.timeout(30):
            await ctl.ready.wait()
        async with aiohttp.ClientSession() as http:

            async def answer() -> tuple[int, str]:
                async with http.get(url, headers=host) as r:
                    return r.status, await r.text()

            assert (await answer())[0] == 404  # no Ingress yet
            await client.create(NET, "ingresses", ingress(ns, cls), ns)
            await eventually(lambda: _is(answer, (200, "web /app/x")), "routed")

            async def published() -> bool:
                got = await client.get(NET, "ingresses", "site", ns)
                return got.get("status", {}).get("loadBalancer", {}).get("ingress") == [
                    {"ip": "192.0.2.10"}
                ]

            await eventually(published, "status written")

            await client.delete("discovery.k8s.io/v1", "endpointslices", "web-1", ns)
            await eventually(lambda: _is(answer, (503, None)), "503 without endpoints")

            # Another class: no longer ours, so no route and our address is taken back.
            patch = {"spec": {"ingressClassName": "someone-else"}}
            await client.patch(NET, "ingresses", "site", patch, ns)
            await eventually(lambda: _is(answer, (404, None)), "404 once not ours")

            async def cleared() -> bool:
                got = await client.get(NET, "ingresses", "site", ns)
                return not got.get("status", {}).get("loadBalancer", {}).get("ingress")

            await eventually(cleared, "status cleared")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await web_runner.cleanup()


async def _is(
    answer: Callable[[], Awaitable[tuple[int, str]]], want: tuple[int, str | None]
) -> bool:
    status, text = await answer()
    return status == want[0] and (want[1] is None or text == want[1])
