"""Validation for ``autoscaling/v2``: the scale target and replica bounds."""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, invalid, required
from tinykube.api.validation.common import as_dict, is_int


def validate_horizontal_pod_autoscaler(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    target = as_dict(spec.get("scaleTargetRef"))
    for name in ("kind", "name"):
        if not target.get(name):
            errs.append(required(f"spec.scaleTargetRef.{name}"))
    low, high = spec.get("minReplicas"), spec.get("maxReplicas")
    if is_int(low) and low < 1:
        errs.append(invalid("spec.minReplicas", low, "must be greater than or equal to 1"))
    if is_int(high) and high < 1:
        errs.append(invalid("spec.maxReplicas", high, "must be greater than 0"))
    if is_int(low) and is_int(high) and high < low:
        errs.append(
            invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`")
        )
    return errs


VALIDATORS = {"HorizontalPodAutoscaler": (validate_horizontal_pod_autoscaler, None)}
