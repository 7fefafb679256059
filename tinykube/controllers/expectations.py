"""Expectations: what a controller has asked for and not yet seen in its cache.

A ReplicaSet that creates three Pods will be synced again before the informer
has delivered those Pods; counting from the cache alone it would create three
more. Upstream's answer (``pkg/controller/controller_utils.go``) is to record,
per controller key, how many creations it expects and which Pods it expects to
disappear, to lower those numbers as the informer reports the Pods, and to skip
creating or deleting anything for that key until the numbers reach zero.

Deletions are tracked by Pod key, not by count (``UIDTrackingControllerExpectations``):
a Pod that vanishes for another reason must not satisfy a deletion we asked
for of a different Pod.

If an expected event never comes (a watch dropped it, a create failed in a way
we did not see) the expectations expire after five minutes and the controller
acts on what its cache shows, as upstream does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinykube.client.clock import REAL_CLOCK, Clock

EXPECTATIONS_TIMEOUT = 5 * 60.0


@dataclass
class _Pending:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    since: float = 0.0


class Expectations:
    """Pending creations (a count) and deletions (Pod keys) per controller key."""

    def __init__(self, clock: Clock = REAL_CLOCK, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock = clock
        self.timeout = timeout
        self._by_key: dict[str, _Pending] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is in flight (or it has waited too long): the key may act."""
        pending = self._by_key.get(key)
        if pending is None:
            return True
        if pending.adds <= 0 and not pending.deletes:
            return True
        return self.clock.now() - pending.since > self.timeout

    def expect_creations(self, key: str, count: int) -> None:
        pending = self._by_key.setdefault(key, _Pending())
        pending.adds = count
        pending.since = self.clock.now()

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        pending = self._by_key.setdefault(key, _Pending())
        pending.deletes = set(pod_keys)
        pending.since = self.clock.now()

    def creation_observed(self, key: str) -> None:
        pending = self._by_key.get(key)
        if pending is not None and pending.adds > 0:
            pending.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        pending = self._by_key.get(key)
        if pending is not None:
            pending.deletes.discard(pod_key)

    def delete(self, key: str) -> None:
        """Forget ``key`` (its controller object is gone)."""
        self._by_key.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected, for tests and logs."""
        p = self._by_key.get(key)
        return (p.adds, len(p.deletes)) if p else (0, 0)
