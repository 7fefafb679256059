"""Field paths, sets of them, and their FieldsV1 wire form.

Server-side apply reasons about *which fields* a manager set, not about
values. A field is named by a path from the object root; every step of a
path is one element, kept in the exact text Kubernetes writes inside
``metadata.managedFields[].fieldsV1``:

    f:<name>          a field of a struct, or a key of a map
    k:<json object>   an item of a list-map, by its key fields, sorted by name
                      (``k:{"containerPort":80,"protocol":"TCP"}``)
    v:<json value>    an item of a set (``v:"example.com/finalizer"``)
    i:<index>         a position in a list that has no other identity

Keeping elements as canonical strings makes a path a plain tuple of strings:
hashable, cheap to compare, and written to FieldsV1 without another encoding
step. ``FieldSet`` is an immutable set of such paths with the handful of set
operations ownership tracking needs.

Which paths an object contains depends on its schema (``fields_of``): a list
is one leaf unless its schema makes it a set or a list-map, an atomic map is
one leaf, and the items of sets and list-maps are members themselves. The
rules follow structured-merge-diff, which kube-apiserver uses; the FieldsV1
writer orders keys as that library does (field names, then keys, then
values, then indexes; ``"."`` first) so our managedFields are byte-for-byte
what a real cluster returns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tinykube.api.errors import render_value
from tinykube.api.schema import SchemaNode

__all__ = [
    "FieldSet",
    "Path",
    "SchemaError",
    "ensure_named_fields",
    "fields_of",
    "from_fields_v1",
    "path_string",
    "to_fields_v1",
]

Path = tuple[str, ...]

SELF = "."  # the FieldsV1 key that marks a node as a member of the set itself

# A FieldsV1 trie in memory: element -> (is member, children).
Tree = dict[str, tuple[bool, "Tree"]]


class SchemaError(ValueError):
    """An object does not fit its schema well enough to name its fields.

    ``str()`` reads like structured-merge-diff's errors:
    ``.spec.containers: element 0: associative list with keys has an element
    that omits all key fields ["name"] ...``.
    """


class FieldSet:
    """An immutable set of field paths.

    Iteration yields paths in the order structured-merge-diff sorts them, so
    anything printed from a set (conflict messages) is deterministic.
    """

    __slots__ = ("_paths", "_tree")

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._paths = frozenset(p for p in paths if p)
        self._tree: Tree | None = None

    @classmethod
    def of_fields(cls, *dotted: str) -> FieldSet:
        """Paths made only of field names: ``of_fields("status", "metadata.labels")``."""
        return cls(tuple(f"f:{name}" for name in d.split(".")) for d in dotted if d)

    # --- set algebra -------------------------------------------------------
    def union(self, *others: FieldSet) -> FieldSet:
        return FieldSet(self._paths.union(*(o._paths for o in others)))

    def difference(self, other: FieldSet) -> FieldSet:
        return FieldSet(self._paths - other._paths)

    def intersection(self, other: FieldSet) -> FieldSet:
        return FieldSet(self._paths & other._paths)

    __or__ = union
    __sub__ = difference
    __and__ = intersection

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Drop every path that is in ``other`` or lies below one of its paths."""
        if not other:
            return self
        return FieldSet(
            p for p in self._paths if not any(p[:n] in other._paths for n in range(1, len(p) + 1))
        )

    def empty(self) -> bool:
        return not self._paths

    def paths(self) -> frozenset[Path]:
        return self._paths

    def tree(self) -> Tree:
        """The set as a trie of elements (computed once)."""
        if self._tree is None:
            self._tree = _build_tree(self._paths)
        return self._tree

    # --- container protocol -----------------------------------------------
    def __iter__(self) -> Iterator[Path]:
        return iter(sorted(self._paths, key=path_sort_key))

    def __len__(self) -> int:
        return len(self._paths)

    def __bool__(self) -> bool:
        return bool(self._paths)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self._paths == other._paths

    def __hash__(self) -> int:
        return hash(self._paths)

    def __repr__(self) -> str:
        return "FieldSet([" + ", ".join(path_string(p) for p in self) + "])"


