"""The workload controllers against a real API server.

A ``tinykube apiserver`` process runs on a loopback port over SQLite; the
ReplicaSet and Deployment controllers run in this process on the real client
and informers, exactly as the controller manager would run them. No kubelet
exists yet, so ``FakeKubelet`` plays its part: every Pod it sees becomes
Running and Ready through the ``pods/status`` subresource. ``kubectl`` is the
real binary, so ``rollout status|history|undo`` are checked as users run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cluster import BIN, ApiServer, run_kubectl

from tinykube.api import errors
from tinykube.api.duration import format_time
from tinykube.client import Client
from tinykube.client.informers import InformerFactory, SharedInformer
from tinykube.controllers import (
    cronjob,
    daemonset,
    deployment,
    endpoints,
    endpointslice,
    job,
    replicaset,
    replicationcontroller,
    statefulset,
    ttlafterfinished,
)
from tinykube.controllers.garbagecollector import GarbageCollector
from tinykube.controllers.podutil import is_pod_active, is_pod_ready
from tinykube.controllers.runtime import Controller, ControllerContext

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

Obj = dict[str, Any]
NS = "default"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    api = ApiServer(tmp_path_factory.mktemp("workloads"))
    api.start()
    try:
        yield api
    finally:
        api.stop()


class FakeKubelet:
    """Marks every active Pod Running and Ready, as a kubelet would once its containers start."""

    def __init__(self, client: Client, pods: SharedInformer) -> None:
        self.client = client
        self.pods = pods
        self.queue: asyncio.Queue[Obj] = asyncio.Queue()
        self.enabled = True
        pods.add_handler(
            on_add=self.queue.put_nowait, on_update=lambda _o, n: self.queue.put_nowait(n)
        )

    async def run(self) -> None:
        while True:
            pod = await self.queue.get()
            if not self.enabled or is_pod_ready(pod) or not is_pod_active(pod):
                continue
            # A Pod deleted meanwhile is not an error for a kubelet (the API server
            # sometimes answers that race with a 500 "key not found" instead of 404).
            with contextlib.suppress(errors.NotFound, errors.Conflict, errors.InternalError):
                await self.client.patch_status(
                    "v1", "pods", pod["metadata"]["name"], running_status(), NS
                )


def running_status() -> Obj:
    now = format_time(datetime.now(UTC))
    conditions = [
        {"type": t, "status": "True", "lastTransitionTime": now}
        for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]
    return {"status": {"phase": "Running", "conditions": conditions, "startTime": now}}


@contextlib.asynccontextmanager
async def cluster(
    server: ApiServer, *factories: Callable[[ControllerContext], Controller[str]]
) -> AsyncIterator[tuple[Client, FakeKubelet]]:
    """Controllers, their informers, their event recorders and a fake kubelet, all running."""
    client = await Client.from_kubeconfig(server.kubeconfig)
    factory = InformerFactory(client)
    ctx = ControllerContext(client, factory)
    controllers = [make(ctx) for make in factories]
    kubelet = FakeKubelet(client, factory.get("v1", "pods"))
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(factory.run()),
                tg.create_task(kubelet.run()),
                *(tg.create_task(c.run()) for c in controllers),
                *(tg.create_task(r.run()) for r in ctx.recorders),
            ]
            try:
                yield client, kubelet
            finally:
                for task in tasks:
                    task.cancel()
    finally:
        await client.close()


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


async def pods_of(client: Client, selector: str) -> list[Obj]:
    items = (await client.list("v1", "pods", NS, label_selector=selector))["items"]
    return [p for p in items if is_pod_active(p)]


def replica_set(name: str, replicas: int) -> Obj:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }


async def patch(client: Client, api_version: str, resource: str, name: str, body: Obj) -> Obj:
    """A merge patch: it names no resourceVersion, so the server retries a race itself."""
    return await client.patch(api_version, resource, name, body, NS)


async def kubectl(server: ApiServer, *args: str, limit: float = 60) -> str:
    result = await asyncio.to_thread(run_kubectl, server, *args, timeout=limit)
    assert result.returncode == 0, result.stderr
    return result.stdout


# ---- ReplicaSet ----------------------------------------------------------------------


async def test_replica_set_creates_pods_and_replaces_a_deleted_one(server: ApiServer) -> None:
    async with cluster(server, replicaset.new) as (client, _):
        await client.create("apps/v1", "replicasets", replica_set("rs-basic", 3), NS)
        pods = await eventually(lambda: _count(client, "app=rs-basic", 3))
        owner = pods[0]["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "ReplicaSet" and owner["controller"] is True
        assert owner["blockOwnerDeletion"] is True
        assert all(p["metadata"]["name"].startswith("rs-basic-") for p in pods)
        assert all(len(p["metadata"]["name"]) == len("rs-basic-") + 5 for p in pods)

        victim = pods[0]["metadata"]["name"]
        await client.delete("v1", "pods", victim, NS)
        replaced = await eventually(lambda: _count(client, "app=rs-basic", 3, without=victim))
        assert victim not in {p["metadata"]["name"] for p in replaced}

        rs = await eventually(lambda: _rs_status(client, "rs-basic", "availableReplicas", 3))
        assert rs["status"]["readyReplicas"] == 3
        assert rs["status"]["fullyLabeledReplicas"] == 3
        assert rs["status"]["observedGeneration"] == rs["metadata"]["generation"]
        events = (await client.list("v1", "events", NS))["items"]
        reasons = {e["reason"] for e in events if e["involvedObject"]["name"] == "rs-basic"}
        assert {"SuccessfulCreate"} <= reasons


async def test_replica_set_scales_down_and_adopts_an_orphan(server: ApiServer) -> None:
    async with cluster(server, replicaset.new) as (client, _):
        orphan = {
            "metadata": {"name": "rs-adopt-orphan", "labels": {"app": "rs-adopt"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
        }
        await client.create("v1", "pods", orphan, NS)
        await client.create("apps/v1", "replicasets", replica_set("rs-adopt", 2), NS)
        pods = await eventually(lambda: _count(client, "app=rs-adopt", 2))
        adopted = next(p for p in pods if p["metadata"]["name"] == "rs-adopt-orphan")
        assert adopted["metadata"]["ownerReferences"][0]["name"] == "rs-adopt"

        await patch(client, "apps/v1", "replicasets", "rs-adopt", {"spec": {"replicas": 1}})
        await eventually(lambda: _count(client, "app=rs-adopt", 1))
        await patch(client, "apps/v1", "replicasets", "rs-adopt", {"spec": {"replicas": 4}})
        await eventually(lambda: _count(client, "app=rs-adopt", 4))


async def test_replica_set_releases_a_relabelled_pod(server: ApiServer) -> None:
    async with cluster(server, replicaset.new) as (client, _):
        await client.create("apps/v1", "replicasets", replica_set("rs-release", 1), NS)
        pods = await eventually(lambda: _count(client, "app=rs-release", 1))
        name = pods[0]["metadata"]["name"]
        await patch(client, "v1", "pods", name, {"metadata": {"labels": {"app": "other"}}})

        async def released() -> bool:
            pod = await client.get("v1", "pods", name, NS)
            return not pod["metadata"].get("ownerReferences")

        await eventually(released)
        await eventually(lambda: _count(client, "app=rs-release", 1))


async def test_replication_controller_shares_the_replica_set_logic(server: ApiServer) -> None:
    async with cluster(server, replicationcontroller.new) as (client, _):
        body = replica_set("rc-web", 2)
        body["spec"]["selector"] = {"app": "rc-web"}
        await client.create("v1", "replicationcontrollers", body, NS)
        pods = await eventually(lambda: _count(client, "app=rc-web", 2))
        owner = pods[0]["metadata"]["ownerReferences"][0]
        assert (owner["apiVersion"], owner["kind"], owner["name"]) == (
            "v1",
            "ReplicationController",
            "rc-web",
        )
        await patch(client, "v1", "replicationcontrollers", "rc-web", {"spec": {"replicas": 0}})

        async def zero() -> bool:
            rc = await client.get("v1", "replicationcontrollers", "rc-web", NS)
            done = rc["status"]["replicas"] == 0 and rc["status"]["observedGeneration"] == 2
            return done and await _count(client, "app=rc-web", 0) == []

        await eventually(zero)


async def _count(client: Client, selector: str, want: int, without: str = "") -> list[Obj] | None:
    pods = await pods_of(client, selector)
    names = {p["metadata"]["name"] for p in pods}
    if len(pods) == want and without not in names:
        return pods
    return None


async def _rs_status(client: Client, name: str, field: str, want: int) -> Obj | None:
    rs = await client.get("apps/v1", "replicasets", name, NS)
    return rs if (rs.get("status") or {}).get(field) == want else None


# ---- Deployment ------------------------------------------------------------------------


def web_deployment(name: str, replicas: int, image: str = "nginx:1.25") -> Obj:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


async def owned_sets(client: Client, name: str) -> list[Obj]:
    items = (await client.list("apps/v1", "replicasets", NS, label_selector=f"app={name}"))["items"]
    return sorted(items, key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))


async def rolled_out(client: Client, name: str, image: str) -> Obj | None:
    d = await client.get("apps/v1", "deployments", name, NS)
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    template_image = d["spec"]["template"]["spec"]["containers"][0]["image"]
    done = (
        st.get("observedGeneration") == d["metadata"]["generation"]
        and st.get("updatedReplicas") == want
        and st.get("replicas") == want
        and st.get("availableReplicas") == want
        and template_image == image
    )
    if not done:
        return None
    pods = await pods_of(client, f"app={name}")
    images = {p["spec"]["containers"][0]["image"] for p in pods}
    return d if len(pods) == want and images == {image} else None


REVISION = "deployment.kubernetes.io/revision"


async def test_deployment_rolls_out_updates_and_rolls_back(server: ApiServer) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, _):
        await client.create("apps/v1", "deployments", web_deployment("web", 3), NS)
        d = await eventually(lambda: rolled_out(client, "web", "nginx:1.25"))
        (first,) = await owned_sets(client, "web")
        pod_hash = first["metadata"]["labels"]["pod-template-hash"]
        assert first["metadata"]["name"] == f"web-{pod_hash}"
        assert first["spec"]["selector"]["matchLabels"]["pod-template-hash"] == pod_hash
        assert first["metadata"]["annotations"][REVISION] == "1"
        assert first["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
        assert first["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
        assert d["metadata"]["annotations"][REVISION] == "1"
        reasons = {c["type"]: c["reason"] for c in d["status"]["conditions"]}
        assert reasons == {
            "Available": "MinimumReplicasAvailable",
            "Progressing": "NewReplicaSetAvailable",
        }
        out = await kubectl(server, "rollout", "status", "deployment/web", "--timeout=60s")
        assert 'deployment "web" successfully rolled out' in out

        await kubectl(server, "set", "image", "deployment/web", "app=nginx:1.26")
        out = await kubectl(server, "rollout", "status", "deployment/web", "--timeout=60s")
        assert 'deployment "web" successfully rolled out' in out
        await eventually(lambda: rolled_out(client, "web", "nginx:1.26"))
        old, new = await owned_sets(client, "web")
        assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 3
        assert new["metadata"]["annotations"][REVISION] == "2"

        history = await kubectl(server, "rollout", "history", "deployment/web")
        assert "REVISION" in history
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

        await kubectl(server, "rollout", "undo", "deployment/web")
        await eventually(lambda: rolled_out(client, "web", "nginx:1.25"))
        sets = await owned_sets(client, "web")
        assert [s["metadata"]["name"] for s in sets] == [
            new["metadata"]["name"],
            old["metadata"]["name"],
        ]
        assert sets[-1]["metadata"]["annotations"][REVISION] == "3"
        assert (
            sets[-1]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        )
        history = await kubectl(server, "rollout", "history", "deployment/web")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]

        events = (await client.list("v1", "events", NS))["items"]
        messages = {e["message"] for e in events if e["reason"] == "ScalingReplicaSet"}
        assert f"Scaled up replica set {first['metadata']['name']} from 0 to 3" in messages


class PodCensus:
    """Watches a Deployment's Pods and records the extremes of existing and ready Pods."""

    def __init__(self, pods: SharedInformer, app: str) -> None:
        self.pods = pods
        self.app = app
        self.most = 0
        self.least_ready: int | None = None
        self.images_together: set[frozenset[str]] = set()
        pods.add_handler(
            on_add=self._seen, on_update=lambda _o, n: self._seen(n), on_delete=self._seen
        )

    def _seen(self, _pod: Obj) -> None:
        mine = [
            p
            for p in self.pods.list(NS)
            if (p["metadata"].get("labels") or {}).get("app") == self.app and is_pod_active(p)
        ]
        ready = sum(is_pod_ready(p) for p in mine)
        self.most = max(self.most, len(mine))
        self.least_ready = ready if self.least_ready is None else min(self.least_ready, ready)
        self.images_together.add(frozenset(p["spec"]["containers"][0]["image"] for p in mine))


