"""Validation: every field problem of an API object, as Kubernetes words it.

``validate(res, obj, old)`` returns the list of ``FieldError`` for ``obj`` (a
dict exactly as JSON, already defaulted); ``old`` is the stored object on
update. The registry turns a non-empty list into one 422 Invalid, so all
problems are reported together, as upstream does.

Flow: metadata first (``objectmeta.py``, with the kind's name rule from
``NAME_RULES``), then the kind's own validator, then either the create-only
rules (``CREATE_ONLY``) or, on update, the kind's update rules. Validators live one module per API group and are found in one
table keyed by (group, kind); a kind without an entry gets the metadata
checks only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinykube.api import errors
from tinykube.api.errors import FieldError
from tinykube.api.resources import Resource
from tinykube.api.validation import (
    admissionregistration,
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    names,
    networking,
    policy,
    rbac,
    scheduling,
    storage,
)
from tinykube.api.validation.objectmeta import (
    NameRule,
    validate_object_meta,
    validate_object_meta_update,
)

__all__ = ["CREATE_ONLY", "NAME_RULES", "VALIDATORS", "malformed", "validate"]

Create = Callable[[dict[str, Any]], list[FieldError]]
Update = Callable[[dict[str, Any], dict[str, Any]], list[FieldError]]


def _group(
    group: str, table: dict[str, tuple[Create, Update | None]]
) -> dict[tuple[str, str], tuple[Create, Update | None]]:
    return {(group, kind): fns for kind, fns in table.items()}


VALIDATORS: dict[tuple[str, str], tuple[Create, Update | None]] = {
    **_group("", core.VALIDATORS),
    **_group("apps", apps.VALIDATORS),
    **_group("batch", batch.VALIDATORS),
    **_group("policy", policy.VALIDATORS),
    **_group("rbac.authorization.k8s.io", rbac.VALIDATORS),
    **_group("scheduling.k8s.io", scheduling.VALIDATORS),
    **_group("coordination.k8s.io", coordination.VALIDATORS),
    **_group("discovery.k8s.io", discovery.VALIDATORS),
    **_group("storage.k8s.io", storage.VALIDATORS),
    **_group("networking.k8s.io", networking.VALIDATORS),
    **_group("autoscaling", autoscaling.VALIDATORS),
    **_group("events.k8s.io", events.VALIDATORS),
    **_group("certificates.k8s.io", certificates.VALIDATORS),
    **_group("admissionregistration.k8s.io", admissionregistration.VALIDATORS),
}

# Rules that only apply when an object is created.
CREATE_ONLY: dict[tuple[str, str], Create] = {
    ("", "Pod"): core.validate_pod_create,
    ("batch", "Job"): batch.validate_generated_selector,
    **{
        ("admissionregistration.k8s.io", kind): fn
        for kind, fn in admissionregistration.CREATE_ONLY.items()
    },
}

# Most kinds name objects with a DNS-1123 subdomain; these are the exceptions.
NAME_RULES: dict[tuple[str, str], NameRule] = {
    ("", "Namespace"): names.label_name,
    ("", "Service"): names.dns1035_name,
    ("apps", "StatefulSet"): names.label_name,
    ("rbac.authorization.k8s.io", "Role"): names.path_segment_name,
    ("rbac.authorization.k8s.io", "ClusterRole"): names.path_segment_name,
    ("rbac.authorization.k8s.io", "RoleBinding"): names.path_segment_name,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): names.path_segment_name,
}


def validate(
    res: Resource, obj: dict[str, Any], old: dict[str, Any] | None = None
) -> list[FieldError]:
    """All problems with ``obj``; on update ``old`` is the currently stored object.

    A field of the wrong JSON type (a string where a list belongs) never gets
    this far upstream: decoding fails with 400 BadRequest. Validators assume
    the right shapes, so when one trips over a wrong type we answer with that
    same 400 instead of a 500.
    """
    try:
        return _validate(res, obj, old)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise malformed(res, exc) from exc


def malformed(res: Resource, exc: Exception) -> errors.BadRequest:
    """Upstream's decode failure: ``Pod in version "v1" cannot be handled as a Pod: ...``."""
    return errors.BadRequest(
        f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
        f"a field has a value of the wrong type ({exc})"
    )


def _validate(res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    if old is None:
        rule = NAME_RULES.get((res.group, res.kind), names.subdomain_name)
        errs = validate_object_meta(meta, res.namespaced, rule)
    else:
        errs = validate_object_meta_update(meta, old.get("metadata") or {})
    spec_rules, update = VALIDATORS.get((res.group, res.kind), (None, None))
    if spec_rules is not None:
        errs += spec_rules(obj)
    if old is None:
        create_only = CREATE_ONLY.get((res.group, res.kind))
        if create_only is not None:
            errs += create_only(obj)
    elif update is not None:
        errs += update(obj, old)
    return errs
