"""Validation for ``storage.k8s.io/v1``: StorageClass provisioner and policies.

Provisioner and parameters are fixed once a class exists, since volumes
already provisioned from it were made with them.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, not_supported, required

RECLAIM_POLICIES = ["Delete", "Retain"]
BINDING_MODES = ["Immediate", "WaitForFirstConsumer"]


def validate_storage_class(obj: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    if not obj.get("provisioner"):
        errs.append(required("provisioner"))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in RECLAIM_POLICIES:
        errs.append(not_supported("reclaimPolicy", policy, RECLAIM_POLICIES))
    mode = obj.get("volumeBindingMode")
    if mode is not None and mode not in BINDING_MODES:
        errs.append(not_supported("volumeBindingMode", mode, BINDING_MODES))
    return errs


def validate_storage_class_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    if (new.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.append(field_forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        errs.append(field_forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(field_forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    return errs


VALIDATORS = {"StorageClass": (validate_storage_class, validate_storage_class_update)}
