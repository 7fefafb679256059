"""DaemonSet updates: the RollingUpdate plan and ControllerRevision history (upstream ``update.go``).

**History** is ``controllers.history`` (ControllerRevisions, shared with
StatefulSets); daemon Pods carry the revision's hash as
``controller-revision-hash``.

**RollingUpdate.** Without surge, old Pods are deleted (and recreated by the
next sync's manage step) while at most ``maxUnavailable`` nodes are without an
available daemon; an old Pod that is not available anyway is replaced at
once. With ``maxSurge``, the new Pod is started next to the old one on up to
``maxSurge`` nodes and the old one is deleted when the new one is available.
``OnDelete`` does nothing here: a Pod is replaced when a user deletes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tinykube.controllers.daemonset.util import (
    is_pod_updated,
    max_unavailable_and_surge,
    should_run,
    template_generation,
)
from tinykube.controllers.podutil import is_pod_available, meta

Obj = dict[str, Any]


# ---- the rolling update plan (pure) --------------------------------------------------------


def updated_and_old(
    pods: list[Obj], hash_: str, generation: str | None
) -> tuple[Obj | None, Obj | None, bool]:
    """(new Pod, old Pod, ok) on one node; not ok when there are two of either (findUpdatedPodsOnNode)."""
    new: Obj | None = None
    old: Obj | None = None
    for pod in pods:
        if meta(pod).get("deletionTimestamp"):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def rolling_update_plan(
    ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str, now: datetime
) -> tuple[list[Obj], list[str]]:
    """(old Pods to delete now, nodes to start a surge Pod on)."""
    desired = sum(1 for n in nodes if should_run(n, ds)[0])
    max_unavailable, max_surge = max_unavailable_and_surge(ds, desired)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    per_node = [
        (name, *updated_and_old(by_node[name], hash_, generation)) for name in sorted(by_node)
    ]
    if max_surge == 0:
        return _without_surge(per_node, max_unavailable, min_ready, now), []
    return _with_surge(per_node, max_surge, min_ready, now)


def _without_surge(
    per_node: list[tuple[str, Obj | None, Obj | None, bool]],
    max_unavailable: int,
    min_ready: int,
    now: datetime,
) -> list[Obj]:
    unavailable = 0
    replace_now: list[Obj] = []
    candidates: list[Obj] = []
    for _, new, old, ok in per_node:
        if not ok or (new is None) == (old is None):
            unavailable += 1  # the manage step creates or prunes here
        elif new is not None:
            unavailable += 0 if is_pod_available(new, min_ready, now) else 1
        elif old is not None and not is_pod_available(old, min_ready, now):
            replace_now.append(old)
        elif unavailable < max_unavailable and old is not None:
            candidates.append(old)
    room = min(max(0, max_unavailable - unavailable), len(candidates))
    return replace_now + candidates[:room]


def _with_surge(
    per_node: list[tuple[str, Obj | None, Obj | None, bool]],
    max_surge: int,
    min_ready: int,
    now: datetime,
) -> tuple[list[Obj], list[str]]:
    surging = 0
    delete: list[Obj] = []
    allowed: list[str] = []
    candidates: list[str] = []
    for name, new, old, ok in per_node:
        if not ok or old is None:
            continue
        if new is None:
            if not is_pod_available(old, min_ready, now):
                allowed.append(name)
            elif surging < max_surge:
                candidates.append(name)
        elif not is_pod_available(new, min_ready, now):
            surging += 1
        else:
            delete.append(old)
    room = min(max(0, max_surge - surging), len(candidates))
    return delete, allowed + candidates[:room]