async def test_rolling_update_of_ten_replicas_keeps_surge_and_availability(
    server: ApiServer,
) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, kubelet):
        await client.create("apps/v1", "deployments", web_deployment("big", 10), NS)
        await eventually(lambda: rolled_out(client, "big", "nginx:1.25"))
        census = PodCensus(kubelet.pods, "big")
        await kubectl(server, "set", "image", "deployment/big", "app=nginx:1.26")
        await eventually(lambda: rolled_out(client, "big", "nginx:1.26"), within=60)
        assert census.most <= 13, census.most
        assert census.least_ready is not None and census.least_ready >= 8, census.least_ready
        assert census.most > 10  # it did surge


async def test_scaling_mid_rollout_is_proportional(server: ApiServer) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, kubelet):
        await client.create("apps/v1", "deployments", web_deployment("prop", 10), NS)
        await eventually(lambda: rolled_out(client, "prop", "nginx:1.25"))
        kubelet.enabled = False  # the new Pods never become ready: the rollout stalls
        await kubectl(server, "set", "image", "deployment/prop", "app=nginx:1.26")

        async def sizes(want: list[int]) -> bool:
            sets = await owned_sets(client, "prop")
            return [s["spec"]["replicas"] for s in sets] == want

        await eventually(lambda: sizes([8, 5]))  # 13 Pods, 8 available: stuck
        await kubectl(server, "scale", "deployment/prop", "--replicas=20")
        await eventually(lambda: sizes([15, 10]))  # 25 = 20 + 25% surge, split 8:5


