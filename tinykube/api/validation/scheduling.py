"""Validation for ``scheduling.k8s.io/v1``: PriorityClass values and reserved names.

User-defined classes may go up to one billion; higher values and the
``system-`` prefix belong to the two built-in system classes. A class's value
and preemption policy never change after creation, because Pods copied them
at admission.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, not_supported
from tinykube.api.validation.common import as_dict, immutable

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
PREEMPTION_POLICIES = ["Never", "PreemptLowerPriority"]


def validate_priority_class(obj: dict[str, Any]) -> list[FieldError]:
    name = as_dict(obj.get("metadata")).get("name") or ""
    value = obj.get("value")
    errs: list[FieldError] = []
    if SYSTEM_CLASSES.get(name) == value and not obj.get("globalDefault"):
        pass
    elif name.startswith(SYSTEM_PREFIX):
        detail = (
            f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only"
        )
        errs.append(field_forbidden("metadata.name", detail))
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        detail = (
            f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
        )
        errs.append(field_forbidden("value", detail))
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        errs.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return errs


def validate_priority_class_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    if new.get("value") != old.get("value"):
        errs.append(field_forbidden("value", "may not be changed in an update."))
    errs += immutable("preemptionPolicy", new.get("preemptionPolicy"), old.get("preemptionPolicy"))
    return errs


VALIDATORS = {"PriorityClass": (validate_priority_class, validate_priority_class_update)}
