"""JSON merge patch (RFC 7386): ``application/merge-patch+json`` bodies.

The simplest patch: an object that is merged key by key into the target,
where ``null`` deletes a key and every non-object value (lists included)
replaces what was there. It works for every kind, custom resources too,
because it needs no schema; the price is that a list can only be replaced
whole.

Three directions are served here:

* ``apply`` is what the API server runs for a PATCH with this content type;
* ``create`` is the two-way diff (original -> modified);
* ``create_three_way`` is what ``kubectl apply`` sends for kinds it has no
  strategic-merge schema for: the deletions come from last-applied ->
  manifest (a field the user removed becomes ``null``) and the additions and
  changes from live -> manifest, so fields only the server set are kept.

Kubernetes applies merge patches with evanphx/json-patch v4, which also drops
``null`` members of objects nested inside lists taken from the patch; we do
the same so that stored objects never hold explicit nulls there either.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import BadRequest
from tinykube.patch._values import JSONMap, deep_copy, equal, kind

ERR_BAD_PATCH = "Invalid JSON Patch"


def apply(doc: Any, patch: Any) -> Any:
    """Merge ``patch`` into a copy of ``doc`` (RFC 7386) and return it.

    A patch that is not an object or an array (``null``, a string, a number)
    is rejected with BadRequest, as kube-apiserver does; an array replaces the
    document. ``doc`` and ``patch`` are never modified.
    """
    if isinstance(patch, list):
        return _pruned(patch)
    if not isinstance(patch, dict):
        raise BadRequest(ERR_BAD_PATCH)
    target = deep_copy(doc) if isinstance(doc, dict) else {}
    return _merge_into(target, patch)


def _merge_into(target: JSONMap, patch: JSONMap) -> JSONMap:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = _merge_into(target[key], value)
        else:
            target[key] = _pruned(value)
    return target


def _pruned(value: Any) -> Any:
    """A copy of a patch value with null object members removed, at any depth."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def create(original: JSONMap, modified: JSONMap) -> JSONMap:
    """The merge patch that turns ``original`` into ``modified``.

    Keys missing from ``modified`` become ``null``; objects are diffed
    recursively (an unchanged object is left out); anything else that differs,
    lists included, is sent whole.
    """
    patch: JSONMap = {}
    for key, new in modified.items():
        if key not in original:
            patch[key] = deep_copy(new)
            continue
        old = original[key]
        if kind(old) != kind(new):
            patch[key] = deep_copy(new)
        elif isinstance(old, dict):
            sub = create(old, new)
            if sub:
                patch[key] = sub
        elif not equal(old, new):
            patch[key] = deep_copy(new)
    for key in original:
        if key not in modified:
            patch[key] = None
    return patch


def create_three_way(original: JSONMap | None, modified: JSONMap, current: JSONMap) -> JSONMap:
    """kubectl apply's patch for kinds without a strategic-merge schema.

    ``original`` is the last-applied configuration (None or {} when there is
    none), ``modified`` the new manifest and ``current`` the live object. The
    result deletes what the user removed since ``original`` and sets what
    differs between ``current`` and ``modified``; an empty dict means there is
    nothing to send.
    """
    additions = _changes_only(create(current, modified))
    deletions = _deletions_only(create(original or {}, modified))
    return _merge_into(deletions, additions)


def _changes_only(patch: JSONMap) -> JSONMap:
    """Drop the nulls (deletions) of a patch; empty objects that were set stay."""
    out: JSONMap = {}
    for key, value in patch.items():
        if value is None:
            continue
        if isinstance(value, dict) and value:
            sub = _changes_only(value)
            if sub:
                out[key] = sub
        else:
            out[key] = value
    return out


def _deletions_only(patch: JSONMap) -> JSONMap:
    """Keep only the nulls (deletions) of a patch, with the objects leading to them."""
    out: JSONMap = {}
    for key, value in patch.items():
        if value is None:
            out[key] = None
        elif isinstance(value, dict):
            sub = _deletions_only(value)
            if sub:
                out[key] = sub
    return out


def changes_identity(patch: JSONMap) -> bool:
    """Whether a three-way patch would change apiVersion, kind or metadata.name.

    kubectl refuses to send such a merge patch (its preconditions for kinds
    without a schema) and reports that one of them was changed.
    """
    if "apiVersion" in patch or "kind" in patch:
        return True
    metadata = patch.get("metadata")
    return isinstance(metadata, dict) and "name" in metadata
