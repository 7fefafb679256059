"""Validation of a CustomResourceDefinition, with upstream's field paths and messages.

What apiextensions' ``ValidateCustomResourceDefinition`` checks and users
meet: the name is ``<plural>.<group>``; the group is a DNS subdomain with a
dot; names are DNS-1035 labels (kinds checked lowercased); the scope is
Namespaced or Cluster; versions are unique, valid, with exactly one storage
version; every version has a *structural* ``openAPIV3Schema`` (each node
says its type, the root is an object, arrays say their items, metadata at
the root names at most name and generateName); scale paths point under
``.spec``/``.status``; printer columns have a name, a known type and a JSON
path. On update, a version still in ``status.storedVersions`` may not go.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import errors
from tinykube.api.errors import FieldError
from tinykube.api.validation import malformed
from tinykube.api.validation import names as name_rules
from tinykube.apiserver.crd.definition import CRDS

SCOPES = ["Cluster", "Namespaced"]
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
SCHEMA_TYPES = ("array", "boolean", "integer", "number", "object", "string")
APPROVAL = "api-approved.kubernetes.io"


def validate_crd(crd: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
    """Every problem of ``crd`` (already defaulted); ``old`` is the stored CRD on update.

    A field of the wrong JSON type is upstream's decoding error (400), not a 500."""
    try:
        return _validate(crd, old)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise malformed(CRDS, exc) from exc


