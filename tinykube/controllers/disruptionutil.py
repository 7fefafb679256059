"""The arithmetic of PodDisruptionBudget status, as pure functions over dicts.

What ``disruption.py`` decides, without a client: which pods a budget selects
(policy/v1: a missing selector selects nothing, an empty one everything), how
many pods it expects and wants healthy, which eviction records in
``status.disruptedPods`` still stand, how many pods are healthy, and the
status (with its ``DisruptionAllowed`` condition) to write, or None when the
stored one is already right. Unit tests call these with plain objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from tinykube.api.duration import parse_time
from tinykube.api.selectors import Selector, SelectorError, label_selector_as_selector
from tinykube.controllers.deployment.util import scaled_value
from tinykube.controllers.podutil import is_pod_ready, meta

Obj = dict[str, Any]

# How long an eviction's disruptedPods entry waits for the pod's deletion to be seen.
DELETION_TIMEOUT = timedelta(minutes=2)
# How long a pod may carry DisruptionTarget=True without being deleted.
STALE_DISRUPTION_TIMEOUT = timedelta(minutes=2)
DISRUPTION_TARGET = "DisruptionTarget"

CONDITION = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"


class SyncError(Exception):
    """A budget whose status cannot be computed; its message goes into the SyncFailed condition."""


def selector_of(pdb: Obj) -> Selector:
    """policy/v1 semantics: a missing selector selects nothing, an empty one every pod."""
    return label_selector_as_selector((pdb.get("spec") or {}).get("selector"))


def budgets_for_pod(pdbs: Iterable[Obj], pod: Obj) -> list[Obj]:
    """The budgets in the pod's namespace whose selector matches it (a bad selector matches none)."""
    out = []
    for pdb in pdbs:
        if meta(pdb).get("namespace") != meta(pod).get("namespace"):
            continue
        try:
            selector = selector_of(pdb)
        except SelectorError:
            continue
        if selector.matches(meta(pod).get("labels")):
            out.append(pdb)
    return out


def uses_scale(spec: Obj) -> bool:
    """Only an integer minAvailable is counted without looking at the pods' controllers."""
    if spec.get("maxUnavailable") is not None:
        return True
    return isinstance(spec.get("minAvailable"), str)


def expected_and_desired(spec: Obj, matching: int, scale: int) -> tuple[int, int]:
    """(expectedPods, desiredHealthy); ``scale`` is the summed replicas of the pods' controllers.

    Percentages round up (intstr.GetScaledValueFromIntOrPercent with roundUp),
    so ``maxUnavailable: 50%`` of 3 allows 2 down and ``minAvailable: 50%`` of
    3 wants 2 up. A budget with neither field expects nothing.
    """
    try:
        if spec.get("maxUnavailable") is not None:
            unavailable = scaled_value(spec["maxUnavailable"], scale, True)
            return scale, max(0, scale - unavailable)
        minimum = spec.get("minAvailable")
        if isinstance(minimum, int):
            return matching, minimum
        if isinstance(minimum, str):
            return scale, scaled_value(minimum, scale, True)
    except ValueError as exc:
        raise SyncError(str(exc)) from None
    return 0, 0


def live_disruptions(
    pods: Iterable[Obj], recorded: Obj | None, now: datetime
) -> tuple[Obj, datetime | None, list[Obj]]:
    """(the disruptedPods to keep, when the first kept one expires, pods whose entry expired).

    An entry survives only while its pod exists, is not terminating yet and
    the eviction is younger than DELETION_TIMEOUT (upstream buildDisruptedPodMap).
    """
    kept: Obj = {}
    recheck: datetime | None = None
    expired: list[Obj] = []
    if not recorded:
        return kept, recheck, expired
    for pod in pods:
        name = meta(pod).get("name", "")
        if meta(pod).get("deletionTimestamp") or name not in recorded:
            continue
        try:
            since = parse_time(recorded[name])
        except ValueError:
            since = None
        deadline = (since or now) + DELETION_TIMEOUT
        if deadline < now:
            expired.append(pod)
            continue
        kept[name] = recorded[name]
        if recheck is None or deadline < recheck:
            recheck = deadline
    return kept, recheck, expired


def count_healthy(pods: Iterable[Obj], disrupted: Obj, now: datetime) -> int:
    """Ready pods that are neither terminating nor recently evicted."""
    healthy = 0
    for pod in pods:
        if meta(pod).get("deletionTimestamp"):
            continue
        when = disrupted.get(meta(pod).get("name", ""))
        if when is not None:
            try:
                since = parse_time(when)
            except ValueError:
                since = None
            if since is not None and since + DELETION_TIMEOUT > now:
                continue
        if is_pod_ready(pod):
            healthy += 1
    return healthy


