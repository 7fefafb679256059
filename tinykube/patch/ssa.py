"""Server-side apply: ``PATCH`` with ``application/apply-patch+yaml``.

The body is a manager's whole intent for the object. Applying it is four
steps, the ones structured-merge-diff's ``Updater.Apply`` takes:

1. **merge** the configuration into the live object: maps field by field,
   list-maps and sets item by item (keeping the live order and placing new
   items where the configuration puts them), everything else replaced;
2. **own**: the manager's Apply entry becomes exactly the fields of the
   configuration;
3. **prune**: fields the same manager applied last time and left out now
   are removed, unless another manager still owns them;
4. **reassign**: fields whose value this apply changes are taken from
   their other owners. If any had one, that is a conflict (409) unless
   ``force``, which takes them over.

A missing object is applied onto an empty one, which creates it. When the
merged object equals the live one, the live object is returned with only
its ownership updated and no new timestamp, so applying the same file twice
changes nothing and the API server need not write.

Errors mirror kube-apiserver: a wrong apiVersion/kind is ``BadRequest``
``invalid object type: apps/v1, Kind=Foo``, managedFields in the body is
``BadRequest``, a URL/body name mismatch is ``BadRequest``, and a body that
does not fit the schema (a container without a name, duplicate keys) is the
500 with no reason upstream returns for ``failed to create typed patch
object``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Any

from tinykube.api import errors
from tinykube.api.schema import SchemaNode
from tinykube.patch.fieldpath import (
    FieldSet,
    SchemaError,
    Tree,
    child_schema,
    ensure_named_fields,
    fields_of,
    is_atomic_map,
    item_element,
    list_semantics,
    path_string,
)
from tinykube.patch.managedfields import (
    APPLY,
    BEFORE_FIRST_APPLY,
    STRIPPED_FIELDS,
    UNKNOWN_MANAGER,
    UPDATE,
    ManagedEntry,
    Managers,
    compare,
    decode_managed_fields,
    reassign,
    record_update,
    same,
    store_managed_fields,
    without_managed_fields,
)

__all__ = ["conflict_error", "merge", "remove_items", "server_side_apply"]

CONFLICT_CAUSE = "FieldManagerConflict"

_MISSING: Any = object()


def server_side_apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    manager: str,
    force: bool,
    api_version: str,
    time: str,
    schema: SchemaNode | None,
    kind: str = "",
    name: str | None = None,
    namespace: str = "",
    subresource: str = "",
    ignore_paths: Iterable[str] = (),
) -> dict[str, Any]:
    """Apply ``config`` for ``manager`` and return the new object.

    ``live`` is the stored object or None. ``api_version`` and ``kind`` are
    the resource's (``kind`` defaults to the live object's); the body must
    match them. ``name``/``namespace`` are the URL's, checked against the
    result as upstream does. ``ignore_paths`` are dotted field paths the
    strategy resets (``status`` on a main resource that has ``/status``):
    they are neither merged nor owned. ``time`` stamps the manager's entry
    when the object changes. Raises ``errors.Conflict`` (409, causes of
    reason FieldManagerConflict) or ``errors.BadRequest``; never mutates
    its arguments.
    """
    _check_config(config, api_version, kind or (live or {}).get("kind", ""))
    ignored = FieldSet.of_fields(*ignore_paths)
    entry = ManagedEntry(
        manager or UNKNOWN_MANAGER, APPLY, api_version, FieldSet(), subresource, time
    )
    base = without_managed_fields(live) or {}
    try:
        managers = _live_managers(live, base, api_version, time, schema, ignored)
        merged, managers, changed = _apply(base, config, managers, entry, schema, ignored, force)
    except SchemaError as err:
        raise _typed_error(config, api_version, err) from None
    _check_name(merged, name, namespace)
    result = copy.deepcopy(merged) if changed else copy.deepcopy(base)
    store_managed_fields(result, managers)
    return result


def _live_managers(
    live: dict[str, Any] | None,
    base: dict[str, Any],
    api_version: str,
    time: str,
    schema: SchemaNode | None,
    ignored: FieldSet,
) -> Managers:
    """The stored ownership; an untracked object is first owned by ``before-first-apply``."""
    try:
        managers = decode_managed_fields((live or {}).get("metadata", {}).get("managedFields"))
    except (ValueError, TypeError):
        managers = {}
    if managers or live is None:
        return managers
    before = ManagedEntry(BEFORE_FIRST_APPLY, UPDATE, api_version, FieldSet(), time=time)
    return record_update({}, None, base, before, schema, ignored)


def _apply(
    live: dict[str, Any],
    config: dict[str, Any],
    managers: Managers,
    entry: ManagedEntry,
    schema: SchemaNode | None,
    ignored: FieldSet,
    force: bool,
) -> tuple[dict[str, Any], Managers, bool]:
    """Merge, own, prune and reassign; returns (object, managers, changed)."""
    config = remove_items(config, ignored, schema) if ignored else config
    applied = fields_of(config, schema, strict=True)
    merged = merge(live, config, schema)
    managers = dict(managers)
    last = managers.get(entry.identity)
    managers[entry.identity] = dataclasses.replace(
        entry, fields=applied, time=last.time if last else None
    )
    merged = _prune(merged, managers, last.fields if last else FieldSet(), schema)
    comparison = compare(live, merged, schema).excluding(ignored)
    conflicts = reassign(managers, comparison, entry.identity, force=force)
    if conflicts and not force:
        raise conflict_error(managers, conflicts)
    changed = not same(live, merged)
    mine = managers.get(entry.identity)
    if mine is not None:
        mine = dataclasses.replace(mine, fields=mine.fields - STRIPPED_FIELDS)
        if changed:
            mine = dataclasses.replace(mine, time=entry.time)
        if mine.fields:
            managers[entry.identity] = mine
        else:
            del managers[entry.identity]
    return merged, managers, changed


# ---- validation --------------------------------------------------------------


def _check_config(config: Any, api_version: str, kind: str) -> None:
    if not isinstance(config, dict):
        kind_name = "array" if isinstance(config, list) else type(config).__name__
        raise errors.BadRequest(
            f"error decoding patch: json: cannot unmarshal {kind_name} into Go value of type map[string]interface {{}}"
        )
    sent = _gvk(config)
    if sent[0] != api_version or not sent[1] or sent[1] != (kind or sent[1]):
        raise errors.BadRequest(f"invalid object type: {_gvk_string(*sent)}")
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("managedFields"), list):
        raise errors.BadRequest("metadata.managedFields must be nil")


def _gvk(obj: dict[str, Any]) -> tuple[str, str]:
    """apiVersion and kind as upstream reads them; an unparsable apiVersion is empty."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    api_version = (
        api_version if isinstance(api_version, str) and api_version.count("/") <= 1 else ""
    )
    return api_version, kind if isinstance(kind, str) else ""


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _check_name(obj: dict[str, Any], name: str | None, namespace: str) -> None:
    meta = obj.get("metadata") or {}
    obj_name = meta.get("name") or ""
    if name is not None and obj_name != name:
        raise errors.BadRequest(
            f"the name of the object ({obj_name}) does not match the name on the URL ({name})"
        )
    if name is None and not obj_name:
        raise errors.BadRequest("metadata.name: Required value: name is required")
    obj_namespace = meta.get("namespace") or ""
    if namespace and obj_namespace and obj_namespace != namespace:
        raise errors.BadRequest(
            f"the namespace of the object ({obj_namespace}) does not match the namespace on the request ({namespace})"
        )


