"""ControllerRevisions: the template history of DaemonSets and StatefulSets (upstream
``pkg/controller/history``).

Every distinct Pod template an owner has had is a ControllerRevision
``<owner>-<hash>`` whose ``data`` is the strategic-merge patch that restores it
(``{"spec": {"template": {..., "$patch": "replace"}}}``) and whose ``revision``
number orders them. ``kubectl rollout history`` prints these and ``kubectl
rollout undo`` applies the ``data`` of the chosen one to the owner, so the
shape is fixed by kubectl, not by us.

The current revision is the one whose data equals the owner's template now;
when an old template comes back (an undo) its revision is renumbered to the
top instead of creating a duplicate. History beyond ``revisionHistoryLimit``
is deleted oldest first, except revisions Pods still run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tinykube.api import errors
from tinykube.client import Client
from tinykube.controllers.deployment.util import compute_hash
from tinykube.controllers.podutil import meta
from tinykube.controllers.refmanager import new_controller_ref

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"


class HashCollision(errors.AlreadyExists):
    """A revision of the same name holds another template: the owner must raise
    ``status.collisionCount`` so the next hash, and name, differ."""


async def bump_collision_count(client: Client, api_version: str, resource: str, owner: Obj) -> None:
    """Raise ``status.collisionCount`` on ``owner`` (after a ``HashCollision``)."""
    status = dict(owner.get("status") or {})
    status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
    await client.update_status(api_version, resource, {**owner, "status": status})


def template_of(owner: Obj) -> Obj:
    return (owner.get("spec") or {}).get("template") or {}


def revision_hash(owner: Obj) -> str:
    return compute_hash(template_of(owner), (owner.get("status") or {}).get("collisionCount"))


def revision_data(owner: Obj) -> Obj:
    """The patch that restores ``owner``'s template (upstream getPatch)."""
    template = copy.deepcopy(template_of(owner))
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_number(rev: Obj) -> int:
    return int(rev.get("revision") or 0)


def new_revision(owner: Obj, kind: str, number: int) -> Obj:
    hash_ = revision_hash(owner)
    labels = dict((template_of(owner).get("metadata") or {}).get("labels") or {})
    labels[HASH_LABEL] = hash_
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{meta(owner)['name'][:223]}-{hash_}",
            "namespace": meta(owner).get("namespace"),
            "labels": labels,
            "ownerReferences": [new_controller_ref(owner, "apps/v1", kind)],
        },
        "data": revision_data(owner),
        "revision": number,
    }
    if meta(owner).get("annotations"):
        body["metadata"]["annotations"] = dict(meta(owner)["annotations"])
    return body


def split_history(owner: Obj, history: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(revisions matching the current template, the others)."""
    data = revision_data(owner)
    current = [h for h in history if h.get("data") == data]
    old = [h for h in history if h.get("data") != data]
    return current, old


def history_to_delete(owner: Obj, old: list[Obj], live: Callable[[Obj], bool]) -> list[Obj]:
    """Old revisions beyond revisionHistoryLimit that no Pod runs, lowest number first."""
    limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10))
    excess = len(old) - limit
    victims = []
    for rev in sorted(old, key=revision_number):
        if excess <= 0:
            break
        if live(rev):
            continue
        victims.append(rev)
        excess -= 1
    return victims


async def construct_history(
    client: Client, owner: Obj, kind: str, history: list[Obj]
) -> tuple[Obj, list[Obj]]:
    """(current revision, old revisions), creating or renumbering the current one as needed."""
    current, old = split_history(owner, history)
    number = max((revision_number(h) for h in old), default=0) + 1
    if not current:
        return await _snapshot(client, owner, kind, number), old
    cur = max(current, key=revision_number)
    for duplicate in current:
        if duplicate is not cur:
            await delete_revision(client, duplicate)
    if revision_number(cur) < number:
        body = {**copy.deepcopy(cur), "revision": number}
        cur = await client.update("apps/v1", "controllerrevisions", body)
    return cur, old


async def _snapshot(client: Client, owner: Obj, kind: str, number: int) -> Obj:
    body = new_revision(owner, kind, number)
    namespace = meta(owner).get("namespace", "")
    try:
        return await client.create("apps/v1", "controllerrevisions", body, namespace)
    except errors.AlreadyExists:
        found = await client.get(
            "apps/v1", "controllerrevisions", body["metadata"]["name"], namespace
        )
        owners = [r for r in meta(found).get("ownerReferences") or [] if r.get("controller")]
        ours = bool(owners) and owners[0].get("uid") == meta(owner).get("uid")
        if ours and found.get("data") == body["data"]:
            return found
        raise HashCollision(
            f"controllerrevision {body['metadata']['name']} exists with another template"
        ) from None


async def delete_revision(client: Client, rev: Obj) -> None:
    try:
        await client.delete(
            "apps/v1", "controllerrevisions", meta(rev)["name"], meta(rev)["namespace"]
        )
    except errors.NotFound:
        return


async def cleanup_history(
    client: Client, owner: Obj, old: list[Obj], live: Callable[[Obj], bool]
) -> None:
    for rev in history_to_delete(owner, old, live):
        await delete_revision(client, rev)
