"""``kubectl apply --prune``: delete what was applied before but is no longer in the files.

Legacy prune, as api-compat §8.2 describes it: for each type of the
allow-list (kubectl's default list, or ``--prune-allowlist=group/version/Kind``)
list the objects matching ``-l`` (or all with ``--all``) in the namespaces
just applied to (cluster-scoped types once), and delete every one that
carries the last-applied annotation but was not in this apply. The
allow-list is resolved before anything is applied, so a bad entry fails the
command up front, as in kubectl. With the default list, kubectl logs (klog)
that cluster-scoped types will stop being pruned when a namespace is given
(every apply has one, so it always logs it).

ApplySet-based pruning (``--applyset``) lives in ``applyset``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.errors import CommandError
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
NAMESPACE_WARNING = (
    "Deprecated: kubectl apply will no longer prune non-namespaced resources by default when "
    "used with the --namespace flag in a future release. To preserve the current behaviour, "
    "list the resources you want to target explicitly in the --prune-allowlist flag."
)


async def allowlist(f: Any, o: Any) -> list[Any]:
    """The mappings to prune; kubectl's error for an entry that is malformed or unknown."""
    out = []
    for entry in o.prune_allowlist or DEFAULT_ALLOWLIST:
        parts = entry.split("/")
        if len(parts) != 3:
            raise CommandError(
                f"invalid GroupVersionKind format: {entry}, please follow <group/version/kind>"
            )
        group, version, kind = parts
        api_version = version if group in ("core", "") else f"{group}/{version}"
        mapping = await f.discovery.for_kind(api_version, kind)
        if mapping is None:
            if o.prune_allowlist:
                raise CommandError(f'no matches for kind "{kind}" in version "{api_version}"')
            continue  # a default type this server does not serve
        out.append(mapping)
    return out


def klog_warning(text: str, source: str) -> str:
    """One klog line (``W1125 22:49:28.170066    5472 prune.go:71] ...``)."""
    now = time.time()
    stamp = time.strftime("%m%d %H:%M:%S", time.localtime(now))
    micros = int((now % 1) * 1_000_000)
    return f"W{stamp}.{micros:06d} {os.getpid():>7} {source}] {text}\n"


async def prune(f: Any, o: Any, items: list[Item], mappings: list[Any]) -> None:
    if not o.prune_allowlist:
        f.err.write(klog_warning(NAMESPACE_WARNING, "prune.go:71"))
    applied = {(i.mapping.group, i.mapping.kind, i.namespace, i.name) for i in items}
    namespaces = sorted({i.namespace for i in items if i.namespace}) or [f.namespace]
    params = {"labelSelector": o.selector} if o.selector else None
    mode = mutate.dry_run(o)
    for mapping in mappings:
        for ns in namespaces if mapping.namespaced else [""]:
            listing = await f.client.call("GET", mapping.path(ns), params=params)
            for obj in listing.get("items") or []:
                meta = obj.get("metadata") or {}
                key = (mapping.group, mapping.kind, meta.get("namespace", ""), meta.get("name", ""))
                if key in applied or ANNOTATION not in (meta.get("annotations") or {}):
                    continue
                await delete(f, mode, mapping, key[2], key[3])
                f.out.write(f"{mapping.kind_prefix}/{key[3]} pruned{mutate.suffix(mode)}\n")


async def delete(f: Any, mode: str, mapping: Any, namespace: str, name: str) -> None:
    """Delete one pruned object in the background (server dry run: only ask)."""
    if mode == "client":
        return
    await f.client.call(
        "DELETE",
        mapping.path(namespace, name),
        params={"dryRun": "All"} if mode == "server" else None,
        body={"propagationPolicy": "Background"},
    )