async def test_revision_history_limit_deletes_old_replica_sets(server: ApiServer) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, _):
        body = web_deployment("hist", 1)
        body["spec"]["revisionHistoryLimit"] = 1
        await client.create("apps/v1", "deployments", body, NS)
        for version in ("1.25", "1.26", "1.27", "1.28"):
            if version != "1.25":
                await kubectl(server, "set", "image", "deployment/hist", f"app=nginx:{version}")
            await eventually(lambda v=version: rolled_out(client, "hist", f"nginx:{v}"))

        async def trimmed() -> list[Obj] | None:
            sets = await owned_sets(client, "hist")
            return sets if len(sets) == 2 else None

        sets = await eventually(trimmed)
        revisions = [s["metadata"]["annotations"][REVISION] for s in sets]
        assert revisions == ["3", "4"]


async def test_recreate_never_runs_old_and_new_pods_together(server: ApiServer) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, kubelet):
        body = web_deployment("recreate", 3)
        body["spec"]["strategy"] = {"type": "Recreate"}
        await client.create("apps/v1", "deployments", body, NS)
        await eventually(lambda: rolled_out(client, "recreate", "nginx:1.25"))
        census = PodCensus(kubelet.pods, "recreate")
        await kubectl(server, "set", "image", "deployment/recreate", "app=nginx:1.26")
        await eventually(lambda: rolled_out(client, "recreate", "nginx:1.26"))
        assert all(len(images) <= 1 for images in census.images_together), census.images_together


