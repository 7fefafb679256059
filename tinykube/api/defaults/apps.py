"""Defaults for ``apps/v1``: Deployment, ReplicaSet, StatefulSet, DaemonSet.

The rolling-update knobs are where users notice defaults most: a Deployment
reads back with ``maxUnavailable: 25%`` / ``maxSurge: 25%``, a DaemonSet with
``maxUnavailable: 1`` / ``maxSurge: 0`` and a StatefulSet with
``partition: 0``. Every pod template gets the PodSpec defaults.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.defaults.core import default_persistent_volume_claim
from tinykube.api.defaults.pod import default_template

REVISION_HISTORY_LIMIT = 10
PROGRESS_DEADLINE_SECONDS = 600


def default_deployment(deploy: dict[str, Any]) -> None:
    spec = deploy.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.get("strategy") or {}
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
        strategy["rollingUpdate"] = rolling
    spec["strategy"] = strategy
    spec.setdefault("revisionHistoryLimit", REVISION_HISTORY_LIMIT)
    spec.setdefault("progressDeadlineSeconds", PROGRESS_DEADLINE_SECONDS)
    default_template(spec.get("template"))


def default_replica_set(rs: dict[str, Any]) -> None:
    spec = rs.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    default_template(spec.get("template"))


def default_stateful_set(sts: dict[str, Any]) -> None:
    spec = sts.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.get("updateStrategy") or {}
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        rolling.setdefault("partition", 0)
        strategy["rollingUpdate"] = rolling
    spec["updateStrategy"] = strategy
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    spec["persistentVolumeClaimRetentionPolicy"] = retention
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", REVISION_HISTORY_LIMIT)
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            default_persistent_volume_claim(claim)
    default_template(spec.get("template"))


def default_daemon_set(ds: dict[str, Any]) -> None:
    spec = ds.setdefault("spec", {})
    strategy = spec.get("updateStrategy") or {}
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
        strategy["rollingUpdate"] = rolling
    spec["updateStrategy"] = strategy
    spec.setdefault("revisionHistoryLimit", REVISION_HISTORY_LIMIT)
    default_template(spec.get("template"))


DEFAULTERS = {
    "Deployment": default_deployment,
    "ReplicaSet": default_replica_set,
    "StatefulSet": default_stateful_set,
    "DaemonSet": default_daemon_set,
}
