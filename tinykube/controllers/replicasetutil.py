"""Pure ReplicaSet decisions (upstream ``replica_set_utils.go``): the kinds it serves, the Pod
it creates, slow-start batch sizes and the status it reports.

Shared by the ReplicaSet and ReplicationController controllers (one
implementation, two kinds) and by the Job and DaemonSet controllers, which
create Pods in the same slow-start batches.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tinykube.api.duration import format_time
from tinykube.api.selectors import Selector, label_selector_as_selector
from tinykube.controllers.podutil import (
    is_pod_available,
    is_pod_ready,
    meta,
    seconds_until_available,
)
from tinykube.controllers.refmanager import new_controller_ref

Obj = dict[str, Any]

SLOW_START_INITIAL_BATCH = 1
REPLICA_FAILURE = "ReplicaFailure"
FAILED_CREATE = "FailedCreate"
FAILED_DELETE = "FailedDelete"


@dataclass(frozen=True)
class Kind:
    """The API coordinates of one replicated kind and how its selector is spelled."""

    api_version: str
    resource: str
    kind: str
    selector_is_map: bool

    def selector(self, obj: Obj) -> Selector:
        """The selector of ``obj``; raises SelectorError when it is malformed."""
        spec = obj.get("spec") or {}
        if self.selector_is_map:
            return Selector.from_set(spec.get("selector") or {})
        return label_selector_as_selector(spec.get("selector"))


REPLICA_SET = Kind("apps/v1", "replicasets", "ReplicaSet", selector_is_map=False)
REPLICATION_CONTROLLER = Kind("v1", "replicationcontrollers", "ReplicationController", True)


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """Batch sizes for ``count`` creations: 1, 2, 4, ... capped by what remains."""
    batches: list[int] = []
    remaining = count
    size = min(remaining, initial)
    while size > 0:
        batches.append(size)
        remaining -= size
        size = min(2 * size, remaining)
    return batches


def pod_from_template(owner: Obj, kind: Kind) -> Obj:
    """The Pod a ReplicaSet creates: its template, a generated name, a controller ref."""
    template = (owner.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {
        "generateName": f"{meta(owner)['name']}-",
        "namespace": meta(owner).get("namespace"),
        "ownerReferences": [new_controller_ref(owner, kind.api_version, kind.kind)],
    }
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            pod_meta[field] = copy.deepcopy(tmeta[field])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def replicas_of(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def replica_set_status(rs: Obj, pods: list[Obj], manage_error: str | None, now: datetime) -> Obj:
    """The status for ``rs`` given its claimed active Pods (upstream calculateStatus).

    A failed create or delete adds a ReplicaFailure condition (kept until a
    sync succeeds); ``observedGeneration`` is set by the caller on write.
    """
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = Selector.from_set(
        ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    )
    old = rs.get("status") or {}
    status: Obj = {"replicas": len(pods)}
    counts = {
        "fullyLabeledReplicas": sum(template_labels.matches(meta(p).get("labels")) for p in pods),
        "readyReplicas": sum(is_pod_ready(p) for p in pods),
        "availableReplicas": sum(is_pod_available(p, min_ready, now) for p in pods),
    }
    status.update({k: v for k, v in counts.items() if v})
    if old.get("observedGeneration"):
        status["observedGeneration"] = old["observedGeneration"]
    conditions = [dict(c) for c in old.get("conditions") or []]
    has_failure = any(c.get("type") == REPLICA_FAILURE for c in conditions)
    if manage_error is not None and not has_failure:
        diff = len(pods) - replicas_of(rs)
        reason = FAILED_CREATE if diff < 0 else (FAILED_DELETE if diff > 0 else "")
        conditions.append(
            {
                "type": REPLICA_FAILURE,
                "status": "True",
                "lastTransitionTime": format_time(now),
                "reason": reason,
                "message": manage_error,
            }
        )
    elif manage_error is None and has_failure:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    if conditions:
        status["conditions"] = conditions
    return status


def status_needs_update(rs: Obj, status: Obj) -> bool:
    old = rs.get("status") or {}
    generation = int(meta(rs).get("generation") or 0)
    if int(old.get("observedGeneration") or 0) < generation:
        return True
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    if any(int(old.get(f) or 0) != int(status.get(f) or 0) for f in fields):
        return True
    return (old.get("conditions") or []) != (status.get("conditions") or [])


def availability_requeue(rs: Obj, pods: list[Obj], now: datetime) -> float | None:
    """Seconds until the next ready Pod crosses minReadySeconds (None: nothing pending)."""
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    waits = [w for p in pods if (w := seconds_until_available(p, min_ready, now)) is not None]
    return min(waits) if waits else None
