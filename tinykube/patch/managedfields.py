"""Field ownership: ``metadata.managedFields`` kept the way kube-apiserver keeps it.

Every write names a *manager* (``?fieldManager=`` or the user agent's
first word). The API server calls ``update_managed_fields`` for create,
update and non-apply patches, and ``ssa.server_side_apply`` for apply
patches; both end here. The data flow of an ``Update``:

    old object ──┐
                 ├─ compare ─> added / modified / removed fields
    new object ──┘                 │
                                   ├─ other managers lose the fields that
                                   │  changed or disappeared
                                   └─ the writing manager gains the fields
                                      that changed, merged into its entry

One entry exists per manager identity: (manager, operation, subresource,
plus apiVersion for ``Update``; appliers keep one entry across versions).
An entry's ``time`` moves only when that write changed something, so a
no-op update leaves managedFields byte-identical and the API server can skip
the write. Fields the server owns (``metadata.name``, ``uid``,
``resourceVersion``, ...) are never recorded, and callers pass
``ignore_paths`` for the fields a strategy resets (``status`` on a resource
with a status subresource, ``spec`` on ``/status``). More than ten
``Update`` entries are folded, oldest first, into ``ancient-changes``.

Comparison follows structured-merge-diff's rules (lists keyed by the
schema, a node that appears is itself "added"). On create, the old object
upstream is a Go zero value in which non-pointer structs and required
fields already exist; we model that from the schema (structs and required
fields of present structs count as present, a struct left empty counts as
a pointer), which matches upstream except for non-empty pointer structs
such as ``strategy.rollingUpdate`` (no ``"."`` member for them).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tinykube.api.errors import render_value
from tinykube.api.schema import SchemaNode
from tinykube.patch.fieldpath import (
    FieldSet,
    SchemaError,
    child_schema,
    from_fields_v1,
    go_json,
    is_atomic_map,
    is_struct,
    item_element,
    list_semantics,
    to_fields_v1,
)

__all__ = [
    "STRIPPED_FIELDS",
    "Comparison",
    "ManagedEntry",
    "Managers",
    "compare",
    "decode_managed_fields",
    "encode_managed_fields",
    "manager_from_user_agent",
    "store_managed_fields",
    "update_managed_fields",
]

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"
UNKNOWN_MANAGER = "unknown"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
FIELD_MANAGER_MAX_LENGTH = 128

# Fields the server owns; never recorded for any manager (upstream stripMeta).
STRIPPED_FIELDS = FieldSet(
    [
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        *(
            ("f:metadata", f"f:{name}")
            for name in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
            )
        ),
    ]
)

_CURRENT_OPERATION = "\x00current-operation"  # never a real identity: not JSON


@dataclass(frozen=True)
class ManagedEntry:
    """One managedFields entry, decoded."""

    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    subresource: str = ""
    time: str | None = None

    @property
    def identity(self) -> str:
        """The key upstream files an entry under: its JSON minus time and fields.

        Appliers drop the apiVersion so a manager keeps one Apply entry
        across versions. Sorting identities orders managers by name.
        """
        return _identity(self.manager, self.operation, self.api_version, self.subresource)

    def describe(self) -> str:
        """How conflict messages name the manager: ``"m" using apps/v1``."""
        text = render_value(self.manager)
        if self.subresource:
            text += f" with subresource {render_value(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


Managers = dict[str, ManagedEntry]


@functools.lru_cache(maxsize=4096)
def _identity(manager: str, operation: str, api_version: str, subresource: str) -> str:
    # Called several times per write for the same few managers: worth remembering.
    parts = [("manager", manager), ("operation", operation)]
    if operation != APPLY:
        parts.append(("apiVersion", api_version))
    if subresource:
        parts.append(("subresource", subresource))
    return "{" + ",".join(f"{go_json(k)}:{go_json(v)}" for k, v in parts if v) + "}"


# ---- wire format -------------------------------------------------------------


def decode_managed_fields(entries: Iterable[Mapping[str, Any]] | None) -> Managers:
    """Entries keyed by identity; raises ValueError for an entry upstream rejects."""
    managers: Managers = {}
    for i, raw in enumerate(entries or ()):
        if not isinstance(raw, Mapping):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = raw.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        if not raw.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        if raw.get("fieldsType") != FIELDS_V1:
            raise ValueError(
                f"invalid fieldsType {raw.get('fieldsType')!r} in managed fields entry {i}"
            )
        entry = ManagedEntry(
            manager=str(raw.get("manager") or ""),
            operation=operation,
            api_version=str(raw["apiVersion"]),
            fields=from_fields_v1(raw.get("fieldsV1") or {}),
            subresource=str(raw.get("subresource") or ""),
            time=_rfc3339(raw.get("time")),
        )
        managers[entry.identity] = entry
    return managers


def encode_managed_fields(managers: Managers) -> list[dict[str, Any]]:
    """The managedFields list, sorted as upstream sorts it (Apply first, then by time)."""
    ordered = sorted(
        managers.values(),
        key=lambda e: (e.operation, _seconds(e.time), e.manager, e.api_version, e.subresource),
    )
    return [_encode_entry(e) for e in ordered]


def _encode_entry(entry: ManagedEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "manager": entry.manager,
        "operation": entry.operation,
        "apiVersion": entry.api_version,
    }
    if entry.time:
        out["time"] = entry.time
    out["fieldsType"] = FIELDS_V1
    out["fieldsV1"] = to_fields_v1(entry.fields)
    if entry.subresource:
        out["subresource"] = entry.subresource
    return out


def _rfc3339(time: Any) -> str | None:
    """Times as metav1.Time serializes them (``2026-07-23T07:07:48Z``); clients may send ``+00:00``."""
    if not isinstance(time, str) or not time:
        return None
    try:
        parsed = datetime.fromisoformat(time.replace("Z", "+00:00"))
    except ValueError:
        return time
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def store_managed_fields(obj: dict[str, Any], managers: Managers) -> None:
    """Write ``managers`` into ``obj``; an empty set of managers removes the field."""
    meta = obj.setdefault("metadata", {})
    encoded = encode_managed_fields(managers)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def without_managed_fields(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A shallow copy of ``obj`` whose metadata lacks managedFields."""
    if obj is None:
        return None
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


