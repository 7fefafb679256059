"""One step of a StatefulSet's life per sync (upstream ``stateful_set_control.go``).

1. Pods that failed or succeeded are deleted (and recreated next);
2. a missing Pod is created (claims first); with ``OrderedReady`` the sync
   stops there until that Pod is Running and Ready, so ordinal ``i+1`` never
   starts before ``i`` is up; ``Parallel`` creates them all at once;
3. Pods above the replica count are deleted, highest ordinal first, one at a
   time for ``OrderedReady``;
4. RollingUpdate: the highest-ordinal Pod at or above ``partition`` that runs
   an old revision is deleted (recreated at the new revision by step 2),
   once every Pod is healthy. ``OnDelete`` waits for users to delete Pods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tinykube.controllers.podutil import is_pod_available
from tinykube.controllers.statefulset.identity import (
    is_finished,
    is_running_and_ready,
    is_terminating,
    ordinal_of,
    pod_revision,
    replicas_of,
    start_ordinal,
)

Obj = dict[str, Any]


def partition_of(sts: Obj) -> int:
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)


def update_strategy(sts: Obj) -> str:
    return ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")


def is_monotonic(sts: Obj) -> bool:
    return (sts.get("spec") or {}).get("podManagementPolicy", "OrderedReady") != "Parallel"


@dataclass
class Step:
    """What one sync does: Pods to create (by ordinal) and Pods to delete."""

    create: list[int] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def plan(sts: Obj, pods: list[Obj], update_revision: str, now: datetime) -> Step:
    """The next step of upstream updateStatefulSet (see the module docstring)."""
    wanted, condemned = _by_ordinal(sts, pods)
    step = Step()
    if _fill(sts, wanted, step, now) or _shrink(sts, condemned, step):
        return step  # OrderedReady: one thing at a time
    if step.create or step.delete or update_strategy(sts) != "RollingUpdate":
        return step
    _roll(sts, wanted, update_revision, step)
    return step


def _by_ordinal(sts: Obj, pods: list[Obj]) -> tuple[dict[int, Obj], list[Obj]]:
    """(Pods by ordinal within the replica range, Pods above or below it)."""
    start, count = start_ordinal(sts), replicas_of(sts)
    wanted: dict[int, Obj] = {}
    condemned: list[Obj] = []
    for pod in pods:
        ordinal = ordinal_of(sts, pod)
        if ordinal is not None and start <= ordinal < start + count:
            wanted[ordinal] = pod
        elif ordinal is not None:
            condemned.append(pod)
    return wanted, condemned


def _fill(sts: Obj, wanted: dict[int, Obj], step: Step, now: datetime) -> bool:
    """Steps 1-2: replace finished Pods, create missing ones; True means stop here."""
    monotonic = is_monotonic(sts)
    min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
    for ordinal in range(start_ordinal(sts), start_ordinal(sts) + replicas_of(sts)):
        pod = wanted.get(ordinal)
        if pod is None:
            step.create.append(ordinal)
        elif is_finished(pod) and not is_terminating(pod):
            step.delete.append(pod)  # replaced on a later sync, once it is gone
        elif _healthy(pod, min_ready, now):
            continue
        if monotonic:
            return True  # OrderedReady: wait for this ordinal before the next
    return False


def _healthy(pod: Obj, min_ready: int, now: datetime) -> bool:
    return (
        not is_terminating(pod)
        and is_running_and_ready(pod)
        and is_pod_available(pod, min_ready, now)
    )


def _shrink(sts: Obj, condemned: list[Obj], step: Step) -> bool:
    """Step 3: delete Pods above the replica count, highest ordinal first."""
    monotonic = is_monotonic(sts)
    for pod in sorted(condemned, key=lambda p: -(ordinal_of(sts, p) or 0)):
        if not is_terminating(pod):
            step.delete.append(pod)
        if monotonic:
            return True
    return False


def _roll(sts: Obj, wanted: dict[int, Obj], update_revision: str, step: Step) -> None:
    """Step 4: delete the highest old-revision Pod at or above the partition."""
    start, count = start_ordinal(sts), replicas_of(sts)
    for ordinal in range(start + count - 1, start + max(partition_of(sts), 0) - 1, -1):
        pod = wanted[ordinal]
        if pod_revision(pod) != update_revision and not is_terminating(pod):
            step.delete.append(pod)
            return
        if not (is_running_and_ready(pod) and not is_terminating(pod)):
            return


def statefulset_status(sts: Obj, pods: list[Obj], current: str, update: str, now: datetime) -> Obj:
    """Counts by readiness and revision; the rollout completes when all run ``update``."""
    min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
    live = [p for p in pods if ordinal_of(sts, p) is not None and not is_terminating(p)]
    status: Obj = {
        "replicas": len(live),
        "readyReplicas": sum(is_running_and_ready(p) for p in live),
        "availableReplicas": sum(
            is_running_and_ready(p) and is_pod_available(p, min_ready, now) for p in live
        ),
        "currentReplicas": sum(pod_revision(p) == current for p in live),
        "updatedReplicas": sum(pod_revision(p) == update for p in live),
        "currentRevision": current,
        "updateRevision": update,
    }
    done = (
        status["updatedReplicas"]
        == status["replicas"]
        == status["readyReplicas"]
        == replicas_of(sts)
    )
    if update_strategy(sts) == "RollingUpdate" and done:
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = update
    old = sts.get("status") or {}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    return {k: v for k, v in status.items() if v or k == "replicas"}
