"""Custom objects against their version's ``openAPIV3Schema``: defaulting, then validation.

apiextensions-apiserver decodes a custom object, prunes unknown fields,
applies ``default:`` values and validates the result against the schema; a
failure is one 422 Invalid listing every problem. Pruning happens earlier,
in the handlers' field validation, because that is also where
``fieldValidation=Strict|Warn`` reports the pruned fields; what is left for
this module is defaulting and the schema checks.

Messages follow upstream's conversion of kube-openapi results to field
errors: a wrong type is ``Invalid value: "string": spec.replicas in body
must be of type integer: "string"``, a missing field ``Required value``, an
enum ``Unsupported value``, too many items ``Too many``, too long a string
``Too long``, every other bound ``Invalid value: <v>: <path> in body should
...``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson

from tinykube.api import errors
from tinykube.api.errors import FieldError
from tinykube.api.resources import Resource
from tinykube.api.validation import malformed
from tinykube.apiserver.crd.definition import version_info

Schema = dict[str, Any]


def admit_custom(res: Resource, obj: dict[str, Any]) -> list[FieldError]:
    """Default ``obj`` in place, then return its problems under the served version's schema."""
    info = version_info(res)
    if info is None or info.schema is None:
        return []
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    try:
        apply_defaults(body, info.schema)
        obj.update(body)
        return validate_value(body, _root(info.schema), "")
    except (AttributeError, TypeError, ValueError, KeyError, RecursionError) as exc:
        raise malformed(res, exc) from exc


def deprecation(res: Resource) -> str:
    """The Warning a request to a deprecated CRD version carries ("" otherwise)."""
    info = version_info(res) if res.crd else None
    return info.warning if info is not None else ""


def _root(schema: Schema) -> Schema:
    """The root schema minus the fields every object has (checked elsewhere)."""
    props = {
        k: v
        for k, v in (schema.get("properties") or {}).items()
        if k not in ("apiVersion", "kind", "metadata")
    }
    required = [r for r in schema.get("required") or [] if r not in ("apiVersion", "kind")]
    out = {**schema, "properties": props}
    if required:
        out["required"] = required
    else:
        out.pop("required", None)
    return out


# ---- defaulting -------------------------------------------------------------------------


