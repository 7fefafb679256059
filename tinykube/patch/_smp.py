"""Vocabulary shared by the strategic-merge-patch merge and diff engines.

Strategic merge patch extends JSON merge patch with facts from the schema
(which lists merge by key, which maps replace or retain keys) and with
directives written into the patch itself. This module holds what both
directions need: the directive names, the schema look-ups, the errors with
Kubernetes' messages, and the list-ordering rules.

Ordering deserves a word. A merged list keeps two kinds of items: those the
patch mentions and those only the server has. Kubernetes sorts the first by
the patch's order (or ``$setElementOrder``), the second by the live order,
and then interleaves them, taking a server-only item first whenever the live
list had it before the next patch item. ``interleave`` implements exactly
that, so results match the real API server item for item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinykube.api.errors import BadRequest, InternalError, Invalid
from tinykube.api.schema import SchemaNode
from tinykube.patch._values import equal, go_str, go_type, kind

DIRECTIVE = "$patch"
REPLACE = "replace"
DELETE = "delete"
MERGE = "merge"
RETAIN_KEYS_STRATEGY = "retainKeys"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

# apimachinery/pkg/util/mergepatch/errors.go
ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
# What kube-apiserver answers for a 422 built by NewGenericServerResponse.
REJECTED = "the server rejected our request due to an error in our request"


def bad_patch(message: str) -> BadRequest:
    """A malformed patch: 400 with the strategicpatch library's message."""
    return BadRequest(message)


def unprocessable(detail: str) -> Invalid:
    """A 422 as the apiserver builds it: generic message, library text as the cause."""
    err = Invalid(REJECTED)
    err.__cause__ = ValueError(detail)
    return err


def no_merge_key(item: Any, merge_key: str) -> BadRequest:
    return bad_patch(f"map: {go_str(item)} does not contain declared merge key: {merge_key}")


def bad_arg_type(expected: Any, actual: Any) -> BadRequest:
    """A value of the wrong JSON type where the patch needed a map or a list."""
    return bad_patch(f"expected a {go_type(expected)}, but received a {go_type(actual)}")


def bad_patch_type(directive: Any, item: Any) -> BadRequest:
    return bad_patch(f"unknown patch type: {go_str(directive)} in map: {go_str(item)}")


def is_directive_key(key: str) -> bool:
    """Keys that steer the merge and never reach the stored object."""
    return (
        key in (DIRECTIVE, RETAIN_KEYS)
        or key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        or key.startswith(SET_ELEMENT_ORDER)
    )


def field_of_directive(key: str, prefix: str, error: str) -> str:
    """``$setElementOrder/containers`` -> ``containers``; anything else is malformed."""
    head, sep, tail = key.partition("/")
    if not sep or head != prefix:
        raise bad_patch(error)
    return tail


# ---- schema facts ----------------------------------------------------------


@dataclass(frozen=True)
class FieldMeta:
    """How one field patches: its strategy, merge key and the schema below it.

    For a list, ``schema`` is the schema of the items.
    """

    schema: SchemaNode | None = None
    strategy: str = ""
    merge_key: str = ""
    retain_keys: bool = False


UNTYPED = FieldMeta()


def map_meta(schema: SchemaNode | None, key: str) -> FieldMeta:
    node = schema.field(key) if schema is not None else None
    if node is None:
        return UNTYPED
    retain, strategy = _strategies(node.patch_strategy)
    return FieldMeta(node, strategy, node.merge_key, retain)


def list_meta(schema: SchemaNode | None, key: str) -> FieldMeta:
    node = schema.field(key) if schema is not None else None
    if node is None:
        return UNTYPED
    retain, strategy = _strategies(node.patch_strategy)
    # A field typed as one object but patched as a list (apimachinery's
    # pointer-to-struct case) uses the object's schema for its items.
    items = node.items()
    if items is None and node.type != "array":
        items = node
    return FieldMeta(items, strategy, node.merge_key, retain)


def _strategies(text: str) -> tuple[bool, str]:
    """Split ``merge,retainKeys`` into (retain keys?, the other strategy)."""
    parts = [p for p in text.split(",") if p] if text else []
    if len(parts) <= 1:
        single = parts[0] if parts else ""
        return (True, "") if single == RETAIN_KEYS_STRATEGY else (False, single)
    if len(parts) == 2 and RETAIN_KEYS_STRATEGY in parts:
        return True, parts[1] if parts[0] == RETAIN_KEYS_STRATEGY else parts[0]
    raise InternalError(f"unexpected patch strategy: [{' '.join(parts)}]")


def schema_name(schema: SchemaNode | None) -> str:
    return schema.type if schema is not None and schema.type else "Struct"


