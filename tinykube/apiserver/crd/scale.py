"""The scale subresource of a custom kind: an ``autoscaling/v1`` Scale over the CRD's paths.

``specReplicasPath`` and ``statusReplicasPath`` say where the replica counts
live (``.spec.replicas``, ``.status.replicas``), ``labelSelectorPath`` where
a serialized label selector string lives. A count that is absent reads as 0.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.resources import Resource
from tinykube.apiserver.crd.definition import version_info
from tinykube.apiserver.crd.printing import find


def _paths(res: Resource) -> dict[str, Any]:
    info = version_info(res)
    return (info.scale if info is not None else None) or {}


def _int(obj: dict[str, Any], path: str) -> int:
    found = find(obj, path) if path else []
    value = found[0] if found else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def scale_of(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    paths = _paths(res)
    meta = obj["metadata"]
    selector_path = paths.get("labelSelectorPath") or ""
    found = find(obj, selector_path) if selector_path else []
    selector = found[0] if found and isinstance(found[0], str) else ""
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": _int(obj, paths.get("specReplicasPath") or ".spec.replicas")},
        "status": {
            "replicas": _int(obj, paths.get("statusReplicasPath") or ".status.replicas"),
            **({"selector": selector} if selector else {}),
        },
    }


def set_replicas(res: Resource, obj: dict[str, Any], replicas: int) -> None:
    """Write ``replicas`` at ``specReplicasPath``, making the objects on the way."""
    path = _paths(res).get("specReplicasPath") or ".spec.replicas"
    parts = [p for p in path.split(".") if p]
    target = obj
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = replicas
