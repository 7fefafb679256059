"""What an update may change in a running Pod's spec.

A Pod is a record of what the kubelet is running, so after creation only a
few fields may move: container images, a shorter ``activeDeadlineSeconds``,
added tolerations (or a changed ``tolerationSeconds``), removed scheduling
gates, and a negative grace period raised to 1. Everything else is the
``pod updates may not change fields other than ...`` Forbidden error. The
checks run in upstream's order and some of them end the validation early,
as upstream's do. Upstream appends a Go diff of the two specs to that
message; we leave it out.

Ephemeral containers are added through their own subresource, whose
strategy keeps everything else as stored; the same update rules then apply
here, so the list may grow but its entries never change (``podephemeral.py``).
The registry validates both endpoints with this one function; the main
one's strategy refuses any change to the list before it gets here.

``nodeName`` may go from empty to a node: the registry validates ``/binding``
writes with the same function, and that is how the scheduler binds a Pod.
"""

from __future__ import annotations

import copy
from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, invalid, required
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict, as_list, index, is_int
from tinykube.api.validation.podephemeral import validate_ephemeral_containers_update

MAX_INT32 = 2**31 - 1
UPDATABLE_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
POD_UPDATE_FORBIDDEN = "pod updates may not change fields other than " + ",".join(UPDATABLE_FIELDS)
TOLERATION_CHANGED = "existing toleration can not be modified except its tolerationSeconds"


def validate_pod_spec_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for field in ("containers", "initContainers"):
        found, stop = _container_updates(
            as_list(new.get(field)), as_list(old.get(field)), f"spec.{field}"
        )
        errs += found
        if stop:
            return errs
    found, stop = _deadline_update(
        new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    )
    errs += found
    if stop:
        return errs
    errs += _only_added_tolerations(
        as_list(new.get("tolerations")), as_list(old.get("tolerations"))
    )
    errs += _only_deleted_gates(
        as_list(new.get("schedulingGates")), as_list(old.get("schedulingGates"))
    )
    errs += validate_ephemeral_containers_update(new, old)
    if new != old and _munged(new, old) != old:
        errs.append(field_forbidden("spec", POD_UPDATE_FORBIDDEN))
    return errs


def _container_updates(new: list[Any], old: list[Any], path: str) -> tuple[list[FieldError], bool]:
    if len(new) != len(old):
        return [field_forbidden(path, "pod updates may not add or remove containers")], True
    errs: list[FieldError] = []
    for i, container in enumerate(new):
        image = as_dict(container).get("image") or ""
        if not image:
            errs.append(required(f"{index(path, i)}.image"))
        if image != image.strip():
            detail = "must not have leading or trailing whitespace"
            errs.append(invalid(f"{index(path, i)}.image", image, detail))
    return errs, False


def _deadline_update(new: Any, old: Any) -> tuple[list[FieldError], bool]:
    path = "spec.activeDeadlineSeconds"
    if new is not None:
        if is_int(new) and not 0 <= new <= MAX_INT32:
            return [invalid(path, new, names.inclusive_range_error(0, MAX_INT32))], True
        if is_int(old) and is_int(new) and old < new:
            return [invalid(path, new, "must be less than or equal to previous value")], True
    elif old is not None:
        return [invalid(path, None, "must not update from a positive integer to nil value")], False
    return [], False


def _only_added_tolerations(new: list[Any], old: list[Any]) -> list[FieldError]:
    stripped = [_without_seconds(t) for t in new]
    for toleration in old:
        if _without_seconds(toleration) not in stripped:
            return [field_forbidden("spec.tolerations", TOLERATION_CHANGED)]
    return []


def _without_seconds(toleration: Any) -> dict[str, Any]:
    return {k: v for k, v in as_dict(toleration).items() if k != "tolerationSeconds"}


def _only_deleted_gates(new: list[Any], old: list[Any]) -> list[FieldError]:
    old_names = {as_dict(g).get("name") for g in old}
    errs = []
    for i, gate in enumerate(new):
        name = as_dict(gate).get("name")
        if name not in old_names:
            detail = f"only deletion is allowed, but found new scheduling gate '{name}'"
            errs.append(field_forbidden(f"spec.schedulingGates[{i}].name", detail))
    return errs


def _munged(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``new`` with everything an update may change set back to the old values."""
    munged = copy.deepcopy(new)
    for field in ("containers", "initContainers"):
        old_list = as_list(old.get(field))
        for i, container in enumerate(as_list(munged.get(field))):
            if isinstance(container, dict) and i < len(old_list):
                _set(container, "image", as_dict(old_list[i]).get("image"))
    for field in ("activeDeadlineSeconds", "ephemeralContainers", "schedulingGates", "tolerations"):
        _set(munged, field, old.get(field))
    grace = old.get("terminationGracePeriodSeconds")
    if is_int(grace) and grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = grace
    if not old.get("nodeName"):
        _set(munged, "nodeName", old.get("nodeName"))
    return munged


def _set(obj: dict[str, Any], field: str, value: Any) -> None:
    """Set or remove ``field`` so that absent stays absent."""
    if value is None:
        obj.pop(field, None)
    else:
        obj[field] = value
