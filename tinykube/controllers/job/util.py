"""Pure Job decisions: how many Pods should run, when the Job is done, its conditions.

A Job wants ``completions`` successful Pods (or, with completions unset, one
success from a pool of ``parallelism`` workers), running at most
``parallelism`` at a time. Failed Pods are replaced after an exponential delay
(10 s doubling to 6 min, upstream's pod failure backoff) until more than
``backoffLimit`` have failed; ``activeDeadlineSeconds`` bounds the whole run.
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


def job_spec(job: Obj) -> Obj:
    return job.get("spec") or {}


def has_condition(status: Obj, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


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


def past_deadline(job: Obj, now: datetime) -> bool:
    deadline = job_spec(job).get("activeDeadlineSeconds")
    started = parse_time((job.get("status") or {}).get("startTime"))
    if deadline is None or started is None:
        return False
    return (now - started).total_seconds() >= int(deadline)


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
