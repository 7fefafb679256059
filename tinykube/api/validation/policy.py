"""Validation for ``policy/v1``: a PodDisruptionBudget sets minAvailable or maxUnavailable."""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, not_supported
from tinykube.api.validation.apps import not_more_than_100_percent, validate_int_or_percent
from tinykube.api.validation.common import as_dict, invalid_json
from tinykube.api.validation.selectors import selector_json, validate_label_selector

EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]


def validate_pod_disruption_budget(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        detail = "minAvailable and maxUnavailable cannot be both set"
        shown = {
            "MinAvailable": min_available,
            "Selector": selector_json(spec["selector"])
            if isinstance(spec.get("selector"), dict)
            else None,
            "MaxUnavailable": max_unavailable,
            "UnhealthyPodEvictionPolicy": spec.get("unhealthyPodEvictionPolicy"),
        }
        errs.append(invalid_json("spec", shown, detail))
    for name, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is None:
            continue
        path = f"spec.{name}"
        errs += validate_int_or_percent(value, path)
        errs += not_more_than_100_percent(value, path)
    if isinstance(spec.get("selector"), dict):
        errs += validate_label_selector(spec["selector"], "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in EVICTION_POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, EVICTION_POLICIES))
    return errs


VALIDATORS = {"PodDisruptionBudget": (validate_pod_disruption_budget, None)}