async def test_pause_resume_and_restart(server: ApiServer) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, _):
        await client.create("apps/v1", "deployments", web_deployment("paused", 2), NS)
        await eventually(lambda: rolled_out(client, "paused", "nginx:1.25"))
        await kubectl(server, "rollout", "pause", "deployment/paused")
        await kubectl(server, "set", "image", "deployment/paused", "app=nginx:1.26")

        async def paused_condition() -> bool:
            d = await client.get("apps/v1", "deployments", "paused", NS)
            conds = {c["type"]: c for c in d["status"].get("conditions") or []}
            return conds.get("Progressing", {}).get("reason") == "DeploymentPaused"

        await eventually(paused_condition)
        assert len(await owned_sets(client, "paused")) == 1  # no rollout while paused

        await kubectl(server, "rollout", "resume", "deployment/paused")
        await eventually(lambda: rolled_out(client, "paused", "nginx:1.26"))
        await kubectl(server, "rollout", "restart", "deployment/paused")

        async def restarted() -> list[Obj] | None:
            sets = await owned_sets(client, "paused")
            return sets if len(sets) == 3 and sets[-1]["spec"]["replicas"] == 2 else None

        sets = await eventually(restarted)
        template = sets[-1]["spec"]["template"]["metadata"]
        assert "kubectl.kubernetes.io/restartedAt" in template["annotations"]
        out = await kubectl(server, "rollout", "status", "deployment/paused", "--timeout=60s")
        assert 'deployment "paused" successfully rolled out' in out


async def test_progress_deadline_exceeded(server: ApiServer) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, kubelet):
        kubelet.enabled = False  # Pods never become ready
        body = web_deployment("stuck", 2)
        body["spec"]["progressDeadlineSeconds"] = 2
        await client.create("apps/v1", "deployments", body, NS)

        async def timed_out() -> Obj | None:
            d = await client.get("apps/v1", "deployments", "stuck", NS)
            conds = {c["type"]: c for c in d["status"].get("conditions") or []}
            progressing = conds.get("Progressing") or {}
            return progressing if progressing.get("reason") == "ProgressDeadlineExceeded" else None

        cond = await eventually(timed_out, within=20)
        assert cond["status"] == "False"
        assert cond["message"].endswith("has timed out progressing.")
        result = await asyncio.to_thread(
            run_kubectl, server, "rollout", "status", "deployment/stuck", "--timeout=20s"
        )
        assert result.returncode != 0
        assert 'deployment "stuck" exceeded its progress deadline' in result.stderr


async def test_restarted_controllers_finish_a_rollout_without_extra_pods(server: ApiServer) -> None:
    async with cluster(server, replicaset.new, deployment.new) as (client, kubelet):
        await client.create("apps/v1", "deployments", web_deployment("resume", 4), NS)
        await eventually(lambda: rolled_out(client, "resume", "nginx:1.25"))
        kubelet.enabled = False  # the rollout stalls with new Pods not ready
        await kubectl(server, "set", "image", "deployment/resume", "app=nginx:1.26")
        await eventually(lambda: _count(client, "app=resume", 5))
    async with cluster(server, replicaset.new, deployment.new) as (client, kubelet):
        census = PodCensus(kubelet.pods, "resume")
        await eventually(lambda: rolled_out(client, "resume", "nginx:1.26"))
        assert census.most <= 5


# ---- DaemonSet ---------------------------------------------------------------------------


def node(name: str) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}


def daemon_set(name: str, image: str = "fluentd:1") -> Obj:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "agent", "image": image}]},
            },
        },
    }


