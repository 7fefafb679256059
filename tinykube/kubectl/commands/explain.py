"""``kubectl explain``: a resource's fields from the server's OpenAPI v3 documents.

The layout follows kubectl's plaintext template: a GROUP/KIND/VERSION
header; for a field path, ``FIELD: name <type>``; then the description
(``<empty>`` when there is none, wrapped at 76 columns) and the fields,
sorted, each with its type guess (``[]Container``, ``map[string]string``,
``Object``), ``-required-`` and its description. ``--recursive`` prints
the whole tree of names and types instead.
"""

from __future__ import annotations

import textwrap
from typing import Any

from tinykube.kubectl.errors import BareError, CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]
REF = "#/components/schemas/"

FLAGS = [
    Flag("recursive", kind="bool", default=False),
    Flag("api-version"),
    Flag("output", "o", default="plaintext"),
]


def resolve(schema: Obj, doc: Obj) -> Obj | None:
    ref = schema.get("$ref", "")
    if ref.startswith(REF):
        return ((doc.get("components") or {}).get("schemas") or {}).get(ref[len(REF) :])
    return None


def _is_map(schema: Obj) -> bool:
    extra = schema.get("additionalProperties")
    return bool(extra) and isinstance(extra, dict)


def type_guess(schema: Obj, doc: Obj) -> str:
    if schema.get("items"):
        return "[]" + type_guess(schema["items"], doc)
    if _is_map(schema):
        return "map[string]" + type_guess(schema["additionalProperties"], doc)
    all_of = schema.get("allOf") or []
    if len(all_of) == 1 and not schema.get("properties"):
        return type_guess(all_of[0], doc)
    if schema.get("$ref"):
        target = resolve(schema, doc)
        if not target or not target.get("type") or target.get("type") == "object":
            name = schema["$ref"].rsplit("/", 1)[-1]
            return name.rsplit(".", 1)[-1] or "Object"
        return str(target["type"])
    kind = schema.get("type")
    return "Object" if kind == "object" or not kind else str(kind)


def _wrap(text: str, width: int, indent: int) -> str:
    lines = []
    for para in text.split("\n"):
        lines.extend(
            textwrap.wrap(para, width, break_long_words=False, break_on_hyphens=False) or [""]
        )
    return "\n".join(" " * indent + line if line else line for line in lines)


def description(schema: Obj, doc: Obj) -> str:
    target = resolve(schema, doc) or schema
    out = (target.get("description") + "\n") if target.get("description") else ""
    for sub in target.get("allOf") or []:
        out += description(sub, doc)
    if target.get("items"):
        out += description(target["items"], doc)
    if _is_map(target):
        out += description(target["additionalProperties"], doc)
    return out


def _enum(schema: Obj, long: bool, limit: int, indent: int) -> str:
    values = schema.get("enum") or []
    if not values:
        return ""
    out = "ENUM:" if long else "\n" + " " * indent + "enum: "
    for i, v in enumerate(values):
        if limit > -1 and i >= limit:
            out += ", ...."
            break
        if i > 0 and not long:
            out += ", "
        elif long:
            out += "\n    "
        out += '""' if v == "" else str(v)
    return out


def field_list(schema: Obj, doc: Obj, level: int, recursive: bool, seen: frozenset[str]) -> str:
    ref = schema.get("$ref", "")
    if ref and ref in seen:
        return ""
    seen = seen | {ref}
    target = resolve(schema, doc) or schema
    out = ""
    props = target.get("properties") or {}
    for name in sorted(props):
        out += _field_detail(target, name, doc, level, recursive)
        if recursive:
            out += field_list(props[name], doc, level + 1, recursive, seen)
    for sub in target.get("allOf") or []:
        out += field_list(sub, doc, level, recursive, seen)
    if target.get("items"):
        out += field_list(target["items"], doc, level, recursive, seen)
    if _is_map(target):
        out += field_list(target["additionalProperties"], doc, level, recursive, seen)
    return out


def _field_detail(schema: Obj, name: str, doc: Obj, level: int, short: bool) -> str:
    indent = level * 2
    field = schema["properties"][name]
    out = " " * indent + f"{name}\t<{type_guess(field, doc)}>"
    if name in (schema.get("required") or []):
        out += " -required-"
    out += _enum(field, False, 4, indent) + "\n"
    if not short:
        out += (
            _wrap(field.get("description") or "<no description>", 78 - indent, indent + 2) + "\n\n"
        )
    return out


def output(schema: Obj, doc: Obj, path: list[str], recursive: bool) -> str | None:
    """The explanation below ``schema`` following ``path`` (None: the path does not exist)."""
    target = resolve(schema, doc) or schema
    if not path:
        text = "DESCRIPTION:\n" + _wrap(description(schema, doc) or "<empty>", 76, 4) + "\n"
        fields = field_list(target, doc, 1, recursive, frozenset())
        return text + ("FIELDS:\n" + fields if fields else "")
    props = target.get("properties") or {}
    if path[0] in props:
        sub = props[path[0]]
        head = ""
        if len(path) == 1:
            head = f"FIELD: {path[0]} <{type_guess(sub, doc)}>\n" + _enum(sub, True, -1, 0) + "\n\n"
        rest = output(sub, doc, path[1:], recursive)
        return None if rest is None else head + rest
    if target.get("items"):
        return output(target["items"], doc, path, recursive)
    if _is_map(target):
        return output(target["additionalProperties"], doc, path, recursive)
    for sub in target.get("allOf") or []:
        found = output(sub, doc, path, recursive)
        if found:
            return found
    return None


async def _document(f: Any, group: str, version: str) -> Obj:
    index = await f.client.call("GET", "/openapi/v3")
    key = f"apis/{group}/{version}" if group else f"api/{version}"
    entry = (index.get("paths") or {}).get(key)
    if not entry:
        raise CommandError(f'couldn\'t find resource for "{group}/{version}"')
    url = entry.get("serverRelativeURL") or f"/openapi/v3/{key}"
    path, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return await f.client.call("GET", path, params=params or None)


def _schema_for(doc: Obj, group: str, version: str, kind: str) -> Obj | None:
    for schema in ((doc.get("components") or {}).get("schemas") or {}).values():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (
                group,
                version,
                kind,
            ):
                return schema
    return None


async def run(f: Any, o: Any) -> int:
    if not o.args:
        raise CommandError("You must specify the type of resource to explain. ")
    first, *fields = o.args[0].split(".")
    try:
        mapping = await f.discovery.find(first)
    except CommandError as exc:
        raise BareError(str(exc)) from None
    group, version = mapping.group, mapping.version
    if o.api_version:
        group, _, version = o.api_version.rpartition("/")
    doc = await _document(f, group, version)
    schema = _schema_for(doc, group, version, mapping.kind)
    if schema is None:
        raise CommandError(
            f"GVK {group}/{version}, Kind={mapping.kind} not found in OpenAPI schema"
        )
    text = (
        f"GROUP:      {group}\n" if group else ""
    ) + f"KIND:       {mapping.kind}\nVERSION:    {version}\n\n"
    body = output(schema, doc, fields, o.recursive)
    if body is None:
        f.out.write(text)
        raise CommandError(f'field "{fields[-1]}" does not exist')
    f.out.write(text + body + "\n")
    return 0
