"""Deployment status and conditions: how far a rollout got, and whether it is stuck.

``kubectl rollout status`` reads only the Deployment's status, so the counts
and the two conditions computed here are the user interface of a rollout:

- ``Available``: True (``MinimumReplicasAvailable``) while at least
  ``replicas - maxUnavailable`` Pods are available, else False
  (``MinimumReplicasUnavailable``).
- ``Progressing``: True with ``NewReplicaSetCreated``, ``FoundNewReplicaSet``
  or ``ReplicaSetUpdated`` while a rollout moves, ``NewReplicaSetAvailable``
  when it has finished, False with ``ProgressDeadlineExceeded`` when nothing
  moved for ``progressDeadlineSeconds``, Unknown with ``DeploymentPaused`` /
  ``DeploymentResumed`` around a pause.

Progress is measured by the condition's ``lastUpdateTime``: every sync that
sees more updated, ready or available Pods (or fewer old ones) refreshes it,
and the deadline counts from it. A Deployment that is still progressing is
requeued for the moment its deadline would pass, so the timeout is reported
without any event to wake the controller (upstream ``progress.go``).

Everything here is pure: ``now`` is a parameter.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from tinykube.api.duration import format_time, parse_time
from tinykube.controllers.deployment import util
from tinykube.controllers.deployment.util import Obj, meta, replicas, spec, status

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"

MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"

MAX_INT32 = 2**31 - 1


# ---- conditions ------------------------------------------------------------------------


def new_condition(kind: str, value: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_time(now)
    return {
        "type": kind,
        "status": value,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def get_condition(st: Obj, kind: str) -> Obj | None:
    for cond in st.get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def set_condition(st: Obj, cond: Obj) -> None:
    """Upstream SetDeploymentCondition: same status and reason is a no-op; same status keeps
    the transition time; the condition moves to the end of the list."""
    current = get_condition(st, cond["type"])
    if current is not None and current.get("status") == cond["status"]:
        if current.get("reason") == cond["reason"]:
            return
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(st, cond["type"])
    st.setdefault("conditions", []).append(cond)


def remove_condition(st: Obj, kind: str) -> None:
    kept = [c for c in st.get("conditions") or [] if c.get("type") != kind]
    if kept:
        st["conditions"] = kept
    else:
        st.pop("conditions", None)


def has_progress_deadline(d: Obj) -> bool:
    deadline = spec(d).get("progressDeadlineSeconds")
    return deadline is not None and int(deadline) != MAX_INT32


# ---- status -------------------------------------------------------------------------------


def calculate_status(sets: list[Obj], new_rs: Obj | None, d: Obj, now: datetime) -> Obj:
    """The Deployment status the ReplicaSets imply (upstream calculateStatus)."""
    available = util.status_count(sets, "availableReplicas")
    unavailable = max(0, util.spec_replicas(sets) - available)
    st: Obj = {
        "observedGeneration": meta(d).get("generation") or 0,
        "replicas": util.status_count(sets, "replicas"),
        "updatedReplicas": util.status_count([new_rs], "replicas"),
        "readyReplicas": util.status_count(sets, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    st = {k: v for k, v in st.items() if v}
    old = status(d)
    if old.get("collisionCount") is not None:
        st["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        st["conditions"] = copy.deepcopy(old["conditions"])
    if available >= replicas(d) - util.max_unavailable(d):
        cond = new_condition(
            AVAILABLE,
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
            now,
        )
    else:
        cond = new_condition(
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(st, cond)
    return st


def _count(st: Obj, field: str) -> int:
    return int(st.get(field) or 0)


def deployment_complete(d: Obj, st: Obj) -> bool:
    want = replicas(d)
    return (
        _count(st, "updatedReplicas") == want
        and _count(st, "replicas") == want
        and _count(st, "availableReplicas") == want
        and _count(st, "observedGeneration") >= int(meta(d).get("generation") or 0)
    )


def deployment_progressing(d: Obj, st: Obj) -> bool:
    """More updated, ready or available Pods than last written, or fewer old ones."""
    old = status(d)
    old_old = _count(old, "replicas") - _count(old, "updatedReplicas")
    new_old = _count(st, "replicas") - _count(st, "updatedReplicas")
    return (
        _count(st, "updatedReplicas") > _count(old, "updatedReplicas")
        or new_old < old_old
        or _count(st, "readyReplicas") > _count(old, "readyReplicas")
        or _count(st, "availableReplicas") > _count(old, "availableReplicas")
    )


def deployment_timed_out(d: Obj, st: Obj, now: datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(st, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = _updated(cond)
    if since is None:
        return False
    return since + timedelta(seconds=int(spec(d)["progressDeadlineSeconds"])) < now


def _updated(cond: Obj) -> datetime | None:
    try:
        return parse_time(cond.get("lastUpdateTime"))
    except ValueError:
        return None


def _rs_name(new_rs: Obj | None) -> str:
    return meta(new_rs).get("name", "")


def rollout_status(sets: list[Obj], new_rs: Obj | None, d: Obj, now: datetime) -> Obj:
    """The status to write at the end of a rollout step (upstream syncRolloutStatus)."""
    st = calculate_status(sets, new_rs, d, now)
    if not has_progress_deadline(d):
        remove_condition(st, PROGRESSING)
    current = get_condition(status(d), PROGRESSING)
    complete = (
        _count(st, "replicas") == _count(st, "updatedReplicas")
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if has_progress_deadline(d) and not complete:
        _progress_condition(st, new_rs, d, current, now)
    failure = replica_failure(sets, new_rs)
    if failure is not None:
        set_condition(st, failure)
    else:
        remove_condition(st, REPLICA_FAILURE)
    return st


def _progress_condition(
    st: Obj, new_rs: Obj | None, d: Obj, current: Obj | None, now: datetime
) -> None:
    name = meta(d).get("name", "")
    subject = f'ReplicaSet "{_rs_name(new_rs)}"' if new_rs is not None else f'Deployment "{name}"'
    if deployment_complete(d, st):
        message = f"{subject} has successfully progressed."
        set_condition(st, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message, now))
    elif deployment_progressing(d, st):
        cond = new_condition(PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.", now)
        # Progress refreshes lastUpdateTime even when the reason stays the same.
        if current is not None:
            if current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime")
            remove_condition(st, PROGRESSING)
        set_condition(st, cond)
    elif deployment_timed_out(d, st, now):
        message = f"{subject} has timed out progressing."
        set_condition(st, new_condition(PROGRESSING, "False", TIMED_OUT, message, now))


def replica_failure(sets: list[Obj], new_rs: Obj | None) -> Obj | None:
    """A ReplicaSet's ReplicaFailure condition, lifted onto the Deployment (new RS first)."""
    ordered = ([new_rs] if new_rs is not None else []) + [s for s in sets if s is not new_rs]
    for rs in ordered:
        cond = get_condition(status(rs), REPLICA_FAILURE)
        if cond is not None:
            return {
                "type": REPLICA_FAILURE,
                "status": cond.get("status"),
                "lastUpdateTime": cond.get("lastTransitionTime"),
                "lastTransitionTime": cond.get("lastTransitionTime"),
                "reason": cond.get("reason"),
                "message": cond.get("message"),
            }
    return None


