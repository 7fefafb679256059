"""The scheduling queue: which pending pod to try next, and when to try again.

Three places a pending pod can wait (upstream's ``PriorityQueue``):

- **active**: ready now, a heap ordered by priority (``spec.priority``, set
  from the PriorityClass at admission), then by when the pod entered the
  queue (``PrioritySort``); ``pop`` waits here.
- **backoff**: failed recently; waits ``1 s * 2**(attempts-1)``, capped at
  10 s, then moves to active (``flush_backoff``, run every second).
- **unschedulable**: failed because no node fits. Retrying would fail the
  same way, so the pod waits until the cluster changes in a way that could
  help (a node added or changed, a pod deleted): ``move_all`` sends every
  such pod to backoff (or active, if its backoff is over). A pod left there
  for ``MAX_UNSCHEDULABLE_SECONDS`` is retried anyway, in case an event that
  mattered was not recognised.

A cluster event can race with a cycle: the pod is popped, a node is added
while it is being scheduled, and the cycle fails against the older state. The
queue counts cycles; if a move request happened after the failing cycle
started, the pod goes to backoff rather than sleeping in unschedulable
(``moveRequestCycle`` upstream).

Everything runs on one event loop; only ``pop`` awaits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

from tinykube.client.clock import REAL_CLOCK, Clock
from tinykube.scheduler.cache import pod_key

Obj = dict[str, Any]
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE_SECONDS = 300.0


@dataclass
class QueuedPod:
    """A pending pod and its scheduling history."""

    pod: Obj
    key: str
    timestamp: float
    attempts: int = 0
    initial_attempt: float | None = None
    popped: float = 0.0
    unschedulable_plugins: set[str] = field(default_factory=set)

    @property
    def priority(self) -> int:
        return int((self.pod.get("spec") or {}).get("priority") or 0)


class SchedulingQueue:
    """Active heap, backoff heap and unschedulable map, with client-go style time injection."""

    def __init__(
        self,
        clock: Clock = REAL_CLOCK,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._seq = itertools.count()
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, float] = {}  # key -> when it was put there
        self._pods: dict[str, QueuedPod] = {}
        self._where: dict[str, str] = {}  # key -> "active" | "backoff" | "unschedulable"
        self._in_flight: dict[str, QueuedPod] = {}
        self._wake = asyncio.Event()
        self.scheduling_cycle = 0
        # The last cycle in which an event that may help pods arrived: for any
        # plugin (None) and per plugin named by the event's hint.
        self._move_request_cycle = -1
        self._move_request_cycle_by_plugin: dict[str, int] = {}

    # ---- sizes, for tests and metrics ----

    def __len__(self) -> int:
        return len(self._where)

    def counts(self) -> dict[str, int]:
        out = {"active": 0, "backoff": 0, "unschedulable": 0}
        for where in self._where.values():
            out[where] += 1
        return out

    def where(self, key: str) -> str | None:
        if key in self._in_flight:
            return "in-flight"
        return self._where.get(key)

    # ---- informer events ----

    def add(self, pod: Obj) -> None:
        """A new pending pod (or one that went back to pending): straight to active."""
        key = pod_key(pod)
        if key in self._in_flight:
            self._in_flight[key].pod = pod
            return
        queued = self._pods.get(key)
        if queued is None:
            queued = QueuedPod(pod, key, self.clock.now())
            self._pods[key] = queued
        else:
            queued.pod = pod
            if self._where.get(key) == "active":
                return
        self._push_active(queued)

    def update(self, pod: Obj) -> None:
        """A pending pod changed; an unschedulable one may fit now, so it moves."""
        key = pod_key(pod)
        queued = self._pods.get(key)
        if queued is None:
            self.add(pod)
            return
        old_spec = queued.pod.get("spec")
        queued.pod = pod
        if self._where.get(key) == "unschedulable" and pod.get("spec") != old_spec:
            self._move(queued)

    def delete(self, pod: Obj) -> None:
        key = pod_key(pod)
        self._pods.pop(key, None)
        self._where.pop(key, None)
        self._unschedulable.pop(key, None)
        self._in_flight.pop(key, None)
        # Heap entries of a deleted pod are skipped when they surface.

    # ---- the scheduling loop ----

    async def pop(self) -> QueuedPod:
        """The most important active pod; waits while there is none."""
        while True:
            while self._active:
                _, _, _, key = heapq.heappop(self._active)
                if self._where.get(key) != "active":
                    continue  # stale heap entry (deleted or moved)
                del self._where[key]
                queued = self._pods.pop(key)
                queued.attempts += 1
                queued.popped = self.clock.now()
                if queued.initial_attempt is None:
                    queued.initial_attempt = queued.popped
                self.scheduling_cycle += 1
                self._in_flight[key] = queued
                return queued
            self._wake.clear()
            await self._wake.wait()

    def done(self, key: str) -> None:
        """The cycle for ``key`` ended (scheduled, or requeued by ``add_unschedulable``)."""
        self._in_flight.pop(key, None)

    def add_unschedulable(self, queued: QueuedPod, cycle: int, backoff: bool = False) -> None:
        """Requeue a pod whose cycle ``cycle`` failed (``backoff`` for errors, not misfit)."""
        self._in_flight.pop(queued.key, None)
        if queued.key in self._pods or self._where.get(queued.key):
            return  # re-added while in flight (an update); it is queued already
        self._pods[queued.key] = queued
        # Backoff counts from this failure (upstream refreshes the timestamp here too).
        queued.timestamp = self.clock.now()
        if backoff or self._moved_since(queued, cycle):
            self._push_backoff(queued)
        else:
            self._where[queued.key] = "unschedulable"
            self._unschedulable[queued.key] = self.clock.now()

    def _moved_since(self, queued: QueuedPod, cycle: int) -> bool:
        """Did an event that could help this pod arrive while its cycle ran?"""
        if self._move_request_cycle >= cycle:
            return True
        plugins = queued.unschedulable_plugins or self._move_request_cycle_by_plugin.keys()
        by_plugin = self._move_request_cycle_by_plugin
        return any(by_plugin.get(p, -1) >= cycle for p in plugins)

    def backoff_duration(self, queued: QueuedPod) -> float:
        exponent = max(queued.attempts - 1, 0)
        if exponent > 30:
            return self.max_backoff
        return min(self.initial_backoff * 2**exponent, self.max_backoff)

    def backoff_expiry(self, queued: QueuedPod) -> float:
        return queued.timestamp + self.backoff_duration(queued)

    # ---- moves ----

    def move_all(self, event: str = "", helps: set[str] | None = None) -> int:
        """A cluster event that may help: unschedulable pods go to backoff or active.

        ``helps`` names the plugins whose rejections the event can undo (None:
        any); a pod rejected only by other plugins stays put, which is what
        upstream's queueing hints buy: a pod bound elsewhere does not wake
        every pod that waits for cpu.
        """
        if helps is None:
            self._move_request_cycle = self.scheduling_cycle
        else:
            for plugin in helps:
                self._move_request_cycle_by_plugin[plugin] = self.scheduling_cycle
        moved = 0
        for key in list(self._unschedulable):
            queued = self._pods[key]
            plugins = queued.unschedulable_plugins
            if helps is None or not plugins or plugins & helps:
                self._move(queued)
                moved += 1
        return moved

    def _move(self, queued: QueuedPod) -> None:
        self._unschedulable.pop(queued.key, None)
        if self.backoff_expiry(queued) > self.clock.now():
            self._push_backoff(queued)
        else:
            self._push_active(queued)

    def flush_backoff(self) -> None:
        """Backoff pods whose time is up move to active (run every second)."""
        now = self.clock.now()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            if self._where.get(key) == "backoff":
                self._push_active(self._pods[key])

    def flush_unschedulable_leftover(self) -> None:
        """Pods stuck in unschedulable for too long are retried anyway."""
        now = self.clock.now()
        stale = [k for k, t in self._unschedulable.items() if now - t > MAX_UNSCHEDULABLE_SECONDS]
        for key in stale:
            self._move(self._pods[key])

    def _push_active(self, queued: QueuedPod) -> None:
        self._unschedulable.pop(queued.key, None)
        self._where[queued.key] = "active"
        entry = (-queued.priority, queued.timestamp, next(self._seq), queued.key)
        heapq.heappush(self._active, entry)
        self._wake.set()

    def _push_backoff(self, queued: QueuedPod) -> None:
        self._unschedulable.pop(queued.key, None)
        self._where[queued.key] = "backoff"
        heapq.heappush(self._backoff, (self.backoff_expiry(queued), next(self._seq), queued.key))
