"""Which pod a ``TYPE/NAME`` stands for, where kubectl wants one (``logs``, ``exec``, ``attach``).

A Pod is itself; a workload stands for the pods its selector matches, best
first as kubectl orders them (its ByLogging sort).
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.errors import CommandError

Obj = dict[str, Any]


PHASE_ORDER = {"Running": 0, "Unknown": 1, "Pending": 2}  # others count as 0, as in Go's map
LAST = "~"  # sorts after any timestamp: a missing time goes last


def rank(pod: Obj) -> tuple[int, int, int, str, int, str]:
    """kubectl's ByLogging order: assigned, running, ready; then ready the longest, the most
    restarts, the oldest (a missing time last). Ties keep the API's order."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready_since = ""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            ready_since = condition.get("lastTransitionTime") or LAST
    restarts = max(
        (c.get("restartCount") or 0 for c in status.get("containerStatuses") or []), default=0
    )
    created = (pod.get("metadata") or {}).get("creationTimestamp") or LAST
    return (
        0 if spec.get("nodeName") else 1,
        PHASE_ORDER.get(status.get("phase") or "", 0),
        0 if ready_since else 1,
        ready_since,
        -restarts,
        created,
    )


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
