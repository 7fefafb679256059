"""The storage contract every driver implements.

Shaped after etcd v3 as kube-apiserver uses it (and as kine maps it onto SQL):
one global revision orders every write; an object's resourceVersion is the
revision of its last write; create, update and delete are compare-and-swap on
that revision; watch replays every change after a revision, in order, exactly
once, and raises ``Compacted`` when that revision is older than the retained
history.

Keys are ``/registry/<resource>/<namespace>/<name>`` strings, values opaque
bytes (JSON). Drivers never parse values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int  # revision of the last write; becomes metadata.resourceVersion
    create_revision: int


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class Event:
    """One change. For DELETED, ``kv.value`` is the last value before the delete and
    ``kv.mod_revision`` is the revision of the delete itself."""

    type: EventType
    kv: KeyValue
    prev: KeyValue | None  # the value before this change (None for ADDED)

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]  # ordered by key
    revision: int  # the store revision the list was read at
    more: bool  # True when ``limit`` cut the result short
    remaining: int = 0  # items left after this page (0 when unknown or none)


class Store(Protocol):
    """What the API server needs from storage. All methods are safe to call concurrently."""

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Insert a new key. Raises ``KeyExists`` if it is present (not deleted)."""
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Replace the value if the key's mod_revision equals ``expected_revision``.

        Raises ``NotFoundError`` if the key is absent, ``RevisionConflict`` (carrying
        the current KeyValue) if the revision differs.
        """
        ...

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Delete the key (conditionally when ``expected_revision`` is non-zero).

        Returns the deleted KeyValue, whose mod_revision is the revision of the
        delete. Raises ``NotFoundError`` or ``RevisionConflict``.
        """
        ...

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        """The key's value now, or at ``revision`` (Raises ``Compacted`` if that is gone)."""
        ...

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        """Keys under ``prefix`` in key order, strictly after ``start_after``.

        ``revision`` 0 reads the current state; otherwise the state at that
        revision (``Compacted`` if it is older than the retained history).
        """
        ...

    async def current_revision(self) -> int: ...

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        """Every change under ``prefix`` with revision > ``from_revision``, in order.

        Raises ``Compacted`` (on first iteration) when ``from_revision`` is older
        than the compacted horizon. Runs until the consumer stops iterating.
        """
        ...

    async def compact(self, revision: int) -> None:
        """Forget history at or below ``revision``; current values are kept."""
        ...

    async def compacted_revision(self) -> int: ...

    async def close(self) -> None: ...
