"""``kubectl top node|pod``: CPU and memory use from the metrics.k8s.io API.

Columns, units and rounding are kubectl's: CPU in millicores rounded up
(``13m``), memory in whole MiB rounded down (``15Mi``), node percentages of
the node's allocatable resources, ``<unknown>`` for a node without metrics
(listed last), ``--sort-by=cpu|memory`` highest first, ``--containers`` one
row per container. Without the metrics API kubectl says so and fails.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from tinykube.api import duration
from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]
METRICS = "/apis/metrics.k8s.io/v1beta1"
UNAVAILABLE = "Metrics API not available"
HELP = """Display resource (CPU/memory) usage.

Available Commands:
  node          Display resource (CPU/memory) usage of nodes
  pod           Display resource (CPU/memory) usage of pods

Usage:
  kubectl top [flags] [options]
"""

FLAGS = [
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("selector", "l"),
    Flag("sort-by"),
    Flag("no-headers", kind="bool", default=False),
    Flag("containers", kind="bool", default=False),
    Flag("show-capacity", kind="bool", default=False),
    Flag("use-protocol-buffers", kind="bool", default=True),
]


def _milli(text: str) -> int:
    from tinykube.api import quantity

    return math.ceil(quantity.parse(text).amount * 1000)


def _bytes(text: str) -> int:
    from tinykube.api import quantity

    return int(quantity.parse(text).amount)


def _cpu(text: str) -> str:
    return f"{_milli(text)}m"


def _memory(text: str) -> str:
    return f"{_bytes(text) // (1024 * 1024)}Mi"


def _table(lines: list[list[str]]) -> str:
    # kubectl's top printer ends every cell, the last one too, with a tab.
    return printers.render([[*cells, ""] for cells in lines])


async def _check_api(f: Any) -> None:
    groups = await f.client.call("GET", "/apis")
    if not any(g.get("name") == "metrics.k8s.io" for g in groups.get("groups") or []):
        raise CommandError(UNAVAILABLE)


async def top_nodes(f: Any, o: Any, name: str) -> int:
    await _check_api(f)
    params = {"labelSelector": o.selector} if o.selector else None
    if name:
        metrics = [await f.client.call("GET", f"{METRICS}/nodes/{name}")]
        nodes = [await f.client.call("GET", f"/api/v1/nodes/{name}")]
    else:
        metrics = (await f.client.call("GET", f"{METRICS}/nodes", params=params)).get("items") or []
        nodes = (await f.client.call("GET", "/api/v1/nodes", params=params)).get("items") or []
    if o.sort_by not in (None, "", "cpu", "memory"):
        raise CommandError("--sort-by accepts only cpu or memory")
    if o.sort_by:
        key = _milli if o.sort_by == "cpu" else _bytes
        metrics.sort(key=lambda m: key(m["usage"][o.sort_by]), reverse=True)
    field = "capacity" if o.show_capacity else "allocatable"
    available = {n["metadata"]["name"]: (n.get("status") or {}).get(field) or {} for n in nodes}
    lines = [] if o.no_headers else [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]]
    seen = set()
    for m in metrics:
        node = m["metadata"]["name"]
        seen.add(node)
        usage, room = m.get("usage") or {}, available.get(node, {})
        cpu_pct = _percent(_milli(usage.get("cpu", "0")), _milli(room.get("cpu", "0")))
        mem_pct = _percent(_bytes(usage.get("memory", "0")), _bytes(room.get("memory", "0")))
        lines.append(
            [node, _cpu(usage.get("cpu", "0")), cpu_pct, _memory(usage.get("memory", "0")), mem_pct]
        )
    for node in sorted(available):
        if node not in seen:
            lines.append([node, "<unknown>", "<unknown>", "<unknown>", "<unknown>"])
    f.out.write(_table(lines))
    return 0


def _percent(used: int, available: int) -> str:
    return f"{int(used / available * 100)}%" if available else "0%"


async def top_pods(f: Any, o: Any, name: str) -> int:
    await _check_api(f)
    ns = "" if o.all_namespaces else f.namespace
    base = f"{METRICS}/namespaces/{ns}/pods" if ns else f"{METRICS}/pods"
    params = {"labelSelector": o.selector} if o.selector else None
    if name:
        metrics = [await f.client.call("GET", f"{base}/{name}")]
    else:
        metrics = (await f.client.call("GET", base, params=params)).get("items") or []
    if o.sort_by not in (None, "", "cpu", "memory"):
        raise CommandError("--sort-by accepts only cpu or memory")
    if not metrics:
        pods_path = f"/api/v1/namespaces/{ns}/pods" if ns else "/api/v1/pods"
        pods = (await f.client.call("GET", pods_path, params=params)).get("items") or []
        if pods:
            pod = pods[0]
            age = duration.age(pod["metadata"].get("creationTimestamp"), datetime.now(UTC))
            where = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
            raise CommandError(f"Metrics not available for pod {where}, age: {age}")
        f.err.write(f"No resources found in {ns} namespace.\n" if ns else "No resources found\n")
        return 0

    def total(m: Obj, kind: str) -> int:
        parse = _milli if kind == "cpu" else _bytes
        return sum(parse((c.get("usage") or {}).get(kind, "0")) for c in m.get("containers") or [])

    if o.sort_by:
        metrics.sort(key=lambda m: total(m, o.sort_by), reverse=True)
    head = (["NAMESPACE"] if not ns else []) + (["POD"] if o.containers else []) + ["NAME"]
    lines = [] if o.no_headers else [[*head, "CPU(cores)", "MEMORY(bytes)"]]
    for m in metrics:
        meta = m["metadata"]
        lead = [meta.get("namespace", "")] if not ns else []
        if o.containers:
            for c in m.get("containers") or []:
                usage = c.get("usage") or {}
                lines.append(
                    [
                        *lead,
                        meta["name"],
                        c["name"],
                        _cpu(usage.get("cpu", "0")),
                        _memory(usage.get("memory", "0")),
                    ]
                )
        else:
            cpu = total(m, "cpu")
            memory = total(m, "memory")
            lines.append([*lead, meta["name"], f"{cpu}m", f"{memory // (1024 * 1024)}Mi"])
    f.out.write(_table(lines))
    return 0


async def run(f: Any, o: Any) -> int:
    args = list(o.args)
    if not args:
        f.out.write(HELP)
        return 0
    what, rest = args[0], args[1:]
    name = rest[0] if rest else ""
    if what in ("node", "nodes", "no"):
        return await top_nodes(f, o, name)
    if what in ("pod", "pods", "po"):
        return await top_pods(f, o, name)
    raise CommandError(f"unknown command \"{what}\"\nSee 'kubectl top -h' for help and examples")
