"""The shared controller skeleton: informer events in, keys on a queue, one reconcile per key.

Every controller is the shape of upstream's ``replica_set.go``: its informer
handlers only compute keys and ``add`` them to its ``WorkQueue``; N workers
take keys and call ``reconcile(key)``, which reads the current state from the
informer caches and makes the cluster match the desired state. The worker
loop below is written once, so no controller gets it subtly wrong:

- success: ``forget(key)`` (reset its backoff); if ``reconcile`` returned
  ``Requeue(after=s)``, look at the key again in ``s`` seconds (used for
  timed conditions: a namespace still draining, minReadySeconds);
- an exception: ``add_rate_limited(key)`` (5 ms doubling to 1000 s) and one
  log line, here and nowhere else. NotFound for the reconciled object
  normally means "done" and should be handled inside ``reconcile``; Conflict
  means the cache was stale, and the retry sees a fresher one;
- always ``done(key)``, so a key added meanwhile is processed again and no
  key is ever processed by two workers at once.

``Controller.run`` waits for the informers it reads to sync before starting
workers (acting on a half-filled cache would, for instance, create pods that
already exist), and shuts its queue down when cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from tinykube.api import errors
from tinykube.client.clock import REAL_CLOCK, Clock
from tinykube.client.events import EventRecorder
from tinykube.client.informers import InformerFactory, SharedInformer, key_of
from tinykube.client.rest import Client
from tinykube.client.workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
QUIET_CONFLICTS = 5  # Conflicts logged at DEBUG until a key has failed this many times
Obj = dict[str, Any]


@dataclass(frozen=True)
class Requeue:
    """Returned by ``reconcile``: look at this key again after ``after`` seconds."""

    after: float


Reconcile = Callable[[K], Awaitable[Requeue | None]]


async def worker(name: str, queue: WorkQueue[K], reconcile: Reconcile[K]) -> None:
    """Process keys until the queue shuts down (see the module docstring)."""
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            await _process(name, queue, reconcile, key)
        finally:
            queue.done(key)


async def _process(name: str, queue: WorkQueue[K], reconcile: Reconcile[K], key: K) -> None:
    started = time.monotonic()
    try:
        result = await reconcile(key)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The loop boundary: the one place a reconcile failure is logged.
        retries = queue.num_requeues(key)
        queue.add_rate_limited(key)
        if isinstance(exc, errors.APIError):
            # A Conflict is the expected outcome of acting on a cache one write
            # behind; it heals on the retry, so it is only news if it keeps happening.
            quiet = isinstance(exc, errors.Conflict) and retries < QUIET_CONFLICTS
            level = logging.DEBUG if quiet else logging.WARNING
            log.log(
                level, "controller=%s key=%s sync failed (retry %d): %s", name, key, retries, exc
            )
        else:
            log.exception("controller=%s key=%s sync failed (retry %d)", name, key, retries)
        return
    queue.forget(key)
    if isinstance(result, Requeue):
        queue.add_after(key, result.after)
    log.debug(
        "controller=%s key=%s synced in %.1f ms", name, key, (time.monotonic() - started) * 1000
    )


@dataclass
class ControllerContext:
    """What the manager hands every controller: one client, one informer factory."""

    client: Client
    factory: InformerFactory
    clock: Clock = REAL_CLOCK
    # Per-controller settings by flag name (``concurrent-gc-syncs`` -> 20).
    options: dict[str, Any] = field(default_factory=dict)
    _recorders: list[EventRecorder] = field(default_factory=list)

    def recorder(self, component: str) -> EventRecorder:
        """An event recorder for ``component``; the manager runs every one it hands out."""
        rec = EventRecorder(self.client, component)
        self._recorders.append(rec)
        return rec

    @property
    def recorders(self) -> list[EventRecorder]:
        return list(self._recorders)


class Controller(Generic[K]):
    """Base class: a queue, the informers to wait for, and ``run`` with N workers.

    Subclasses set ``name``, register informer handlers in ``__init__`` (most
    call ``self.enqueue`` from them) and implement ``reconcile``.
    """

    name: ClassVar[str] = "controller"
    default_workers: ClassVar[int] = 1
    # The kube-controller-manager flag that sets the worker count (``concurrent-gc-syncs``).
    workers_flag: ClassVar[str] = ""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.queue: WorkQueue[K] = WorkQueue(self.name, clock=ctx.clock)
        self._synced_by: list[SharedInformer] = []

    def informer(self, api_version: str, resource: str, **kw: str) -> SharedInformer:
        """A shared informer this controller reads; ``run`` waits for it to sync."""
        inf = self.ctx.factory.get(api_version, resource, **kw)
        self._synced_by.append(inf)
        return inf

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(key_of(obj))  # type: ignore[arg-type]

    async def reconcile(self, key: K) -> Requeue | None:
        raise NotImplementedError

    async def run(self, workers: int | None = None) -> None:
        """Wait for caches, then run the workers until cancelled."""
        flag = int(self.ctx.options.get(self.workers_flag, 0)) if self.workers_flag else 0
        count = workers or flag or self.default_workers
        log.info("controller=%s starting", self.name)
        try:
            for inf in self._synced_by:
                await inf.wait_synced()
            log.info("controller=%s caches synced; %d workers", self.name, count)
            async with asyncio.TaskGroup() as tg:
                for _ in range(count):
                    tg.create_task(worker(self.name, self.queue, self.reconcile))
        finally:
            self.queue.shutdown()
            log.info("controller=%s stopped", self.name)
