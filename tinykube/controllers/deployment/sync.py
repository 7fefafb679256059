"""Finding and creating the new ReplicaSet, scaling, cleanup and status (upstream ``sync.go``).

These are the steps every strategy shares. ``get_all_replica_sets`` finds the
ReplicaSet whose template is the Deployment's ("new"; created on demand with
the name ``<deployment>-<pod-template-hash>``) and stamps revisions: the new
ReplicaSet's revision is one more than any old one's, so a ``rollout undo``
that makes an old template current again moves that old ReplicaSet to the top
revision and records its earlier number in ``revision-history``.

``scale`` handles a change of ``spec.replicas`` while a rollout is under way:
every active ReplicaSet grows or shrinks in proportion to its size
(``scale_plan``, pure), so a 10 -> 20 scale in the middle of a rollout keeps the
old/new ratio instead of dumping all new Pods on one side.

Writes update the local copy of the Deployment (``d``) with the
resourceVersion the server returned, so one sync can write status twice
without conflicting with itself. A Conflict from the server means the cache
was stale: the error goes back to the worker loop, which retries.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from tinykube.api import errors
from tinykube.client import Client
from tinykube.controllers.deployment import progress, util
from tinykube.controllers.deployment.util import Obj, meta, replicas, spec, status
from tinykube.controllers.refmanager import is_controlled_by, new_controller_ref
from tinykube.controllers.runtime import Requeue

SCALING_REPLICA_SET = "ScalingReplicaSet"


class Recorder(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class Context(Protocol):
    """What the sync steps need from the controller."""

    client: Client
    recorder: Recorder
    now: Callable[[], datetime]


# ---- writes ------------------------------------------------------------------------------


async def write_status(ctx: Context, d: Obj) -> None:
    """PUT ``d``'s status (and, as upstream, its annotations) and adopt the new resourceVersion."""
    updated = await ctx.client.update_status("apps/v1", "deployments", d)
    d["metadata"]["resourceVersion"] = meta(updated).get("resourceVersion")


async def write_deployment(ctx: Context, d: Obj) -> None:
    updated = await ctx.client.update("apps/v1", "deployments", d)
    d["metadata"]["resourceVersion"] = meta(updated).get("resourceVersion")


async def scale_replica_set(ctx: Context, rs: Obj, size: int, d: Obj, op: str) -> tuple[bool, Obj]:
    """Set ``rs`` to ``size`` and refresh its replicas annotations; (scaled, updated rs)."""
    desired, maximum = replicas(d), replicas(d) + util.max_surge(d)
    size_changes = replicas(rs) != size
    if not size_changes and not util.replicas_annotations_need_update(rs, desired, maximum):
        return False, rs
    old = replicas(rs)
    body = copy.deepcopy(rs)
    body["spec"]["replicas"] = size
    util.set_replicas_annotations(body, desired, maximum)
    updated = await ctx.client.update("apps/v1", "replicasets", body)
    if size_changes:
        message = f"Scaled {op} replica set {meta(rs)['name']} from {old} to {size}"
        ctx.recorder.event(d, "Normal", SCALING_REPLICA_SET, message)
    return size_changes, updated


async def scale_and_record(ctx: Context, rs: Obj, size: int, d: Obj) -> tuple[bool, Obj]:
    """``scale_replica_set`` unless ``rs`` already has ``size`` (scaleReplicaSetAndRecordEvent)."""
    if replicas(rs) == size:
        return False, rs
    return await scale_replica_set(ctx, rs, size, d, "up" if replicas(rs) < size else "down")


def replace(sets: list[Obj], updated: Obj) -> list[Obj]:
    """``sets`` with the member of ``updated``'s UID swapped for it."""
    uid = meta(updated).get("uid")
    return [updated if meta(rs).get("uid") == uid else rs for rs in sets]


# ---- the new ReplicaSet -----------------------------------------------------------------


