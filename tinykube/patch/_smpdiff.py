"""The strategic-merge-patch diff engine (apimachinery's ``diffMaps``).

Given two documents it writes the patch that turns the first into the second,
in the exact shape kubectl sends: changed scalars and atomic lists whole,
maps recursively, merge lists as the changed items only (each carrying its
merge key) plus ``$patch: delete`` items, primitive merge lists as the added
values plus a ``$deleteFromPrimitiveList/<field>`` list, a
``$setElementOrder/<field>`` list giving the final order of every merge list
that changed, and ``$retainKeys`` in maps whose field says ``retainKeys``.

``DiffOptions`` switches halves of the work off; kubectl's three-way patch is
two diffs: the deletions only (last-applied -> manifest) and the additions
and changes only (live -> manifest).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tinykube.api.schema import SchemaNode
from tinykube.patch import _smp
from tinykube.patch._smp import (
    DELETE,
    DELETE_FROM_PRIMITIVE_LIST,
    DIRECTIVE,
    MERGE,
    REPLACE,
    RETAIN_KEYS,
    SET_ELEMENT_ORDER,
)
from tinykube.patch._values import JSONMap, deep_copy, equal, go_str, kind, sort_scalars


@dataclass(frozen=True)
class DiffOptions:
    set_element_order: bool = True
    ignore_changes_and_additions: bool = False
    ignore_deletions: bool = False
    build_retain_keys: bool = False


def diff_maps(
    original: JSONMap, modified: JSONMap, schema: SchemaNode | None, opts: DiffOptions
) -> JSONMap:
    """The patch from ``original`` to ``modified`` (neither is modified)."""
    patch: JSONMap = {}
    retained: list[str] = []
    for key, new in modified.items():
        if opts.build_retain_keys and new is not None:
            retained.append(key)
        if key not in original:
            if not opts.ignore_changes_and_additions:
                patch[key] = deep_copy(new)
            continue
        old = original[key]
        if key == DIRECTIVE:
            _diff_directive(old, new, patch)
        elif kind(old) != kind(new):
            if not opts.ignore_changes_and_additions:
                patch[key] = deep_copy(new)
        elif isinstance(old, dict):
            _diff_map_field(key, old, new, patch, schema, opts)
        elif isinstance(old, list):
            _diff_list_field(key, old, new, patch, schema, opts)
        elif not opts.ignore_changes_and_additions and not equal(old, new):
            patch[key] = new
    if not opts.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    if retained and (patch or _has_dropped_field(original, modified)):
        patch[RETAIN_KEYS] = sort_scalars(retained)
    return patch


def _diff_directive(old: Any, new: Any, patch: JSONMap) -> None:
    if not isinstance(old, str) or not isinstance(new, str):
        raise _smp.bad_patch(f"invalid value for special key: {DIRECTIVE}")
    if old != new:
        patch[DIRECTIVE] = new


def _has_dropped_field(original: JSONMap, modified: JSONMap) -> bool:
    """Whether ``original`` holds a non-null field ``modified`` lacks (retainKeys clears it)."""
    return any(v is not None and k not in modified for k, v in original.items())


def _diff_map_field(
    key: str,
    old: JSONMap,
    new: JSONMap,
    patch: JSONMap,
    schema: SchemaNode | None,
    opts: DiffOptions,
) -> None:
    meta = _smp.map_meta(schema, key)
    if meta.strategy == REPLACE:
        # Kubernetes sends a replace-strategy map whole, even when unchanged.
        if not opts.ignore_changes_and_additions:
            patch[key] = deep_copy(new)
        return
    sub = diff_maps(old, new, meta.schema, replace(opts, build_retain_keys=meta.retain_keys))
    if sub:
        patch[key] = sub


def _diff_list_field(
    key: str,
    old: list[Any],
    new: list[Any],
    patch: JSONMap,
    schema: SchemaNode | None,
    opts: DiffOptions,
) -> None:
    meta = _smp.list_meta(schema, key)
    if meta.strategy != MERGE:
        if not opts.ignore_changes_and_additions and not equal(old, new):
            patch[key] = deep_copy(new)
        return
    item_opts = replace(opts, build_retain_keys=meta.retain_keys)
    changes, deletions, order = diff_lists(old, new, meta.schema, meta.merge_key, item_opts)
    if changes:
        patch[key] = changes
    if deletions:
        patch[f"{DELETE_FROM_PRIMITIVE_LIST}/{key}"] = deletions
    if order:
        patch[f"{SET_ELEMENT_ORDER}/{key}"] = order


def diff_lists(
    original: list[Any],
    modified: list[Any],
    schema: SchemaNode | None,
    merge_key: str,
    opts: DiffOptions,
) -> tuple[list[Any], list[Any], list[Any]]:
    """(patch items, values to delete from a primitive list, element order) for a merge list."""
    if not original:
        if not modified or opts.ignore_changes_and_additions:
            return [], [], []
        return deep_copy(modified), [], []
    if _smp.element_kind(original, modified) == "object":
        return _diff_lists_of_maps(original, modified, schema, merge_key, opts)
    return _diff_lists_of_scalars(original, modified, opts)


def _diff_lists_of_maps(
    original: list[Any],
    modified: list[Any],
    schema: SchemaNode | None,
    merge_key: str,
    opts: DiffOptions,
) -> tuple[list[Any], list[Any], list[Any]]:
    changes, deletions = _diff_items(original, modified, schema, merge_key, opts)
    changes = _smp.order_by(changes, modified, merge_key) + deletions
    same_order = len(original) == len(modified) and all(
        equal(_smp.key_of(a, merge_key), _smp.key_of(b, merge_key))
        for a, b in zip(original, modified, strict=True)
    )
    order: list[Any] = []
    wanted = (not opts.ignore_changes_and_additions and (changes or not same_order)) or (
        not opts.ignore_deletions and changes
    )
    if opts.set_element_order and wanted:
        order = [{merge_key: item[merge_key]} for item in modified]
    return changes, [], order


def _diff_items(
    original: list[Any],
    modified: list[Any],
    schema: SchemaNode | None,
    merge_key: str,
    opts: DiffOptions,
) -> tuple[list[Any], list[Any]]:
    """Walk both lists sorted by merge key, as Kubernetes does, pairing items by key."""
    old = _sorted_by_key(original, merge_key)
    new = _sorted_by_key(modified, merge_key)
    changes: list[Any] = []
    deletions: list[Any] = []
    i = j = 0
    while i < len(old) or j < len(new):
        old_key = go_str(old[i][merge_key]) if i < len(old) else None
        new_key = go_str(new[j][merge_key]) if j < len(new) else None
        if old_key is not None and old_key == new_key:
            sub = diff_maps(old[i], new[j], schema, opts)
            if sub:
                sub[merge_key] = new[j][merge_key]
                changes.append(sub)
            i, j = i + 1, j + 1
        elif old_key is None or (new_key is not None and old_key > new_key):
            if not opts.ignore_changes_and_additions:
                changes.append(deep_copy(new[j]))
            j += 1
        else:
            if not opts.ignore_deletions:
                deletions.append({merge_key: old[i][merge_key], DIRECTIVE: DELETE})
            i += 1
    return changes, deletions


def _sorted_by_key(items: list[Any], merge_key: str) -> list[Any]:
    for item in items:
        _smp.key_of(item, merge_key)
    return sorted(items, key=lambda item: go_str(item[merge_key]))


def _diff_lists_of_scalars(
    original: list[Any], modified: list[Any], opts: DiffOptions
) -> tuple[list[Any], list[Any], list[Any]]:
    old = sort_scalars(original)
    new = sort_scalars(modified)
    additions: list[Any] = []
    deletions: list[Any] = []
    i = j = 0
    while i < len(old) or j < len(new):
        a = go_str(old[i]) if i < len(old) else None
        b = go_str(new[j]) if j < len(new) else None
        if a is not None and a == b:
            i, j = i + 1, j + 1
        elif a is None or (b is not None and a > b):
            if not opts.ignore_changes_and_additions:
                additions.append(new[j])
            j += 1
        else:
            if not opts.ignore_deletions:
                deletions.append(old[i])
            i += 1
    additions = _smp.order_by(additions, modified, "")
    order: list[Any] = []
    wanted = (not opts.ignore_deletions and deletions) or (
        not opts.ignore_changes_and_additions and not equal(original, modified)
    )
    if opts.set_element_order and wanted:
        order = list(modified)
    return additions, go_dedupe(deletions), order


def go_dedupe(values: list[Any]) -> list[Any]:
    """Kubernetes' in-place de-duplication, whose swaps decide the output order."""
    out = list(values)
    last = len(out) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if equal(out[i], out[j]):
                out[j] = out[last]
                out.pop()
                last -= 1
                j -= 1
            j += 1
        i += 1
    return out
