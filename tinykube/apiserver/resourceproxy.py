"""``nodes/proxy``, ``pods/proxy`` and ``services/proxy``: HTTP through the API server.

``/api/v1/nodes/<node>/proxy/<path>`` reaches the node's kubelet (over HTTPS,
with the API server's client certificate); ``/api/v1/namespaces/<ns>/pods/
<[scheme:]name[:port]>/proxy/<path>`` reaches the pod's IP; the services form
picks a ready endpoint of the Service's port (by port name or number, else
its only port) from the Service's EndpointSlices. The request's method,
query, body and content headers go through; the answer streams back as it
comes. This is what ``kubectl proxy`` users and dashboards browse through, and
``kubectl get --raw /api/v1/nodes/<n>/proxy/stats/summary`` reads.
"""

from __future__ import annotations

import ssl

import aiohttp
from aiohttp import web

from tinykube.api import errors
from tinykube.api.resources import Resource, lookup
from tinykube.apiserver import kubeletproxy
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.requestinfo import RequestInfo

NODES = lookup("", "v1", "nodes")
PODS = lookup("", "v1", "pods")
SERVICES = lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
PASSED_HEADERS = ("Content-Type", "Accept", "Accept-Encoding", "User-Agent")
RETURNED_HEADERS = ("Content-Type", "Content-Encoding", "Location", "Cache-Control")
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=300)


def _split_name(raw: str) -> tuple[str, str, str]:
    """``[scheme:]name[:port]`` as the proxy paths write it."""
    parts = raw.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return ("", parts[0], parts[1])
    return "", raw, ""


def _rest_of_path(request: web.Request) -> str:
    marker = "/proxy"
    path = request.raw_path.split("?", 1)[0]
    index = path.find(marker + "/")
    tail = path[index + len(marker) :] if index >= 0 else ""
    return tail or "/"


def _pod_target(ctx: ServerContext, namespace: str, raw: str) -> str:
    scheme, name, port = _split_name(raw)
    assert PODS is not None
    pod = ctx.cache.get(PODS.key(namespace, name))
    if pod is None:
        raise errors.not_found("pods", "", name)
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise errors.ServiceUnavailable(f'pod "{name}" has no IP address yet')
    if not port:
        ports = [
            p.get("containerPort")
            for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []
        ]
        port = str(ports[0]) if ports else "80"
    elif not port.isdigit():
        named = [
            p.get("containerPort")
            for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []
            if p.get("name") == port
        ]
        if not named:
            raise errors.ServiceUnavailable(f'no port named "{port}" in pod "{name}"')
        port = str(named[0])
    host = f"[{ip}]" if ":" in ip else ip
    return f"{scheme or 'http'}://{host}:{port}"


def _service_target(ctx: ServerContext, namespace: str, raw: str) -> str:
    scheme, name, port = _split_name(raw)
    assert SERVICES is not None and SLICES is not None
    svc = ctx.cache.get(SERVICES.key(namespace, name))
    if svc is None:
        raise errors.not_found("services", "", name)
    ports = (svc.get("spec") or {}).get("ports") or []
    if not port:
        chosen = ports[0] if len(ports) == 1 else None
    else:
        chosen = next((p for p in ports if port in (p.get("name"), str(p.get("port")))), None)
    if chosen is None:
        raise errors.ServiceUnavailable(f'no service port "{port}" found for service "{name}"')
    for eps in ctx.cache.items(SLICES.list_prefix(namespace)):
        labels = (eps.get("metadata") or {}).get("labels") or {}
        if labels.get("kubernetes.io/service-name") != name:
            continue
        target = next(
            (
                p.get("port")
                for p in eps.get("ports") or []
                if p.get("name", "") == chosen.get("name", "")
            ),
            None,
        )
        for endpoint in eps.get("endpoints") or []:
            if target and (endpoint.get("conditions") or {}).get("ready", True):
                ip = endpoint["addresses"][0]
                host = f"[{ip}]" if ":" in ip else ip
                return f"{scheme or 'http'}://{host}:{target}"
    raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')


async def serve(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.StreamResponse:
    ssl_ctx: ssl.SSLContext | bool = False  # pods and services: plain HTTP, or unverified
    if res.plural == "nodes":
        base = kubeletproxy.kubelet_base(ctx, info.name)
        ssl_ctx = kubeletproxy.kubelet_ssl(ctx)
    elif res.plural == "pods":
        base = _pod_target(ctx, info.namespace, info.name)
    elif res.plural == "services":
        base = _service_target(ctx, info.namespace, info.name)
    else:
        raise errors.NotFound("the server could not find the requested resource")
    url = base + _rest_of_path(request)
    headers = {h: request.headers[h] for h in PASSED_HEADERS if h in request.headers}
    body = await request.read() if request.can_read_body else None
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False) as session,
            session.request(
                request.method,
                url,
                params=list(request.query.items()),
                data=body,
                headers=headers,
                ssl=ssl_ctx,
                allow_redirects=False,
            ) as upstream,
        ):
            return await kubeletproxy.relay(request, upstream, RETURNED_HEADERS)
    except aiohttp.ClientError as exc:
        raise errors.ServiceUnavailable(f"error trying to reach {res.singular}: {exc}") from None