def _build_tree(paths: Iterable[Path]) -> Tree:
    root: dict[str, list[Any]] = {}
    for path in paths:
        level = root
        for i, element in enumerate(path):
            node = level.setdefault(element, [False, {}])
            if i == len(path) - 1:
                node[0] = True
            level = node[1]
    return _freeze(root)


def _freeze(level: dict[str, list[Any]]) -> Tree:
    return {element: (node[0], _freeze(node[1])) for element, node in level.items()}


# ---- FieldsV1 ----------------------------------------------------------------


def to_fields_v1(fs: FieldSet) -> dict[str, Any]:
    """The FieldsV1 trie for ``fs``, with keys in upstream order."""
    return _emit(fs.tree())


def _emit(level: Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for element in sorted(level, key=element_sort_key):
        member, children = level[element]
        if children:
            body = {SELF: {}} if member else {}
            body.update(_emit(children))
            out[element] = body
        else:
            out[element] = {}
    return out


def from_fields_v1(d: Mapping[str, Any]) -> FieldSet:
    """Parse a FieldsV1 trie; unknown element kinds are skipped as upstream does.

    Raises ``ValueError`` for a malformed element (``k:`` without a JSON
    object, ``i:`` without an integer, a key without a ``:``).
    """
    if not isinstance(d, Mapping):
        raise ValueError("FieldsV1 must be a JSON object")
    out: list[Path] = []
    _parse(d, (), out)
    return FieldSet(out)


def _parse(level: Mapping[str, Any], prefix: Path, out: list[Path]) -> bool:
    """Collect the paths below ``prefix``; True when ``prefix`` itself is a member."""
    member = False
    has_children = False
    for raw, body in level.items():
        if raw == SELF:
            member = True
            continue
        element = canonical_element(raw)
        if element is None:
            continue
        has_children = True
        if not isinstance(body, Mapping):
            raise ValueError(f"FieldsV1 value for {raw!r} must be an object")
        if _parse(body, (*prefix, element), out):
            out.append((*prefix, element))
    return member or not has_children


def canonical_element(raw: str) -> str | None:
    """Re-encode one serialized path element the way upstream writes it.

    Returns None for an element kind this version does not know (upstream
    drops those rather than fail).
    """
    if len(raw) < 2 or raw[1] != ":":
        raise ValueError(f"invalid path element {raw!r}: missing colon")
    kind, body = raw[0], raw[2:]
    if kind == "f":
        return raw
    if kind == "k":
        fields = json.loads(body)
        if not isinstance(fields, dict):
            raise ValueError(f"invalid path element {raw!r}: key must be a JSON object")
        return key_element(fields.items())
    if kind == "v":
        return "v:" + go_json(json.loads(body))
    if kind == "i":
        return f"i:{int(body)}"
    return None


def key_element(fields: Iterable[tuple[str, Any]]) -> str:
    """``k:{...}`` with the key fields sorted by name."""
    parts = [
        go_json(name) + ":" + go_json(value) for name, value in sorted(fields, key=lambda f: f[0])
    ]
    return "k:{" + ",".join(parts) + "}"


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (HTML-safe escapes, sorted maps)."""
    if type(value) is int:
        return str(value)
    text = json.dumps(_go_numbers(value), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    if _NEEDS_ESCAPE.isdisjoint(text):
        return text
    for ch, esc in _GO_ESCAPES:
        text = text.replace(ch, esc)
    return text


_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
_NEEDS_ESCAPE = frozenset(ch for ch, _ in _GO_ESCAPES)


def _go_numbers(value: Any) -> Any:
    """Whole floats print as integers in Go (``1.0`` -> ``1``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


# ---- ordering and printing ---------------------------------------------------

_KIND_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def element_sort_key(element: str) -> tuple[Any, ...]:
    """Order elements as structured-merge-diff does: fields, keys, values, indexes."""
    kind, body = element[0], element[2:]
    if kind == "f":
        return (0, body)
    if kind == "k":
        fields = json.loads(body)
        return (1, tuple((name, value_sort_key(v)) for name, v in sorted(fields.items())))
    if kind == "v":
        return (2, value_sort_key(json.loads(body)))
    return (_KIND_RANK.get(kind, 4), int(body) if body.lstrip("-").isdigit() else 0)


def value_sort_key(value: Any) -> tuple[Any, ...]:
    """A total order over JSON values: numbers < strings < bools < lists < maps < null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (1.5, value)
    if isinstance(value, list):
        return (3, tuple(value_sort_key(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, value_sort_key(v)) for k, v in sorted(value.items())))
    return (5,)


def path_sort_key(path: Path) -> tuple[Any, ...]:
    return tuple(element_sort_key(e) for e in path)


def path_string(path: Path) -> str:
    """Human form used in conflict messages: ``.spec.containers[name="nginx"].image``."""
    return "".join(element_string(e) for e in path)


def element_string(element: str) -> str:
    kind, body = element[0], element[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        fields = json.loads(body)
        return "[" + ",".join(f"{k}={value_string(v)}" for k, v in fields.items()) + "]"
    if kind == "v":
        return "[=" + value_string(json.loads(body)) + "]"
    return f"[{body}]"


def value_string(value: Any) -> str:
    """A value as structured-merge-diff prints it (Go ``%q`` strings, ``%v`` numbers)."""
    if value is None:
        return "null"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, bool | int | str):
        return render_value(value)
    if isinstance(value, list):
        return "[" + ",".join(value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={value_string(v)}" for k, v in value.items())
    return str(value)


def _go_float(value: float) -> str:
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    return text.replace("e-0", "e-").replace("e+0", "e+")


# ---- schema semantics --------------------------------------------------------


def child_schema(schema: SchemaNode | None, name: str) -> tuple[SchemaNode | None, bool]:
    """The schema of field ``name`` and whether it is a declared (struct) field."""
    if schema is None:
        return None, False
    return schema.field(name), name in schema.properties


def is_atomic_map(schema: SchemaNode | None) -> bool:
    return schema is not None and schema.raw.get("x-kubernetes-map-type") == "atomic"


def is_struct(schema: SchemaNode | None) -> bool:
    return schema is not None and bool(schema.properties) and not is_atomic_map(schema)


def list_semantics(schema: SchemaNode | None) -> tuple[str, tuple[str, ...]]:
    """``("atomic" | "set" | "map", keys)`` for a list.

    ``x-kubernetes-list-type`` wins; without it a ``merge`` patch strategy
    makes the list associative on its merge key (or a set when it has none),
    as kube-openapi converts schemas for structured-merge-diff. Everything
    else, including untyped lists, is atomic.
    """
    if schema is None:
        return "atomic", ()
    list_type = schema.list_type
    if list_type == "":
        if "merge" not in schema.patch_strategy.split(","):
            return "atomic", ()
        return ("map", (schema.merge_key,)) if schema.merge_key else ("set", ())
    if list_type == "map" and schema.list_map_keys:
        return "map", schema.list_map_keys
    if list_type in ("map", "set"):
        return "set", ()
    return "atomic", ()


def item_element(
    item: Any, kind: str, keys: tuple[str, ...], item_schema: SchemaNode | None
) -> str:
    """The path element naming ``item`` of an associative list; raises SchemaError."""
    if kind == "set":
        if isinstance(item, dict):
            raise SchemaError("associative list without keys has an element that's a map type")
        if isinstance(item, list):
            raise SchemaError("not supported: associative list with lists as elements")
        if item is None:
            raise SchemaError(
                "associative list without keys has an element that's an explicit null"
            )
        return "v:" + go_json(item)
    if item is None:
        raise SchemaError("associative list with keys may not have a null element")
    if not isinstance(item, dict):
        raise SchemaError("associative list with keys may not have non-map elements")
    fields = []
    for name in keys:
        if name in item:
            fields.append((name, item[name]))
            continue
        default = _key_default(item_schema, name)
        if default is not None:
            fields.append((name, default))
    if not fields:
        quoted = "[" + " ".join(render_value(k) for k in keys) + "]"
        raise SchemaError(
            f"associative list with keys has an element that omits all key fields {quoted} "
            "(and doesn't have default values for any key fields)"
        )
    return key_element(fields)


def _key_default(item_schema: SchemaNode | None, name: str) -> Any:
    field = item_schema.field(name) if item_schema is not None else None
    return field.raw.get("default") if field is not None else None


def schema_at(schema: SchemaNode | None, path: Path) -> SchemaNode | None:
    """Follow ``path`` through the schema (list items through ``items``)."""
    for element in path:
        if schema is None:
            return None
        schema = schema.field(element[2:]) if element[0] == "f" else schema.items()
    return schema


# ---- the fields an object sets -----------------------------------------------


def fields_of(obj: Any, schema: SchemaNode | None, *, strict: bool = False) -> FieldSet:
    """Every field ``obj`` sets, as structured-merge-diff's ToFieldSet names them.

    Scalars, atomic lists and maps, empty or null values, map entries and
    the items of sets and list-maps are members; declared struct fields are
    only reached through their leaves. Raises SchemaError when a list item
    cannot be named (a list-map item without any key field, a null in a set)
    and, when ``strict`` (an applied configuration), on duplicate items.
    """
    out: set[Path] = set()
    _collect(obj, schema, (), out, strict)
    return FieldSet(out)


def _collect(
    value: Any, schema: SchemaNode | None, path: Path, out: set[Path], strict: bool
) -> None:
    if isinstance(value, dict):
        if is_atomic_map(schema):
            out.add(path)
            return
        for name, child in value.items():
            cschema, declared = child_schema(schema, name)
            cpath = (*path, f"f:{name}")
            _collect(child, cschema, cpath, out, strict)
            if child is None or child == {} or not declared:
                out.add(cpath)
    elif isinstance(value, list):
        kind, keys = list_semantics(schema)
        if kind == "atomic":
            out.add(path)
            return
        _collect_items(value, kind, keys, schema, path, out, strict)
    else:
        out.add(path)


def _collect_items(
    items: list[Any],
    kind: str,
    keys: tuple[str, ...],
    schema: SchemaNode | None,
    path: Path,
    out: set[Path],
    strict: bool,
) -> None:
    item_schema = schema.items() if schema is not None else None
    elements = [
        _element_or_raise(item, i, kind, keys, item_schema, path) for i, item in enumerate(items)
    ]
    counts: dict[str, int] = {}
    for element in elements:
        counts[element] = counts.get(element, 0) + 1
        if strict and counts[element] == 2:
            raise SchemaError(
                f"{path_string(path)}: duplicate entries for key {element_string(element)}"
            )
    for element, item in zip(elements, items, strict=True):
        # Duplicated items are owned as a whole: one member, no children.
        if counts[element] == 1:
            _collect(item, item_schema, (*path, element), out, strict)
        out.add((*path, element))


def _element_or_raise(
    item: Any,
    index: int,
    kind: str,
    keys: tuple[str, ...],
    item_schema: SchemaNode | None,
    path: Path,
) -> str:
    try:
        return item_element(item, kind, keys, item_schema)
    except SchemaError as err:
        raise SchemaError(f"{path_string(path)}: element {index}: {err}") from None


def ensure_named_fields(fs: FieldSet, schema: SchemaNode | None) -> FieldSet:
    """``fs`` plus every declared struct field that has members below it.

    A set naming ``spec.strategy.type`` then also owns ``spec.strategy``
    (a struct field) but not ``metadata.labels`` for ``metadata.labels.app``
    unless labels is declared. Pruning uses this so that a struct emptied
    by removal disappears with its last owned leaf.
    """
    extra: set[Path] = set()
    cache: dict[Path, SchemaNode | None] = {(): schema}
    for path in fs.paths():
        for n in range(1, len(path)):
            prefix = path[:n]
            if prefix in extra or prefix[-1][0] != "f":
                continue
            parent = _cached_schema(prefix[:-1], cache)
            if parent is not None and prefix[-1][2:] in parent.properties:
                extra.add(prefix)
    return fs.union(FieldSet(extra)) if extra else fs


def _cached_schema(path: Path, cache: dict[Path, SchemaNode | None]) -> SchemaNode | None:
    if path not in cache:
        parent = _cached_schema(path[:-1], cache)
        cache[path] = schema_at(parent, path[-1:])
    return cache[path]
