"""Controller references: which objects a controller owns, adopts and lets go.

A ReplicaSet owns the Pods whose controller ownerReference names its UID, and
a Deployment owns ReplicaSets the same way. The selector decides what *should*
be owned, so every sync reconciles the two, as upstream's
``controller_ref_manager.go`` does:

- owned and matching: keep;
- owned but no longer matching (someone relabelled the Pod): release it, by
  removing our ownerReference, unless we are being deleted ourselves;
- an orphan that matches: adopt it, by adding a controller ownerReference,
  unless either side is being deleted;
- controlled by someone else: never touch.

The decision is :func:`plan_claims`, a pure function; :func:`claim` performs
the patches. Both patches carry the object's UID, so a Pod deleted and
recreated under the same name is not adopted by mistake. A patch that finds
the object gone is not an error: there is nothing left to claim.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tinykube.api import errors
from tinykube.api.selectors import Selector
from tinykube.client import Client
from tinykube.controllers.podutil import controller_ref, meta

Obj = dict[str, Any]


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    """The ownerReference a controller puts on what it creates (metav1.NewControllerRef)."""
    m = meta(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": m.get("name"),
        "uid": m.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == meta(owner).get("uid")


@dataclass
class ClaimPlan:
    owned: list[Obj] = field(default_factory=list)
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)


def plan_claims(owner: Obj, selector: Selector, candidates: list[Obj]) -> ClaimPlan:
    """Sort ``candidates`` into keep / adopt / release (see the module docstring)."""
    plan = ClaimPlan()
    owner_uid = meta(owner).get("uid")
    owner_deleting = bool(meta(owner).get("deletionTimestamp"))
    for obj in candidates:
        matches = selector.matches(meta(obj).get("labels"))
        ref = controller_ref(obj)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if matches:
                plan.owned.append(obj)
            elif not owner_deleting:
                plan.release.append(obj)
        elif matches and not owner_deleting and not meta(obj).get("deletionTimestamp"):
            plan.adopt.append(obj)
    return plan


async def claim(
    client: Client,
    api_version: str,
    resource: str,
    owner: Obj,
    owner_ref: Obj,
    selector: Selector,
    candidates: list[Obj],
) -> list[Obj]:
    """Adopt and release as planned; the objects now owned. Raises the first failure."""
    plan = plan_claims(owner, selector, candidates)
    owned = list(plan.owned)
    patches = [_adopt(client, api_version, resource, o, owner_ref) for o in plan.adopt]
    patches += [_release(client, api_version, resource, o, owner_ref["uid"]) for o in plan.release]
    results = await asyncio.gather(*patches, return_exceptions=True)
    failure: BaseException | None = None
    for result in results[: len(plan.adopt)]:
        if isinstance(result, dict):
            owned.append(result)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, errors.NotFound):
            failure = failure or result
    if failure is not None:
        raise failure
    return owned


async def _adopt(client: Client, api_version: str, resource: str, obj: Obj, ref: Obj) -> Obj | None:
    m = meta(obj)
    body = {"metadata": {"ownerReferences": [ref], "uid": m.get("uid")}}
    try:
        return await client.patch(
            api_version, resource, m["name"], body, m.get("namespace", ""), patch_type="strategic"
        )
    except errors.NotFound:
        return None


async def _release(
    client: Client, api_version: str, resource: str, obj: Obj, owner_uid: str
) -> None:
    m = meta(obj)
    body = {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
            "uid": m.get("uid"),
        }
    }
    try:
        await client.patch(
            api_version, resource, m["name"], body, m.get("namespace", ""), patch_type="strategic"
        )
    except errors.NotFound:
        return
