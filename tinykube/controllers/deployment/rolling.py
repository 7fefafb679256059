"""The RollingUpdate strategy (upstream ``rolling.go``).

Each sync takes one step and returns; the ReplicaSet controller and the
kubelet move Pods, and their status changes bring the Deployment back here:

1. grow the new ReplicaSet while all ReplicaSets together stay within
   ``replicas + maxSurge`` (:func:`util.new_rs_new_replicas`);
2. otherwise shrink old ReplicaSets while at least ``replicas - maxUnavailable``
   Pods stay available: first old Pods that are not available anyway
   (:func:`cleanup_unhealthy_plan`, they cost nothing), then available ones,
   oldest ReplicaSet first (:func:`scale_down_old_plan`);
3. when the rollout is complete, delete history beyond revisionHistoryLimit.

With 10 replicas and 25%/25% that bounds the rollout to at most 13 Pods and
at least 8 available at any moment. The plans are pure functions of the
ReplicaSets, so the bounds are unit-tested without a cluster.
"""

from __future__ import annotations

from tinykube.controllers.deployment import progress, sync, util
from tinykube.controllers.deployment.util import Obj, replicas, status
from tinykube.controllers.runtime import Requeue


def _available(rs: Obj) -> int:
    """Available replicas that will still exist once ``rs`` reaches its spec.

    Right after this controller shrinks an old ReplicaSet, its status still
    counts the Pods about to be deleted; summing status alone (as upstream
    does) lets the next sync spend the same unavailability budget twice and
    dip below minAvailable. Capping by spec.replicas closes that window and
    changes nothing once the ReplicaSet controller has caught up.
    """
    return min(int(status(rs).get("availableReplicas") or 0), replicas(rs))


def max_scaled_down(all_sets: list[Obj], new_rs: Obj, d: Obj) -> int:
    """How many old replicas may go now without breaking minAvailable.

    Unavailable new Pods count against the budget: they may never become
    available, and old Pods must not be traded for them.
    """
    min_available = replicas(d) - util.max_unavailable(d)
    new_unavailable = replicas(new_rs) - _available(new_rs)
    return util.spec_replicas(all_sets) - min_available - new_unavailable


def cleanup_unhealthy_plan(old: list[Obj], budget: int) -> list[tuple[Obj, int]]:
    """Shrink old ReplicaSets by their unavailable replicas, oldest first, within ``budget``."""
    plan: list[tuple[Obj, int]] = []
    done = 0
    for rs in util.by_creation(old):
        if done >= budget:
            break
        unhealthy = replicas(rs) - _available(rs)
        if replicas(rs) == 0 or unhealthy <= 0:
            continue
        cut = min(budget - done, unhealthy)
        plan.append((rs, replicas(rs) - cut))
        done += cut
    return plan


def scale_down_old_plan(all_sets: list[Obj], old: list[Obj], d: Obj) -> list[tuple[Obj, int]]:
    """Shrink old ReplicaSets, oldest first, down to exactly minAvailable available Pods."""
    min_available = replicas(d) - util.max_unavailable(d)
    available = sum(_available(rs) for rs in all_sets)
    if available <= min_available:
        return []
    budget = available - min_available
    plan: list[tuple[Obj, int]] = []
    done = 0
    for rs in util.by_creation(old):
        if done >= budget:
            break
        if replicas(rs) == 0:
            continue
        cut = min(replicas(rs), budget - done)
        plan.append((rs, replicas(rs) - cut))
        done += cut
    return plan


async def reconcile_new_replica_set(
    ctx: sync.Context, all_sets: list[Obj], new_rs: Obj, d: Obj
) -> Obj:
    """Step 1; returns the new ReplicaSet as it is after the write."""
    if replicas(new_rs) == replicas(d):
        return new_rs
    if replicas(new_rs) > replicas(d):
        return (await sync.scale_and_record(ctx, new_rs, replicas(d), d))[1]
    target = util.new_rs_new_replicas(d, all_sets, new_rs)
    return (await sync.scale_and_record(ctx, new_rs, target, d))[1]


async def reconcile_old_replica_sets(
    ctx: sync.Context, all_sets: list[Obj], old: list[Obj], new_rs: Obj, d: Obj
) -> bool:
    """Step 2; True when anything was scaled down."""
    if util.spec_replicas(old) == 0:
        return False
    budget = max_scaled_down(all_sets, new_rs, d)
    if budget <= 0:
        return False
    scaled = False
    for rs, size in cleanup_unhealthy_plan(old, budget):
        changed, after = await sync.scale_and_record(ctx, rs, size, d)
        scaled = scaled or changed
        old = sync.replace(old, after)
    for rs, size in scale_down_old_plan([*old, new_rs], old, d):
        changed, _ = await sync.scale_and_record(ctx, rs, size, d)
        scaled = scaled or changed
    return scaled


async def rollout_rolling(ctx: sync.Context, d: Obj, sets: list[Obj]) -> Requeue | None:
    new_rs, old = await sync.get_all_replica_sets(ctx, d, sets, create=True)
    assert new_rs is not None  # create=True either returns it or raises
    all_sets = [*old, new_rs]
    grown = await reconcile_new_replica_set(ctx, all_sets, new_rs, d)
    if replicas(grown) != replicas(new_rs):
        return await sync.sync_rollout_status(ctx, [*old, grown], grown, d)
    if await reconcile_old_replica_sets(ctx, all_sets, util.active(old), new_rs, d):
        return await sync.sync_rollout_status(ctx, all_sets, new_rs, d)
    if progress.deployment_complete(d, status(d)):
        await sync.cleanup_deployment(ctx, d, old)
    return await sync.sync_rollout_status(ctx, all_sets, new_rs, d)
