"""The pod garbage collector: which Pods each rule picks, and the sweep on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from recording_client import RecordingClient, context

from tinykube.api import errors
from tinykube.controllers.podgc import (
    GC_CHECK_PERIOD,
    QUARANTINE,
    PodGarbageCollector,
    missing_nodes,
    orphaned,
    terminated_to_delete,
    terminating_out_of_service,
    unscheduled_terminating,
)
from tinykube.controllers.runtime import Requeue

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def pod(
    name: str, node: str = "a", phase: str = "Running", created: str = "", deleting: bool = False
) -> Obj:
    meta: Obj = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "creationTimestamp": created or "2026-01-01T00:00:00Z",
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T01:00:00Z"
    return {
        "metadata": meta,
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase},
    }


def node(name: str, ready: str = "True", taints: list[Obj] | None = None) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_terminated_pods_beyond_the_threshold_go_oldest_first() -> None:
    pods = [
        pod("new", phase="Succeeded", created="2026-01-03T00:00:00Z"),
        pod("old", phase="Failed", created="2026-01-01T00:00:00Z"),
        pod("mid", phase="Succeeded", created="2026-01-02T00:00:00Z"),
        pod("running", created="2025-01-01T00:00:00Z"),
    ]
    assert names(terminated_to_delete(pods, 1)) == ["old", "mid"]
    assert terminated_to_delete(pods, 3) == []
    assert terminated_to_delete(pods, 0) == []  # 0 turns the rule off, as upstream


def test_pods_on_missing_nodes() -> None:
    pods = [pod("p", "a"), pod("q", "gone"), pod("r", "")]
    assert missing_nodes(pods, {"a"}) == {"gone"}
    assert names(orphaned(pods, {"gone"})) == ["q"]


def test_unscheduled_terminating() -> None:
    pods = [pod("p", "", deleting=True), pod("q", "a", deleting=True), pod("r", "")]
    assert names(unscheduled_terminating(pods)) == ["p"]


def test_terminating_on_an_out_of_service_node() -> None:
    oos = [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]
    nodes = {
        "down": node("down", ready="Unknown", taints=oos),
        "ready": node("ready", taints=oos),
        "lost": node("lost", ready="Unknown"),
    }
    pods = [pod(n, n, deleting=True) for n in nodes] + [pod("alive", "down")]
    assert names(terminating_out_of_service(pods, nodes)) == ["down"]


class NodesGone(RecordingClient):
    """Every live GET of a Node says it is gone."""

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> Obj:
        self._record("get", resource, name)
        raise errors.NotFound(f'nodes "{name}" not found')


async def test_orphans_are_force_deleted_after_the_quarantine_and_a_live_check() -> None:
    ctx, _, clock = context()
    client = NodesGone()
    ctx.client = client  # type: ignore[assignment]
    gc = PodGarbageCollector(ctx)
    gc.client = client  # type: ignore[assignment]
    gc.nodes.replace([node("a")], "1")
    gc.pods.replace([pod("p", "a"), pod("q", "gone")], "1")
    assert await gc.reconcile("sweep") == Requeue(after=GC_CHECK_PERIOD)
    assert client.calls == []  # a missing Node may only be new to the cache
    await clock.advance(QUARANTINE)
    assert await gc.reconcile("sweep") == Requeue(after=GC_CHECK_PERIOD)
    assert client.calls == [
        ("get", "nodes", "gone"),
        ("patch", "pods", "q"),  # marked Failed with DisruptionTarget first
        ("delete", "pods", "q"),
    ]


async def test_a_node_that_reappears_ends_its_quarantine() -> None:
    ctx, client, clock = context()
    gc = PodGarbageCollector(ctx)
    gc.pods.replace([pod("q", "late")], "1")
    await gc.reconcile("sweep")
    gc.nodes.replace([node("late")], "2")
    await clock.advance(QUARANTINE)
    await gc.reconcile("sweep")
    assert client.calls == [] and gc.missing_since == {}


async def test_the_sweep_deletes_surplus_terminated_pods() -> None:
    ctx, client, _ = context()
    ctx.options["terminated-pod-gc-threshold"] = 1
    gc = PodGarbageCollector(ctx)
    gc.nodes.replace([node("a")], "1")
    done = [
        pod(f"d{i}", phase="Succeeded", created=f"2026-01-0{i + 1}T00:00:00Z") for i in range(3)
    ]
    gc.pods.replace(done, "1")
    await gc.reconcile("sweep")
    assert client.verbs("delete", "pods") == ["d0", "d1"]
