"""The strategic-merge-patch merge engine (apimachinery's ``mergeMap``).

One engine serves two callers:

* the API server applies a patch to a stored object (``combine=False``):
  ``null`` deletes, parallel directive lists (``$deleteFromPrimitiveList``,
  ``$setElementOrder``, ``$retainKeys``) are carried out and removed, and
  nothing of the patch's vocabulary reaches the result;
* kubectl's three-way merge folds the "additions" patch into the "deletions"
  patch (``combine=True``): nulls and directives must survive, because the
  result is itself a patch for the server to apply.

Both work in place on values the public functions have already copied.
Within a map the steps run in Kubernetes' order: a map-level ``$patch``
first, then ``$retainKeys``, then every ``$setElementOrder`` together with
the list it orders, then the remaining keys.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import InternalError
from tinykube.api.schema import SchemaNode
from tinykube.patch import _smp
from tinykube.patch._smp import (
    DELETE,
    DELETE_FROM_PRIMITIVE_LIST,
    DIRECTIVE,
    ERR_BAD_PRIMITIVE_LIST,
    ERR_BAD_RETAIN_KEYS,
    ERR_BAD_SET_ELEMENT_ORDER,
    MERGE,
    REPLACE,
    RETAIN_KEYS,
    SET_ELEMENT_ORDER,
    FieldMeta,
    bad_patch,
)
from tinykube.patch._values import JSONMap, dedupe, equal, index_of, kind

_DROP = object()  # a value that must disappear (it carried a $patch directive)
_ABSENT = object()


def merge_map(
    original: JSONMap | None, patch: JSONMap, schema: SchemaNode | None, combine: bool
) -> JSONMap:
    """Merge ``patch`` into ``original`` (both are modified) and return the result."""
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == REPLACE:
            return _replacement({k: v for k, v in patch.items() if k != DIRECTIVE}, combine)
        if directive == DELETE:
            return {}
        if directive != MERGE:
            raise _smp.bad_patch_type(directive, patch)
        patch = {k: v for k, v in patch.items() if k != DIRECTIVE}
    if original is None:
        original = {}
    _retain_keys(original, patch, combine)
    _set_element_orders(original, patch, schema, combine)
    for key, value in list(patch.items()):
        _merge_key(original, key, value, schema, combine)
    return original


def _merge_key(
    original: JSONMap, key: str, value: Any, schema: SchemaNode | None, combine: bool
) -> None:
    delete_list = False
    if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
        if combine:
            original[key] = value
            return
        key = _smp.field_of_directive(key, DELETE_FROM_PRIMITIVE_LIST, ERR_BAD_PRIMITIVE_LIST)
        if not isinstance(value, list):
            raise bad_patch(ERR_BAD_PRIMITIVE_LIST)
        delete_list = True
    if value is None:
        original.pop(key, None)
        if not combine:
            return
    if key not in original or kind(original[key]) != kind(value):
        if not delete_list:
            _set_new(original, key, value, combine)
        return
    current = original[key]
    if isinstance(current, dict):
        meta = _smp.map_meta(schema, key)
        if meta.strategy == REPLACE:
            _set_new(original, key, value, combine)
        else:
            original[key] = merge_map(current, value, meta.schema, combine)
    elif isinstance(current, list):
        original[key] = _merge_list(
            current, value, _smp.list_meta(schema, key), delete_list, combine
        )
    else:
        _set_new(original, key, value, combine)


def _set_new(original: JSONMap, key: str, value: Any, combine: bool) -> None:
    cleaned = clean(value, combine)
    if cleaned is _DROP:
        original.pop(key, None)
    else:
        original[key] = cleaned


def clean(value: Any, combine: bool) -> Any:
    """A patch value ready to be stored as is.

    Maps carrying ``$patch`` vanish (so do list items with ``$patch:
    delete``). When applying to an object, null members and the other
    directive keys vanish too; when combining patches they are kept.
    """
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return _DROP
        out = {}
        for k, v in value.items():
            if not combine and (v is None or _smp.is_directive_key(k)):
                continue
            cv = clean(v, combine)
            if cv is not _DROP:
                out[k] = cv
        return out
    if isinstance(value, list):
        return [cv for cv in (clean(v, combine) for v in value) if cv is not _DROP]
    return value


def _replacement(content: JSONMap, combine: bool) -> JSONMap:
    """The body of a ``$patch: replace`` map, cleaned like any new value."""
    out = clean(content, combine)
    return out if isinstance(out, dict) else {}


# ---- $retainKeys -------------------------------------------------------------


def _retain_keys(original: JSONMap, patch: JSONMap, combine: bool) -> None:
    """Clear the keys of ``original`` that ``$retainKeys`` does not list."""
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if combine:
        if RETAIN_KEYS in original and not equal(original[RETAIN_KEYS], keys):
            raise InternalError(
                f"{original[RETAIN_KEYS]} and {keys} are not deep equal: this may happen "
                "when calculating the 3-way diff patch"
            )
        original[RETAIN_KEYS] = keys
        return
    if not isinstance(keys, list):
        raise bad_patch(ERR_BAD_RETAIN_KEYS)
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if index_of(keys, k) < 0:
            raise bad_patch(ERR_BAD_RETAIN_KEYS)
    for k in list(original):
        if index_of(keys, k) < 0:
            del original[k]


# ---- $setElementOrder --------------------------------------------------------


def _set_element_orders(
    original: JSONMap, patch: JSONMap, schema: SchemaNode | None, combine: bool
) -> None:
    """Merge every list that has a ``$setElementOrder`` and put it in that order.

    Precedence of order: ``$setElementOrder``, then the patch list, then the
    live list. The list and its directive leave ``patch`` once merged.
    """
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if combine:
            if key in original and not equal(original[key], order):
                raise bad_patch(ERR_BAD_SET_ELEMENT_ORDER)
            original.setdefault(key, order)
        if not isinstance(order, list):
            raise bad_patch(ERR_BAD_SET_ELEMENT_ORDER)
        field = _smp.field_of_directive(key, SET_ELEMENT_ORDER, ERR_BAD_SET_ELEMENT_ORDER)
        live = _list_or_none(original, field)
        patched = _list_or_none(patch, field)
        if live is None and patched is None:
            continue
        meta = _smp.list_meta(schema, field)
        _check_order(patched or [], order, meta.merge_key)
        if patched is None:
            merged = live or []
        elif live is None:
            merged = clean(patched, combine)
        else:
            merged = _merge_list(live, patched, meta, False, combine)
        named, server_only = _smp.partition(merged, order, meta.merge_key)
        _smp.element_kind(live or [], patched or [])
        live_order = _live_order_after_merge(live or [], patched or [], meta)
        original[field] = _smp.normalize_order(
            named, server_only, order, live_order, meta.merge_key
        )
        patch.pop(field, None)


def _live_order_after_merge(live: list[Any], patched: list[Any], meta: FieldMeta) -> list[Any]:
    """The live order Kubernetes ranks server-only items by, after merging a list.

    In apimachinery the merge deletes items from the live slice by shifting
    its backing array in place and appends new items into the freed slots,
    and the ordering step then reads the original slice header over that
    array. So deleted items' places are taken by the survivors and then by
    the new items. We replay that here because it decides where server-only
    items land in the result.
    """
    if meta.strategy != MERGE or not meta.merge_key:
        return live
    if not all(isinstance(x, dict) for x in patched):
        return live
    if any(x.get(DIRECTIVE) == REPLACE for x in patched):
        return live
    view, size = list(live), len(live)
    for item in patched:
        if item.get(DIRECTIVE) == DELETE:
            while (at := _find(view[:size], meta.merge_key, item.get(meta.merge_key))) >= 0:
                view[at : size - 1] = view[at + 1 : size]
                size -= 1
    kept = view[:size]
    positions = _smp.Positions(kept, meta.merge_key)
    for item in patched:
        if DIRECTIVE in item and item[DIRECTIVE] != MERGE:
            continue
        if positions.of(item) < 0:
            if size == len(view):
                break  # Go reallocates: later appends no longer touch the live slice
            view[size] = item
            size += 1
            kept.append(item)
            positions.append(item)
    return view


def _find(items: list[Any], merge_key: str, wanted: Any) -> int:
    for i, x in enumerate(items):
        if isinstance(x, dict) and equal(x.get(merge_key), wanted):
            return i
    return -1


def _list_or_none(holder: JSONMap, field: str) -> list[Any] | None:
    if field not in holder:
        return None
    value = holder[field]
    if not isinstance(value, list):
        raise bad_patch(ERR_BAD_SET_ELEMENT_ORDER)
    return value


def _check_order(patched: list[Any], order: list[Any], merge_key: str) -> None:
    """Every (non-delete) patch item must appear in ``order``, in the same relative order."""
    items = [x for x in patched if not (merge_key and _smp.is_delete_item(x))]
    if not items or not order:
        return
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and DIRECTIVE in items[i]:
            i += 1
            continue
        if _same_element(items[i], order[j], merge_key):
            i += 1
        j += 1
    if i < len(items):
        raise bad_patch(
            f"The order in patch list:\n{_smp.go_str(patched)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{_smp.go_str(order)}\n"
        )


def _same_element(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return equal(left, right)
    return equal(_smp.key_of(left, merge_key), _smp.key_of(right, merge_key))


# ---- lists -------------------------------------------------------------------


def _merge_list(
    live: list[Any], patched: list[Any], meta: FieldMeta, delete_list: bool, combine: bool
) -> list[Any]:
    if not isinstance(patched, list):
        raise _smp.bad_arg_type([], patched)
    if meta.strategy == MERGE or delete_list:
        return _merge_by_strategy(live, patched, meta, delete_list, combine)
    return clean(patched, combine)


def _merge_by_strategy(
    live: list[Any], patched: list[Any], meta: FieldMeta, delete_list: bool, combine: bool
) -> list[Any]:
    if not live and not patched:
        return live
    element = _smp.element_kind(live, patched)
    if element != "object":
        if delete_list:
            return [x for x in live if index_of(patched, x) < 0]
        merged = dedupe(live + patched)
        named, server_only = _smp.partition(merged, patched, "")
        return _smp.normalize_order(named, server_only, patched, live, "")
    if delete_list:
        raise bad_patch(ERR_BAD_PRIMITIVE_LIST)
    if not meta.merge_key:
        raise bad_patch(f"cannot merge lists without merge key for {_smp.schema_name(meta.schema)}")
    live, patched = _special_elements(live, patched, meta.merge_key, combine)
    merged = _merge_items(live, patched, meta, combine)
    named, server_only = _smp.partition(merged, patched, meta.merge_key)
    return _smp.normalize_order(named, server_only, patched, live, meta.merge_key)


def _special_elements(
    live: list[Any], patched: list[Any], merge_key: str, combine: bool
) -> tuple[list[Any], list[Any]]:
    """Carry out ``$patch`` items: delete by key, or replace the whole list."""
    plain: list[Any] = []
    replace = False
    for item in patched:
        if not isinstance(item, dict):
            raise _smp.bad_arg_type({}, item)
        directive = item.get(DIRECTIVE, _ABSENT)
        if directive is _ABSENT or directive == MERGE:
            plain.append({k: v for k, v in item.items() if k != DIRECTIVE})
        elif directive == DELETE:
            wanted = _smp.key_of(item, merge_key)
            live = [
                x for x in live if not (isinstance(x, dict) and equal(x.get(merge_key), wanted))
            ]
        elif directive == REPLACE:
            replace = True
        else:
            raise _smp.bad_patch_type(directive, item)
    if replace:
        # The patch items become the list; nothing is merged into them.
        return [x for x in (clean(x, combine) for x in plain) if x is not _DROP], []
    return live, plain


def _merge_items(live: list[Any], patched: list[Any], meta: FieldMeta, combine: bool) -> list[Any]:
    """Merge each patch item into the live item with the same key, or append it."""
    merged = list(live)
    positions = _smp.Positions(merged, meta.merge_key)
    for item in patched:
        _smp.key_of(item, meta.merge_key)
        at = positions.of(item)
        if at >= 0:
            merged[at] = merge_map(merged[at], item, meta.schema, combine)
        else:
            # Combining patches keeps the item as it is, like apimachinery.
            merged.append(item if combine else clean(item, combine))
            positions.append(merged[-1])
    return merged
