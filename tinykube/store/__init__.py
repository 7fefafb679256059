"""Storage: the contract the API server writes through, and its drivers.

Only ``tinykube.apiserver`` imports this package (an import-linter contract).
The map, in the order data flows:

- ``interface.py``: the ``Store`` protocol (etcd v3 as kube-apiserver uses it:
  one global revision, compare-and-swap writes, watch from a revision) and its
  values; ``errors.py``: the expected outcomes (``KeyExists``,
  ``NotFoundError``, ``RevisionConflict`` carrying the current value,
  ``Compacted`` = 410 Gone, ``FutureRevision``).
- ``registry.py``: ``open_store(url)``, a storage URL to a driver through one
  explicit scheme table.
- ``sqlite.py`` (the default) keeps a kine-style log: ``sqlschema.py`` holds
  the schema and statements, ``sqlwriter.py`` the one writer thread that
  group-commits, ``sqlreads.py`` the reads on reader threads.
  ``memory.py`` keeps the same log in Python containers, for unit tests.
  ``etcd.py`` speaks to a real etcd v3 (several API servers, high
  availability) with the transactions kube-apiserver itself sends.
- ``log.py``: the log row both drivers keep and the watch event it stands for;
  ``watchhub.py``: the in-process fan-out of committed events and the
  replay-then-follow algorithm of every watch; ``keys.py``: prefix ranges.
- ``compactor.py``: the periodic compaction loop the API server runs.
- ``conformance.py``: the suite every driver's tests run in full.
"""

from tinykube.store.compactor import run_compactor
from tinykube.store.errors import (
    Compacted,
    FutureRevision,
    KeyExists,
    NotFoundError,
    RevisionConflict,
    StoreError,
)
from tinykube.store.interface import Event, EventType, KeyValue, ListResult, Store
from tinykube.store.registry import open_store

__all__ = [
    "Compacted",
    "Event",
    "EventType",
    "FutureRevision",
    "KeyExists",
    "KeyValue",
    "ListResult",
    "NotFoundError",
    "RevisionConflict",
    "Store",
    "StoreError",
    "open_store",
    "run_compactor",
]
