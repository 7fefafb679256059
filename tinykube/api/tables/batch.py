"""Printers for Jobs and CronJobs.

A Job's STATUS is the first that applies of Complete, Failed, Terminating,
Suspended, FailureTarget, SuccessCriteriaMet, Running (a condition counts only
when its first occurrence is True). COMPLETIONS is ``succeeded/completions``, or
``succeeded/1`` (``of N`` when parallel) for work-queue Jobs. DURATION runs
from ``startTime`` to ``completionTime``, or to now while the Job runs, and is
empty before it starts.
"""

from __future__ import annotations

from datetime import datetime

from tinykube.api import duration
from tinykube.api.tables._common import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    NONE,
    SELECTOR,
    Cells,
    Obj,
    Printer,
    age_of,
    bool_text,
    col,
    count,
    deleting,
    dig,
    first_true,
    label_selector_text,
    name_of,
    template_containers,
)


def job_status(job: Obj) -> str:
    conditions = dig(job, "status", "conditions", default=[])
    if first_true(conditions, "Complete"):
        return "Complete"
    if first_true(conditions, "Failed"):
        return "Failed"
    if deleting(job):
        return "Terminating"
    if first_true(conditions, "Suspended"):
        return "Suspended"
    if first_true(conditions, "FailureTarget"):
        return "FailureTarget"
    if first_true(conditions, "SuccessCriteriaMet"):
        return "SuccessCriteriaMet"  # done, waiting for its last Pods to stop
    return "Running"


def job_completions(job: Obj) -> str:
    succeeded = count(dig(job, "status", "succeeded"))
    completions = dig(job, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = int(dig(job, "spec", "parallelism", default=0))
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Obj, now: datetime) -> str:
    start = dig(job, "status", "startTime")
    if not start:
        return ""
    end = dig(job, "status", "completionTime")
    if not end:
        return duration.age(start, now)
    return duration.between(start, end)


def _job_cells(job: Obj, now: datetime) -> Cells:
    names, images = template_containers(job, "spec", "template")
    return [
        name_of(job),
        job_status(job),
        job_completions(job),
        job_duration(job, now),
        age_of(job, now),
        names,
        images,
        label_selector_text(dig(job, "spec", "selector")),
    ]


JOB = Printer(
    (
        NAME,
        col("Status", "Complete, Failed, Suspended, Running, ..."),
        col("Completions", "Succeeded pods out of the completions asked for."),
        col("Duration", "How long the job ran, or has been running."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _job_cells,
)


def _cron_job_cells(cj: Obj, now: datetime) -> Cells:
    last = dig(cj, "status", "lastScheduleTime")
    names, images = template_containers(cj, "spec", "jobTemplate", "spec", "template")
    return [
        name_of(cj),
        dig(cj, "spec", "schedule", default=""),
        dig(cj, "spec", "timeZone") or NONE,
        bool_text(dig(cj, "spec", "suspend")),
        len(dig(cj, "status", "active", default=[])),
        duration.age(last, now) if last else NONE,
        age_of(cj, now),
        names,
        images,
        label_selector_text(dig(cj, "spec", "jobTemplate", "spec", "selector")),
    ]


CRON_JOB = Printer(
    (
        NAME,
        col("Schedule", "The cron schedule."),
        col("Timezone", "The time zone the schedule is read in."),
        col("Suspend", "Whether new runs are held back.", "boolean"),
        col("Active", "Jobs of this cron job that are running.", "integer"),
        col("Last Schedule", "How long ago a job was last started."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _cron_job_cells,
)

PRINTERS = {("batch", "Job"): JOB, ("batch", "CronJob"): CRON_JOB}
