"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, what ``kubectl top`` reads.

Kubernetes serves these from metrics-server, an aggregated API that scrapes
every kubelet. tinykube's API server answers them itself, the same way: on
each request it asks the kubelets (``/stats/summary``, in parallel, each with
a short timeout) and turns their numbers into metrics objects: CPU in
nanocores (``"12345n"``) and memory working set in ``Ki``, with the kubelet's
sample time and window. Nothing is stored. A node whose kubelet does not
answer (a simulated node, or one that is down) simply has no metrics, as with
metrics-server.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from aiohttp import web

from tinykube.api import errors
from tinykube.api.resources import Resource, lookup
from tinykube.api.selectors import parse as parse_selector
from tinykube.apiserver import kubeletproxy
from tinykube.apiserver.handlers import common
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.requestinfo import RequestInfo

NODES = lookup("", "v1", "nodes")
SCRAPE_TIMEOUT = 5.0
WINDOW = "10s"  # the kubelet samples every 10 seconds

Obj = dict[str, Any]


async def _summary(session: aiohttp.ClientSession, ctx: ServerContext, node: Obj) -> Obj | None:
    base = kubeletproxy.kubelet_url(node)
    if not base:
        return None
    with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
        async with session.get(f"{base}/stats/summary", ssl=kubeletproxy.kubelet_ssl(ctx)) as resp:
            if resp.status == 200:
                return await resp.json()
    return None


async def _summaries(ctx: ServerContext, nodes: list[Obj]) -> list[tuple[Obj, Obj]]:
    timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        found = await asyncio.gather(*(_summary(session, ctx, n) for n in nodes))
    return [(n, s) for n, s in zip(nodes, found, strict=True) if s]


def _cpu(stats: Obj) -> str:
    return f"{int((stats.get('cpu') or {}).get('usageNanoCores') or 0)}n"


def _memory(stats: Obj) -> str:
    return f"{int((stats.get('memory') or {}).get('workingSetBytes') or 0) // 1024}Ki"


def _stamp(stats: Obj) -> str:
    return (stats.get("cpu") or {}).get("time") or ""


def node_metrics(node: Obj, summary: Obj) -> Obj | None:
    stats = summary.get("node") or {}
    if "cpu" not in stats:
        return None
    meta = node.get("metadata") or {}
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta.get("name", ""),
            "creationTimestamp": _stamp(stats),
            "labels": meta.get("labels") or {},
        },
        "timestamp": _stamp(stats),
        "window": WINDOW,
        "usage": {"cpu": _cpu(stats), "memory": _memory(stats)},
    }


def pod_metrics(pod: Obj) -> Obj:
    ref = pod.get("podRef") or {}
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": ref.get("name", ""),
            "namespace": ref.get("namespace", ""),
            "creationTimestamp": _stamp(pod),
        },
        "timestamp": _stamp(pod),
        "window": WINDOW,
        "containers": [
            {"name": c.get("name", ""), "usage": {"cpu": _cpu(c), "memory": _memory(c)}}
            for c in pod.get("containers") or []
        ],
    }


async def serve(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    if request.method != "GET":
        raise errors.MethodNotAllowed(
            "the server does not allow this method on the requested resource",
            kind=res.plural,
            group=res.group,
            name=info.name,
        )
    if common.flag(request, "watch") or info.watch_prefix:
        raise errors.MethodNotAllowed(
            "the server does not allow this method on the requested resource",
            kind=res.plural,
            group=res.group,
        )
    assert NODES is not None
    nodes = ctx.cache.items(NODES.list_prefix())
    selector = parse_selector(request.query.get("labelSelector", ""))
    items: list[Obj] = []
    if res.plural == "nodes":
        if info.name:
            nodes = [n for n in nodes if n["metadata"]["name"] == info.name]
        for node, summary in await _summaries(ctx, nodes):
            metrics = node_metrics(node, summary)
            if metrics is not None and selector.matches(metrics["metadata"]["labels"]):
                items.append(metrics)
    else:
        pods_prefix = "/registry/pods/" + (f"{info.namespace}/" if info.namespace else "")
        labels = {
            (p["metadata"].get("namespace"), p["metadata"]["name"]): p["metadata"].get("labels")
            or {}
            for p in ctx.cache.items(pods_prefix)
        }
        for _node, summary in await _summaries(ctx, nodes):
            for pod in summary.get("pods") or []:
                ref = pod.get("podRef") or {}
                key = (ref.get("namespace"), ref.get("name"))
                if key not in labels or (info.name and ref.get("name") != info.name):
                    continue
                if selector.matches(labels[key]):
                    metrics = pod_metrics(pod)
                    metrics["metadata"]["labels"] = labels[key]
                    items.append(metrics)
        items.sort(key=lambda m: (m["metadata"]["namespace"], m["metadata"]["name"]))
    out = common.negotiate(request)
    if info.name:
        if not items:
            raise errors.not_found(res.plural, res.group, info.name)
        return common.json_response(common.render_object(res, items[0], out))
    return common.json_response(common.render_list(res, items, out, ctx.cache.revision))
