"""A lost node, end to end: its lease stops, it is tainted, its Pods move elsewhere.

A real ``tinykube apiserver`` (its own process, SQLite, a tmp dir) with the
node lifecycle, ReplicaSet and pod GC controllers and the scheduler running
in this process on the real client and informers, the way the controller
manager and kube-scheduler would run them. The grace period is 3 s instead of
40 s so the story takes seconds. There are no kubelets: ``Heartbeat`` plays
the part of one per Node, renewing its Lease in ``kube-node-lease`` and
posting ``Ready=True`` through ``nodes/status`` when the Node does not say so,
and the test stops and restarts it to lose and recover the Node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from builders import MakeNode
from cluster import ApiServer

from tinykube.api import errors
from tinykube.api.duration import format_micro_time, format_time
from tinykube.client.informers import InformerFactory
from tinykube.client.rest import Client
from tinykube.controllers import nodelifecycle, podgc, replicaset
from tinykube.controllers.podutil import is_pod_active
from tinykube.controllers.runtime import ControllerContext
from tinykube.scheduler.scheduler import Scheduler

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

Obj = dict[str, Any]
NS = "default"
LEASES = "kube-node-lease"
GRACE = 3.0


@pytest.fixture
def server(tmp_path: Path) -> Any:
    srv = ApiServer(tmp_path / "apiserver")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def now() -> datetime:
    return datetime.now(UTC)


class Heartbeat:
    """What a kubelet does for liveness: renew the Lease, keep Ready=True posted."""

    def __init__(self, client: Client, node: str) -> None:
        self.client = client
        self.node = node
        self.alive = True

    async def run(self) -> None:
        while True:
            if self.alive:
                # A write may race the controller's, or the Node may be gone:
                # the next beat tries again.
                with contextlib.suppress(errors.Conflict, errors.NotFound):
                    await self.beat()
            await asyncio.sleep(0.3)

    async def beat(self) -> None:
        renew = {"spec": {"renewTime": format_micro_time(now())}}
        await self.client.patch("coordination.k8s.io/v1", "leases", self.node, renew, LEASES)
        node = await self.client.get("v1", "nodes", self.node)
        if ready_of(node) != "True":
            stamp = format_time(now())
            ready = {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            }
            body = {"status": {"conditions": [ready]}}
            await self.client.patch(
                "v1", "nodes", self.node, body, patch_type="strategic", subresource="status"
            )


def ready_of(node: Obj) -> str | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status"))
    return None


def taints_of(node: Obj) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []}


async def add_node(client: Client, name: str, unschedulable: bool = False) -> None:
    """POST the Node and its status, then its Lease, as a registering kubelet does."""
    obj = MakeNode().name(name).capacity(cpu="8", memory="16Gi").unschedulable(unschedulable).copy()
    obj["metadata"].pop("uid")
    status = obj.pop("status")
    stamp = format_time(now())
    for cond in status["conditions"]:
        cond.update(lastHeartbeatTime=stamp, lastTransitionTime=stamp)
    created = await client.create("v1", "nodes", obj)
    created["status"] = status
    await client.update_status("v1", "nodes", created)
    lease = {
        "metadata": {"name": name, "namespace": LEASES},
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": 40,
            "renewTime": format_micro_time(now()),
        },
    }
    await client.create("coordination.k8s.io/v1", "leases", lease, LEASES)


def replica_set(name: str, replicas: int) -> Obj:
    labels = {"app": name}
    unreachable = {
        "key": nodelifecycle.UNREACHABLE,
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 2,
    }
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": "nginx:1.25"}],
                    "tolerations": [unreachable],
                },
            },
        },
    }


@contextlib.asynccontextmanager
async def control_plane(client: Client, *beats: Heartbeat) -> AsyncIterator[None]:
    """The controllers (with a 3 s grace period), the scheduler and the heartbeats, running."""
    factory = InformerFactory(client)
    options = {"node-monitor-grace-period": f"{GRACE:g}s", "node-monitor-period": "0.5s"}
    ctx = ControllerContext(client, factory, options=options)
    controllers = [nodelifecycle.new(ctx), replicaset.new(ctx), podgc.new(ctx)]
    scheduler = Scheduler(client)
    async with asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(factory.run()),
            tg.create_task(scheduler.run()),
            *(tg.create_task(c.run()) for c in controllers),
            *(tg.create_task(r.run()) for r in ctx.recorders),
            *(tg.create_task(b.run()) for b in beats),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


async def eventually(check: Callable[[], Any], within: float = 30.0) -> Any:
    """Poll an async ``check`` until it returns something truthy."""
    last: Any = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while True:
                last = await check()
                if last:
                    return last
                await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met in {within}s; last value: {last!r}")


async def placement(client: Client, selector: str) -> dict[str, str]:
    """Active Pods of the selector -> the Node each is bound to ("" while pending)."""
    items = (await client.list("v1", "pods", NS, label_selector=selector))["items"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in items if is_pod_active(p)}


async def test_a_lost_node_is_tainted_its_pods_evicted_and_replaced(server: ApiServer) -> None:
    async with await Client.from_kubeconfig(server.kubeconfig) as client:
        await add_node(client, "node-a")
        await add_node(client, "node-b", unschedulable=True)  # cordoned: everything lands on A
        beat_a, beat_b = Heartbeat(client, "node-a"), Heartbeat(client, "node-b")
        async with control_plane(client, beat_a, beat_b):
            await eventually(lambda: _taints(client, "node-b", {nodelifecycle.UNSCHEDULABLE}))
            await client.create("apps/v1", "replicasets", replica_set("web", 3), NS)

            async def all_on_a() -> dict[str, str] | None:
                where = await placement(client, "app=web")
                return where if len(where) == 3 and set(where.values()) == {"node-a"} else None

            first = await eventually(all_on_a)
            await client.patch("v1", "nodes", "node-b", {"spec": {"unschedulable": False}})
            await eventually(lambda: _taints(client, "node-b", set()))

            beat_a.alive = False  # node-a's kubelet goes silent
            lost = await eventually(lambda: _node_unknown(client, "node-a"), within=GRACE + 10)
            assert taints_of(lost) >= {
                (nodelifecycle.UNREACHABLE, "NoSchedule"),
                (nodelifecycle.UNREACHABLE, "NoExecute"),
            }
            no_execute = [t for t in lost["spec"]["taints"] if t["effect"] == "NoExecute"]
            assert no_execute[0]["timeAdded"]
            ready = next(c for c in lost["status"]["conditions"] if c["type"] == "Ready")
            assert ready["reason"] == "NodeStatusUnknown"
            assert ready["message"] == "Kubelet stopped posting node status."

            async def moved_to_b() -> dict[str, str] | None:
                where = await placement(client, "app=web")
                on_b = len(where) == 3 and set(where.values()) == {"node-b"}
                return where if on_b else None

            replaced = await eventually(moved_to_b, within=20)
            assert not set(replaced) & set(first)  # new Pods, not the evicted ones
            evicted = [await client.get("v1", "pods", name, NS) for name in first]
            assert all(p["metadata"].get("deletionTimestamp") for p in evicted)

            beat_a.alive = True  # back
            await eventually(lambda: _taints(client, "node-a", set()), within=15)
            assert ready_of(await client.get("v1", "nodes", "node-a")) == "True"


async def _taints(client: Client, node: str, keys: set[str]) -> bool:
    obj = await client.get("v1", "nodes", node)
    return {k for k, _ in taints_of(obj)} == keys


async def _node_unknown(client: Client, node: str) -> Obj | None:
    obj = await client.get("v1", "nodes", node)
    unknown = ready_of(obj) == "Unknown"
    tainted = (nodelifecycle.UNREACHABLE, "NoExecute") in taints_of(obj)
    return obj if unknown and tainted else None


async def test_pods_of_a_deleted_node_are_collected(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(podgc, "QUARANTINE", 0.5)
    monkeypatch.setattr(podgc, "GC_CHECK_PERIOD", 0.5)
    async with await Client.from_kubeconfig(server.kubeconfig) as client:
        await add_node(client, "node-c")
        body = {
            "metadata": {"name": "stranded"},
            "spec": {"nodeName": "node-c", "containers": [{"name": "app", "image": "nginx"}]},
        }
        await client.create("v1", "pods", body, NS)
        async with control_plane(client, Heartbeat(client, "node-c")):
            await asyncio.sleep(1)  # a Node that exists keeps its Pods
            assert await client.get("v1", "pods", "stranded", NS)
            await client.delete("v1", "nodes", "node-c")

            async def collected() -> bool:
                try:
                    await client.get("v1", "pods", "stranded", NS)
                except errors.NotFound:
                    return True
                return False

            await eventually(collected, within=15)