def stale_disruption_wait(pod: Obj, now: datetime) -> float | None:
    """Seconds until the pod's DisruptionTarget=True condition counts as stale (0: it does).

    None when there is nothing to reset: the pod is terminating or finished,
    has no such condition, or got it from its kubelet (which may take as long
    as it likes before the pod terminates).
    """
    status = pod.get("status") or {}
    if meta(pod).get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    cond = next(
        (c for c in status.get("conditions") or [] if c.get("type") == DISRUPTION_TARGET), None
    )
    if cond is None or cond.get("status") != "True" or cond.get("reason") == "TerminationByKubelet":
        return None
    try:
        since = parse_time(cond.get("lastTransitionTime")) or now
    except ValueError:
        since = now
    return max(0.0, (since + STALE_DISRUPTION_TIMEOUT - now).total_seconds())


def disruptions_allowed(current: int, desired: int, expected: int) -> int:
    """Zero while no pods are expected, so a new budget is safe before its first pods appear."""
    if expected <= 0:
        return 0
    return max(0, current - desired)


def set_condition(conditions: list[Obj], wanted: Obj, now: str) -> list[Obj]:
    """apimachinery SetStatusCondition: the transition time moves only when the status does."""
    out = [dict(c) for c in conditions]
    for cond in out:
        if cond.get("type") != wanted["type"]:
            continue
        if cond.get("status") != wanted["status"]:
            cond["status"] = wanted["status"]
            cond["lastTransitionTime"] = now
        cond["reason"] = wanted["reason"]
        cond["message"] = wanted.get("message", "")
        _set_observed(cond, wanted.get("observedGeneration"))
        return out
    new = {"type": wanted["type"], "status": wanted["status"]}
    _set_observed(new, wanted.get("observedGeneration"))
    new.update(lastTransitionTime=now, reason=wanted["reason"], message=wanted.get("message", ""))
    out.append(new)
    return out


def _set_observed(cond: Obj, generation: int | None) -> None:
    if generation:
        cond["observedGeneration"] = generation
    else:
        cond.pop("observedGeneration", None)


def allowed_condition(status: Obj, now: str) -> list[Obj]:
    """The DisruptionAllowed condition that matches ``status.disruptionsAllowed``."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    wanted = {
        "type": CONDITION,
        "status": "True" if allowed else "False",
        "reason": SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS,
        "observedGeneration": status.get("observedGeneration"),
    }
    return set_condition(status.get("conditions") or [], wanted, now)


def budget_status(
    pdb: Obj, current: int, desired: int, expected: int, disrupted: Obj, now: str
) -> Obj | None:
    """The status to write, or None when the stored one is already right (no write)."""
    old = pdb.get("status") or {}
    generation = int(meta(pdb).get("generation") or 0)
    status: Obj = {}
    if generation:
        status["observedGeneration"] = generation
    if disrupted:
        status["disruptedPods"] = dict(disrupted)
    status.update(
        disruptionsAllowed=disruptions_allowed(current, desired, expected),
        currentHealthy=current,
        desiredHealthy=desired,
        expectedPods=expected,
        conditions=old.get("conditions") or [],
    )
    status["conditions"] = allowed_condition(status, now)
    unchanged = all(old.get(k, 0) == status[k] for k in _COUNTS) and (
        (old.get("disruptedPods") or {}) == (status.get("disruptedPods") or {})
    )
    if unchanged and _conditions_up_to_date(old, generation):
        return None
    return status


_COUNTS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")


def _conditions_up_to_date(status: Obj, generation: int) -> bool:
    """component-helpers ConditionsAreUpToDate, plus observedGeneration itself."""
    if int(status.get("observedGeneration") or 0) != generation:
        return False
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)
    if cond is None:
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == SUFFICIENT_PODS
    return cond.get("status") == "False" and cond.get("reason") == INSUFFICIENT_PODS


def fail_safe_status(pdb: Obj, message: str, now: str) -> Obj:
    """No disruptions allowed and a SyncFailed condition; everything else as stored."""
    status = dict(pdb.get("status") or {})
    status["disruptionsAllowed"] = 0
    wanted = {
        "type": CONDITION,
        "status": "False",
        "reason": SYNC_FAILED,
        "message": message,
        "observedGeneration": status.get("observedGeneration"),
    }
    status["conditions"] = set_condition(status.get("conditions") or [], wanted, now)
    return status