# ---- comparison --------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """What changed between two versions of an object, by field path."""

    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def changed(self) -> FieldSet:
        return self.added | self.modified

    def excluding(self, ignored: FieldSet) -> Comparison:
        return Comparison(
            self.added.recursive_difference(ignored),
            self.modified.recursive_difference(ignored),
            self.removed.recursive_difference(ignored),
        )


_MISSING: Any = object()


def compare(old: Any, new: Any, schema: SchemaNode | None, *, create: bool = False) -> Comparison:
    """Fields added, modified and removed from ``old`` to ``new``.

    ``create`` treats the old object as the Go zero value of the schema
    instead of an empty map (see the module docstring). Raises SchemaError
    when a list item cannot be named.
    """
    walker = _Comparer()
    walker.walk({} if old is None else old, new, schema, (), create)
    return Comparison(FieldSet(walker.added), FieldSet(walker.modified), FieldSet(walker.removed))


def same(a: Any, b: Any) -> bool:
    """JSON equality that, unlike ``==``, keeps ``true`` and ``1`` apart."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _absent_or(value: Any, kind: type) -> bool:
    return value is _MISSING or value is None or isinstance(value, kind)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _empty(value: Any) -> bool:
    return value is _MISSING or value is None or value == {} or value == []


class _Comparer:
    def __init__(self) -> None:
        self.added: set[tuple[str, ...]] = set()
        self.modified: set[tuple[str, ...]] = set()
        self.removed: set[tuple[str, ...]] = set()

    def walk(
        self, lhs: Any, rhs: Any, schema: SchemaNode | None, path: tuple[str, ...], create: bool
    ) -> None:
        both_empty = _empty(lhs) and _empty(rhs)
        if (
            _absent_or(lhs, dict)
            and _absent_or(rhs, dict)
            and not both_empty
            and not is_atomic_map(schema)
        ):
            self._walk_map(lhs, rhs, schema, path, create and lhs is not _MISSING)
            self._node(lhs, rhs, path)
            return
        if _absent_or(lhs, list) and _absent_or(rhs, list) and not both_empty:
            kind, keys = list_semantics(schema)
            if kind != "atomic":
                self._walk_list(_as_list(lhs), _as_list(rhs), kind, keys, schema, path)
                self._node(lhs, rhs, path)
                return
        self._leaf(lhs, rhs, path)

    def _node(self, lhs: Any, rhs: Any, path: tuple[str, ...]) -> None:
        if lhs is _MISSING:
            self.added.add(path)
        elif rhs is _MISSING:
            self.removed.add(path)

    def _leaf(self, lhs: Any, rhs: Any, path: tuple[str, ...]) -> None:
        if lhs is _MISSING:
            self.added.add(path)
        elif rhs is _MISSING:
            self.removed.add(path)
        elif not same(lhs, rhs):
            self.modified.add(path)

    def _walk_map(
        self, lhs: Any, rhs: Any, schema: SchemaNode | None, path: tuple[str, ...], create: bool
    ) -> None:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        required = set(schema.required) if schema is not None else set()
        for name in {**lmap, **rmap}:
            cschema, declared = child_schema(schema, name)
            lval, rval = lmap.get(name, _MISSING), rmap.get(name, _MISSING)
            if create and lval is _MISSING and declared:
                lval = _zero_value(cschema, name in required, rval)
            self.walk(lval, rval, cschema, (*path, f"f:{name}"), create)

    def _walk_list(
        self,
        lhs: list[Any],
        rhs: list[Any],
        kind: str,
        keys: tuple[str, ...],
        schema: SchemaNode | None,
        path: tuple[str, ...],
    ) -> None:
        item_schema = schema.items() if schema is not None else None
        lgroups = _group(lhs, kind, keys, item_schema)
        rgroups = _group(rhs, kind, keys, item_schema)
        for element in {**lgroups, **rgroups}:
            litems, ritems = lgroups.get(element, []), rgroups.get(element, [])
            ipath = (*path, element)
            if len(litems) <= 1 and len(ritems) <= 1:
                lval = litems[0] if litems else _MISSING
                rval = ritems[0] if ritems else _MISSING
                self.walk(lval, rval, item_schema, ipath, False)
            elif len(litems) >= 2 and len(ritems) >= 2:
                if not same(litems, ritems):
                    self.modified.add(ipath)
            elif len(litems) >= 2:
                if ritems:
                    self.walk(_MISSING, ritems[0], item_schema, ipath, False)
                self.removed.add(ipath)
            else:
                if litems:
                    self.walk(litems[0], _MISSING, item_schema, ipath, False)
                self.added.add(ipath)


def _zero_value(schema: SchemaNode | None, required: bool, new: Any) -> Any:
    """What a declared field holds in a Go zero value, or _MISSING if omitted.

    Value structs exist (empty) and required fields are written even when
    zero, and an explicit null equals the zero value (``creationTimestamp:
    null``). A struct still empty in the new object is treated as a pointer
    (``securityContext: {}``), which is what those usually are.
    """
    if is_struct(schema) and isinstance(new, dict) and new:
        return {}
    return None if required or new is None else _MISSING


def _group(
    items: list[Any], kind: str, keys: tuple[str, ...], item_schema: SchemaNode | None
) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item_element(item, kind, keys, item_schema), []).append(item)
    return groups


# ---- ownership ---------------------------------------------------------------


def reassign(
    managers: Managers, comparison: Comparison, workflow: str, *, force: bool
) -> dict[str, FieldSet]:
    """Take changed and removed fields away from every manager but ``workflow``.

    Returns the conflicts: per identity, the fields it owned that this
    change modifies or adds. Unless ``force``, ``managers`` is left
    untouched when there are conflicts; the caller reports them.
    """
    changed = comparison.changed()
    conflicts = {
        ident: entry.fields & changed
        for ident, entry in managers.items()
        if ident != workflow and entry.fields & changed
    }
    if conflicts and not force:
        return conflicts
    for ident, entry in list(managers.items()):
        if ident != workflow:
            lost = conflicts.get(ident, FieldSet()) | comparison.removed
            entry = dataclasses.replace(entry, fields=entry.fields - lost)
            managers[ident] = entry
        if not entry.fields:
            del managers[ident]
    return conflicts


def record_update(
    managers: Managers,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    entry: ManagedEntry,
    schema: SchemaNode | None,
    ignored: FieldSet,
) -> Managers:
    """Ownership after an Update by ``entry`` (whose fields are ignored).

    The fields this write changed move to the writer and are merged into its
    previous entry; the entry's time moves only if something changed.
    """
    managers = dict(managers)
    comparison = compare(old, new, schema, create=old is None).excluding(ignored)
    reassign(managers, comparison, _CURRENT_OPERATION, force=True)
    gained = comparison.changed() - STRIPPED_FIELDS
    if gained:
        previous = managers.get(entry.identity)
        fields = gained | previous.fields if previous else gained
        managers[entry.identity] = dataclasses.replace(entry, fields=fields)
    return managers


def cap_update_managers(managers: Managers, limit: int = MAX_UPDATE_MANAGERS) -> Managers:
    """Fold the oldest Update entries into ``ancient-changes`` beyond ``limit``."""
    updaters = sorted(
        (e for e in managers.values() if e.operation == UPDATE),
        key=lambda e: (_seconds(e.time), e.identity),
    )
    if len(updaters) <= limit:
        return managers
    managers = dict(managers)
    first_of_version: dict[str, str] = {}
    count = len(updaters)
    for entry in updaters:
        if count <= limit:
            break
        bucket = ManagedEntry(ANCIENT_CHANGES, UPDATE, entry.api_version, FieldSet())
        if entry.api_version not in first_of_version:
            first_of_version[entry.api_version] = entry.identity
            continue
        if bucket.identity not in managers:
            first = managers.pop(first_of_version[entry.api_version])
            managers[bucket.identity] = dataclasses.replace(bucket, fields=first.fields)
        merged = managers[bucket.identity].fields | entry.fields
        managers[bucket.identity] = dataclasses.replace(bucket, fields=merged, time=entry.time)
        del managers[entry.identity]
        count -= 1
    return managers


# ---- the entry point for create, update and patch ----------------------------


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    operation: str,
    api_version: str,
    time: str,
    schema: SchemaNode | None,
    subresource: str = "",
    ignore_paths: Iterable[str] = (),
) -> None:
    """Set ``new["metadata"]["managedFields"]`` after a create/update/patch.

    ``old`` is the stored object (None on create) and ``new`` the object
    about to be stored. ``manager`` is the fieldManager (empty means
    ``unknown``; use ``manager_from_user_agent`` when the query has none).
    ``ignore_paths`` are dotted field paths the strategy resets, e.g.
    ``("status",)`` on a main resource that has a status subresource.

    As upstream: managedFields sent in ``new`` replace the stored ones
    (``[]`` resets them) except on a subresource; an existing object that
    has no managedFields stays untracked; and if the objects do not fit the
    schema the stored managedFields are kept unchanged.
    """
    if operation != UPDATE:
        raise ValueError(f"operation must be {UPDATE!r}; apply goes through ssa.server_side_apply")
    meta = new.setdefault("metadata", {})
    managers = _starting_managers(old, new, subresource)
    if not managers and old is not None and (old.get("metadata") or {}).get("uid"):
        meta.pop("managedFields", None)
        return
    entry = ManagedEntry(
        manager or UNKNOWN_MANAGER, UPDATE, api_version, FieldSet(), subresource, time
    )
    try:
        managers = record_update(
            managers,
            without_managed_fields(old),
            without_managed_fields(new) or {},
            entry,
            schema,
            FieldSet.of_fields(*ignore_paths),
        )
    except SchemaError:
        _keep_stored(old, meta)
        return
    store_managed_fields(new, cap_update_managers(managers))


def _starting_managers(
    old: dict[str, Any] | None, new: dict[str, Any], subresource: str
) -> Managers:
    live = _decode_or_empty((old or {}).get("metadata", {}).get("managedFields"))
    if subresource:
        return live
    sent = new.get("metadata", {}).get("managedFields")
    if sent is not None and (sent == [] or sent == [{}]):
        return {}
    return _decode_or_empty(sent) or live


def _decode_or_empty(entries: Any) -> Managers:
    try:
        return decode_managed_fields(entries)
    except (ValueError, TypeError):
        return {}


def _keep_stored(old: dict[str, Any] | None, meta: dict[str, Any]) -> None:
    stored = (old or {}).get("metadata", {}).get("managedFields")
    if stored:
        meta["managedFields"] = copy.deepcopy(stored)
    else:
        meta.pop("managedFields", None)


def manager_from_user_agent(user_agent: str) -> str:
    """The default manager name: the user agent up to its first ``/``.

    ``kubectl/v1.37.1 (linux/amd64) kubernetes/abc`` gives ``kubectl`` and
    the Python client's ``OpenAPI-Generator/33.1.0/python`` gives
    ``OpenAPI-Generator``. Unprintable characters are dropped and the
    result is cut to 128 bytes, as upstream does.
    """
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        size += len(ch.encode())
        if size > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
    return "".join(out)
