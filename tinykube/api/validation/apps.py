"""Validation for ``apps/v1``: Deployment, ReplicaSet, StatefulSet, DaemonSet.

The shared core is in ``templates.py`` (selector present, non-empty and
matching the template; template restarts Always). Here are the per-kind
strategy rules and the update rules: in apps/v1 a selector never changes,
and a StatefulSet's spec is frozen apart from a short list of fields.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, invalid, not_supported, required
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict, child, is_int, nonnegative
from tinykube.api.validation.selectors import selector_immutable
from tinykube.api.validation.templates import (
    validate_replicas,
    validate_replicated_template,
    validate_workload_selector,
)

STATEFULSET_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "revisionHistoryLimit",
)


def _selected_template(spec: dict[str, Any], kind: str) -> list[FieldError]:
    errs, usable = validate_workload_selector(spec, kind)
    selector = as_dict(spec.get("selector")) if usable else None
    if not isinstance(spec.get("selector"), dict):
        return errs
    return errs + validate_replicated_template(spec.get("template"), selector, "spec.template")


def validate_deployment(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = validate_replicas(spec) + _selected_template(spec, "deployment")
    errs += _deployment_strategy(as_dict(spec.get("strategy")))
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += nonnegative("spec.progressDeadlineSeconds", deadline)
        if is_int(deadline) and deadline <= (spec.get("minReadySeconds") or 0):
            errs.append(
                invalid(
                    "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
                )
            )
    return errs


def _deployment_strategy(strategy: dict[str, Any]) -> list[FieldError]:
    kind = strategy.get("type")
    path = "spec.strategy"
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            detail = "may not be specified when strategy `type` is 'Recreate'"
            return [field_forbidden(child(path, "rollingUpdate"), detail)]
        return []
    if kind != "RollingUpdate":
        return [not_supported(child(path, "type"), kind, ["Recreate", "RollingUpdate"])]
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        return [required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")]
    rpath = child(path, "rollingUpdate")
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    errs = validate_int_or_percent(surge, child(rpath, "maxSurge"))
    errs += validate_int_or_percent(unavailable, child(rpath, "maxUnavailable"))
    if _is_zero(unavailable) and _is_zero(surge):
        errs.append(
            invalid(
                child(rpath, "maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"
            )
        )
    if isinstance(unavailable, str) and _percent(unavailable) > 100:
        errs.append(
            invalid(child(rpath, "maxUnavailable"), unavailable, "must not be greater than 100%")
        )
    return errs


def validate_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent``: a non-negative int or a ``N%`` string."""
    if isinstance(value, str):
        errs = [invalid(path, value, m) for m in names.is_valid_percent(value)]
        if not errs and _percent(value) < 0:
            errs.append(invalid(path, value, "must be greater than or equal to 0"))
        return errs
    return nonnegative(path, value)


def _percent(value: str) -> int:
    try:
        return int(value.removesuffix("%"))
    except ValueError:
        return 0


def _is_zero(value: Any) -> bool:
    return value in (0, "0%", "0", None)


def validate_replica_set(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    return validate_replicas(spec) + _selected_template(spec, "replicaset")


def validate_stateful_set(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = validate_replicas(spec) + _selected_template(spec, "statefulset")
    policy = spec.get("podManagementPolicy")
    if policy not in ("OrderedReady", "Parallel"):
        errs.append(
            invalid(
                "spec.podManagementPolicy", policy or "", "must be 'OrderedReady' or 'Parallel'"
            )
        )
    strategy = as_dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if kind not in ("RollingUpdate", "OnDelete"):
        errs.append(
            invalid("spec.updateStrategy", kind or "", "must be 'RollingUpdate' or 'OnDelete'")
        )
    elif kind == "OnDelete" and strategy.get("rollingUpdate") is not None:
        detail = "only allowed for updateStrategy 'RollingUpdate'"
        errs.append(field_forbidden("spec.updateStrategy.rollingUpdate", detail))
    partition = as_dict(strategy.get("rollingUpdate")).get("partition")
    errs += nonnegative("spec.updateStrategy.rollingUpdate.partition", partition)
    retention = as_dict(spec.get("persistentVolumeClaimRetentionPolicy"))
    for when in ("whenDeleted", "whenScaled"):
        value = retention.get(when)
        if value is not None and value not in ("Retain", "Delete"):
            path = f"spec.persistentVolumeClaimRetentionPolicy.{when}"
            errs.append(not_supported(path, value, ["Retain", "Delete"]))
    return errs


def validate_daemon_set(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _selected_template(spec, "daemonset")
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errs += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    strategy = as_dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if kind not in ("RollingUpdate", "OnDelete"):
        errs.append(not_supported("spec.updateStrategy.type", kind, ["OnDelete", "RollingUpdate"]))
    elif kind == "RollingUpdate":
        rolling = as_dict(strategy.get("rollingUpdate"))
        rpath = "spec.updateStrategy.rollingUpdate"
        errs += validate_int_or_percent(rolling.get("maxUnavailable"), f"{rpath}.maxUnavailable")
        errs += validate_int_or_percent(rolling.get("maxSurge"), f"{rpath}.maxSurge")
        if _is_zero(rolling.get("maxUnavailable")) and _is_zero(rolling.get("maxSurge")):
            detail = "may not be 0 when `maxSurge` is 0"
            errs.append(invalid(f"{rpath}.maxUnavailable", rolling.get("maxUnavailable"), detail))
    return errs


def validate_selector_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """apps/v1 selectors are immutable."""
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    return selector_immutable("spec.selector", new_spec.get("selector"), old_spec.get("selector"))


def validate_stateful_set_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs = validate_selector_update(new, old)
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    frozen_new = {
        k: v for k, v in new_spec.items() if k not in STATEFULSET_MUTABLE and k != "selector"
    }
    frozen_old = {
        k: v for k, v in old_spec.items() if k not in STATEFULSET_MUTABLE and k != "selector"
    }
    if frozen_new != frozen_old:
        errs.append(field_forbidden("spec", STATEFULSET_UPDATE_FORBIDDEN))
    return errs


VALIDATORS = {
    "Deployment": (validate_deployment, validate_selector_update),
    "ReplicaSet": (validate_replica_set, validate_selector_update),
    "StatefulSet": (validate_stateful_set, validate_stateful_set_update),
    "DaemonSet": (validate_daemon_set, validate_selector_update),
}
