"""Which pod of a workload tkctl logs/exec/attach use: kubectl's ByLogging order."""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.podpick import rank


def pod(
    name: str,
    created: str = "2026-01-01T00:00:00Z",
    ready_since: str | None = None,
    restarts: int = 0,
    node: str = "n1",
    phase: str = "Running",
) -> dict[str, Any]:
    conditions = []
    if ready_since is not None:
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": ready_since})
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"nodeName": node},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


def picked(*pods: dict[str, Any]) -> str:
    return sorted(pods, key=rank)[0]["metadata"]["name"]


def test_created_together_the_one_ready_longest_wins() -> None:
    a = pod("a", ready_since="2026-01-01T00:00:05Z")
    b = pod("b", ready_since="2026-01-01T00:00:03Z")
    assert picked(a, b) == "b"


def test_then_the_most_restarts_then_the_oldest() -> None:
    same = "2026-01-01T00:00:03Z"
    assert picked(pod("a", ready_since=same), pod("b", ready_since=same, restarts=2)) == "b"
    older = pod("b", created="2025-12-31T00:00:00Z")
    assert picked(pod("a"), older) == "b"


def test_assigned_running_and_ready_come_first() -> None:
    assert picked(pod("a", node=""), pod("b")) == "b"
    assert picked(pod("a", phase="Pending"), pod("b")) == "b"
    assert picked(pod("a"), pod("b", ready_since="2026-01-01T00:00:09Z")) == "b"


def test_ties_keep_the_listed_order() -> None:
    assert picked(pod("a"), pod("b")) == "a"
