"""Validation for ``coordination.k8s.io/v1``: Lease durations and transition counts."""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, invalid
from tinykube.api.validation.common import as_dict, is_int, nonnegative


def validate_lease(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if is_int(duration) and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    errs += nonnegative("spec.leaseTransitions", spec.get("leaseTransitions"))
    return errs


VALIDATORS = {"Lease": (validate_lease, None)}