async def get_all_replica_sets(
    ctx: Context, d: Obj, sets: list[Obj], create: bool
) -> tuple[Obj | None, list[Obj]]:
    """(new ReplicaSet or None, old ones), syncing revision annotations on the way."""
    old = util.find_old(d, sets)
    return await get_new_replica_set(ctx, d, sets, old, create), old


async def get_new_replica_set(
    ctx: Context, d: Obj, sets: list[Obj], old: list[Obj], create: bool
) -> Obj | None:
    existing = util.find_new(d, sets)
    new_revision = str(util.max_revision(old) + 1)
    if existing is not None:
        return await _sync_existing(ctx, d, existing, new_revision)
    if not create:
        return None
    return await _create_new(ctx, d, old, new_revision)


async def _sync_existing(ctx: Context, d: Obj, existing: Obj, new_revision: str) -> Obj:
    rs = copy.deepcopy(existing)
    changed = util.set_new_rs_annotations(d, rs, new_revision, exists=True)
    min_ready = spec(d).get("minReadySeconds") or 0
    if changed or (spec(rs).get("minReadySeconds") or 0) != min_ready:
        rs["spec"]["minReadySeconds"] = min_ready
        return await ctx.client.update("apps/v1", "replicasets", rs)
    needs_update = util.set_deployment_revision(d, util.annotations(rs).get(util.REVISION, ""))
    st = d.setdefault("status", {})
    if (
        progress.has_progress_deadline(d)
        and progress.get_condition(st, progress.PROGRESSING) is None
    ):
        message = f'Found new replica set "{meta(rs)["name"]}"'
        cond = progress.new_condition(
            progress.PROGRESSING, "True", progress.FOUND_NEW_RS, message, ctx.now()
        )
        progress.set_condition(st, cond)
        needs_update = True
    if needs_update:
        await write_status(ctx, d)
    return rs


def new_replica_set(d: Obj, old: list[Obj], new_revision: str) -> Obj:
    """The ReplicaSet for ``d``'s current template, before it is created (pure)."""
    template = copy.deepcopy(spec(d).get("template") or {})
    pod_hash = util.compute_hash(template, status(d).get("collisionCount"))
    template.setdefault("metadata", {}).setdefault("labels", {})[util.HASH_LABEL] = pod_hash
    selector = copy.deepcopy(spec(d).get("selector") or {})
    selector.setdefault("matchLabels", {})[util.HASH_LABEL] = pod_hash
    rs: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta(d)['name']}-{pod_hash}",
            "namespace": meta(d).get("namespace"),
            "ownerReferences": [new_controller_ref(d, "apps/v1", "Deployment")],
            "labels": dict(template["metadata"]["labels"]),
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": spec(d).get("minReadySeconds") or 0,
            "selector": selector,
            "template": template,
        },
    }
    rs["spec"]["replicas"] = util.new_rs_new_replicas(d, [*old, rs], rs)
    util.set_new_rs_annotations(d, rs, new_revision, exists=False)
    return rs


async def _create_new(ctx: Context, d: Obj, old: list[Obj], new_revision: str) -> Obj:
    rs = new_replica_set(d, old, new_revision)
    name, count = meta(rs)["name"], replicas(rs)
    already_exists = False
    try:
        created = await ctx.client.create(
            "apps/v1", "replicasets", rs, meta(d).get("namespace", "")
        )
    except errors.AlreadyExists:
        created = await _existing_or_collision(ctx, d, name)
        already_exists = True
    except errors.APIError as exc:
        if not _namespace_terminating(exc):
            await _report_create_failure(ctx, d, name, exc)
        raise
    if not already_exists and count > 0:
        message = f"Scaled up replica set {name} from 0 to {count}"
        ctx.recorder.event(d, "Normal", SCALING_REPLICA_SET, message)
    needs_update = util.set_deployment_revision(d, new_revision)
    if not already_exists and progress.has_progress_deadline(d):
        message = f'Created new replica set "{name}"'
        cond = progress.new_condition(
            progress.PROGRESSING, "True", progress.NEW_RS_CREATED, message, ctx.now()
        )
        progress.set_condition(d.setdefault("status", {}), cond)
        needs_update = True
    if needs_update:
        await write_status(ctx, d)
    return created


