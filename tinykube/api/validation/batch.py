"""Validation for ``batch/v1``: Job and CronJob.

A Job's pods must not restart ``Always`` (they are meant to finish), its
selector is either generated from its uid (the default) or, with
``manualSelector: true``, written by the user and matching the template. After
creation the selector, the completion mode and the pod template are fixed;
only a suspended Job may still have its scheduling directives changed.
CronJobs add a schedule that must parse and a name short enough to leave room
for the Job name suffix.
"""

from __future__ import annotations

import copy
import functools
import re
import zoneinfo
from typing import Any

from tinykube.api.errors import FieldError, invalid, not_supported, required
from tinykube.api.validation.common import (
    IMMUTABLE,
    as_dict,
    child,
    immutable,
    invalid_json,
    nonnegative,
    sorted_map,
)
from tinykube.api.validation.cron import schedule_errors
from tinykube.api.validation.selectors import (
    SELECTOR_MISMATCH,
    matches,
    selector_immutable,
    selector_json,
    validate_label_selector,
)
from tinykube.api.validation.templates import validate_pod_template

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_RESTART_POLICIES = ["OnFailure", "Never"]
COMPLETION_MODES = ["NonIndexed", "Indexed"]
CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]
CRONJOB_NAME_MAX = 52
_TZ_PART = re.compile(r"^[A-Za-z\.\-_0-9+]{1,14}$")
SUSPENDED_MUTABLE = ("nodeSelector", "tolerations", "affinity", "schedulingGates")


def validate_job(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = validate_job_spec(spec, "spec")
    errs += _job_selector(obj, spec)
    return errs


def validate_job_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """The parts of a JobSpec shared by Jobs and CronJob job templates."""
    errs: list[FieldError] = []
    for name in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ):
        errs += nonnegative(child(path, name), spec.get(name))
    mode = spec.get("completionMode")
    if mode is not None and mode not in COMPLETION_MODES:
        errs.append(not_supported(child(path, "completionMode"), mode, COMPLETION_MODES))
    if mode == "Indexed" and spec.get("completions") is None:
        errs.append(required(child(path, "completions"), "when completion mode is Indexed"))
    template = spec.get("template")
    if not isinstance(template, dict):
        return [*errs, required(child(path, "template"))]
    errs += validate_pod_template(template, child(path, "template"))
    restart = as_dict(template.get("spec")).get("restartPolicy")
    if restart not in JOB_RESTART_POLICIES:
        errs.append(
            not_supported(child(path, "template.spec.restartPolicy"), restart, JOB_RESTART_POLICIES)
        )
    return errs


def _job_selector(obj: dict[str, Any], spec: dict[str, Any]) -> list[FieldError]:
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [required("spec.selector")]
    errs = validate_label_selector(selector, "spec.selector")
    labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    if not matches(selector, labels):
        errs.append(
            invalid_json("spec.template.metadata.labels", sorted_map(labels), SELECTOR_MISMATCH)
        )
    return errs


def validate_generated_selector(obj: dict[str, Any]) -> list[FieldError]:
    """Without ``manualSelector`` the selector must be the one generated from the uid."""
    spec = as_dict(obj.get("spec"))
    if spec.get("manualSelector") is True:
        return []
    uid = as_dict(obj.get("metadata")).get("uid")
    selector = as_dict(spec.get("selector"))
    if not uid or selector == {"matchLabels": {CONTROLLER_UID: uid}}:
        return []
    detail = "`selector` not auto-generated"
    return [invalid_json("spec.selector", selector_json(selector), detail)]


def validate_job_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs = selector_immutable("spec.selector", new_spec.get("selector"), old_spec.get("selector"))
    for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
        errs += immutable(child("spec", name), new_spec.get(name), old_spec.get(name))
    if old_spec.get("completionMode") != "Indexed":
        errs += immutable(
            "spec.completions", new_spec.get("completions"), old_spec.get("completions")
        )
    # Whether the scheduling directives may change is the old Job's state alone (suspended,
    # never started), applied to both sides: resuming must not make the template differ.
    mutable = old_spec.get("suspend") is True and not as_dict(old.get("status")).get("startTime")
    new_template, old_template = (
        _comparable_template(new_spec, mutable),
        _comparable_template(old_spec, mutable),
    )
    if new_template != old_template:
        errs.append(invalid_json("spec.template", new_spec.get("template"), IMMUTABLE))
    return errs


def _comparable_template(spec: dict[str, Any], mutable: bool) -> Any:
    """The template minus what a suspended, never-started Job may still change."""
    template = copy.deepcopy(spec.get("template"))
    if mutable and isinstance(template, dict):
        template.pop("metadata", None)
        pod_spec = as_dict(template.get("spec"))
        for name in SUSPENDED_MUTABLE:
            pod_spec.pop(name, None)
    return template


# ---- CronJob ---------------------------------------------------------------------------


def validate_cron_job(obj: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    name = as_dict(obj.get("metadata")).get("name") or ""
    if len(name) > CRONJOB_NAME_MAX:
        errs.append(
            invalid("metadata.name", name, f"must be no more than {CRONJOB_NAME_MAX} characters")
        )
    spec = as_dict(obj.get("spec"))
    schedule = spec.get("schedule") or ""
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        errs += [invalid("spec.schedule", schedule, m) for m in schedule_errors(schedule)]
        if "TZ" in schedule:
            detail = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            errs.append(invalid("spec.schedule", schedule, detail))
    errs += _time_zone(spec.get("timeZone"))
    policy = spec.get("concurrencyPolicy")
    if not policy:
        errs.append(required("spec.concurrencyPolicy"))
    elif policy not in CONCURRENCY_POLICIES:
        errs.append(not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    for field in (
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ):
        errs += nonnegative(child("spec", field), spec.get(field))
    job_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    errs += validate_job_spec(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("manualSelector") is True:
        path = "spec.jobTemplate.spec.manualSelector"
        errs.append(not_supported(path, True, ["nil", "false"]))
    return errs


def _time_zone(zone: Any) -> list[FieldError]:
    """An IANA zone name; checked against the zone database when one is installed."""
    if zone is None:
        return []
    path = "spec.timeZone"
    if not isinstance(zone, str) or not zone:
        return [invalid(path, zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.match(part):
            return [invalid(path, zone, f"unknown time zone {zone}")]
    if zone.lower() == "local":
        detail = (
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
        )
        return [invalid(path, zone, detail)]
    if _zone_database() and zone != "UTC":
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return [invalid(path, zone, f"unknown time zone {zone}")]
    return []


@functools.cache
def _zone_database() -> bool:
    return bool(zoneinfo.available_timezones())


VALIDATORS = {
    "Job": (validate_job, validate_job_update),
    "CronJob": (validate_cron_job, None),
}