def requeue_stuck_after(d: Obj, st: Obj, now: datetime) -> float | None:
    """When to look again so a deadline passing is noticed (upstream requeueStuckDeployment)."""
    current = get_condition(status(d), PROGRESSING)
    if not has_progress_deadline(d) or current is None:
        return None
    if deployment_complete(d, st) or current.get("reason") == TIMED_OUT:
        return None
    since = _updated(current)
    if since is None:
        return None
    deadline = since + timedelta(seconds=int(spec(d)["progressDeadlineSeconds"]))
    after = (deadline - now).total_seconds()
    return max(after, 0.0) + 1.0


def paused_condition_change(d: Obj, now: datetime) -> Obj | None:
    """The Progressing condition a pause or resume calls for, or None (checkPausedConditions)."""
    if not has_progress_deadline(d):
        return None
    cond = get_condition(status(d), PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return None  # a reported timeout is not hidden by a pause
    paused_cond = cond is not None and cond.get("reason") == PAUSED
    if spec(d).get("paused") and not paused_cond:
        return new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
    if not spec(d).get("paused") and paused_cond:
        return new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now)
    return None


def status_equal(a: Obj, b: Obj) -> bool:
    return _normal(a) == _normal(b)


def _normal(st: Obj) -> Obj:
    return {k: v for k, v in st.items() if v not in (0, None, [], {})}