def apply_defaults(value: Any, schema: Schema) -> None:
    """Fill in ``default:`` values of absent (or null, when not nullable) fields, in place."""
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for name, child in props.items():
                if not isinstance(child, dict):
                    continue
                if "default" in child and (
                    name not in value or (value[name] is None and not child.get("nullable"))
                ):
                    value[name] = copy.deepcopy(child["default"])
                if name in value:
                    apply_defaults(value[name], child)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for item in value.values():
                apply_defaults(item, extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                apply_defaults(item, items)


# ---- validation -------------------------------------------------------------------------

_TYPE_OF = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    return _TYPE_OF.get(type(value), "object")


def _type_ok(value: Any, type_: str) -> bool:
    actual = json_type(value)
    if type_ == "number":
        return actual in ("integer", "number")
    if type_ == "integer" and actual == "number":
        return float(value).is_integer()
    return actual == type_


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate_value(value: Any, schema: Schema, path: str) -> list[FieldError]:
    """Every problem of ``value`` under ``schema``; ``path`` names it in messages."""
    if value is None:
        if schema.get("nullable") or not (schema.get("type") or schema.get("properties")):
            return []
        return [_type_error(path, value, schema.get("type") or "object")]
    if schema.get("x-kubernetes-int-or-string"):
        if json_type(value) not in ("integer", "string"):
            return [_type_error(path, value, "integer,string")]
        return _scalar_checks(value, schema, path)
    type_ = schema.get("type")
    if type_ and not _type_ok(value, type_):
        return [_type_error(path, value, type_)]
    errs = _scalar_checks(value, schema, path)
    if isinstance(value, dict):
        errs += _object_checks(value, schema, path)
    elif isinstance(value, list):
        errs += _array_checks(value, schema, path)
    return errs


def _type_error(path: str, value: Any, type_: str) -> FieldError:
    actual = json_type(value)
    return errors.invalid(path, actual, f'{path} in body must be of type {type_}: "{actual}"')


def _scalar_checks(value: Any, schema: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        shown = [e if isinstance(e, str) else errors.render_value(e) for e in enum]
        errs.append(errors.not_supported(path, value, shown))
    if isinstance(value, int | float) and not isinstance(value, bool):
        errs += _number_checks(value, schema, path)
    if isinstance(value, str):
        errs += _string_checks(value, schema, path)
    return errs


def _num(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else repr(n)


def _number_checks(value: float, schema: Schema, path: str) -> list[FieldError]:
    errs = []
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, int | float):
        if schema.get("exclusiveMinimum") and value <= low:
            errs.append(
                errors.invalid(path, value, f"{path} in body should be greater than {_num(low)}")
            )
        elif value < low:
            errs.append(
                errors.invalid(
                    path, value, f"{path} in body should be greater than or equal to {_num(low)}"
                )
            )
    if isinstance(high, int | float):
        if schema.get("exclusiveMaximum") and value >= high:
            errs.append(
                errors.invalid(path, value, f"{path} in body should be less than {_num(high)}")
            )
        elif value > high:
            errs.append(
                errors.invalid(
                    path, value, f"{path} in body should be less than or equal to {_num(high)}"
                )
            )
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step and (value / step) != int(value / step):
        errs.append(
            errors.invalid(path, value, f"{path} in body should be a multiple of {_num(step)}")
        )
    return errs


def _string_checks(value: str, schema: Schema, path: str) -> list[FieldError]:
    errs = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        errs.append(
            errors.invalid(path, value, f"{path} in body should be at least {low} chars long")
        )
    if isinstance(high, int) and len(value) > high:
        errs.append(errors.too_long(path, value, high))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True
        if not matched:
            errs.append(errors.invalid(path, value, f"{path} in body should match '{pattern}'"))
    return errs


def _object_checks(value: dict[str, Any], schema: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    required = schema.get("required")
    for name in required if isinstance(required, list) else []:
        if name not in value:
            errs.append(errors.required(_join(path, str(name))))
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        child = props.get(name)
        if child is None and isinstance(extra, dict):
            child = extra
        if isinstance(child, dict):
            errs += validate_value(item, child, _join(path, name))
    low, high = schema.get("minProperties"), schema.get("maxProperties")
    if isinstance(high, int) and len(value) > high:
        errs.append(
            FieldError(path, "Too many", f"must have at most {high} items", len(value), True)
        )
    if isinstance(low, int) and len(value) < low:
        errs.append(
            errors.invalid(
                path, len(value), f"{path} in body should have at least {low} properties"
            )
        )
    if schema.get("x-kubernetes-embedded-resource"):
        for name in ("apiVersion", "kind"):
            if not value.get(name):
                errs.append(errors.required(_join(path, name), "must not be empty"))
    return errs


def _array_checks(value: list[Any], schema: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(high, int) and len(value) > high:
        errs.append(
            FieldError(path, "Too many", f"must have at most {high} items", len(value), True)
        )
    if isinstance(low, int) and len(value) < low:
        errs.append(
            errors.invalid(path, len(value), f"{path} in body should have at least {low} items")
        )
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                errs.append(errors.duplicate(f"{path}[{i}]", item))
            seen.append(item)
    keys = schema.get("x-kubernetes-list-map-keys")
    if list_type == "map" and isinstance(keys, list):
        errs += _map_keys(value, [str(k) for k in keys], path)
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            errs += validate_value(item, items, f"{path}[{i}]")
    return errs


def _map_keys(value: list[Any], keys: list[str], path: str) -> list[FieldError]:
    """``x-kubernetes-list-type: map``: each item's key fields are unique in the list."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            continue
        identity = {k: item[k] for k in keys if k in item}
        token = orjson.dumps(identity, option=orjson.OPT_SORT_KEYS).decode()
        if token in seen:
            errs.append(FieldError(f"{path}[{i}]", "Duplicate value", _go_map(identity)))
        seen.add(token)
    return errs


def _go_map(identity: dict[str, Any]) -> str:
    """The key fields as Go's ``%#v`` of a ``map[string]interface {}`` shows them."""
    parts = ", ".join(
        f"{errors.render_value(k)}:{errors.render_value(v)}" for k, v in identity.items()
    )
    return "map[string]interface {}{" + parts + "}"
