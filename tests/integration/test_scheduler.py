"""The scheduler against a real API server: nodes and pods created by hand, bindings,
events and conditions read back over the API, exactly as kubectl would see them.

Each test gets a fresh API server (nodes are cluster-wide) and runs the scheduler
in-process on the test's event loop. There is no controller manager or kubelet
here: "replicas" are pods created by the test, and the test plays the kubelet
where one is needed (finishing the deletion of preempted pods).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from builders import MakeNode, MakePod
from cluster import ApiServer

from tinykube.client.rest import Client
from tinykube.scheduler.config import SchedulerConfig
from tinykube.scheduler.scheduler import Scheduler

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Obj = dict[str, Any]
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


@pytest.fixture
def server(tmp_path: Path) -> Any:
    srv = ApiServer(tmp_path / "apiserver")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def client(server: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(server.kubeconfig) as c:
        yield c


@contextlib.asynccontextmanager
async def running(
    client: Client, config: SchedulerConfig | None = None
) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(client, config)
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(scheduler.factory.wait_synced(), 10)
        yield scheduler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def add_node(client: Client, node: MakeNode) -> Obj:
    """POST the Node, then its status (allocatable, Ready) through nodes/status."""
    obj = node.copy()
    status = obj.pop("status")
    obj["metadata"].pop("uid")
    created = await client.create("v1", "nodes", obj)
    created["status"] = status
    return await client.update_status("v1", "nodes", created)


async def add_pod(client: Client, pod: MakePod, namespace: str = "default") -> Obj:
    obj = pod.copy()
    obj["metadata"].pop("uid", None)
    return await client.create("v1", "pods", obj, namespace)


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {within}s (last: {result!r})")
        await asyncio.sleep(0.05)


async def pods(client: Client, namespace: str = "default") -> dict[str, Obj]:
    items = (await client.list("v1", "pods", namespace))["items"]
    return {p["metadata"]["name"]: p for p in items}


async def node_of(client: Client, name: str) -> str:
    pod = await client.get("v1", "pods", name, "default")
    return pod["spec"].get("nodeName", "")


def pod_scheduled(pod: Obj) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond["type"] == "PodScheduled":
            return cond
    return None


async def events_for(client: Client, name: str, reason: str) -> list[Obj]:
    items = (await client.list("events.k8s.io/v1", "events", "default"))["items"]
    return [e for e in items if e["regarding"]["name"] == name and e["reason"] == reason]


# ---- the tests ----


async def test_binds_pods_within_resources(client: Client) -> None:
    for name in ("n1", "n2"):
        await add_node(client, MakeNode().name(name).capacity(cpu="2", memory="4Gi"))
    async with running(client):
        for i in range(4):
            await add_pod(client, MakePod().name(f"web-{i}").req(cpu="1", memory="1Gi"))

        async def all_bound() -> dict[str, str] | None:
            placed = {n: p["spec"].get("nodeName") for n, p in (await pods(client)).items()}
            return placed if all(placed.values()) else None

        placed = await eventually(all_bound)
    assert sorted(placed.values()) == ["n1", "n1", "n2", "n2"]
    scheduled = await eventually(lambda: events_for(client, "web-0", "Scheduled"))
    event = scheduled[0]
    assert event["note"] == f"Successfully assigned default/web-0 to {placed['web-0']}"
    assert event["reportingController"] == "default-scheduler"
    assert event["action"] == "Binding"
    assert event["type"] == "Normal"


async def test_unschedulable_pod_gets_message_then_fits_on_new_node(client: Client) -> None:
    await add_node(client, MakeNode().name("cp").capacity(cpu="4").taint(CONTROL_PLANE))
    await add_node(client, MakeNode().name("w1").capacity(cpu="2"))
    await add_node(client, MakeNode().name("w2").capacity(cpu="2"))
    for node in ("w1", "w2"):  # half of each worker is taken by a pod of equal priority
        await add_pod(client, MakePod().name(f"filler-{node}").req(cpu="1").node(node))
    want = (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
        "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
        "found for incoming pod."
    )
    async with running(client):
        await add_pod(client, MakePod().name("big").req(cpu="1500m"))

        async def condition() -> Obj | None:
            return pod_scheduled(await client.get("v1", "pods", "big", "default"))

        cond = await eventually(condition)
        assert cond["status"] == "False"
        assert cond["reason"] == "Unschedulable"
        assert cond["message"] == want
        failed = await eventually(lambda: events_for(client, "big", "FailedScheduling"))
        assert failed[0]["note"] == want
        assert failed[0]["type"] == "Warning"
        assert failed[0]["action"] == "Scheduling"
        assert failed[0]["reportingController"] == "default-scheduler"
        assert await node_of(client, "big") == ""

        await add_node(client, MakeNode().name("w3").capacity(cpu="2"))
        assert await eventually(lambda: node_of(client, "big")) == "w3"


async def test_control_plane_taint_admits_only_tolerating_pods(client: Client) -> None:
    await add_node(client, MakeNode().name("cp").capacity(cpu="8").taint(CONTROL_PLANE))
    await add_node(client, MakeNode().name("w1").capacity(cpu="1"))
    async with running(client):
        for i in range(3):
            await add_pod(client, MakePod().name(f"plain-{i}").req(cpu="100m"))
        tolerating = MakePod().name("tolerating").req(cpu="2")
        tolerating.toleration(CONTROL_PLANE, "Exists", effect="NoSchedule")
        await add_pod(client, tolerating)
        assert await eventually(lambda: node_of(client, "tolerating")) == "cp"
        for i in range(3):
            assert await eventually(lambda i=i: node_of(client, f"plain-{i}")) == "w1"


async def test_required_anti_affinity_spreads_six_replicas_and_leaves_seventh(
    client: Client,
) -> None:
    for i in range(6):
        await add_node(client, MakeNode().name(f"n{i}").capacity(cpu="4"))

    def replica(i: int) -> MakePod:
        # What a Deployment's ReplicaSet would create (no controller manager here).
        return (
            MakePod()
            .name(f"web-{i}")
            .label("app", "web")
            .pod_anti_affinity({"app": "web"}, HOST)
            .req(cpu="100m")
        )

    async with running(client):
        for i in range(7):
            await add_pod(client, replica(i))

        async def placed() -> list[str] | None:
            nodes = [p["spec"].get("nodeName") for p in (await pods(client)).values()]
            bound = [n for n in nodes if n]
            return bound if len(bound) == 6 else None

        bound = await eventually(placed)
        assert sorted(bound) == [f"n{i}" for i in range(6)]
        pending = [p for p in (await pods(client)).values() if not p["spec"].get("nodeName")]
        assert len(pending) == 1

        async def message() -> str | None:
            pod = await client.get("v1", "pods", pending[0]["metadata"]["name"], "default")
            cond = pod_scheduled(pod)
            return cond["message"] if cond else None

        assert await eventually(message) == (
            "0/6 nodes are available: 6 node(s) didn't match pod anti-affinity rules. "
            "preemption: 0/6 nodes are available: 6 No preemption victims found for incoming pod."
        )


async def test_zone_spread_with_max_skew_one(client: Client) -> None:
    for zone, count in (("a", 2), ("b", 1), ("c", 1)):
        for i in range(count):
            await add_node(client, MakeNode().name(f"{zone}{i}").zone(zone).capacity(cpu="8"))
    async with running(client):
        for i in range(9):
            pod = MakePod().name(f"s-{i}").label("app", "s").spread(1, ZONE, {"app": "s"})
            await add_pod(client, pod)

        async def zones() -> dict[str, int] | None:
            placed = [p["spec"].get("nodeName") for p in (await pods(client)).values()]
            if not all(placed):
                return None
            counts: dict[str, int] = {}
            for node in placed:
                counts[node[0]] = counts.get(node[0], 0) + 1
            return counts

        counts = await eventually(zones)
    assert counts == {"a": 3, "b": 3, "c": 3}


async def test_preemption_evicts_lower_priority_pod(client: Client) -> None:
    for name, value in (("low", 10), ("high", 1000)):
        pc = {"metadata": {"name": name}, "value": value}
        await client.create("scheduling.k8s.io/v1", "priorityclasses", pc)
    await add_node(client, MakeNode().name("only").capacity(cpu="2"))
    async with running(client):
        await add_pod(client, MakePod().name("victim").req(cpu="2").priority(10, "low"))
        assert await eventually(lambda: node_of(client, "victim")) == "only"
        preemptor = MakePod().name("vip").req(cpu="2")
        preemptor.obj()["spec"]["priorityClassName"] = "high"
        await add_pod(client, preemptor)

        async def nominated() -> str | None:
            pod = await client.get("v1", "pods", "vip", "default")
            return (pod.get("status") or {}).get("nominatedNodeName")

        assert await eventually(nominated) == "only"

        async def terminating() -> bool:
            victim = (await pods(client)).get("victim")
            return victim is None or bool(victim["metadata"].get("deletionTimestamp"))

        await eventually(terminating)
        # Play the kubelet: the victim's containers are gone; finish the deletion.
        with contextlib.suppress(Exception):
            await client.delete("v1", "pods", "victim", "default", grace_period_seconds=0)
        assert await eventually(lambda: node_of(client, "vip")) == "only"
    preempted = await events_for(client, "victim", "Preempted")
    assert preempted
    assert preempted[0]["note"].startswith("Preempted by pod ")


async def test_preemption_policy_never(client: Client) -> None:
    await add_node(client, MakeNode().name("only").capacity(cpu="1"))
    async with running(client):
        await add_pod(client, MakePod().name("first").req(cpu="1"))
        assert await eventually(lambda: node_of(client, "first")) == "only"
        pc = {"metadata": {"name": "polite"}, "value": 100, "preemptionPolicy": "Never"}
        await client.create("scheduling.k8s.io/v1", "priorityclasses", pc)
        polite = MakePod().name("polite").req(cpu="1")
        polite.obj()["spec"]["priorityClassName"] = "polite"
        await add_pod(client, polite)

        async def message() -> str | None:
            cond = pod_scheduled(await client.get("v1", "pods", "polite", "default"))
            return cond["message"] if cond else None

        assert await eventually(message) == (
            "0/1 nodes are available: 1 Insufficient cpu. "
            "preemption: not eligible due to preemptionPolicy=Never."
        )


async def test_other_scheduler_and_preassigned_pods_are_left_alone(client: Client) -> None:
    await add_node(client, MakeNode().name("n1").capacity(cpu="2"))
    async with running(client):
        await add_pod(client, MakePod().name("mine").scheduler_name("my-scheduler"))
        await add_pod(client, MakePod().name("pinned").node("elsewhere"))
        await add_pod(client, MakePod().name("normal"))
        assert await eventually(lambda: node_of(client, "normal")) == "n1"
        await asyncio.sleep(0.3)
        assert await node_of(client, "mine") == ""
        assert await node_of(client, "pinned") == "elsewhere"
        assert not await events_for(client, "mine", "FailedScheduling")


async def test_node_affinity_and_selector(client: Client) -> None:
    await add_node(client, MakeNode().name("ssd").label("disk", "ssd").capacity(cpu="2"))
    await add_node(client, MakeNode().name("hdd").label("disk", "hdd").capacity(cpu="2"))
    async with running(client):
        await add_pod(client, MakePod().name("sel").node_selector({"disk": "hdd"}))
        await add_pod(client, MakePod().name("aff").node_affinity_in("disk", ["ssd"]))
        assert await eventually(lambda: node_of(client, "sel")) == "hdd"
        assert await eventually(lambda: node_of(client, "aff")) == "ssd"


async def test_leader_election_lease(client: Client, server: ApiServer) -> None:
    from tinykube.scheduler.command import serve

    await add_node(client, MakeNode().name("n1").capacity(cpu="2"))
    task = asyncio.create_task(serve(str(server.kubeconfig), SchedulerConfig()))
    try:
        await add_pod(client, MakePod().name("led"))
        assert await eventually(lambda: node_of(client, "led"), within=20) == "n1"
        lease = await client.get(
            "coordination.k8s.io/v1", "leases", "kube-scheduler", "kube-system"
        )
        assert lease["spec"]["holderIdentity"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_two_schedulers_one_leader(client: Client, server: ApiServer) -> None:
    from tinykube.scheduler.command import serve

    for name in ("n1", "n2"):
        await add_node(client, MakeNode().name(name).capacity(cpu="4"))
    tasks = [
        asyncio.create_task(serve(str(server.kubeconfig), SchedulerConfig())) for _ in range(2)
    ]
    try:
        for i in range(6):
            await add_pod(client, MakePod().name(f"p{i}").req(cpu="100m"))
        for i in range(6):
            assert await eventually(lambda i=i: node_of(client, f"p{i}"), within=20)
        lease = await client.get(
            "coordination.k8s.io/v1", "leases", "kube-scheduler", "kube-system"
        )
        assert lease["spec"]["holderIdentity"]

        async def scheduled_events() -> list[Obj] | None:
            items = (await client.list("events.k8s.io/v1", "events", "default"))["items"]
            return items if len([e for e in items if e["reason"] == "Scheduled"]) == 6 else None

        items = await eventually(scheduled_events)
        # Only the leader schedules: no pod is bound twice, so no binding ever fails.
        assert not [e for e in items if e["reason"] == "FailedScheduling"]
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_command_runs_as_its_own_process(client: Client, server: ApiServer) -> None:
    """``python -m tinykube.scheduler`` (what ``tinykube scheduler`` runs) schedules, and
    what it writes is what ``kubectl describe`` shows."""
    import sys

    from cluster import run_kubectl

    await add_node(client, MakeNode().name("n1").capacity(cpu="1"))
    await add_pod(client, MakePod().name("big").req(cpu="2"))
    await add_pod(client, MakePod().name("small").req(cpu="500m"))
    cmd = [sys.executable, "-m", "tinykube.scheduler", "--kubeconfig", str(server.kubeconfig)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, "--leader-elect=false", stderr=asyncio.subprocess.DEVNULL
    )
    try:
        assert await eventually(lambda: node_of(client, "small"), within=20) == "n1"
        await eventually(lambda: events_for(client, "big", "FailedScheduling"))
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    described = await asyncio.to_thread(run_kubectl, server, "describe", "pod", "big")
    assert (
        "FailedScheduling  " in described.stdout
        and "default-scheduler  0/1 nodes are available: 1 Insufficient cpu. preemption: "
        "0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        in described.stdout
    )


async def test_pod_waits_for_its_claim_and_is_retried_when_it_binds(client: Client) -> None:
    await add_node(client, MakeNode().name("w1").capacity(cpu="2"))
    pod = MakePod().name("db").copy()
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    pod["metadata"].pop("uid", None)

    async def condition() -> Obj | None:
        cond = pod_scheduled(await client.get("v1", "pods", "db", "default"))
        return cond if cond and cond["status"] == "False" else None

    async with running(client):
        await client.create("v1", "pods", pod, "default")
        cond = await eventually(condition)
        assert cond["message"] == (
            '0/1 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/1 '
            "nodes are available: 1 Preemption is not helpful for scheduling."
        )
        claim = {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "",
            },
        }
        await client.create("v1", "persistentvolumeclaims", claim, "default")

        async def unbound_message() -> str | None:
            cond = await condition()
            message = cond["message"] if cond else ""
            return message if "unbound immediate" in message else None

        assert (await eventually(unbound_message)).startswith(
            "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."
        )
        # Bound (as the PV controller would bind it): the claim's update requeues the pod.
        volume = {
            "metadata": {"name": "pv-data"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/tmp/pv-data"},
            },
        }
        await client.create("v1", "persistentvolumes", volume)
        await client.patch(
            "v1", "persistentvolumeclaims", "data", {"spec": {"volumeName": "pv-data"}}, "default"
        )
        assert await eventually(lambda: node_of(client, "db"), within=20) == "w1"