# ---- list elements ---------------------------------------------------------


def element_kind(*lists: list[Any]) -> str:
    """``object`` for lists of maps, ``scalar`` otherwise; lists of lists are refused."""
    seen = ""
    for items in lists:
        for item in items:
            current = _element_kind_of(item)
            if current == "array":
                raise unprocessable(ERR_NO_LIST_OF_LISTS)
            if seen and current != seen:
                shown = " ".join(go_str(x) for x in lists)
                raise bad_patch(f"list element types are not identical: {shown}")
            seen = current
    return "object" if seen == "object" else "scalar"


def _element_kind_of(item: Any) -> str:
    if isinstance(item, dict):
        return "object"
    if isinstance(item, list):
        return "array"
    if isinstance(item, bool):
        return "boolean"
    if isinstance(item, int | float):
        return "number"
    return "string" if isinstance(item, str) else "null"


def key_of(item: Any, merge_key: str) -> Any:
    """The merge-key value of a list item, which must be a map carrying it."""
    if not isinstance(item, dict):
        raise bad_arg_type({}, item)
    if merge_key not in item:
        raise no_merge_key(item, merge_key)
    return item[merge_key]


class Positions:
    """Where items sit in a list: by merge key for maps, by value otherwise.

    Ordering a merged list asks this question for every item, so the answer
    is indexed once; values that cannot be hashed (maps and lists used as
    values) fall back to a scan. The first occurrence wins, as in Kubernetes.
    """

    __slots__ = ("_index", "_items", "_merge_key")

    def __init__(self, items: list[Any], merge_key: str) -> None:
        self._items = items
        self._merge_key = merge_key
        self._index: dict[tuple[str, Any], int] = {}
        for i, item in enumerate(items):
            if merge_key and not isinstance(item, dict):
                continue
            ident = _identity(self._value(item))
            if ident is not None:
                self._index.setdefault(ident, i)

    def append(self, item: Any) -> None:
        """Record ``item``, which the caller has just appended to the list."""
        ident = _identity(self._value(item))
        if ident is not None:
            self._index.setdefault(ident, len(self._items) - 1)

    def _value(self, item: Any) -> Any:
        if not self._merge_key:
            return item
        return item.get(self._merge_key) if isinstance(item, dict) else None

    def of(self, item: Any) -> int:
        """The position of ``item``, or -1."""
        wanted = self._value(item)
        ident = _identity(wanted)
        if ident is not None:
            return self._index.get(ident, -1)
        for i, other in enumerate(self._items):
            if (not self._merge_key or isinstance(other, dict)) and equal(
                self._value(other), wanted
            ):
                return i
        return -1


def _identity(value: Any) -> tuple[str, Any] | None:
    """A hashable stand-in that keeps booleans apart from numbers, or None."""
    if isinstance(value, dict | list):
        return None
    return (kind(value), value)


def is_delete_item(item: Any) -> bool:
    return isinstance(item, dict) and item.get(DIRECTIVE) == DELETE


def order_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    """Sort ``items`` by their place in ``order``; ``$patch: delete`` items go last."""
    if merge_key:
        for item in [*items, *order]:
            key_of(item, merge_key)
    keep = [x for x in items if not (merge_key and is_delete_item(x))]
    deleted = [x for x in items if merge_key and is_delete_item(x)]

    positions = Positions(order, merge_key)

    def rank(item: Any) -> int:
        found = positions.of(item)
        return found if found >= 0 else len(order)

    return sorted(keep, key=rank) + deleted


def interleave(
    server_only: list[Any], patched: list[Any], live: list[Any], merge_key: str
) -> list[Any]:
    """Merge two ordered lists, putting a server-only item first when the live list did."""
    out: list[Any] = []
    positions = Positions(live, merge_key)
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if j >= len(patched):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patched[j])
            j += 1
        else:
            left = positions.of(server_only[i])
            right = positions.of(patched[j])
            if 0 <= left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patched[j])
                j += 1
    return out


def partition(merged: list[Any], present: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split merged items into those named in ``present`` and the server-only rest."""
    named: list[Any] = []
    rest: list[Any] = []
    positions = Positions(present, merge_key)
    for item in merged:
        if merge_key:
            key_of(item, merge_key)
        (named if positions.of(item) >= 0 else rest).append(item)
    return named, rest


def normalize_order(
    patched: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    live: list[Any],
    merge_key: str,
) -> list[Any]:
    """The final order of a merged list (see the module docstring)."""
    return interleave(
        order_by(server_only, live, merge_key),
        order_by(patched, patch_order, merge_key),
        live,
        merge_key,
    )
