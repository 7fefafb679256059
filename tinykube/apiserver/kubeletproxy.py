"""Requests the API server forwards to a node's kubelet: logs, exec, attach, port-forward.

Kubernetes answers ``pods/log`` by calling the kubelet of the pod's node on
its ``daemonEndpoints.kubeletEndpoint`` port and streaming the answer back.
Until a kubelet serves the node, the client gets the error Kubernetes gives
when a kubelet cannot be reached.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from tinykube.api import errors
from tinykube.api.resources import Resource, lookup
from tinykube.apiserver import spdyupgrade
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.requestinfo import RequestInfo

NODES = lookup("", "v1", "nodes")


def _container(pod: dict[str, Any], request: web.Request) -> str:
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    debuggers = [c["name"] for c in spec.get("ephemeralContainers") or []]
    name = request.query.get("container", "")
    if name:
        if name not in names + inits + debuggers:
            raise errors.BadRequest(
                f"container {name} is not valid for pod {pod['metadata']['name']}"
            )
        return name
    if len(names) == 1:
        return names[0]
    raise errors.BadRequest(
        f"a container name must be specified for pod {pod['metadata']['name']}, choose one "
        f"of: [{' '.join(names)}]"
        + (f" or one of the init containers: [{' '.join(inits)}]" if inits else "")
    )


def kubelet_url(node: dict[str, Any]) -> str:
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    address = ""
    for addr in status.get("addresses") or []:
        if addr.get("type") == "InternalIP":
            address = addr.get("address", "")
            break
    if not port or not address:
        return ""
    return f"https://{address}:{port}"


def kubelet_base(ctx: ServerContext, node_name: str) -> str:
    """``https://<InternalIP>:<kubelet port>`` of a node, or 503 when the node has none."""
    assert NODES is not None
    node = ctx.cache.get(NODES.key("", node_name))
    base = kubelet_url(node) if node else ""
    if not base:
        raise errors.ServiceUnavailable(f'no kubelet endpoint known for node "{node_name}"')
    return base


async def pod_log(
    request: web.Request, ctx: ServerContext, pod: dict[str, Any]
) -> web.StreamResponse:
    container = _container(pod, request)
    node_name = (pod.get("spec") or {}).get("nodeName")
    meta = pod["metadata"]
    if not node_name:
        raise errors.BadRequest(
            f'container "{container}" in pod "{meta["name"]}" is waiting to start: '
            "ContainerCreating"
        )
    base = kubelet_base(ctx, node_name)
    url = f"{base}/containerLogs/{meta['namespace']}/{meta['name']}/{container}"
    params = {k: v for k, v in request.query.items() if k != "container"}
    return await stream_from_kubelet(request, ctx, url, params)


async def stream_from_kubelet(
    request: web.Request, ctx: ServerContext, url: str, params: dict[str, str]
) -> web.StreamResponse:
    ssl_ctx = kubelet_ssl(ctx)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, params=params, ssl=ssl_ctx) as upstream,
        ):
            kind = upstream.headers.get("Content-Type", "text/plain").split(";")[0]
            return await relay(request, upstream, content_type=kind)
    except aiohttp.ClientError as exc:
        raise errors.InternalError(
            f"Internal error occurred: error dialing backend: {exc}"
        ) from None


async def relay(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    headers: tuple[str, ...] = (),
    content_type: str = "",
) -> web.StreamResponse:
    """Stream an upstream answer back as it comes: its status, the named headers, its body."""
    resp = web.StreamResponse(status=upstream.status)
    for name in headers:
        if name in upstream.headers:
            resp.headers[name] = upstream.headers[name]
    if content_type:
        resp.content_type = content_type
    await resp.prepare(request)
    async for chunk in upstream.content.iter_any():
        await resp.write(chunk)
    await resp.write_eof()
    return resp


def kubelet_ssl(ctx: ServerContext) -> ssl.SSLContext:
    """The API server authenticates to kubelets with its admin client certificate.

    Made once per server and shared by every call (a metrics scrape asks every
    kubelet): building one loads the trust store and the certificate files."""
    cached = ctx.extras.get("kubelet_ssl")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    ssl_ctx = ssl.create_default_context()
    ssl_ctx.check_hostname = False
    ssl_ctx.verify_mode = ssl.CERT_NONE
    if ctx.pki is not None and getattr(ctx.pki, "admin_cert_path", None):
        ssl_ctx.load_cert_chain(ctx.pki.admin_cert_path, ctx.pki.admin_key_path)
    ctx.extras["kubelet_ssl"] = ssl_ctx
    return ssl_ctx


