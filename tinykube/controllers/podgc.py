"""The pod garbage collector: remove Pods nothing else will ever remove.

A Pod is normally deleted by whoever owns it and finished by its kubelet. Some
are left behind with nobody to finish them, and upstream's
``pkg/controller/podgc`` sweeps them up every 20 seconds:

- **orphaned**: bound to a Node that no longer exists. No kubelet will ever
  confirm their deletion, so they are marked Failed (a ``DisruptionTarget``
  condition, reason ``DeletionByPodGC``) and force-deleted (grace 0). A Node
  missing from the cache may only be new to it, so the Node must stay missing
  for a 40 s quarantine and a live GET must confirm it is gone first;
- **unscheduled terminating**: deleted before any Node was chosen; there is no
  kubelet to finish them, so they are force-deleted;
- **terminating on an out-of-service Node**: a Node that is not Ready and that
  an operator tainted ``node.kubernetes.io/out-of-service`` has said its
  kubelet is never coming back, so its terminating Pods are force-deleted;
- **terminated beyond the threshold**: Succeeded and Failed Pods are kept for
  their logs and status until there are more than
  ``--terminated-pod-gc-threshold`` (12500); then the oldest go.

The sweep is one work-queue key that requeues itself, so it runs on the
shared worker loop (backoff on error, one log line) and waits with a
``Requeue`` rather than a sleep. Which Pods go is decided by pure functions
that the unit tests call directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from tinykube.api import errors
from tinykube.controllers.podutil import is_pod_terminating, meta
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "pod-garbage-collector-controller"  # upstream --controllers name; alias "podgc"
THRESHOLD_FLAG = "terminated-pod-gc-threshold"
DEFAULT_THRESHOLD = 12500
GC_CHECK_PERIOD = 20.0  # seconds between sweeps (upstream gcCheckPeriod)
QUARANTINE = 40.0  # seconds a Node must be missing before its Pods are orphans
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
SWEEP = "sweep"
DISRUPTION_REASON = "DeletionByPodGC"
ORPHAN_MESSAGE = "PodGC: node no longer exists"


# ---- pure decisions ------------------------------------------------------------------


def node_of(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def terminated_to_delete(pods: Iterable[Obj], threshold: int) -> list[Obj]:
    """The oldest terminated Pods beyond ``threshold`` (0 or less turns this off)."""
    if threshold <= 0:
        return []
    done = [p for p in pods if is_terminated(p) and not is_pod_terminating(p)]
    excess = len(done) - threshold
    if excess <= 0:
        return []
    done.sort(key=lambda p: (meta(p).get("creationTimestamp") or "", meta(p).get("name", "")))
    return done[:excess]


def missing_nodes(pods: Iterable[Obj], nodes: set[str]) -> set[str]:
    """Node names Pods are bound to that the cache does not hold."""
    return {n for p in pods if (n := node_of(p)) and n not in nodes}


def orphaned(pods: Iterable[Obj], gone: set[str]) -> list[Obj]:
    return [p for p in pods if node_of(p) in gone]


def unscheduled_terminating(pods: Iterable[Obj]) -> list[Obj]:
    return [p for p in pods if is_pod_terminating(p) and not node_of(p)]


def out_of_service(node: Obj) -> bool:
    """Not Ready and tainted out-of-service: its kubelet will never finish a Pod."""
    ready = next(
        (c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
        None,
    )
    taints = (node.get("spec") or {}).get("taints") or []
    return (ready is None or ready.get("status") != "True") and any(
        t.get("key") == OUT_OF_SERVICE for t in taints
    )


def terminating_out_of_service(pods: Iterable[Obj], nodes: dict[str, Obj]) -> list[Obj]:
    return [
        p
        for p in pods
        if is_pod_terminating(p) and (n := nodes.get(node_of(p))) is not None and out_of_service(n)
    ]


# ---- the controller ------------------------------------------------------------------


class PodGarbageCollector(Controller[str]):
    """One periodic sweep: orphaned, stuck-terminating and surplus terminated Pods."""

    name = NAME

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.threshold = int(ctx.options.get(THRESHOLD_FLAG) or DEFAULT_THRESHOLD)
        self.pods = self.informer("v1", "pods")
        self.nodes = self.informer("v1", "nodes")
        # Node name -> monotonic time the sweep first found it missing.
        self.missing_since: dict[str, float] = {}
        self.queue.add(SWEEP)

    async def reconcile(self, key: str) -> Requeue | None:
        pods = self.pods.list()
        nodes = {meta(n).get("name", ""): n for n in self.nodes.list()}
        await self._delete_all(terminated_to_delete(pods, self.threshold), "terminated")
        gone = await self._gone_nodes(missing_nodes(pods, set(nodes)))
        await self._delete_all(orphaned(pods, gone), "orphaned", mark_failed=True)
        await self._delete_all(unscheduled_terminating(pods), "unscheduled terminating")
        await self._delete_all(terminating_out_of_service(pods, nodes), "out-of-service")
        return Requeue(after=self._next_sweep())

    def _next_sweep(self) -> float:
        """The sweep period, sooner if a quarantine ends first."""
        now = self.ctx.clock.now()
        ends = [t + QUARANTINE - now for t in self.missing_since.values()]
        return min([GC_CHECK_PERIOD, *(e for e in ends if e > 0)])

    async def _gone_nodes(self, missing: set[str]) -> set[str]:
        """Missing Nodes past their quarantine that a live GET also cannot find."""
        now = self.ctx.clock.now()
        for name in list(self.missing_since):
            if name not in missing:
                del self.missing_since[name]  # it came back, or its Pods went
        gone: set[str] = set()
        for name in sorted(missing):
            first = self.missing_since.setdefault(name, now)
            if now - first < QUARANTINE:
                continue
            try:
                await self.client.get("v1", "nodes", name)
            except errors.NotFound:
                gone.add(name)
        return gone

    async def _delete_all(self, pods: Sequence[Obj], why: str, mark_failed: bool = False) -> None:
        if not pods:
            return
        log.info("controller=%s force-deleting %d %s pods", self.name, len(pods), why)
        results = await asyncio.gather(
            *(self._force_delete(p, mark_failed) for p in pods), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    async def _force_delete(self, pod: Obj, mark_failed: bool) -> None:
        m = meta(pod)
        name, namespace = m.get("name", ""), m.get("namespace", "")
        try:
            if mark_failed and not is_terminated(pod):
                await self.client.patch(
                    "v1",
                    "pods",
                    name,
                    failed_status(),
                    namespace,
                    patch_type="strategic",  # conditions merge by type
                    subresource="status",
                )
            await self.client.delete(
                "v1",
                "pods",
                name,
                namespace,
                grace_period_seconds=0,
                preconditions={"uid": m.get("uid", "")},
            )
        except (errors.NotFound, errors.Conflict):
            return  # already gone, or a new Pod of that name: not ours to delete


def failed_status() -> Obj:
    """The status patch for an orphan: Failed, with the reason a user can read."""
    condition = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": DISRUPTION_REASON,
        "message": ORPHAN_MESSAGE,
    }
    return {"status": {"phase": "Failed", "conditions": [condition]}}


def new(ctx: ControllerContext) -> PodGarbageCollector:
    """The factory the controller manager calls for ``--controllers=podgc``."""
    return PodGarbageCollector(ctx)


__all__ = [
    "NAME",
    "PodGarbageCollector",
    "missing_nodes",
    "new",
    "orphaned",
    "terminated_to_delete",
    "unscheduled_terminating",
]
