"""Graceful node shutdown: the containers get their SIGTERM before the kubelet goes.

Upstream's kubelet (``pkg/kubelet/nodeshutdown``, enabled by a non-zero
``shutdownGracePeriod``) stops pods in two phases when the node shuts down:
regular pods first, each with ``min(terminationGracePeriodSeconds,
shutdownGracePeriod - shutdownGracePeriodCriticalPods)``, then the critical
ones (priority at or above ``system-cluster-critical``: the control plane's
static pods, kube-proxy, CoreDNS) with what is left. Both budgets are bounded,
so the whole node stops in ``shutdownGracePeriod`` plus a little, whatever
the pods ask for.

tinykube's kubelet does the same when it is stopped (SIGTERM, or Ctrl-C of
``tinykube up``), before the runtime removes what is left: a preStop hook
runs within the pod's budget, then SIGTERM, then SIGKILL once the budget is
spent. Critical pods going last means kube-proxy still serves while the
workloads drain, and removes its own Service addresses when its turn comes.

Unlike upstream, the pods' API objects are not marked Failed: the API
server is often one of the pods going away, and when the node comes back
the same pods start again, as ``tinykube up`` users expect of a restart.
A grace period of zero (the flag's default, as upstream's) keeps the old
behaviour: everything is killed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from tinykube.kubelet import containers
from tinykube.kubelet.podworkers import PodWorker, grace_period
from tinykube.kubelet.runtime.interface import ContainerState, ContainerStatus, RuntimeError_

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Pods at or above this priority are stopped last (upstream's scheduling.SystemCriticalPriority).
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
CRITICAL_CLASSES = ("system-cluster-critical", "system-node-critical")
# How long past its budget a phase may take: SIGKILL and reaping are not instant.
KILL_ALLOWANCE = 2.0


@dataclass(frozen=True)
class ShutdownBudget:
    """``shutdownGracePeriod`` and ``shutdownGracePeriodCriticalPods``, in seconds."""

    total: float = 0.0
    critical: float = 0.0

    @property
    def regular(self) -> float:
        return max(0.0, self.total - self.critical_share)

    @property
    def critical_share(self) -> float:
        return min(max(self.critical, 0.0), max(self.total, 0.0))


class Node(Protocol):
    """What shutdown needs of the kubelet: its runtime and its pod workers."""

    node_name: str
    runtime: Any
    workers: dict[str, PodWorker]


def is_critical(pod: Obj | None) -> bool:
    """Upstream's ``IsCriticalPod`` by priority, or by class name (static pods carry no
    resolved priority, since no admission ran on them)."""
    spec = (pod or {}).get("spec") or {}
    priority = spec.get("priority")
    if priority is not None:
        return int(priority) >= SYSTEM_CRITICAL_PRIORITY
    return spec.get("priorityClassName") in CRITICAL_CLASSES


async def shutdown_pods(node: Node, budget: ShutdownBudget) -> None:
    """Stop every running container: regular pods, then critical ones, each phase bounded."""
    if budget.total <= 0:
        return
    try:
        running = [
            c for c in await node.runtime.list_containers() if c.state == ContainerState.RUNNING
        ]
    except RuntimeError_:
        return
    by_sandbox = {w.sandbox_id: w for w in node.workers.values() if w.sandbox_id}
    regular: list[tuple[ContainerStatus, PodWorker | None]] = []
    critical: list[tuple[ContainerStatus, PodWorker | None]] = []
    for status in running:
        worker = by_sandbox.get(status.sandbox_id)
        (critical if is_critical(worker and worker.pod) else regular).append((status, worker))
    started = time.monotonic()
    await _phase(node, regular, budget.regular)
    await _phase(node, critical, budget.critical_share)
    log.info(
        "node=%s shutdown: stopped %d regular and %d critical containers in %.1fs",
        node.node_name,
        len(regular),
        len(critical),
        time.monotonic() - started,
    )


async def _phase(
    node: Node, items: list[tuple[ContainerStatus, PodWorker | None]], budget: float
) -> None:
    if not items:
        return
    # The phase never outlives its budget by more than the time SIGKILL needs.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(budget + KILL_ALLOWANCE):
            await asyncio.gather(*(_stop(node, s, w, budget) for s, w in items))


async def _stop(
    node: Node, status: ContainerStatus, worker: PodWorker | None, budget: float
) -> None:
    grace = budget if worker is None else min(budget, float(grace_period(worker.pod)))
    started = time.monotonic()
    spec = _container_spec(worker.pod, status.name) if worker is not None else None
    pre_stop = ((spec or {}).get("lifecycle") or {}).get("preStop")
    if worker is not None and spec is not None and pre_stop and grace > 0:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(grace):
                await containers.run_hook(worker, spec, status.id, pre_stop, grace)
    remaining = max(0.0, grace - (time.monotonic() - started))
    with contextlib.suppress(RuntimeError_):
        await node.runtime.stop_container(status.id, remaining)


def _container_spec(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if c.get("name") == name:
            return dict(c)
    return None
