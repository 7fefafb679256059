"""A kubelet that refuses a stream: the API server passes on the kubelet's own words."""

from __future__ import annotations

import aiohttp
import orjson
from aiohttp import web

from tinykube.apiserver.config import ServerConfig
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.kubeletproxy import _kubelet_refusal


async def test_refused_upgrade_reports_the_kubelets_status(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def refuse(_: web.Request) -> web.Response:
        status = {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                  "message": 'pods "ghost" not found'}  # fmt: skip
        return web.Response(status=404, body=orjson.dumps(status), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/exec/{ns}/{pod}/{c}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ctx = ServerContext(ServerConfig(tmp_path), None, None)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{port}/exec/default/ghost/c"
    try:
        async with aiohttp.ClientSession() as session:
            try:
                await session.ws_connect(url, params=[("command", "true")])
            except aiohttp.WSServerHandshakeError as exc:
                err = await _kubelet_refusal(session, url, [("command", "true")], ctx, exc)
            else:
                raise AssertionError("the fake kubelet accepted the upgrade")
    finally:
        await runner.cleanup()
    assert (err.code, err.reason) == (404, "NotFound")
    assert err.message == 'error dialing backend: pods "ghost" not found'