def pinned_node(pod: Obj) -> str:
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    return terms["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]


async def daemon_nodes(client: Client, app: str, image: str = "") -> list[str] | None:
    pods = await pods_of(client, f"app={app}")
    if image and any(p["spec"]["containers"][0]["image"] != image for p in pods):
        return None
    return sorted(pinned_node(p) for p in pods)


async def test_daemon_set_follows_nodes_taints_and_rolls_out(server: ApiServer) -> None:
    async with cluster(server, daemonset.new) as (client, _):
        for name in ("ds-n1", "ds-n2"):
            await client.create("v1", "nodes", node(name))
        await client.create("apps/v1", "daemonsets", daemon_set("agent"), NS)

        async def on(nodes: list[str], image: str = "") -> bool:
            return await daemon_nodes(client, "agent", image) == nodes

        await eventually(lambda: on(["ds-n1", "ds-n2"]))
        pod = (await pods_of(client, "app=agent"))[0]
        keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
        assert pod["metadata"]["labels"]["controller-revision-hash"]

        await client.create("v1", "nodes", node("ds-n3"))
        await eventually(lambda: on(["ds-n1", "ds-n2", "ds-n3"]))
        no_schedule = {"spec": {"taints": [{"key": "x", "value": "y", "effect": "NoSchedule"}]}}
        await patch(client, "v1", "nodes", "ds-n3", no_schedule)
        await asyncio.sleep(0.5)
        assert await on(["ds-n1", "ds-n2", "ds-n3"])  # a running daemon stays
        no_execute = {"spec": {"taints": [{"key": "x", "value": "y", "effect": "NoExecute"}]}}
        await patch(client, "v1", "nodes", "ds-n3", no_execute)
        await eventually(lambda: on(["ds-n1", "ds-n2"]))
        await client.delete("v1", "nodes", "ds-n2")
        await eventually(lambda: on(["ds-n1"]))

        async def status_settled() -> Obj | None:
            ds = await client.get("apps/v1", "daemonsets", "agent", NS)
            st = ds.get("status") or {}
            want = {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1}
            return st if all(st.get(k) == v for k, v in want.items()) else None

        st = await eventually(status_settled)
        assert st["numberMisscheduled"] == 0 and st["numberAvailable"] == 1

        await client.create("v1", "nodes", node("ds-n4"))
        await eventually(lambda: on(["ds-n1", "ds-n4"]))
        await kubectl(server, "set", "image", "daemonset/agent", "agent=fluentd:2")
        await eventually(lambda: on(["ds-n1", "ds-n4"], image="fluentd:2"))
        out = await kubectl(server, "rollout", "status", "daemonset/agent", "--timeout=60s")
        assert 'daemon set "agent" successfully rolled out' in out
        history = await kubectl(server, "rollout", "history", "daemonset/agent")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
        await kubectl(server, "rollout", "undo", "daemonset/agent")
        await eventually(lambda: on(["ds-n1", "ds-n4"], image="fluentd:1"))


# ---- Job -----------------------------------------------------------------------------------


def batch_job(name: str, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            **spec,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "work", "image": "busybox", "command": ["true"]}],
                }
            },
        },
    }


async def finish_pods(client: Client, job_name: str, phase: str) -> int:
    """Play the kubelet for a Job: every running Pod of it ends in ``phase``."""
    done = 0
    for pod in await pods_of(client, f"batch.kubernetes.io/job-name={job_name}"):
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await client.patch_status(
                "v1", "pods", pod["metadata"]["name"], {"status": {"phase": phase}}, NS
            )
            done += 1
    return done


async def job_condition(client: Client, name: str, kind: str) -> Obj | None:
    found = await client.get("batch/v1", "jobs", name, NS)
    conds = {c["type"]: c for c in (found.get("status") or {}).get("conditions") or []}
    return found if kind in conds else None


async def test_job_runs_to_completion_and_releases_its_pods(server: ApiServer) -> None:
    async with cluster(server, job.new) as (client, kubelet):
        kubelet.enabled = False
        await client.create("batch/v1", "jobs", batch_job("pi", completions=3, parallelism=2), NS)

        async def finish_round() -> Obj | None:
            await finish_pods(client, "pi", "Succeeded")
            return await job_condition(client, "pi", "Complete")

        done = await eventually(finish_round)
        st = done["status"]
        assert st["succeeded"] == 3
        assert st.get("active", 0) == 0
        assert st["startTime"] and st["completionTime"]
        conds = {c["type"]: c for c in st["conditions"]}
        assert conds["Complete"]["reason"] == "CompletionsReached"
        assert "SuccessCriteriaMet" in conds
        pods = (
            await client.list("v1", "pods", NS, label_selector="batch.kubernetes.io/job-name=pi")
        )["items"]
        assert len(pods) == 3
        assert all(
            "batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or [])
            for p in pods
        )
        assert all(p["metadata"]["name"].startswith("pi-") for p in pods)


