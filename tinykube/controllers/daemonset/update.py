"""DaemonSet updates: the RollingUpdate plan and ControllerRevision history (upstream ``update.go``).

**History.** Every distinct template a DaemonSet has had is a ControllerRevision
``<ds>-<hash>`` whose ``data`` is the strategic-merge patch that restores it
(``{"spec": {"template": {..., "$patch": "replace"}}}``) and whose
``revision`` orders them. That is exactly what ``kubectl rollout history
daemonset`` prints and what ``kubectl rollout undo daemonset`` applies, so the
shape is not ours to choose. Pods carry the hash as ``controller-revision-hash``;
the current revision is the one whose data matches the DaemonSet's template,
and it is moved to the highest number when a template comes back (an undo).
Revisions beyond ``revisionHistoryLimit`` are deleted, oldest first, unless a
Pod still runs them.

**RollingUpdate.** Without surge, old Pods are deleted (and recreated by the
next sync's manage step) while at most ``maxUnavailable`` nodes are without an
available daemon; an old Pod that is not available anyway is replaced at
once. With ``maxSurge``, the new Pod is started next to the old one on up to
``maxSurge`` nodes and the old one is deleted when the new one is available.
``OnDelete`` does nothing here: a Pod is replaced when a user deletes it.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from tinykube.api import errors
from tinykube.client import Client
from tinykube.controllers.daemonset.util import (
    HASH_LABEL,
    is_pod_updated,
    max_unavailable_and_surge,
    revision_hash,
    should_run,
    template_generation,
    template_of,
)
from tinykube.controllers.podutil import is_pod_available, meta
from tinykube.controllers.refmanager import new_controller_ref

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


# ---- ControllerRevisions -------------------------------------------------------------------


def revision_data(ds: Obj) -> Obj:
    """The patch that restores ``ds``'s template (upstream getPatch)."""
    template = copy.deepcopy(template_of(ds))
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def new_revision(ds: Obj, number: int) -> Obj:
    hash_ = revision_hash(ds)
    labels = dict((template_of(ds).get("metadata") or {}).get("labels") or {})
    labels[HASH_LABEL] = hash_
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{meta(ds)['name'][:223]}-{hash_}",
            "namespace": meta(ds).get("namespace"),
            "labels": labels,
            "ownerReferences": [new_controller_ref(ds, "apps/v1", "DaemonSet")],
        },
        "data": revision_data(ds),
        "revision": number,
    }
    if meta(ds).get("annotations"):
        body["metadata"]["annotations"] = dict(meta(ds)["annotations"])
    return body


def split_history(ds: Obj, history: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(revisions matching the current template, the others)."""
    data = revision_data(ds)
    current = [h for h in history if h.get("data") == data]
    old = [h for h in history if h.get("data") != data]
    return current, old


def history_to_delete(ds: Obj, old: list[Obj], live_hashes: set[str]) -> list[Obj]:
    limit = int((ds.get("spec") or {}).get("revisionHistoryLimit", 10))
    excess = len(old) - limit
    victims = []
    for rev in sorted(old, key=lambda h: int(h.get("revision") or 0)):
        if excess <= 0:
            break
        if (meta(rev).get("labels") or {}).get(HASH_LABEL) in live_hashes:
            continue
        victims.append(rev)
        excess -= 1
    return victims


async def construct_history(client: Client, ds: Obj, history: list[Obj]) -> tuple[Obj, list[Obj]]:
    """(current revision, old revisions), creating or renumbering the current one as needed."""
    current, old = split_history(ds, history)
    number = max((int(h.get("revision") or 0) for h in old), default=0) + 1
    if not current:
        return await _snapshot(client, ds, number), old
    cur = max(current, key=lambda h: int(h.get("revision") or 0))
    for duplicate in current:
        if duplicate is not cur:
            await _delete_revision(client, duplicate)
    if int(cur.get("revision") or 0) < number:
        body = {**copy.deepcopy(cur), "revision": number}
        cur = await client.update("apps/v1", "controllerrevisions", body)
    return cur, old


async def _snapshot(client: Client, ds: Obj, number: int) -> Obj:
    body = new_revision(ds, number)
    namespace = meta(ds).get("namespace", "")
    try:
        return await client.create("apps/v1", "controllerrevisions", body, namespace)
    except errors.AlreadyExists:
        found = await client.get(
            "apps/v1", "controllerrevisions", body["metadata"]["name"], namespace
        )
        owner = [r for r in meta(found).get("ownerReferences") or [] if r.get("controller")]
        if (
            owner
            and owner[0].get("uid") == meta(ds).get("uid")
            and found.get("data") == body["data"]
        ):
            return found
        raise


async def _delete_revision(client: Client, rev: Obj) -> None:
    try:
        await client.delete(
            "apps/v1", "controllerrevisions", meta(rev)["name"], meta(rev)["namespace"]
        )
    except errors.NotFound:
        return


async def cleanup_history(client: Client, ds: Obj, old: list[Obj], live_hashes: set[str]) -> None:
    for rev in history_to_delete(ds, old, live_hashes):
        await _delete_revision(client, rev)