def _typed_error(config: dict[str, Any], api_version: str, err: SchemaError) -> errors.APIError:
    """Upstream returns this as a plain error: HTTP 500 with no reason."""
    meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {_gvk_string(*_gvk(config))}"
    return errors.APIError(
        f"failed to create typed patch object ({where}): {err}", reason="", code=500
    )


def conflict_error(managers: Managers, conflicts: dict[str, FieldSet]) -> errors.Conflict:
    """409 exactly as kube-apiserver words it, one cause per conflicting field."""
    pairs = [(managers[ident], path) for ident in sorted(conflicts) for path in conflicts[ident]]
    causes = [
        errors.Cause(CONFLICT_CAUSE, f"conflict with {entry.describe()}", path_string(path))
        for entry, path in pairs
    ]
    if len(pairs) == 1:
        entry, path = pairs[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {entry.describe()}: {path_string(path)}"
        )
    else:
        lines: list[str] = []
        for ident in sorted(conflicts):
            lines.append(f"conflicts with {managers[ident].describe()}:")
            lines.extend(f"- {path_string(path)}" for path in conflicts[ident])
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, causes=causes)


# ---- merge -------------------------------------------------------------------


def merge(live: Any, config: Any, schema: SchemaNode | None) -> Any:
    """``config`` merged into ``live`` with structured-merge-diff semantics."""
    return _merge(live, config, schema)


def _merge(lhs: Any, rhs: Any, schema: SchemaNode | None) -> Any:
    if rhs is _MISSING:
        return lhs
    if lhs is _MISSING:
        return copy.deepcopy(rhs)
    if (
        isinstance(lhs, dict)
        and isinstance(rhs, dict)
        and (lhs or rhs)
        and not is_atomic_map(schema)
    ):
        out = {
            name: _merge(value, rhs.get(name, _MISSING), child_schema(schema, name)[0])
            for name, value in lhs.items()
        }
        out.update((name, copy.deepcopy(value)) for name, value in rhs.items() if name not in lhs)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list) and (lhs or rhs):
        kind, keys = list_semantics(schema)
        if kind != "atomic":
            return _merge_list(lhs, rhs, kind, keys, schema.items() if schema is not None else None)
    return copy.deepcopy(rhs)