def _validate(crd: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [errors.required("spec")]
    errs = _names(crd, spec)
    scope = spec.get("scope")
    if not scope:
        errs.append(errors.required("spec.scope"))
    elif scope not in SCOPES:
        errs.append(errors.not_supported("spec.scope", scope, SCOPES))
    errs += _versions(spec)
    strategy = (spec.get("conversion") or {}).get("strategy")
    if strategy not in ("None", "Webhook"):
        errs.append(errors.not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
    if old is not None:
        errs += _update(crd, old)
    return errs


def _names(crd: dict[str, Any], spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    group = spec.get("group") or ""
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    plural = names.get("plural") or ""
    meta = crd.get("metadata") or {}
    if meta.get("name") != f"{plural}.{group}":
        errs.append(
            errors.invalid(
                "metadata.name", meta.get("name", ""), 'must be spec.names.plural+"."+spec.group'
            )
        )
    if not group:
        errs.append(errors.required("spec.group"))
    else:
        problems = name_rules.is_dns1123_subdomain(group)
        if problems:
            errs.append(errors.invalid("spec.group", group, ",".join(problems)))
        if "." not in group:
            errs.append(
                errors.invalid("spec.group", group, "should be a domain with at least one dot")
            )
        protected = group.endswith((".k8s.io", ".kubernetes.io")) or group in (
            "k8s.io",
            "kubernetes.io",
        )
        if protected and APPROVAL not in (meta.get("annotations") or {}):
            errs.append(
                errors.required(
                    f"metadata.annotations[{APPROVAL}]",
                    f'protected groups must have approval annotation "{APPROVAL}", see '
                    "https://github.com/kubernetes/enhancements/pull/1111",
                )
            )
    errs += _label("spec.names.plural", plural, required=True)
    errs += _label("spec.names.singular", names.get("singular") or "", required=True)
    kind = names.get("kind") or ""
    list_kind = names.get("listKind") or ""
    errs += _label("spec.names.kind", kind.lower(), required=True, shown=kind)
    errs += _label("spec.names.listKind", list_kind.lower(), required=True, shown=list_kind)
    if kind and kind == list_kind:
        errs.append(
            errors.invalid("spec.names.listKind", list_kind, "kind and listKind cannot be the same")
        )
    for i, short in enumerate(names.get("shortNames") or []):
        errs += _label(f"spec.names.shortNames[{i}]", str(short), required=False)
    for i, cat in enumerate(names.get("categories") or []):
        errs += _label(f"spec.names.categories[{i}]", str(cat), required=False)
    return errs


def _label(path: str, value: str, required: bool, shown: str | None = None) -> list[FieldError]:
    if not value:
        return [errors.required(path)] if required else []
    problems = name_rules.is_dns1035_label(value)
    if problems:
        return [errors.invalid(path, value if shown is None else shown, ",".join(problems))]
    return []


def _versions(spec: dict[str, Any]) -> list[FieldError]:
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        return [
            errors.invalid(
                "spec.versions", [], "must have exactly one version marked as storage version"
            )
        ]
    errs: list[FieldError] = []
    seen: set[str] = set()
    storage = 0
    for i, v in enumerate(versions):
        path = f"spec.versions[{i}]"
        if not isinstance(v, dict):
            errs.append(errors.invalid(path, v, "must be an object"))
            continue
        name = v.get("name") or ""
        if name in seen:
            errs.append(errors.duplicate(f"{path}.name", name))
        seen.add(name)
        errs += _label(f"{path}.name", name, required=True)
        storage += bool(v.get("storage"))
        errs += _version(v, path)
    if storage != 1:
        errs.append(
            errors.invalid(
                "spec.versions",
                _shown(versions),
                "must have exactly one version marked as storage version",
            )
        )
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        errs.append(
            errors.invalid(
                "spec.versions", _shown(versions), "must have at least one version marked as served"
            )
        )
    return errs


def _shown(versions: list[Any]) -> list[str]:
    return [str(v.get("name", "")) for v in versions if isinstance(v, dict)]


def _version(v: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    schema = (v.get("schema") or {}).get("openAPIV3Schema")
    if schema is None:
        errs.append(errors.required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
    elif not isinstance(schema, dict):
        errs.append(errors.invalid(f"{path}.schema.openAPIV3Schema", schema, "must be an object"))
    else:
        errs += structural(schema, f"{path}.schema.openAPIV3Schema")
    scale = (v.get("subresources") or {}).get("scale")
    if isinstance(scale, dict):
        errs += _scale(scale, f"{path}.subresources.scale")
    for i, col in enumerate(v.get("additionalPrinterColumns") or []):
        errs += _column(col, f"{path}.additionalPrinterColumns[{i}]")
    return errs


def _scale(scale: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for field, under in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
        value = scale.get(field)
        if not value:
            errs.append(errors.required(f"{path}.{field}"))
        elif not str(value).startswith(under):
            where = under.strip(".")
            errs.append(
                errors.invalid(f"{path}.{field}", value, f"should be a json path under .{where}")
            )
    selector = scale.get("labelSelectorPath")
    if selector and not str(selector).startswith((".spec.", ".status.")):
        errs.append(
            errors.invalid(
                f"{path}.labelSelectorPath",
                selector,
                "should be a json path under either .spec or .status",
            )
        )
    return errs


def _column(col: Any, path: str) -> list[FieldError]:
    if not isinstance(col, dict):
        return [errors.invalid(path, col, "must be an object")]
    errs: list[FieldError] = []
    if not col.get("name"):
        errs.append(errors.required(f"{path}.name"))
    if col.get("type") not in COLUMN_TYPES:
        errs.append(errors.not_supported(f"{path}.type", col.get("type", ""), COLUMN_TYPES))
    if not col.get("jsonPath"):
        errs.append(errors.required(f"{path}.jsonPath"))
    return errs


# ---- structural schemas -----------------------------------------------------------------


def structural(schema: dict[str, Any], path: str) -> list[FieldError]:
    """The structural-schema rules, as apiextensions reports them."""
    errs = _node(schema, path, root=True)
    if schema.get("type") not in (None, "object") and not errs:
        errs.append(
            errors.invalid(f"{path}.type", schema.get("type"), "must be object at the root")
        )
    meta = (schema.get("properties") or {}).get("metadata")
    if isinstance(meta, dict):
        extra = set(meta.get("properties") or {}) - {"name", "generateName"}
        if extra or any(k not in ("type", "properties", "description") for k in meta):
            errs.append(
                errors.field_forbidden(
                    f"{path}.properties[metadata]",
                    "must not specify anything other than name and generateName, but metadata is "
                    "implicitly specified",
                )
            )
    return errs


def _node(node: dict[str, Any], path: str, root: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    type_ = node.get("type")
    int_or_string = node.get("x-kubernetes-int-or-string")
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if type_ is not None and type_ not in SCHEMA_TYPES:
        errs.append(errors.not_supported(f"{path}.type", type_, list(SCHEMA_TYPES)))
    if not type_ and (root or not (int_or_string or preserve)):
        detail = (
            "must not be empty at the root"
            if root
            else "must not be empty for specified object fields"
        )
        errs.append(errors.required(f"{path}.type", detail))
    if int_or_string and type_:
        errs.append(
            errors.invalid(
                f"{path}.type", type_, "must be empty if x-kubernetes-int-or-string is true"
            )
        )
    if preserve is False:
        errs.append(
            errors.invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"
            )
        )
    props = node.get("properties")
    extra = node.get("additionalProperties")
    if props is not None and not (
        isinstance(props, dict) and all(isinstance(c, dict) for c in props.values())
    ):
        errs.append(errors.invalid(f"{path}.properties", props, "must be a map of schemas"))
    if "items" in node and not isinstance(node["items"], dict):
        errs.append(errors.invalid(f"{path}.items", node["items"], "must be a schema"))
    if "required" in node and not (
        isinstance(node["required"], list) and all(isinstance(r, str) for r in node["required"])
    ):
        errs.append(errors.invalid(f"{path}.required", node["required"], "must be a list of names"))
    if isinstance(props, dict) and props and isinstance(extra, dict | bool) and extra is not False:
        errs.append(
            errors.field_forbidden(
                f"{path}.additionalProperties",
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if isinstance(props, dict):
        for name, child in props.items():
            if isinstance(child, dict):
                errs += _node(child, f"{path}.properties[{name}]")
    if isinstance(extra, dict):
        errs += _node(extra, f"{path}.additionalProperties")
    if type_ == "array":
        items = node.get("items")
        if not isinstance(items, dict):
            errs.append(errors.required(f"{path}.items", "must be specified"))
        else:
            errs += _node(items, f"{path}.items")
    return errs


def _update(crd: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    new_spec, old_spec = crd.get("spec") or {}, old.get("spec") or {}
    if new_spec.get("group") != old_spec.get("group"):
        errs.append(errors.invalid("spec.group", new_spec.get("group"), "field is immutable"))
    old_scope = old_spec.get("scope")
    if new_spec.get("scope") != old_scope:
        errs.append(errors.invalid("spec.scope", new_spec.get("scope"), "field is immutable"))
    stored = (old.get("status") or {}).get("storedVersions") or []
    present = {v.get("name") for v in new_spec.get("versions") or [] if isinstance(v, dict)}
    for i, version in enumerate(stored):
        if version not in present:
            errs.append(
                errors.invalid(
                    f"status.storedVersions[{i}]",
                    version,
                    "must appear in spec.versions",
                )
            )
    return errs
