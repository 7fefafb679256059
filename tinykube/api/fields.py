"""Unknown and duplicate fields in request bodies, for the ``fieldValidation`` parameter.

Kubernetes decodes every create, update and patch body strictly and collects,
in one pass, each JSON key its Go type has no field for ("unknown field") and
each key an object repeats ("duplicate field"). What happens next depends on
``?fieldValidation=``: ``Strict`` turns the list into a 400 BadRequest,
``Warn`` (the default) drops the fields and sends one ``Warning`` header per
problem, ``Ignore`` drops them silently. Unknown fields are always dropped.

We have dicts instead of Go types, so the schema tree (``api.schema``) stands
in for the type: ``prune_unknown`` walks the decoded object alongside it and
removes what the schema does not declare; ``find_duplicates`` re-reads the
raw bytes, since a parsed dict has already forgotten repeated keys.

Paths are written as upstream's decoder (sigs.k8s.io/json) writes them: keys
joined with dots, list positions in brackets, map keys like fields:
``spec.containers[0].foo``, ``metadata.labels.app``. The messages quote them
the way Go's ``%q`` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tinykube.api.schema import SchemaNode

UNKNOWN_FIELD = "unknown field"
DUPLICATE_FIELD = "duplicate field"
STRICT_PREFIX = "strict decoding error: "


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- unknown fields ---------------------------------------------------------------------


def prune_unknown(obj: Any, node: SchemaNode | None) -> list[str]:
    """Remove, in place, every field ``node`` does not declare; return their paths.

    Paths come in document order. Subtrees marked
    ``x-kubernetes-preserve-unknown-fields`` and schemas that say nothing about
    their properties (free-form, int-or-string, quantities) are left alone, as
    are values whose JSON type differs from the schema's (that is validation's
    business, not pruning's).
    """
    found: list[str] = []
    if node is not None:
        _prune(obj, node, "", found)
    return found


def _prune(value: Any, node: SchemaNode, path: str, found: list[str]) -> None:
    if node.preserves_unknown:
        return
    if isinstance(value, dict):
        if "properties" in node.raw:
            _prune_struct(value, node, path, found)
        elif node.is_map:
            values = node.raw.get("additionalProperties")
            if isinstance(values, Mapping):
                child = SchemaNode(values, node.defs)
                for key, item in value.items():
                    _prune(item, child, _join(path, key), found)
    elif isinstance(value, list):
        items = node.items()
        if items is not None:
            for index, item in enumerate(value):
                _prune(item, items, f"{path}[{index}]", found)


def _prune_struct(value: dict[str, Any], node: SchemaNode, path: str, found: list[str]) -> None:
    props = node.properties
    for key in list(value):
        field_path = _join(path, key)
        if key not in props:
            found.append(field_path)
            del value[key]
            continue
        child = node.field(key)
        if child is not None:
            _prune(value[key], child, field_path, found)


# --- duplicate fields -------------------------------------------------------------------


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as read, keys in order and repeats kept."""


def find_duplicates(body: bytes | str) -> list[str]:
    """Paths of keys that appear more than once in the same JSON object.

    Each path is reported once, in document order. A body that is not JSON
    (YAML for server-side apply, or garbage the decoder rejects anyway) has
    none.
    """
    try:
        tree = json.loads(body, object_pairs_hook=_Pairs)
    except (ValueError, TypeError):
        return []
    found: dict[str, None] = {}
    _walk_pairs(tree, "", found)
    return list(found)


def _walk_pairs(value: Any, path: str, found: dict[str, None]) -> None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            key_path = _join(path, key)
            if key in seen:
                found.setdefault(key_path)
            seen.add(key)
            _walk_pairs(item, key_path, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_pairs(item, f"{path}[{index}]", found)


# --- messages ---------------------------------------------------------------------------


_GO_ESCAPES = {
    "\a": r"\a",
    "\b": r"\b",
    "\f": r"\f",
    "\n": r"\n",
    "\r": r"\r",
    "\t": r"\t",
    "\v": r"\v",
    '"': r"\"",
    "\\": r"\\",
}


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` prints it: double quotes, backslash escapes, UTF-8 kept."""
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def unknown_field(path: str) -> str:
    """``unknown field "spec.foo"``: one problem, as the error and the warning say it."""
    return f"{UNKNOWN_FIELD} {go_quote(path)}"


def duplicate_field(path: str) -> str:
    """``duplicate field "metadata.labels.app"``."""
    return f"{DUPLICATE_FIELD} {go_quote(path)}"


def problems(unknown: list[str], duplicates: list[str]) -> list[str]:
    """Problem strings for the paths ``prune_unknown`` and ``find_duplicates`` found."""
    return [unknown_field(p) for p in unknown] + [duplicate_field(p) for p in duplicates]


def strict_error_message(kind: str, version: str, problems: list[str]) -> str:
    """The BadRequest message for ``fieldValidation=Strict``.

    ``Pod in version "v1" cannot be handled as a Pod: strict decoding error:
    unknown field "spec.foo", duplicate field "metadata.labels.app"``; the kind
    is the plain kind (no group) in both places, as upstream prints it.
    """
    detail = STRICT_PREFIX + ", ".join(problems)
    return f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {detail}"


def warning_text(problem: str) -> str:
    """The text of the ``Warning`` header for ``fieldValidation=Warn`` (the problem itself)."""
    return problem


def warning_header(problem: str) -> str:
    """A whole ``Warning`` header value: ``299 - "unknown field \\"spec.foo\\""``.

    Upstream escapes only quotes and backslashes here and refuses control
    characters, which we drop.
    """
    text = "".join(c for c in problem if ord(c) >= 0x20 and ord(c) != 0x7F)
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
