"""The Recreate strategy (upstream ``recreate.go``): all old Pods go before any new one starts.

Each sync: scale every old ReplicaSet to zero; then wait until no old Pod is
left running at all (not just until the ReplicaSets say zero: a Pod being
terminated still runs, and an application that cannot run two versions at
once is the reason to choose Recreate); only then create or grow the new
ReplicaSet to the full replica count. The Pod map is the Pods of each owned
ReplicaSet, by its UID, so a deleted Pod wakes the Deployment for the next step.
"""

from __future__ import annotations

from tinykube.controllers.deployment import progress, sync, util
from tinykube.controllers.deployment.util import Obj, meta, replicas, status
from tinykube.controllers.runtime import Requeue


def old_pods_running(new_rs: Obj | None, old: list[Obj], pods_by_rs: dict[str, list[Obj]]) -> bool:
    """Any old Pod that has not finished, counted from ReplicaSet status and from Pods."""
    if util.status_count(old, "replicas") > 0:
        return True
    new_uid = meta(new_rs).get("uid") if new_rs is not None else None
    for uid, pods in pods_by_rs.items():
        if uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True  # Running, Pending, or Unknown (the node may still run it)
    return False


async def rollout_recreate(
    ctx: sync.Context, d: Obj, sets: list[Obj], pods_by_rs: dict[str, list[Obj]]
) -> Requeue | None:
    new_rs, old = await sync.get_all_replica_sets(ctx, d, sets, create=False)
    scaled_down = False
    for rs in util.active(old):
        changed, after = await sync.scale_and_record(ctx, rs, 0, d)
        scaled_down = scaled_down or changed
        old = sync.replace(old, after)
    all_sets = [*old, *([new_rs] if new_rs is not None else [])]
    if scaled_down or old_pods_running(new_rs, old, pods_by_rs):
        return await sync.sync_rollout_status(ctx, all_sets, new_rs, d)
    if new_rs is None:
        new_rs, old = await sync.get_all_replica_sets(ctx, d, sets, create=True)
        assert new_rs is not None
        all_sets = [*old, new_rs]
    changed, grown = await sync.scale_and_record(ctx, new_rs, replicas(d), d)
    if changed:
        return await sync.sync_rollout_status(ctx, sync.replace(all_sets, grown), grown, d)
    if progress.deployment_complete(d, status(d)):
        await sync.cleanup_deployment(ctx, d, old)
    return await sync.sync_rollout_status(ctx, all_sets, new_rs, d)
