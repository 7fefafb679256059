"""Pure Job decisions: how many Pods should run, when the Job is done, its conditions.

A Job wants ``completions`` successful Pods (or, with completions unset, one
success from a pool of ``parallelism`` workers), running at most
``parallelism`` at a time. Failed Pods are replaced after an exponential delay
(10 s doubling to 6 min, upstream's pod failure backoff) until more than
``backoffLimit`` have failed (with ``restartPolicy: OnFailure`` the kubelet
restarts containers in place, so their restarts count instead);
``activeDeadlineSeconds`` bounds the whole run, and nothing wakes the controller
when it passes but a requeue (``deadline_remaining``). A suspended Job carries
the ``Suspended`` condition; resuming it flips the condition and restarts the
clock (``startTime``), as upstream ``syncJob`` does.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from tinykube.api.duration import format_time, parse_time
from tinykube.controllers.job.tracking import TRACKING_FINALIZER
from tinykube.controllers.podutil import meta
from tinykube.controllers.refmanager import new_controller_ref

Obj = dict[str, Any]

BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0
COMPLETE, FAILED = "Complete", "Failed"
SUCCESS_CRITERIA_MET, FAILURE_TARGET = "SuccessCriteriaMet", "FailureTarget"
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
SUSPENDED = "Suspended"
JOB_SUSPENDED = ("JobSuspended", "Job suspended")
JOB_RESUMED = ("JobResumed", "Job resumed")


def job_spec(job: Obj) -> Obj:
    return job.get("spec") or {}


def has_condition(status: Obj, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


def condition_reason(status: Obj, kind: str) -> tuple[str, str] | None:
    """(reason, message) of a True condition of this type."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return str(cond.get("reason") or ""), str(cond.get("message") or "")
    return None


def failure_target(status: Obj) -> tuple[str, str] | None:
    """(reason, message) of a True ``FailureTarget``: the Job is failing, for that reason."""
    return condition_reason(status, FAILURE_TARGET)


def is_finished(job: Obj) -> bool:
    status = job.get("status") or {}
    return has_condition(status, COMPLETE) or has_condition(status, FAILED)


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """How many Pods should run now (upstream manageJob)."""
    spec = job_spec(job)
    parallelism = int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    if completions is None:
        return active if succeeded > 0 else parallelism
    return max(0, min(int(completions) - succeeded, parallelism))


def succeeded_enough(job: Obj, succeeded: int, active: int) -> bool:
    completions = job_spec(job).get("completions")
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= int(completions)


def deadline_remaining(job: Obj, now: datetime) -> float | None:
    """Seconds until ``activeDeadlineSeconds`` runs out (<= 0: past it); None without one.

    A suspended Job's deadline does not run: upstream ``pastActiveDeadline``."""
    deadline = job_spec(job).get("activeDeadlineSeconds")
    started = parse_time((job.get("status") or {}).get("startTime"))
    if deadline is None or started is None or job_spec(job).get("suspend"):
        return None
    return int(deadline) - (now - started).total_seconds()


def past_deadline(job: Obj, now: datetime) -> bool:
    remaining = deadline_remaining(job, now)
    return remaining is not None and remaining <= 0


def past_backoff_limit_on_failure(job: Obj, active: list[Obj]) -> bool:
    """With ``restartPolicy: OnFailure`` failures show as container restarts of the
    running Pods; upstream ``pastBackoffLimitOnFailure`` compares their sum."""
    spec = job_spec(job)
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in active:
        status = pod.get("status") or {}
        if status.get("phase") not in ("Pending", "Running"):
            continue
        for key in ("initContainerStatuses", "containerStatuses"):
            restarts += sum(int(c.get("restartCount") or 0) for c in status.get(key) or [])
    limit = int(spec.get("backoffLimit", 6))
    return restarts > 0 if limit == 0 else restarts >= limit


def sync_suspended(job: Obj, now: datetime) -> tuple[str, str] | None:
    """Keep the ``Suspended`` condition in step with ``spec.suspend``.

    Returns the (reason, message) of the Event to record when it changed. A
    resumed Job starts its clock again, so ``activeDeadlineSeconds`` counts
    from the resume, not from the first start."""
    status = job.setdefault("status", {})
    conditions = status.get("conditions") or []
    current = next((c for c in conditions if c.get("type") == SUSPENDED), None)
    if job_spec(job).get("suspend"):
        if current is not None and current.get("status") == "True":
            return None
        fresh = new_condition(SUSPENDED, JOB_SUSPENDED, now)
        if current is None:
            status["conditions"] = [*conditions, fresh]
        else:
            current.update(fresh)
        return "Suspended", JOB_SUSPENDED[1]
    if current is None or current.get("status") != "True":
        return None
    current.update(new_condition(SUSPENDED, JOB_RESUMED, now), status="False")
    status["startTime"] = format_time(now)
    return "Resumed", JOB_RESUMED[1]


def finished_event(job: Obj) -> tuple[str, str, str] | None:
    """(type, reason, message) of the Event that announces a finished Job."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == COMPLETE:
            return "Normal", "Completed", "Job completed"
        if cond.get("type") == FAILED:
            return "Warning", str(cond.get("reason") or ""), str(cond.get("message") or "")
    return None


def backoff_delay(failures: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_MAX) -> float:
    if failures <= 0:
        return 0.0
    return min(base * 2 ** min(failures - 1, 30), cap)


def new_condition(kind: str, reason: tuple[str, str], now: datetime) -> Obj:
    stamp = format_time(now)
    return {
        "type": kind,
        "status": "True",
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason[0],
        "message": reason[1],
    }


def pod_from_job(job: Obj) -> Obj:
    """The Pod the Job creates: its template, ``<job>-<5 random>``, the tracking finalizer."""
    template = job_spec(job).get("template") or {}
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {
        "generateName": f"{meta(job)['name']}-",
        "labels": copy.deepcopy(tmeta.get("labels") or {}),
        "ownerReferences": [new_controller_ref(job, "batch/v1", "Job")],
        "finalizers": [*(tmeta.get("finalizers") or []), TRACKING_FINALIZER],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = copy.deepcopy(tmeta["annotations"])
    spec = copy.deepcopy(template.get("spec") or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def normal(status: Obj) -> Obj:
    """Status without zero/empty values, so an unchanged Job is not rewritten."""
    return {k: v for k, v in status.items() if v not in (0, None, [], {}, "")}
