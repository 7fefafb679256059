"""Facts about Pods that every workload controller needs: active, ready, available,
and which Pods to give up first when a controller scales down.

These are pure functions over Pod dicts (upstream ``pkg/api/v1/pod`` and
``pkg/controller/controller_utils.go``). ReplicaSet, ReplicationController,
Deployment, DaemonSet, Job and Endpoints all agree on what "ready" and
"available" mean because they all ask here.

The deletion ranking (:func:`pods_to_delete`) is the part users notice: when a
ReplicaSet shrinks, Kubernetes removes the Pods that cost least to lose first:
unscheduled before scheduled, pending before running, not ready before ready,
doubled-up on a node before alone, recently ready before long ready, crashing
before stable, newer before older. Comparisons of "how long" use logarithmic
buckets (the LogarithmicScaleDown behaviour, on by default upstream) so that
Pods of similar age are picked at random (by UID) instead of always the
youngest, which spreads scale-down over failure domains.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tinykube.api.duration import parse_time

Obj = dict[str, Any]

# Phases ordered by how cheap a Pod in them is to delete (upstream podPhaseToOrdinal).
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def is_pod_active(pod: Obj) -> bool:
    """Not finished and not being deleted: the Pods that count towards replicas."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not meta(pod).get("deletionTimestamp")


def is_pod_terminating(pod: Obj) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def pod_condition(pod: Obj, kind: str) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_pod_ready(pod: Obj) -> bool:
    cond = pod_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Obj) -> datetime | None:
    """When the Ready condition last became True (None when unknown or not ready)."""
    cond = pod_condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    try:
        return parse_time(cond.get("lastTransitionTime"))
    except ValueError:
        return None


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (upstream ``IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def seconds_until_available(pod: Obj, min_ready_seconds: int, now: datetime) -> float | None:
    """How long until a ready Pod becomes available; None if not ready or already available."""
    since = ready_since(pod)
    if since is None or min_ready_seconds <= 0:
        return None
    left = min_ready_seconds - (now - since).total_seconds()
    return left if left > 0 else None


def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def restart_count(pod: Obj) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _time(value: str | None) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def _log_bucket(moment: datetime, now: datetime) -> int:
    """log2 of the age in nanoseconds, -1 for no age (upstream logarithmicRankDiff)."""
    nanos = (now - moment).total_seconds() * 1e9
    return int(math.log2(nanos)) if nanos > 0 else -1


def _newer_first(
    t1: datetime | None, t2: datetime | None, uid1: str, uid2: str, now: datetime
) -> int:
    """Order two different timestamps: missing first, then newer first by log bucket."""
    if t1 is None:
        return -1
    if t2 is None:
        return 1
    diff = _log_bucket(t1, now) - _log_bucket(t2, now)
    if diff == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if diff < 0 else 1


def compare_for_deletion(a: tuple[Obj, int], b: tuple[Obj, int], now: datetime) -> int:
    """Negative when Pod ``a`` should be deleted before ``b`` (upstream ActivePodsWithRanks)."""
    pa, ra = a
    pb, rb = b
    checks = (
        (
            bool((pa.get("spec") or {}).get("nodeName")),
            bool((pb.get("spec") or {}).get("nodeName")),
        ),
        (_phase_ordinal(pa), _phase_ordinal(pb)),
        (is_pod_ready(pa), is_pod_ready(pb)),
        (-ra, -rb),  # more Pods of the family on the same node: delete first
    )
    for x, y in checks:
        if x != y:
            return -1 if x < y else 1
    uid_a, uid_b = meta(pa).get("uid") or "", meta(pb).get("uid") or ""
    if is_pod_ready(pa) and is_pod_ready(pb):
        ta, tb = ready_since(pa), ready_since(pb)
        if ta != tb:
            return _newer_first(ta, tb, uid_a, uid_b, now)
    if restart_count(pa) != restart_count(pb):
        return -1 if restart_count(pa) > restart_count(pb) else 1
    ca, cb = _time(meta(pa).get("creationTimestamp")), _time(meta(pb).get("creationTimestamp"))
    if ca != cb:
        return _newer_first(ca, cb, uid_a, uid_b, now)
    return 0


def _phase_ordinal(pod: Obj) -> int:
    return _PHASE_ORDINAL.get((pod.get("status") or {}).get("phase") or "", 0)


def pods_to_delete(pods: list[Obj], related: Iterable[Obj], count: int, now: datetime) -> list[Obj]:
    """The ``count`` Pods to delete first when scaling down.

    ``related`` are the active Pods of the whole family (all ReplicaSets of the
    same Deployment): a Pod sharing its node with more of them goes first.
    """
    if count >= len(pods):
        return list(pods)
    per_node: dict[str, int] = {}
    for pod in related:
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if is_pod_active(pod):
            per_node[node] = per_node.get(node, 0) + 1
    ranked = [(p, per_node.get((p.get("spec") or {}).get("nodeName") or "", 0)) for p in pods]
    ranked.sort(key=functools.cmp_to_key(lambda a, b: compare_for_deletion(a, b, now)))
    return [p for p, _ in ranked[:count]]


def pod_key(pod: Obj) -> str:
    m = meta(pod)
    return f"{m.get('namespace') or ''}/{m.get('name') or ''}"
