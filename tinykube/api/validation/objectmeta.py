"""``metadata`` validation shared by every kind, on create and on update.

Mirrors apimachinery's ``ValidateObjectMeta`` and ``ValidateObjectMetaUpdate``:
the name must satisfy the kind's name rule (passed in by the per-kind
validator), labels, annotations, finalizers and owner references must be
well formed, and on update the identity fields may not change. The registry
sets ``resourceVersion`` before validating an unconditional update, so the
upstream "must be specified for an update" check is left to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, invalid, required
from tinykube.api.validation import names
from tinykube.api.validation.common import (
    as_dict,
    as_list,
    child,
    go_repr,
    immutable,
    invalid_json,
    nonnegative,
    too_long_bytes,
)

NameRule = Callable[..., list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"


def validate_object_meta(
    meta: dict[str, Any], namespaced: bool, name_rule: NameRule, path: str = "metadata"
) -> list[FieldError]:
    """Create-time checks; name generation has already happened in the registry."""
    errs: list[FieldError] = []
    generate_name = meta.get("generateName") or ""
    if generate_name:
        for msg in name_rule(generate_name, True):
            errs.append(invalid(child(path, "generateName"), generate_name, msg))
    name = meta.get("name") or ""
    if not name:
        errs.append(required(child(path, "name"), "name or generateName is required"))
    else:
        for msg in name_rule(name, False):
            errs.append(invalid(child(path, "name"), name, msg))
    errs += _namespace(meta, namespaced, path)
    errs += nonnegative(child(path, "generation"), meta.get("generation"))
    errs += _common(meta, path)
    return errs


def validate_object_meta_update(
    new: dict[str, Any], old: dict[str, Any], path: str = "metadata"
) -> list[FieldError]:
    """Update-time checks: identity is immutable, deleting objects gain no finalizers."""
    errs: list[FieldError] = []
    if old.get("deletionTimestamp"):
        errs += no_new_finalizers(new, old, child(path, "finalizers"))
    for name in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        errs += immutable(child(path, name), new.get(name), old.get(name))
    errs += _common(new, path)
    return errs


def _namespace(meta: dict[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            return [required(child(path, "namespace"))]
        return [
            invalid(child(path, "namespace"), namespace, m) for m in names.label_name(namespace)
        ]
    if namespace:
        return [field_forbidden(child(path, "namespace"), "not allowed on this type")]
    return []


def _common(meta: dict[str, Any], path: str) -> list[FieldError]:
    errs = validate_labels(as_dict(meta.get("labels")), child(path, "labels"))
    errs += validate_annotations(as_dict(meta.get("annotations")), child(path, "annotations"))
    errs += validate_owner_references(
        as_list(meta.get("ownerReferences")), child(path, "ownerReferences")
    )
    errs += validate_finalizers(as_list(meta.get("finalizers")), child(path, "finalizers"))
    return errs


def validate_labels(labels: dict[str, Any], path: str) -> list[FieldError]:
    errs = []
    for k, v in labels.items():
        errs += [invalid(path, k, msg) for msg in names.is_qualified_name(k)]
        value = v if isinstance(v, str) else str(v)
        errs += [invalid(path, value, msg) for msg in names.is_label_value(value)]
    return errs


def validate_annotations(annotations: dict[str, Any], path: str) -> list[FieldError]:
    """Keys are qualified names compared case-insensitively; all of it fits in 256 KiB."""
    errs = []
    size = 0
    for k, v in annotations.items():
        errs += [invalid(path, k, msg) for msg in names.is_qualified_name(k.lower())]
        size += len(k.encode()) + len(str(v).encode())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long_bytes(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_owner_references(refs: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    first_controller = ""
    for ref in refs:
        ref = as_dict(ref)
        errs += _owner_reference(ref, path)
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first_controller:
                detail = (
                    'Only one reference can have Controller set to true. Found "true" in '
                    f"references for {first_controller} and {current}"
                )
                errs.append(invalid_json(path, [_owner_json(r) for r in refs], detail))
            else:
                first_controller = current
    return errs


def _owner_reference(ref: dict[str, Any], path: str) -> list[FieldError]:
    errs = []
    api_version = ref.get("apiVersion") or ""
    version = api_version.rpartition("/")[2]
    if not version:
        errs.append(invalid(child(path, "apiVersion"), api_version, "version must not be empty"))
    for name in ("kind", "name", "uid"):
        if not ref.get(name):
            errs.append(invalid(child(path, name), ref.get(name) or "", "must not be empty"))
    if api_version == "v1" and ref.get("kind") == "Event":
        detail = "/v1, Kind=Event is disallowed from being an owner"
        errs.append(invalid_json(path, _owner_json(ref), detail))
    return errs


def _owner_json(ref: Any) -> dict[str, Any]:
    """An owner reference in ``metav1.OwnerReference`` field order (omitempty honoured)."""
    ref = as_dict(ref)
    out = {name: ref.get(name, "") for name in ("apiVersion", "kind", "name", "uid")}
    for name in ("controller", "blockOwnerDeletion"):
        if ref.get(name) is not None:
            out[name] = ref[name]
    return out


def validate_finalizers(finalizers: list[Any], path: str) -> list[FieldError]:
    errs = []
    for finalizer in finalizers:
        text = finalizer if isinstance(finalizer, str) else str(finalizer)
        errs += [invalid(path, text, msg) for msg in names.is_qualified_name(text)]
    if FINALIZER_ORPHAN in finalizers and FINALIZER_FOREGROUND in finalizers:
        detail = f"finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set"
        errs.append(invalid_json(path, finalizers, detail))
    return errs


def no_new_finalizers(new: dict[str, Any], old: dict[str, Any], path: str) -> list[FieldError]:
    extra = sorted(set(as_list(new.get("finalizers"))) - set(as_list(old.get("finalizers"))))
    if not extra:
        return []
    detail = (
        "no new finalizers can be added if the object is being deleted, "
        f"found new finalizers {go_repr(extra)}"
    )
    return [field_forbidden(path, detail)]
