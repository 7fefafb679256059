"""``kubectl apply --prune``: delete what was applied before but is no longer in the files.

Legacy prune, as api-compat §8.2 describes it: for each type of the
allow-list (kubectl's default list, or ``--prune-allowlist=group/version/Kind``)
list the objects matching ``-l`` (or all with ``--all``) in the namespaces
just applied to (cluster-scoped types once), and delete every one that
carries the last-applied annotation but was not in this apply.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.resources import Item

ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_ALLOWLIST = (
    "core/v1/ConfigMap",
    "core/v1/Endpoints",
    "core/v1/Namespace",
    "core/v1/PersistentVolumeClaim",
    "core/v1/PersistentVolume",
    "core/v1/Pod",
    "core/v1/ReplicationController",
    "core/v1/Secret",
    "core/v1/Service",
    "batch/v1/Job",
    "batch/v1/CronJob",
    "networking.k8s.io/v1/Ingress",
    "apps/v1/DaemonSet",
    "apps/v1/Deployment",
    "apps/v1/ReplicaSet",
    "apps/v1/StatefulSet",
)


async def _allowlist(f: Any, o: Any) -> list[Any]:
    out = []
    for entry in o.prune_allowlist or DEFAULT_ALLOWLIST:
        group, version, kind = entry.split("/")
        api_version = version if group in ("core", "") else f"{group}/{version}"
        mapping = await f.discovery.for_kind(api_version, kind)
        if mapping is not None:
            out.append(mapping)
    return out


async def prune(f: Any, o: Any, items: list[Item]) -> None:
    applied = {(i.mapping.group, i.mapping.kind, i.namespace, i.name) for i in items}
    namespaces = sorted({i.namespace for i in items if i.namespace}) or [f.namespace]
    params = {"labelSelector": o.selector} if o.selector else None
    for mapping in await _allowlist(f, o):
        for ns in namespaces if mapping.namespaced else [""]:
            listing = await f.client.call("GET", mapping.path(ns), params=params)
            for obj in listing.get("items") or []:
                meta = obj.get("metadata") or {}
                key = (mapping.group, mapping.kind, meta.get("namespace", ""), meta.get("name", ""))
                if key in applied or ANNOTATION not in (meta.get("annotations") or {}):
                    continue
                if o.dry_run in ("none", None):
                    await f.client.call(
                        "DELETE",
                        mapping.path(key[2], key[3]),
                        body={"propagationPolicy": "Background"},
                    )
                f.out.write(f"{mapping.kind_prefix}/{key[3]} pruned\n")