def _merge_list(
    lhs: list[Any], rhs: list[Any], kind: str, keys: tuple[str, ...], item_schema: SchemaNode | None
) -> list[Any]:
    """Merge associative lists item by item.

    Live items the configuration does not mention keep their place; items
    it does mention come out in the configuration's order, so an applier
    can reorder its own items. A live key that appears twice is replaced by
    the configuration's single item.
    """
    lkeys = [item_element(item, kind, keys, item_schema) for item in lhs]
    rkeys = [item_element(item, kind, keys, item_schema) for item in rhs]
    lvalues: dict[str, Any] = {}
    for key, item in zip(lkeys, lhs, strict=True):
        lvalues[key] = _MISSING if key in lvalues else item
    rvalues = dict(zip(rkeys, rhs, strict=True))
    pending = [key for key in rkeys if key in lvalues]  # shared items, in config order
    out: list[Any] = []
    emitted: set[str] = set()
    li = ri = 0
    while li < len(lkeys) or ri < len(rkeys):
        lkey = lkeys[li] if li < len(lkeys) else None
        rkey = rkeys[ri] if ri < len(rkeys) else None
        if lkey is not None and lkey == rkey:
            out.append(_merge(lvalues[lkey], rvalues[rkey], item_schema))
            emitted.add(lkey)
            li, ri = li + 1, ri + 1
            _advance(pending, lkey)
            continue
        if (
            lkey is not None
            and lkey in rvalues
            and rkey is not None
            and pending
            and pending[0] != lkey
        ):
            li += 1  # a shared item the configuration places later; it comes from there
            continue
        if lkey is not None and lkey not in rvalues:
            out.append(lhs[li])
            li += 1
            continue
        if lkey is not None and lkey in emitted:
            li += 1
        if rkey is not None:
            out.append(_merge(lvalues.get(rkey, _MISSING), rvalues[rkey], item_schema))
            emitted.add(rkey)
            ri += 1
            _advance(pending, rkey)
    return out


def _advance(pending: list[str], key: str) -> None:
    if pending and pending[0] == key:
        pending.pop(0)


# ---- removal and pruning -----------------------------------------------------


def remove_items(value: Any, fields: FieldSet, schema: SchemaNode | None) -> Any:
    """``value`` without the given fields (and everything below them).

    A map or list that loses its last entry this way disappears with it,
    as it does upstream once the object is decoded into its Go type.
    """
    if not fields:
        return value
    out = _remove(value, fields.tree(), schema)
    return {} if out is _MISSING else out


def _remove(value: Any, tree: Tree, schema: SchemaNode | None) -> Any:
    if isinstance(value, dict) and value and not is_atomic_map(schema):
        out = {}
        for name, child in value.items():
            kept = _remove_child(child, tree.get(f"f:{name}"), child_schema(schema, name)[0])
            if kept is not _MISSING:
                out[name] = kept
        return out or _MISSING
    if isinstance(value, list) and value:
        kind, keys = list_semantics(schema)
        if kind == "atomic":
            return value
        item_schema = schema.items() if schema is not None else None
        items = [
            _remove_child(item, tree.get(item_element(item, kind, keys, item_schema)), item_schema)
            for item in value
        ]
        return [item for item in items if item is not _MISSING] or _MISSING
    return value


def _remove_child(child: Any, node: tuple[bool, Tree] | None, schema: SchemaNode | None) -> Any:
    if node is None:
        return child
    member, below = node
    if member:
        return _MISSING
    return _remove(child, below, schema) if below else child


def _prune(
    merged: dict[str, Any], managers: Managers, last: FieldSet, schema: SchemaNode | None
) -> dict[str, Any]:
    """Remove what the applier owned last time, no longer applies, and nobody else owns.

    The three passes of upstream's ``prune``: drop all of the previous
    set, put back whatever any manager (including the new configuration)
    owns, then remove only what the applier used to own, so fields
    nobody owned are never touched.
    """
    if not last:
        return merged
    previous = ensure_named_fields(last, schema)
    owned = ensure_named_fields(FieldSet().union(*(e.fields for e in managers.values())), schema)
    everything = _named_fields_of(merged, schema)
    pruned = remove_items(merged, previous, schema)
    pruned = remove_items(merged, everything - (_named_fields_of(pruned, schema) | owned), schema)
    gone = everything - _named_fields_of(pruned, schema)
    return remove_items(merged, gone & previous, schema)


def _named_fields_of(obj: Any, schema: SchemaNode | None) -> FieldSet:
    return ensure_named_fields(fields_of(obj, schema), schema)
