"""Validation for ``apps/v1``: Deployment, ReplicaSet, StatefulSet, DaemonSet.

The shared core is in ``templates.py`` (selector present, non-empty and
matching the template; template restarts Always). Here are the per-kind
strategy rules and the update rules: in apps/v1 a selector never changes,
and a StatefulSet's spec is frozen apart from a short list of fields.

A strategy of an unknown type prints as upstream's internal struct marshals
(``{"Type":"Blue","RollingUpdate":null}``).
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, invalid, not_supported, required
from tinykube.api.validation import names
from tinykube.api.validation.common import (
    as_dict,
    child,
    go_json,
    invalid_json,
    is_int,
    nonnegative,
)
from tinykube.api.validation.selectors import selector_immutable
from tinykube.api.validation.templates import (
    validate_replicas,
    validate_replicated_template,
    validate_workload_selector,
)

STATEFULSET_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
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
OVER_100 = "must not be greater than 100%"


def validate_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent``: a non-negative int or a ``N%`` string."""
    if isinstance(value, str):
        return [invalid(path, value, m) for m in names.is_valid_percent(value)]
    return nonnegative(path, value)


def not_more_than_100_percent(value: Any, path: str) -> list[FieldError]:
    percent = _percent(value)
    if percent is not None and percent > 100:
        return [invalid(path, value, OVER_100)]
    return []


def _percent(value: Any) -> int | None:
    if isinstance(value, str) and not names.is_valid_percent(value):
        return int(value[:-1])
    return None


def _amount(value: Any) -> int:
    """``getIntOrPercentValue``: the number, whether written as N or N%."""
    percent = _percent(value)
    if percent is not None:
        return percent
    return value if is_int(value) else 0


def _selected_template(spec: dict[str, Any], word: str, owner: str) -> list[FieldError]:
    errs, usable = validate_workload_selector(spec, word)
    if not isinstance(spec.get("selector"), dict):
        return errs
    selector = as_dict(spec.get("selector")) if usable else None
    return errs + validate_replicated_template(
        spec.get("template"), selector, "spec.template", owner
    )


def _strategy_json(strategy: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """An internal apps strategy struct as Go marshals it (no JSON tags: Go field names)."""
    rolling = strategy.get("rollingUpdate")
    shown_rolling = None
    if isinstance(rolling, dict):
        shown_rolling = {f[0].upper() + f[1:]: rolling.get(f, 0) for f in fields}
    return {"Type": strategy.get("type", ""), "RollingUpdate": shown_rolling}


# ---- Deployment and ReplicaSet -----------------------------------------------------------


def validate_deployment(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = validate_replicas(spec) + _selected_template(spec, "deployment", "ReplicaSet")
    errs += _deployment_strategy(spec.get("strategy"))
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += nonnegative("spec.progressDeadlineSeconds", deadline)
        if is_int(deadline) and deadline <= (spec.get("minReadySeconds") or 0):
            detail = "must be greater than minReadySeconds"
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, detail))
    return errs


def _deployment_strategy(strategy: Any) -> list[FieldError]:
    strategy = as_dict(strategy)
    kind = strategy.get("type")
    path = "spec.strategy"
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            detail = "may not be specified when strategy `type` is 'Recreate'"
            return [field_forbidden(child(path, "rollingUpdate"), detail)]
        return []
    if kind != "RollingUpdate":
        detail = 'supported values: "Recreate", "RollingUpdate"'
        shown = _strategy_json(strategy, ("maxUnavailable", "maxSurge"))
        return [FieldError(path, "Unsupported value", f"{go_json(shown)}: {detail}")]
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        detail = "this should be defaulted and never be nil"
        return [required(child(path, "rollingUpdate"), detail)]
    rpath = child(path, "rollingUpdate")
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    errs = validate_int_or_percent(unavailable, child(rpath, "maxUnavailable"))
    errs += validate_int_or_percent(surge, child(rpath, "maxSurge"))
    if _amount(unavailable) == 0 and _amount(surge) == 0:
        detail = "may not be 0 when `maxSurge` is 0"
        errs.append(invalid(child(rpath, "maxUnavailable"), unavailable or 0, detail))
    errs += not_more_than_100_percent(unavailable, child(rpath, "maxUnavailable"))
    return errs


