"""The informer's local cache: objects by key, plus secondary indexes.

Controllers read the cluster from here instead of asking the API server:
``get("ns/name")``, ``list()``, ``by_index("namespace", "ns")``. The key is
client-go's ``MetaNamespaceKeyFunc``: ``namespace/name`` for namespaced
objects, ``name`` for cluster-scoped ones. An index maps a value computed
from each object (its namespace, its node, its owner's UID) to the set of keys
that have it, kept up to date on every write so a lookup is one dict access.

No locks: the cache is written only by its informer on the event loop, and
every method runs without awaiting, so readers always see a consistent state.
Objects are stored as the API delivered them and handed out *without
copying*: they are shared by every reader, so callers must copy (``copy.deepcopy``)
before changing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]

NAMESPACE_INDEX = "namespace"


def key_of(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    name = meta.get("name") or ""
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str, str]:
    """``("ns", "name")`` from ``ns/name``; ``("", "name")`` from a cluster-scoped key."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def namespace_index(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


class Indexer:
    """A key -> object map with named secondary indexes (see the module docstring)."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        # index name -> indexed value -> keys
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        for name, func in (indexers or {}).items():
            self.add_indexer(name, func)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Add an index; existing objects are indexed at once."""
        if name in self._indexers and self._indexers[name] is not func:
            raise ValueError(f"indexer {name!r} already exists")
        self._indexers[name] = func
        index: dict[str, set[str]] = {}
        self._indices[name] = index
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    # ---- writes (the informer's) ----

    def add(self, obj: Obj) -> Obj | None:
        """Store ``obj``; returns the object it replaced, if any."""
        key = key_of(obj)
        old = self._items.get(key)
        self._items[key] = obj
        self._reindex(key, old, obj)
        return old

    update = add

    def delete(self, obj: Obj) -> Obj | None:
        """Drop the object with ``obj``'s key; returns what was stored."""
        return self.delete_key(key_of(obj))

    def delete_key(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._reindex(key, old, None)
        return old

    def replace(self, objs: Iterable[Obj]) -> None:
        """Make the cache hold exactly ``objs`` (after a relist)."""
        self._items = {key_of(o): o for o in objs}
        for name, func in self._indexers.items():
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    # ---- reads ----

    def get(self, key: str) -> Obj | None:
        """The object stored under ``key`` (shared: copy before changing it)."""
        return self._items.get(key)

    def get_by_name(self, namespace: str, name: str) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def by_index(self, index: str, value: str) -> list[Obj]:
        """Every object whose index function returned ``value``."""
        return [self._items[k] for k in sorted(self.index_keys(index, value))]

    def index_keys(self, index: str, value: str) -> set[str]:
        if index not in self._indices:
            raise KeyError(f"no indexer named {index!r}")
        return set(self._indices[index].get(value, ()))

    def index_values(self, index: str) -> list[str]:
        """Every value an index currently holds."""
        return list(self._indices[index])

    def list_namespace(self, namespace: str) -> list[Obj]:
        return self.by_index(NAMESPACE_INDEX, namespace)

    # ---- internals ----

    def _reindex(self, key: str, old: Obj | None, new: Obj | None) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            old_values = set(func(old)) if old is not None else set()
            new_values = set(func(new)) if new is not None else set()
            for value in old_values - new_values:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
            for value in new_values - old_values:
                index.setdefault(value, set()).add(key)
