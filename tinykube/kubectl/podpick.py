"""Which pod a ``TYPE/NAME`` stands for, where kubectl wants one (``logs``, ``exec``, ``attach``).

A Pod is itself; a workload stands for the pods its selector matches, best
first as kubectl orders them: running ones, then ready ones, then the oldest.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.errors import CommandError

Obj = dict[str, Any]


def rank(pod: Obj) -> tuple[int, int, str]:
    """kubectl's pick among a workload's pods: running and ready ones first, then the oldest."""
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    created = (pod.get("metadata") or {}).get("creationTimestamp", "")
    return (0 if status.get("phase") == "Running" else 1, 0 if ready else 1, created)


async def pods_for(f: Any, kind: str, name: str) -> list[Obj]:
    """The pods ``kind/name`` stands for, best first; a CommandError when there are none."""
    ns = f.namespace
    mapping = await f.discovery.find(kind)
    obj = await f.client.call("GET", mapping.path(ns, name))
    if mapping.kind == "Pod":
        return [obj]
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    query = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    listing = await f.client.call(
        "GET", f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": query}
    )
    pods = sorted(listing.get("items") or [], key=rank)
    if not pods:
        raise CommandError("timed out waiting for the condition")
    return pods
