"""Fluent-enough builders for the workload controller tests: Pods, ReplicaSets, Deployments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tinykube.api.duration import format_time

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return format_time(NOW - timedelta(seconds=seconds))


def pod(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    node: str = "",
    phase: str = "Running",
    ready_for: float | None = None,
    created_ago: float = 3600,
    restarts: int = 0,
    owner_uid: str = "",
    deleting: bool = False,
) -> Obj:
    """A Pod; ``ready_for`` seconds since it became Ready (None: not ready)."""
    meta: Obj = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "labels": labels if labels is not None else {"app": "web"},
        "creationTimestamp": ago(created_ago),
    }
    if owner_uid:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "rs",
                "uid": owner_uid,
                "controller": True,
            }
        ]
    if deleting:
        meta["deletionTimestamp"] = ago(0)
    status: Obj = {"phase": phase, "containerStatuses": [{"name": "app", "restartCount": restarts}]}
    if ready_for is not None:
        status["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": ago(ready_for)}
        ]
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}, "status": status}


def replica_set(
    name: str,
    replicas: int,
    *,
    available: int | None = None,
    created_ago: float = 3600,
    revision: int | None = None,
    max_replicas: int | None = None,
    desired: int | None = None,
    image: str = "nginx:1",
    status_replicas: int | None = None,
) -> Obj:
    notes: dict[str, str] = {}
    if revision is not None:
        notes["deployment.kubernetes.io/revision"] = str(revision)
    if max_replicas is not None:
        notes["deployment.kubernetes.io/max-replicas"] = str(max_replicas)
    if desired is not None:
        notes["deployment.kubernetes.io/desired-replicas"] = str(desired)
    labels = {"app": "web", "pod-template-hash": f"h{name}"}
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "creationTimestamp": ago(created_ago),
            "annotations": notes,
            "labels": labels,
            "generation": 1,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
        "status": {
            "replicas": replicas if status_replicas is None else status_replicas,
            "availableReplicas": replicas if available is None else available,
            "observedGeneration": 1,
        },
    }


def deployment(
    replicas: int,
    *,
    surge: int | str = "25%",
    unavailable: int | str = "25%",
    strategy: str = "RollingUpdate",
    image: str = "nginx:1",
    status: Obj | None = None,
    generation: int = 1,
    paused: bool = False,
    history_limit: int | None = 10,
    deadline: int | None = 600,
) -> Obj:
    labels = {"app": "web"}
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
        "strategy": {"type": strategy},
    }
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    if paused:
        spec["paused"] = True
    if history_limit is not None:
        spec["revisionHistoryLimit"] = history_limit
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "uid-web", "generation": generation},
        "spec": spec,
        "status": status or {},
    }
