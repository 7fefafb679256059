"""Expected storage outcomes, raised by every driver.

The API server's generic registry translates these into API errors at one
boundary; nothing above it sees them.
"""

from __future__ import annotations

from tinykube.store.interface import KeyValue


class StoreError(Exception):
    """Base of the storage errors."""


class KeyExists(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class NotFoundError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflict(StoreError):
    """The key changed since the caller read it; ``current`` is what is there now."""

    def __init__(self, key: str, current: KeyValue) -> None:
        super().__init__(f"revision conflict on {key}: now at {current.mod_revision}")
        self.key = key
        self.current = current


class Compacted(StoreError):
    """The requested revision is older than the retained history (HTTP 410)."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} is compacted (horizon {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StoreError):
    """A read asked for a revision the store has not reached yet (etcd's ErrFutureRev)."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is in the future (current {current})")
        self.requested = requested
        self.current = current