async def pod_stream(
    request: web.Request, ctx: ServerContext, pod: dict[str, Any], kind: str
) -> web.StreamResponse:
    """``pods/exec`` and ``pods/attach``: a WebSocket spliced to the kubelet's.

    The channel protocol (v5/v4.channel.k8s.io) is the kubelet's business; the
    API server picks the subprotocol the kubelet accepted and copies frames
    both ways until either side closes.
    """
    container = _container(pod, request)
    meta = pod["metadata"]
    base = kubelet_base(ctx, _assigned_node(pod))
    url = f"{base}/{kind}/{meta['namespace']}/{meta['name']}/{container}"
    params = [(k, v) for k, v in request.query.items() if k != "container"]
    return await splice_to_kubelet(
        request, ctx, url, params, "v5.channel.k8s.io, v4.channel.k8s.io"
    )


async def portforward(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.StreamResponse:
    """``pods/portforward``: spliced to the kubelet's ``/portForward`` like exec.

    kubectl tunnels SPDY through the WebSocket (``SPDY/3.1+portforward.k8s.io``),
    the Python client speaks ``v4.channel.k8s.io``; both are the kubelet's to
    serve. The API's ``ports`` parameter becomes the kubelet's ``port``.
    """
    pod = await ctx.registry.get(res, info.namespace, info.name)
    meta = pod["metadata"]
    base = kubelet_base(ctx, _assigned_node(pod))
    url = f"{base}/portForward/{meta['namespace']}/{meta['name']}"
    params = [("port", p) for value in request.query.getall("ports", []) for p in value.split(",")]
    return await splice_to_kubelet(
        request, ctx, url, params, "SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io"
    )


def _assigned_node(pod: dict[str, Any]) -> str:
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequest(f"pod {pod['metadata']['name']} does not have a host assigned")
    return str(node_name)


async def splice_to_kubelet(
    request: web.Request,
    ctx: ServerContext,
    url: str,
    params: list[tuple[str, str]],
    spoken: str,
) -> web.StreamResponse:
    """Open the kubelet's WebSocket and join the client to it.

    A WebSocket client is offered the kubelet's choice among its own
    subprotocols and spliced frame for frame; a SPDY client (kubectl before
    1.30/1.31) is answered in SPDY by ``spdyupgrade``.
    """
    if spdyupgrade.requested(request):
        if "portforward" in spoken:
            chosen = spdyupgrade.negotiate(request, spdyupgrade.PORT_FORWARD)
            async with _kubelet_ws(ctx, url, params, [spdyupgrade.TUNNEL]) as upstream:
                return await spdyupgrade.relay_portforward(request, upstream, chosen)
        chosen = spdyupgrade.negotiate(request, spdyupgrade.REMOTE_COMMAND)
        async with _kubelet_ws(ctx, url, params, list(spdyupgrade.REMOTE_COMMAND)) as upstream:
            return await spdyupgrade.serve_remote_command(request, upstream, chosen)
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.BadRequest(
            f"Upgrade request required: this server speaks the WebSocket stream protocols ({spoken})"
            " and SPDY/3.1"
        )
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    async with _kubelet_ws(ctx, url, params, [p for p in offered if p]) as upstream:
        chosen = upstream.protocol
        ws = web.WebSocketResponse(protocols=[chosen] if chosen else ())
        await ws.prepare(request)
        await _splice(ws, upstream)
        return ws


@contextlib.asynccontextmanager
async def _kubelet_ws(
    ctx: ServerContext, url: str, params: list[tuple[str, str]], protocols: list[str]
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """The kubelet's WebSocket; its refusal, before any upgrade, is the client's error."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            upstream = await session.ws_connect(
                url, params=params, protocols=protocols, ssl=kubelet_ssl(ctx)
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise await _kubelet_refusal(session, url, params, ctx, exc) from None
        except aiohttp.ClientError as exc:
            raise errors.InternalError(
                f"Internal error occurred: error dialing backend: {exc}"
            ) from None
        async with upstream:
            yield upstream


async def _kubelet_refusal(
    session: aiohttp.ClientSession,
    url: str,
    params: list[tuple[str, str]],
    ctx: ServerContext,
    exc: aiohttp.WSServerHandshakeError,
) -> errors.APIError:
    """The kubelet's own words for a refused stream: aiohttp drops the body of a failed
    handshake, and the kubelet checks the pod and container before the upgrade, so the
    same request without it gets the same Status back."""
    code = exc.status if 400 <= exc.status < 600 else 502
    reason, message = ("InternalError" if code >= 500 else "BadRequest"), exc.message
    try:
        async with session.get(url, params=params, ssl=kubelet_ssl(ctx)) as resp:
            status = await resp.json(content_type=None)
        if isinstance(status, dict) and status.get("message") and resp.status == exc.status:
            message = status["message"]
            reason = status.get("reason") or reason
    except (aiohttp.ClientError, ValueError):
        pass
    return errors.APIError(f"error dialing backend: {message}", code=code, reason=reason)


async def _splice(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async def pump(src: Any, dst: Any) -> None:
        async for msg in src:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await dst.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await dst.send_str(msg.data)
            else:
                break
        await dst.close()

    import asyncio

    tasks = [
        asyncio.ensure_future(pump(upstream, client)),
        asyncio.ensure_future(pump(client, upstream)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