async def test_indexed_job_completes_every_index(server: ApiServer) -> None:
    async with cluster(server, job.new) as (client, kubelet):
        kubelet.enabled = False
        body = batch_job("idx", completions=3, parallelism=3, completionMode="Indexed")
        await client.create("batch/v1", "jobs", body, NS)
        pods = await eventually(lambda: _count(client, "batch.kubernetes.io/job-name=idx", 3))
        indexes = sorted(
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods
        )
        assert indexes == ["0", "1", "2"]
        assert all(
            p["metadata"]["name"].startswith(f"idx-{p['spec']['hostname'][-1]}-") for p in pods
        )

        async def finish_round() -> Obj | None:
            await finish_pods(client, "idx", "Succeeded")
            return await job_condition(client, "idx", "Complete")

        done = await eventually(finish_round)
        assert done["status"]["completedIndexes"] == "0-2"
        assert done["status"]["succeeded"] == 3


async def test_finished_job_is_deleted_after_its_ttl(server: ApiServer) -> None:
    async with cluster(server, job.new, ttlafterfinished.new, GarbageCollector) as (
        client,
        kubelet,
    ):
        kubelet.enabled = False
        await client.create("batch/v1", "jobs", batch_job("brief", ttlSecondsAfterFinished=1), NS)

        async def gone() -> bool:
            await finish_pods(client, "brief", "Succeeded")
            try:
                await client.get("batch/v1", "jobs", "brief", NS)
            except errors.NotFound:
                return True
            return False

        await eventually(gone)
        await eventually(lambda: _none_left(client, "brief"))  # its Pods went first


async def _none_left(client: Client, job_name: str) -> bool:
    items = (
        await client.list(
            "v1", "pods", NS, label_selector=f"batch.kubernetes.io/job-name={job_name}"
        )
    )["items"]
    return not items


async def test_job_fails_past_its_backoff_limit(server: ApiServer) -> None:
    async with cluster(server, job.new) as (client, kubelet):
        kubelet.enabled = False
        await client.create("batch/v1", "jobs", batch_job("doomed", backoffLimit=0), NS)
        await eventually(lambda: _count(client, "batch.kubernetes.io/job-name=doomed", 1))
        await finish_pods(client, "doomed", "Failed")
        failed = await eventually(lambda: job_condition(client, "doomed", "Failed"))
        conds = {c["type"]: c for c in failed["status"]["conditions"]}
        assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
        assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
        assert failed["status"]["failed"] == 1


# ---- CronJob -------------------------------------------------------------------------------


async def test_cron_job_starts_jobs_on_schedule_and_honours_forbid(server: ApiServer) -> None:
    skew = {"seconds": 0.0}

    def make(ctx: ControllerContext) -> Controller[str]:
        return cronjob.CronJobController(ctx, now=lambda: datetime.now(UTC) + timedelta(**skew))

    async with cluster(server, make) as (client, _):
        body = {
            "metadata": {"name": "tick"},
            "spec": {
                "schedule": "* * * * *",
                "concurrencyPolicy": "Forbid",
                "jobTemplate": batch_job("unused")["spec"]
                and {"spec": batch_job("unused")["spec"]},
            },
        }
        await client.create("batch/v1", "cronjobs", body, NS)
        skew["seconds"] = 61.0  # the next minute has come
        await patch(client, "batch/v1", "cronjobs", "tick", {"metadata": {"labels": {"poke": "1"}}})

        async def started() -> Obj | None:
            cj = await client.get("batch/v1", "cronjobs", "tick", NS)
            return cj if (cj.get("status") or {}).get("active") else None

        cj = await eventually(started)
        (ref,) = cj["status"]["active"]
        assert ref["name"].startswith("tick-") and ref["kind"] == "Job"
        assert cj["status"]["lastScheduleTime"]
        created = await client.get("batch/v1", "jobs", ref["name"], NS)
        assert created["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        assert (
            "batch.kubernetes.io/cronjob-scheduled-timestamp" in created["metadata"]["annotations"]
        )

        skew["seconds"] = 121.0  # another minute: Forbid keeps the running one alone
        await patch(client, "batch/v1", "cronjobs", "tick", {"metadata": {"labels": {"poke": "2"}}})
        await asyncio.sleep(1.0)
        jobs = [
            j
            for j in (await client.list("batch/v1", "jobs", NS))["items"]
            if j["metadata"]["name"].startswith("tick-")
        ]
        assert [j["metadata"]["name"] for j in jobs] == [ref["name"]]


# ---- Endpoints and EndpointSlices ------------------------------------------------------------


def backend(name: str, port: int) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"app": "ep"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx",
                    "ports": [{"name": "http", "containerPort": port}],
                }
            ]
        },
    }


async def set_pod_state(client: Client, name: str, ip: str, ready: bool) -> None:
    now = format_time(datetime.now(UTC))
    value = "True" if ready else "False"
    status = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": value, "lastTransitionTime": now}],
    }
    await client.patch_status("v1", "pods", name, {"status": status}, NS)


