"""Schema facts about API types, as one navigable tree.

Strategic merge patch needs each list's patch strategy and merge key, server-
side apply needs list types and list-map keys, field validation needs to know
which fields exist, and the OpenAPI documents publish all of it. They share one
representation: OpenAPI v3 component schemas (``type``, ``properties``,
``items``, ``additionalProperties``, ``$ref`` to ``#/components/schemas/<name>``,
``required`` and the ``x-kubernetes-*`` extensions), produced by
``tinykube.api.schemagen`` and navigated through ``SchemaNode``.

A missing node (``None``) means "unknown": callers fall back to Kubernetes'
behaviour for untyped data (merge maps, replace lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

REF_PREFIX = "#/components/schemas/"


class SchemaNode:
    """A view of one schema node, with ``$ref`` (and single-item ``allOf``) resolved."""

    __slots__ = ("defs", "raw")

    def __init__(self, raw: Mapping[str, Any], defs: Mapping[str, Mapping[str, Any]]) -> None:
        self.defs = defs
        self.raw = _resolve(raw, defs)

    # --- navigation ------------------------------------------------------
    # Definitions never change once built, so children are memoised per node:
    # every write walks these trees (pruning, managedFields), often many times.
    def field(self, name: str) -> SchemaNode | None:
        """The schema of property ``name``; for a map, the schema of its values."""
        key = (id(self.raw), name)
        hit = _CHILDREN.get(key, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        props = self.raw.get("properties")
        child: SchemaNode | None = None
        if props is not None and name in props:
            child = SchemaNode(props[name], self.defs)
        else:
            extra = self.raw.get("additionalProperties")
            if isinstance(extra, Mapping):
                child = SchemaNode(extra, self.defs)
        _remember(key, child, self.raw)
        return child

    def items(self) -> SchemaNode | None:
        key = (id(self.raw), "[]")
        hit = _CHILDREN.get(key, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        item = self.raw.get("items")
        child = SchemaNode(item, self.defs) if isinstance(item, Mapping) else None
        _remember(key, child, self.raw)
        return child

    # --- facts -----------------------------------------------------------
    @property
    def type(self) -> str:
        """``object``, ``array``, ``string``, ``integer``, ``number``, ``boolean`` or ``""``."""
        return str(self.raw.get("type", ""))

    @property
    def properties(self) -> Mapping[str, Any]:
        return self.raw.get("properties") or {}

    @property
    def is_map(self) -> bool:
        """An object with free-form keys (labels, data, nodeSelector)."""
        return "additionalProperties" in self.raw and not self.raw.get("properties")

    @property
    def preserves_unknown(self) -> bool:
        return bool(self.raw.get("x-kubernetes-preserve-unknown-fields"))

    @property
    def int_or_string(self) -> bool:
        return bool(self.raw.get("x-kubernetes-int-or-string"))

    @property
    def patch_strategy(self) -> str:
        """``""``, ``merge``, ``retainKeys``, ``merge,retainKeys`` or ``replace``."""
        return str(self.raw.get("x-kubernetes-patch-strategy", ""))

    @property
    def merge_key(self) -> str:
        return str(self.raw.get("x-kubernetes-patch-merge-key", ""))

    @property
    def list_type(self) -> str:
        """``atomic``, ``set``, ``map`` or ``""`` (unspecified, atomic for apply)."""
        return str(self.raw.get("x-kubernetes-list-type", ""))

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        return tuple(self.raw.get("x-kubernetes-list-map-keys") or ())

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.raw.get("required") or ())


_MISS = object()
_CHILDREN: dict[tuple[int, str], SchemaNode | None] = {}
# The raw dicts keyed by id() above are kept alive here so an id is never reused.
_KEEP: dict[int, Mapping[str, Any]] = {}


def _remember(key: tuple[int, str], child: SchemaNode | None, raw: Mapping[str, Any]) -> None:
    if len(_CHILDREN) > 200_000:  # hand-built schemas in tests: do not grow without bound
        _CHILDREN.clear()
        _KEEP.clear()
    _KEEP[id(raw)] = raw
    _CHILDREN[key] = child


def _resolve(raw: Mapping[str, Any], defs: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    """Follow ``$ref`` chains; extensions beside the reference win over the target's."""
    seen = 0
    while True:
        ref = raw.get("$ref")
        if ref is None:
            all_of = raw.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
                ref = all_of[0]["$ref"]
        if ref is None or seen > 32:
            return raw
        target = defs.get(ref[len(REF_PREFIX) :]) if ref.startswith(REF_PREFIX) else None
        if target is None:
            return {k: v for k, v in raw.items() if k not in ("$ref", "allOf")}
        local = {k: v for k, v in raw.items() if k.startswith("x-kubernetes-")}
        raw = {**target, **local} if local else target
        seen += 1


@cache
def _defs() -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str, str], str]]:
    from tinykube.api import schemagen  # built once, lazily: it is the expensive part

    return schemagen.definitions(), schemagen.kind_roots()


def definitions() -> dict[str, dict[str, Any]]:
    """Every component schema by name (``io.k8s.api.core.v1.Pod``)."""
    return _defs()[0]


def root_name(group: str, version: str, kind: str) -> str | None:
    return _defs()[1].get((group, version, kind))


_OBJECT_META = REF_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_CUSTOM: dict[tuple[str, str, str], SchemaNode | None] = {}


def register_custom(gvk: tuple[str, str, str], schema: Mapping[str, Any] | None) -> None:
    """Publish (or, with None, withdraw) a custom kind's ``openAPIV3Schema``.

    The object's own apiVersion, kind and metadata are implied, as
    apiextensions-apiserver implies them, and so are those of every
    ``x-kubernetes-embedded-resource`` inside it. A version without a schema
    is untyped: every field is kept.
    """
    if schema is None:
        _CUSTOM.pop(gvk, None)
        return
    raw = _with_object_fields(dict(schema))
    _CUSTOM[gvk] = SchemaNode(raw, definitions())


def custom_kinds() -> list[tuple[str, str, str]]:
    return list(_CUSTOM)


def _with_object_fields(raw: dict[str, Any]) -> dict[str, Any]:
    props = dict(raw.get("properties") or {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"$ref": _OBJECT_META}
    return {**raw, "type": "object", "properties": _embedded(props)}


def _embedded(props: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, child in props.items():
        out[name] = _embed_walk(child) if isinstance(child, Mapping) else child
    return out


def _embed_walk(node: Mapping[str, Any]) -> dict[str, Any]:
    node = dict(node)
    if isinstance(node.get("properties"), Mapping):
        node["properties"] = _embedded(dict(node["properties"]))
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), Mapping):
            node[key] = _embed_walk(node[key])
    if node.get("x-kubernetes-embedded-resource"):
        props = dict(node.get("properties") or {})
        if props or not node.get("x-kubernetes-preserve-unknown-fields"):
            node = _with_object_fields(node)
    return node


def for_kind(group: str, version: str, kind: str) -> SchemaNode | None:
    """The schema of a whole object of that kind, or None when the kind is unknown."""
    if _CUSTOM and (group, version, kind) in _CUSTOM:
        return _CUSTOM[(group, version, kind)]
    name = root_name(group, version, kind)
    if name is None:
        return None
    defs = definitions()
    return SchemaNode({"$ref": REF_PREFIX + name}, defs)
