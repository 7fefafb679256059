"""kubectl's client-side apply patch: the three-way strategic merge.

``kubectl apply`` knows three versions of an object: ``original``, the
configuration it applied last time (the
``kubectl.kubernetes.io/last-applied-configuration`` annotation), ``modified``,
the manifest being applied now, and ``current``, the live object. It must

* delete what the user removed from the manifest since last time (and only
  that: fields the server or other clients set are not the user's to delete),
* set whatever differs between the live object and the manifest.

So the patch is two diffs folded together: the deletions of original ->
modified (``null``, ``$patch: delete`` items, ``$deleteFromPrimitiveList``)
and the additions and changes of current -> modified, with the
``$setElementOrder`` and ``$retainKeys`` directives both diffs emit. Fields
present only in ``current`` (server defaults, status) appear in neither and
are left alone. An empty result means "unchanged": kubectl then sends nothing.

With ``overwrite=False`` the patch is refused when it would change a field
that someone changed on the server since the last apply (kubectl itself
always overwrites).
"""

from __future__ import annotations

from typing import Any

from tinykube.api.schema import SchemaNode
from tinykube.patch import _smp, _smpmerge
from tinykube.patch._smpdiff import DiffOptions, diff_maps
from tinykube.patch._values import JSONMap, deep_copy, equal, sort_scalars

_DELTA = DiffOptions(ignore_deletions=True)
_DELETIONS = DiffOptions(ignore_changes_and_additions=True)
_CHANGES = DiffOptions(set_element_order=False)


class ApplyConflict(Exception):
    """The patch would overwrite changes made on the server since the last apply."""

    def __init__(self, patch: JSONMap, changed: JSONMap) -> None:
        super().__init__(
            f"patch:\n{patch}\nconflicts with changes made from original to current:\n{changed}\n"
        )
        self.patch = patch
        self.changed = changed


def create_three_way(
    original: JSONMap | None,
    modified: JSONMap,
    current: JSONMap,
    schema: SchemaNode | None,
    *,
    overwrite: bool = True,
) -> JSONMap:
    """The strategic merge patch ``kubectl apply`` sends (see the module docstring).

    ``original`` is None (or {}) when the live object has no last-applied
    annotation: then nothing is deleted. No input is modified. Raises
    ``ApplyConflict`` when ``overwrite`` is False and the patch would undo a
    change made on the server.
    """
    original = deep_copy(original or {})
    modified = deep_copy(modified)
    current = deep_copy(current)
    delta = diff_maps(current, modified, schema, _DELTA)
    deletions = diff_maps(original, modified, schema, _DELETIONS)
    patch = _smpmerge.merge_map(deletions, delta, schema, combine=True)
    if not overwrite:
        changed = diff_maps(original, current, schema, _CHANGES)
        if _maps_conflict(patch, changed, schema):
            raise ApplyConflict(patch, changed)
    return patch


# ---- conflicts (apimachinery's MergingMapsHaveConflicts) ---------------------


def _conflict(left: Any, right: Any, schema: SchemaNode | None, meta: _smp.FieldMeta) -> bool:
    if isinstance(left, dict):
        if not isinstance(right, dict):
            return True
        if (_smp.DIRECTIVE in left or _smp.DIRECTIVE in right) and not (
            _smp.DIRECTIVE in left
            and _smp.DIRECTIVE in right
            and left[_smp.DIRECTIVE] == right[_smp.DIRECTIVE]
        ):
            return True
        return meta.strategy != _smp.REPLACE and _maps_conflict(left, right, schema)
    if isinstance(left, list):
        if not isinstance(right, list):
            return True
        return _lists_conflict(left, right, schema, meta)
    return not equal(left, right)


def _maps_conflict(left: JSONMap, right: JSONMap, schema: SchemaNode | None) -> bool:
    for key, value in left.items():
        if key in (_smp.DIRECTIVE, _smp.RETAIN_KEYS) or key not in right:
            continue
        if isinstance(value, list):
            meta = _smp.list_meta(schema, key)
        elif isinstance(value, dict):
            meta = _smp.map_meta(schema, key)
        else:
            meta = _smp.UNTYPED
        if _conflict(value, right[key], meta.schema, meta):
            return True
    return False


def _lists_conflict(
    left: list[Any], right: list[Any], schema: SchemaNode | None, meta: _smp.FieldMeta
) -> bool:
    element = _smp.element_kind(left, right)
    if meta.strategy == _smp.MERGE:
        if element != "object":
            return False  # unions of primitives never conflict
        lmap = {str(_smp.key_of(x, meta.merge_key)): x for x in left}
        rmap = {str(_smp.key_of(x, meta.merge_key)): x for x in right}
        return any(
            _conflict(v, rmap[k], schema, _smp.UNTYPED) for k, v in lmap.items() if k in rmap
        )
    if len(left) != len(right):
        return True
    if element != "object":
        left, right = sort_scalars(_dedupe(left)), sort_scalars(_dedupe(right))
        if len(left) != len(right):
            return True
    return any(_conflict(a, b, schema, _smp.UNTYPED) for a, b in zip(left, right, strict=True))


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(equal(v, o) for o in out):
            out.append(v)
    return out
