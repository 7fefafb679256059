"""Graceful node shutdown: who is stopped when, with what grace, and that it stays bounded.

A runtime that records ``stop_container`` calls stands in for the process
runtime; the "workers" carry only what shutdown reads (the pod and its
sandbox id).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from tinykube.kubelet import nodeshutdown
from tinykube.kubelet.nodeshutdown import ShutdownBudget, is_critical, shutdown_pods
from tinykube.kubelet.runtime.interface import ContainerState, ContainerStatus

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


@dataclass
class RecordingRuntime:
    containers: list[ContainerStatus]
    stops: list[tuple[str, float]] = field(default_factory=list)
    hang: set[str] = field(default_factory=set)  # containers that never exit

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return list(self.containers)

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        self.stops.append((container_id, grace_period))
        if container_id in self.hang:
            await asyncio.Event().wait()


@dataclass
class Worker:
    pod: Obj
    sandbox_id: str


@dataclass
class Node:
    runtime: RecordingRuntime
    workers: dict[str, Any]
    node_name: str = "node01"


def pod(name: str, grace: int | None = None, **spec: Any) -> Obj:
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"name": name, "namespace": "default", "uid": name}, "spec": spec}


def running(cid: str, sandbox: str, state: ContainerState = ContainerState.RUNNING) -> Any:
    return ContainerStatus(id=cid, sandbox_id=sandbox, name="c", attempt=0, state=state)


def node_with(*pods: tuple[Obj, str]) -> Node:
    """Each pod gets sandbox ``s-<name>`` holding one container ``c-<name>``."""
    workers = {p["metadata"]["uid"]: Worker(p, f"s-{p['metadata']['name']}") for p, _ in pods}
    containers = [
        running(f"c-{p['metadata']['name']}", f"s-{p['metadata']['name']}", ContainerState(s))
        for p, s in pods
    ]
    return Node(RecordingRuntime(containers), workers)


def graces(node: Node) -> list[tuple[str, float]]:
    """The stops in order, graces to 0.1 s (the time a phase already took is deducted)."""
    return [(cid, round(grace, 1)) for cid, grace in node.runtime.stops]


@pytest.mark.parametrize(
    ("spec", "critical"),
    [
        ({}, False),
        ({"priority": 1000}, False),
        ({"priority": 2_000_000_000}, True),
        ({"priorityClassName": "system-node-critical"}, True),  # a static pod: no priority set
        ({"priorityClassName": "system-cluster-critical"}, True),
        ({"priorityClassName": "high"}, False),
    ],
)
def test_critical_pods_by_priority_or_class(spec: Obj, critical: bool) -> None:
    assert is_critical({"spec": spec}) is critical


@pytest.mark.parametrize(
    ("total", "critical", "regular", "critical_share"),
    [(4, 2, 2, 2), (4, 0, 4, 0), (2, 5, 0, 2), (0, 0, 0, 0)],
)
def test_budget_split(total: float, critical: float, regular: float, critical_share: float) -> None:
    budget = ShutdownBudget(total, critical)
    assert (budget.regular, budget.critical_share) == (regular, critical_share)


async def test_regular_pods_stop_first_with_their_grace_capped_by_the_budget() -> None:
    node = node_with(
        (pod("proxy", priorityClassName="system-node-critical"), "Running"),
        (pod("web", grace=30), "Running"),
        (pod("quick", grace=1), "Running"),
        (pod("done"), "Exited"),
    )
    await shutdown_pods(node, ShutdownBudget(total=5, critical=2))
    # Regular pods first, each with min(its grace, 5 - 2); the critical one last, with 2.
    assert graces(node) == [("c-web", 3.0), ("c-quick", 1.0), ("c-proxy", 2.0)]


async def test_no_grace_period_leaves_everything_to_the_runtime() -> None:
    node = node_with((pod("web"), "Running"))
    await shutdown_pods(node, ShutdownBudget())
    assert node.runtime.stops == []


async def test_a_container_that_will_not_stop_cannot_hold_the_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(nodeshutdown, "KILL_ALLOWANCE", 0.05)
    node = node_with((pod("stuck"), "Running"), (pod("dns", priority=2_000_000_000), "Running"))
    node.runtime.hang = {"c-stuck"}
    await asyncio.wait_for(shutdown_pods(node, ShutdownBudget(0.1, 0.05)), 2)
    assert [cid for cid, _ in node.runtime.stops] == ["c-stuck", "c-dns"]


async def test_a_container_of_an_unknown_pod_gets_the_phase_budget() -> None:
    node = Node(RecordingRuntime([running("c-orphan", "s-unknown")]), {})
    await shutdown_pods(node, ShutdownBudget(total=4, critical=1))
    assert graces(node) == [("c-orphan", 3.0)]