async def _existing_or_collision(ctx: Context, d: Obj, name: str) -> Obj:
    """Our ReplicaSet already exists (a stale cache), or another template hashed the same."""
    found = await ctx.client.get("apps/v1", "replicasets", name, meta(d).get("namespace", ""))
    template = spec(d).get("template") or {}
    if is_controlled_by(found, d) and util.equal_ignore_hash(
        template, spec(found).get("template") or {}
    ):
        return found
    # A hash collision: bump collisionCount so the next sync hashes to a new name.
    st = d.setdefault("status", {})
    st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
    await write_status(ctx, d)
    raise errors.AlreadyExists(f"replica set {name} exists and is not ours; collisionCount raised")


async def _report_create_failure(ctx: Context, d: Obj, name: str, exc: errors.APIError) -> None:
    message = f'Failed to create new replica set "{name}": {exc.message}'
    if progress.has_progress_deadline(d):
        cond = progress.new_condition(
            progress.PROGRESSING, "False", progress.FAILED_RS_CREATE, message, ctx.now()
        )
        progress.set_condition(d.setdefault("status", {}), cond)
        await write_status(ctx, d)
    ctx.recorder.event(d, "Warning", progress.FAILED_RS_CREATE, message)


def _namespace_terminating(exc: errors.APIError) -> bool:
    return isinstance(exc, errors.Forbidden) and any(
        c.reason == "NamespaceTerminating" for c in exc.causes
    )


# ---- proportional scaling ------------------------------------------------------------------


