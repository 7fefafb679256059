"""Defaults for ``batch/v1``: Job and CronJob.

A Job without ``manualSelector: true`` gets a selector generated from its own
uid (upstream does this in the Job strategy's PrepareForCreate; the registry
sets ``metadata.uid`` before defaulting so we can do it here) and the matching
labels on its pod template. The Job's own labels then default to the
template's, which is why ``kubectl get job -o yaml`` shows ``job-name`` and
``controller-uid`` labels on the Job itself.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.defaults.pod import default_template

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
MAX_INT32 = 2**31 - 1


def default_job(job: dict[str, Any]) -> None:
    spec = job.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        per_index = spec.get("backoffLimitPerIndex") is not None
        spec["backoffLimit"] = MAX_INT32 if per_index else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if spec.get("podReplacementPolicy") is None:
        has_failure_policy = spec.get("podFailurePolicy") is not None
        spec["podReplacementPolicy"] = "Failed" if has_failure_policy else "TerminatingOrFailed"
    if spec.get("manualSelector") is not True:
        generate_selector(job)
    template = spec.get("template")
    default_template(template)
    template_labels = ((template or {}).get("metadata") or {}).get("labels")
    meta = job.setdefault("metadata", {})
    if template_labels and not meta.get("labels"):
        meta["labels"] = dict(template_labels)


def generate_selector(job: dict[str, Any]) -> None:
    """Select the Job's pods by its uid and label the template to match."""
    meta = job.get("metadata") or {}
    uid = meta.get("uid")
    if not uid:
        return
    spec = job["spec"]
    template = spec.get("template")
    if isinstance(template, dict):
        template_meta = template.setdefault("metadata", {})
        labels = template_meta.get("labels") or {}
        labels.setdefault(LEGACY_CONTROLLER_UID, uid)
        labels.setdefault(LEGACY_JOB_NAME, meta.get("name", ""))
        labels.setdefault(CONTROLLER_UID, uid)
        labels.setdefault(JOB_NAME, meta.get("name", ""))
        template_meta["labels"] = labels
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {CONTROLLER_UID: uid}}


def default_cron_job(cj: dict[str, Any]) -> None:
    spec = cj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if isinstance(job_spec, dict):
        default_template(job_spec.get("template"))


DEFAULTERS = {
    "Job": default_job,
    "CronJob": default_cron_job,
}