async def test_endpoints_and_slices_follow_pod_readiness(server: ApiServer) -> None:
    async with cluster(server, endpoints.new, endpointslice.new) as (client, kubelet):
        kubelet.enabled = False
        svc = {
            "metadata": {"name": "ep", "labels": {"tier": "web"}},
            "spec": {
                "selector": {"app": "ep"},
                "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
            },
        }
        await client.create("v1", "services", svc, NS)
        await client.create("v1", "pods", backend("ep-a", 8080), NS)
        await client.create("v1", "pods", backend("ep-b", 9090), NS)
        await set_pod_state(client, "ep-a", "10.0.0.1", ready=True)
        await set_pod_state(client, "ep-b", "10.0.0.2", ready=False)

        async def subsets(want: list[Obj]) -> bool:
            with contextlib.suppress(errors.NotFound):
                found = await client.get("v1", "endpoints", "ep", NS)
                return _strip_refs(found.get("subsets") or []) == want
            return False

        await eventually(
            lambda: subsets(
                [
                    {
                        "addresses": [{"ip": "10.0.0.1"}],
                        "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
                    },
                    {
                        "notReadyAddresses": [{"ip": "10.0.0.2"}],
                        "ports": [{"name": "web", "port": 9090, "protocol": "TCP"}],
                    },
                ]
            )
        )
        ep = await client.get("v1", "endpoints", "ep", NS)
        assert ep["metadata"]["labels"] == {"tier": "web"}
        assert ep["subsets"][0]["addresses"][0]["targetRef"]["name"] == "ep-a"

        async def slices(want: dict[str, tuple[int, bool]]) -> list[Obj] | None:
            items = (
                await client.list(
                    "discovery.k8s.io/v1",
                    "endpointslices",
                    NS,
                    label_selector="kubernetes.io/service-name=ep",
                )
            )["items"]
            seen = {
                e["addresses"][0]: (s["ports"][0]["port"], e["conditions"]["ready"])
                for s in items
                for e in s.get("endpoints") or []
            }
            return items if seen == want else None

        items = await eventually(
            lambda: slices({"10.0.0.1": (8080, True), "10.0.0.2": (9090, False)})
        )
        for item in items:
            assert (
                item["metadata"]["name"].startswith("ep-")
                and len(item["metadata"]["name"]) == len("ep-") + 5
            )
            assert (
                item["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
                == "endpointslice-controller.k8s.io"
            )
            assert item["metadata"]["ownerReferences"][0]["kind"] == "Service"
            assert item["addressType"] == "IPv4"

        await set_pod_state(client, "ep-b", "10.0.0.2", ready=True)
        await client.delete("v1", "pods", "ep-a", NS)
        await eventually(
            lambda: subsets(
                [
                    {
                        "addresses": [{"ip": "10.0.0.2"}],
                        "ports": [{"name": "web", "port": 9090, "protocol": "TCP"}],
                    }
                ]
            )
        )
        await eventually(lambda: slices({"10.0.0.2": (9090, True)}))

        await client.delete("v1", "services", "ep", NS)

        async def endpoints_gone() -> bool:
            try:
                await client.get("v1", "endpoints", "ep", NS)
            except errors.NotFound:
                return True
            return False

        await eventually(endpoints_gone)


async def test_endpoint_slices_are_not_duplicated_while_pods_change(server: ApiServer) -> None:
    """Syncs that run before the cache shows the controller's own write must not create twice."""
    async with cluster(server, endpointslice.new) as (client, kubelet):
        kubelet.enabled = False
        added: list[str] = []
        start = (await client.list("discovery.k8s.io/v1", "endpointslices", NS))["metadata"]

        async def record() -> None:
            async for kind, obj in client.watch(
                "discovery.k8s.io/v1",
                "endpointslices",
                NS,
                resource_version=start["resourceVersion"],
                label_selector="kubernetes.io/service-name=dup",
            ):
                if kind == "ADDED":
                    added.append(obj["metadata"]["name"])

        watcher = asyncio.create_task(record())
        svc = {
            "metadata": {"name": "dup"},
            "spec": {"selector": {"app": "dup"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
        await client.create("v1", "services", svc, NS)
        for i in range(6):
            pod = backend(f"dup-{i}", 8080)
            pod["metadata"]["labels"] = {"app": "dup"}
            await client.create("v1", "pods", pod, NS)
        for i in range(6):
            await set_pod_state(client, f"dup-{i}", f"10.0.1.{i + 1}", ready=True)

        async def settled() -> bool:
            items = (
                await client.list(
                    "discovery.k8s.io/v1",
                    "endpointslices",
                    NS,
                    label_selector="kubernetes.io/service-name=dup",
                )
            )["items"]
            return len(items) == 1 and len(items[0].get("endpoints") or []) == 6

        await eventually(settled)
        await asyncio.sleep(1.0)
        watcher.cancel()
        assert len(added) == 1, f"slices created: {added}"


def _strip_refs(subsets: list[Obj]) -> list[Obj]:
    out = []
    for subset in subsets:
        clean = dict(subset)
        for field in ("addresses", "notReadyAddresses"):
            if field in clean:
                clean[field] = [{"ip": a["ip"]} for a in clean[field]]
        out.append(clean)
    return out


# ---- StatefulSet ---------------------------------------------------------------------------


async def test_stateful_set_orders_pods_scales_down_and_rolls_out(server: ApiServer) -> None:
    async with cluster(server, statefulset.new) as (client, kubelet):
        order: list[str] = []
        kubelet.pods.add_handler(on_add=lambda p: order.append(p["metadata"]["name"]))
        body = {
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 3,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "postgres:15"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        }
        await client.create("apps/v1", "statefulsets", body, NS)

        async def names(want: list[str], image: str = "") -> bool:
            pods = await pods_of(client, "app=db")
            if image and any(p["spec"]["containers"][0]["image"] != image for p in pods):
                return False
            return sorted(p["metadata"]["name"] for p in pods) == want and all(
                is_pod_ready(p) for p in pods
            )

        await eventually(lambda: names(["db-0", "db-1", "db-2"]))
        assert [n for n in order if n.startswith("db-")][:3] == ["db-0", "db-1", "db-2"]
        pod = await client.get("v1", "pods", "db-1", NS)
        assert pod["spec"]["hostname"] == "db-1" and pod["spec"]["subdomain"] == "db"
        assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["data"] == {
            "name": "data",
            "persistentVolumeClaim": {"claimName": "data-db-1"},
        }
        await client.get("v1", "persistentvolumeclaims", "data-db-1", NS)

        await patch(client, "apps/v1", "statefulsets", "db", {"spec": {"replicas": 2}})
        await eventually(lambda: names(["db-0", "db-1"]))
        await kubectl(server, "set", "image", "statefulset/db", "db=postgres:16")
        await eventually(lambda: names(["db-0", "db-1"], image="postgres:16"))
        out = await kubectl(server, "rollout", "status", "statefulset/db", "--timeout=60s")
        assert "partitioned roll out complete: 2 new pods have been updated" in out
        sts = await client.get("apps/v1", "statefulsets", "db", NS)
        assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
        assert sts["status"]["readyReplicas"] == 2
        history = await kubectl(server, "rollout", "history", "statefulset/db")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
        await kubectl(server, "rollout", "undo", "statefulset/db")
        await eventually(lambda: names(["db-0", "db-1"], image="postgres:15"))


async def test_stateful_set_claim_retention_policy(server: ApiServer) -> None:
    async with cluster(server, statefulset.new, GarbageCollector) as (client, _):
        body = {
            "metadata": {"name": "kv"},
            "spec": {
                "replicas": 2,
                "serviceName": "kv",
                "selector": {"matchLabels": {"app": "kv"}},
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Delete",
                    "whenScaled": "Delete",
                },
                "template": {
                    "metadata": {"labels": {"app": "kv"}},
                    "spec": {"containers": [{"name": "kv", "image": "redis"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        }
        await client.create("apps/v1", "statefulsets", body, NS)

        async def claims(want: list[str]) -> bool:
            items = (
                await client.list("v1", "persistentvolumeclaims", NS, label_selector="app=kv")
            )["items"]
            live = [c for c in items if not c["metadata"].get("deletionTimestamp")]
            return sorted(c["metadata"]["name"] for c in live) == want

        await eventually(lambda: claims(["data-kv-0", "data-kv-1"]))
        await patch(client, "apps/v1", "statefulsets", "kv", {"spec": {"replicas": 1}})
        await eventually(lambda: claims(["data-kv-0"]))  # went with its Pod
        await client.delete("apps/v1", "statefulsets", "kv", NS)
        await eventually(lambda: claims([]))  # went with the StatefulSet


# ---- through the controller manager ---------------------------------------------------------


@pytest.fixture
def controller_manager(server: ApiServer) -> Any:
    """``tinykube controller-manager`` as its own process, as the cluster runs it."""
    log = open(server.data_dir / "controller-manager.log", "ab")  # noqa: SIM115 - the process owns it
    cmd = [str(BIN / "tinykube"), "controller-manager", "--kubeconfig", str(server.kubeconfig)]
    cmd.append("--secure-port=0")  # no health port: other managers may run on this host
    manager = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield manager
    finally:
        manager.terminate()
        manager.wait(10)
        log.close()


@pytest.mark.usefixtures("controller_manager")
async def test_controller_manager_rolls_out_a_deployment(server: ApiServer) -> None:
    async with cluster(server) as (client, _):  # only the fake kubelet runs in here
        await kubectl(
            server, "create", "deployment", "cm-web", "--image=nginx:1.25", "--replicas=2"
        )
        out = await kubectl(server, "rollout", "status", "deployment/cm-web", "--timeout=60s")
        assert 'deployment "cm-web" successfully rolled out' in out
        await kubectl(server, "set", "image", "deployment/cm-web", "nginx=nginx:1.26")
        out = await kubectl(server, "rollout", "status", "deployment/cm-web", "--timeout=60s")
        assert 'deployment "cm-web" successfully rolled out' in out
        sets = (await client.list("apps/v1", "replicasets", NS, label_selector="app=cm-web"))[
            "items"
        ]
        assert sorted(s["spec"]["replicas"] for s in sets) == [0, 2]