def find_active_or_latest(new_rs: Obj | None, old: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest when none is active; None when several are."""
    if new_rs is None and not old:
        return None
    newest_first = list(reversed(util.by_creation(old)))
    live = util.active([*newest_first, new_rs])
    if not live:
        return new_rs if new_rs is not None else newest_first[0]
    return live[0] if len(live) == 1 else None


def replica_set_fraction(rs: Obj, d: Obj) -> int:
    """How many replicas ``rs`` gains (or loses) for its share of the new size."""
    if replicas(d) == 0:
        return -replicas(rs)
    target = replicas(d) + util.max_surge(d)
    annotated = util.max_replicas_annotation(rs)
    if annotated is None:
        annotated = int(status(d).get("replicas") or 0)
    if annotated == 0:
        return 0
    share = replicas(rs) * target / annotated
    return math.floor(share + 0.5) - replicas(rs)  # Go's math.Round for positives


def proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def scale_plan(d: Obj, new_rs: Obj | None, old: list[Obj]) -> list[tuple[Obj, int, str]]:
    """(ReplicaSet, new size, operation) for a change of spec.replicas (upstream ``scale``).

    Operation "" means "only if the size differs" (scaleReplicaSetAndRecordEvent);
    "up"/"down" rows are written even at the same size, to refresh annotations.
    """
    latest = find_active_or_latest(new_rs, old)
    if latest is not None:
        return [] if replicas(latest) == replicas(d) else [(latest, replicas(d), "")]
    if util.is_saturated(d, new_rs):
        return [(rs, 0, "") for rs in util.active(old)]
    if not util.is_rolling(d):
        return []
    sets = util.active([*old, new_rs])
    allowed = replicas(d) + util.max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - util.spec_replicas(sets)
    op = "up" if to_add > 0 else ("down" if to_add < 0 else "")
    if to_add:
        sets = util.by_size(sets, newer_first=to_add > 0)
    sizes, added = [], 0
    for rs in sets:
        share = proportion(rs, d, to_add, added)
        sizes.append(replicas(rs) + share)
        added += share
    if to_add and sizes:
        sizes[0] = max(0, sizes[0] + to_add - added)  # leftovers go to the largest
    return [(rs, size, op or "up") for rs, size in zip(sets, sizes, strict=True)]


async def scale(ctx: Context, d: Obj, new_rs: Obj | None, old: list[Obj]) -> list[Obj]:
    """Apply ``scale_plan``; the ReplicaSets as they are after the writes."""
    updated = [rs for rs in [*old, new_rs] if rs is not None]
    for rs, size, op in scale_plan(d, new_rs, old):
        if op:
            _, after = await scale_replica_set(ctx, rs, size, d, op)
        else:
            _, after = await scale_and_record(ctx, rs, size, d)
        updated = replace(updated, after)
    return updated


# ---- history cleanup and status ---------------------------------------------------------------


def cleanup_plan(d: Obj, old: list[Obj]) -> list[Obj]:
    """Old ReplicaSets beyond revisionHistoryLimit that are scaled to zero and settled."""
    limit = spec(d).get("revisionHistoryLimit")
    if limit is None:
        return []
    alive = [rs for rs in old if not meta(rs).get("deletionTimestamp")]
    excess = len(alive) - int(limit)
    if excess <= 0:
        return []
    victims = []
    for rs in util.by_revision(alive)[:excess]:
        observed = int(status(rs).get("observedGeneration") or 0)
        if int(status(rs).get("replicas") or 0) != 0 or replicas(rs) != 0:
            continue
        if int(meta(rs).get("generation") or 0) > observed:
            continue
        victims.append(rs)
    return victims


async def cleanup_deployment(ctx: Context, d: Obj, old: list[Obj]) -> None:
    for rs in cleanup_plan(d, old):
        try:
            await ctx.client.delete(
                "apps/v1", "replicasets", meta(rs)["name"], meta(rs)["namespace"]
            )
        except errors.NotFound:
            continue


async def sync_deployment_status(ctx: Context, sets: list[Obj], new_rs: Obj | None, d: Obj) -> None:
    """Write the counts and Available condition when they changed (no progress estimate)."""
    st = progress.calculate_status(sets, new_rs, d, ctx.now())
    if progress.status_equal(status(d), st):
        return
    d["status"] = st
    await write_status(ctx, d)


async def sync(ctx: Context, d: Obj, sets: list[Obj]) -> None:
    """A scaling event or a paused Deployment: resize, maybe clean up, report."""
    new_rs, old = await get_all_replica_sets(ctx, d, sets, create=False)
    current = await scale(ctx, d, new_rs, old)
    new_rs = _current(new_rs, current)
    old = [_current(rs, current) or rs for rs in old]
    if spec(d).get("paused") and util.annotations(d).get(util.ROLLBACK_TO) is None:
        await cleanup_deployment(ctx, d, old)
    await sync_deployment_status(ctx, [*old, *([new_rs] if new_rs else [])], new_rs, d)


def _current(rs: Obj | None, current: list[Obj]) -> Obj | None:
    if rs is None:
        return None
    uid = meta(rs).get("uid")
    return next((c for c in current if meta(c).get("uid") == uid), rs)


def is_scaling_event(d: Obj, sets: list[Obj]) -> bool:
    """An active ReplicaSet was sized for a different spec.replicas than the Deployment's now."""
    for rs in util.active(sets):
        desired = util.desired_replicas_annotation(rs)
        if desired is not None and desired != replicas(d):
            return True
    return False


async def sync_rollout_status(
    ctx: Context, sets: list[Obj], new_rs: Obj | None, d: Obj
) -> Requeue | None:
    """Write counts and conditions; when nothing changed, wake up at the progress deadline."""
    now = ctx.now()
    st = progress.rollout_status(sets, new_rs, d, now)
    if progress.status_equal(status(d), st):
        after = progress.requeue_stuck_after(d, st, now)
        return Requeue(after=after) if after is not None else None
    d["status"] = st
    await write_status(ctx, d)
    return None