def validate_replica_set(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    # Upstream's ReplicaSet message says "deployment" too.
    return validate_replicas(spec) + _selected_template(spec, "deployment", "ReplicaSet")


# ---- StatefulSet -----------------------------------------------------------------------------


def validate_stateful_set(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        detail = "must be 'OrderedReady' or 'Parallel'"
        errs.append(invalid("spec.podManagementPolicy", policy, detail))
    errs += _stateful_set_strategy(as_dict(spec.get("updateStrategy")))
    retention = as_dict(spec.get("persistentVolumeClaimRetentionPolicy"))
    for when in ("whenDeleted", "whenScaled"):
        value = retention.get(when)
        if value is not None and value not in ("Retain", "Delete"):
            path = f"spec.persistentVolumeClaimRetentionPolicy.{when}"
            errs.append(not_supported(path, value, ["Retain", "Delete"]))
    errs += validate_replicas(spec)
    errs += nonnegative("spec.ordinals.start", as_dict(spec.get("ordinals")).get("start"))
    selector_errs, usable = validate_workload_selector(spec, "statefulset")
    errs += selector_errs
    if isinstance(spec.get("selector"), dict):
        selector = as_dict(spec["selector"]) if usable else None
        errs += validate_replicated_template(
            spec.get("template"), selector, "spec.template", "StatefulSet", spec_checked=False
        )
    return errs


def _stateful_set_strategy(strategy: dict[str, Any]) -> list[FieldError]:
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if not kind:
        return [required("spec.updateStrategy")]
    if kind == "OnDelete":
        if rolling is not None:
            detail = "only allowed for updateStrategy 'RollingUpdate'"
            shown = _strategy_json({"rollingUpdate": rolling}, ("partition", "maxUnavailable"))
            return [
                invalid_json("spec.updateStrategy.rollingUpdate", shown["RollingUpdate"], detail)
            ]
        return []
    if kind != "RollingUpdate":
        detail = "must be 'RollingUpdate' or 'OnDelete'"
        shown = _strategy_json(strategy, ("partition", "maxUnavailable"))
        return [invalid_json("spec.updateStrategy", shown, detail)]
    rolling = as_dict(rolling)
    rpath = "spec.updateStrategy.rollingUpdate"
    errs = nonnegative(f"{rpath}.partition", rolling.get("partition"))
    if rolling.get("maxUnavailable") is not None:
        value = rolling["maxUnavailable"]
        errs += validate_int_or_percent(value, f"{rpath}.maxUnavailable")
        if _amount(value) == 0:
            errs.append(invalid(f"{rpath}.maxUnavailable", value, "cannot be 0"))
        errs += not_more_than_100_percent(value, f"{rpath}.maxUnavailable")
    return errs


# ---- DaemonSet --------------------------------------------------------------------------------


def validate_daemon_set(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _selected_template(spec, "daemonset", "DaemonSet")
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errs += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    strategy = as_dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if kind == "RollingUpdate":
        errs += _daemon_set_rolling_update(strategy.get("rollingUpdate"))
    elif kind != "OnDelete":
        detail = 'supported values: "RollingUpdate", "OnDelete"'
        shown = go_json(_strategy_json(strategy, ("maxUnavailable", "maxSurge")))
        errs.append(FieldError("spec.updateStrategy", "Unsupported value", f"{shown}: {detail}"))
    return errs


def _daemon_set_rolling_update(rolling: Any) -> list[FieldError]:
    path = "spec.updateStrategy.rollingUpdate"
    if not isinstance(rolling, dict):
        return [required(path)]
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = validate_int_or_percent(unavailable, f"{path}.maxUnavailable")
    errs += validate_int_or_percent(surge, f"{path}.maxSurge")
    errs += not_more_than_100_percent(unavailable, f"{path}.maxUnavailable")
    errs += not_more_than_100_percent(surge, f"{path}.maxSurge")
    has_unavailable, has_surge = _amount(unavailable) != 0, _amount(surge) != 0
    if has_unavailable and has_surge:
        detail = "may not be set when maxUnavailable is non-zero"
        errs.append(invalid(f"{path}.maxSurge", surge, detail))
    elif not has_unavailable and not has_surge:
        errs.append(required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


# ---- updates ------------------------------------------------------------------------------------


def validate_selector_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """apps/v1 selectors are immutable."""
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    return selector_immutable("spec.selector", new_spec.get("selector"), old_spec.get("selector"))


def validate_stateful_set_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs = validate_selector_update(new, old)
    frozen = set(STATEFULSET_MUTABLE) | {"selector"}
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    frozen_new = {k: v for k, v in new_spec.items() if k not in frozen}
    frozen_old = {k: v for k, v in old_spec.items() if k not in frozen}
    if frozen_new != frozen_old:
        errs.append(field_forbidden("spec", STATEFULSET_UPDATE_FORBIDDEN))
    return errs


def validate_controller_revision(obj: dict[str, Any]) -> list[FieldError]:
    errs = nonnegative("revision", obj.get("revision"))
    if obj.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    return errs


def validate_controller_revision_update(
    new: dict[str, Any], old: dict[str, Any]
) -> list[FieldError]:
    if new.get("data") != old.get("data"):
        return [invalid_json("data", new.get("data"), "field is immutable")]
    return []


VALIDATORS = {
    "Deployment": (validate_deployment, validate_selector_update),
    "ReplicaSet": (validate_replica_set, validate_selector_update),
    "StatefulSet": (validate_stateful_set, validate_stateful_set_update),
    "DaemonSet": (validate_daemon_set, validate_selector_update),
    "ControllerRevision": (validate_controller_revision, validate_controller_revision_update),
}
