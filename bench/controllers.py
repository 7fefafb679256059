"""Controller throughput against a real API server, beside the raw create rate of the same run.

    python -m bench.controllers [--replicas 1000] [--concurrency 64]

Steps, against one fresh ``tinykube apiserver`` process on this machine, with
one REST client shared by everything this process runs (controllers,
informers, the baseline and the simulated kubelet), as the controller
manager shares one:

1. **baseline**: ``--replicas`` Pod POSTs (the body the ReplicaSet controller
   would send) through that client with ``--concurrency`` requests in flight;
   and the same POSTs sent in the controller's own slow-start batches
   (1, 2, 4, ... up to 500 per sync), which is the most the controller's
   request pattern could reach with no controller work at all.
2. **replicaset**: the ReplicaSet controller runs in this process; a
   ``--replicas`` ReplicaSet is created and timed until the watch has
   delivered every one of its Pods (each is stored by then).
3. **deployment**: the Deployment and ReplicaSet controllers run; a
   ``--replicas`` Deployment (maxSurge = maxUnavailable = 25%) is created and
   brought to all-available, then its image is changed and the rollout is
   timed until every replica is updated and available and no old Pod is
   left. Readiness is simulated: a stand-in kubelet marks each new Pod
   Running and Ready through ``pods/status`` and finishes each deletion
   (grace 0), as ``tinykube simulated-nodes`` does.

Read the ratios, not the absolute numbers: the controller figure over the
raw POST rate measured minutes apart on the same machine says how much of the
API server's write capacity the controller turns into Pods.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.scheduler import free_port, parallel, start_apiserver
from tinykube.api import errors
from tinykube.api.duration import format_time
from tinykube.client.informers import InformerFactory, SharedInformer
from tinykube.client.rest import Client
from tinykube.controllers import deployment, replicaset
from tinykube.controllers.podutil import is_pod_ready
from tinykube.controllers.replicaset import BURST_REPLICAS
from tinykube.controllers.replicasetutil import slow_start_batches
from tinykube.controllers.runtime import ControllerContext

Obj = dict[str, Any]
KUBELET_WORKERS = 32
TIMEOUT = 900.0  # seconds any one timed step may take


def template(app: str, image: str) -> Obj:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ]
        },
    }


def workload(app: str, replicas: int, image: str = "nginx:1.27") -> Obj:
    return {
        "metadata": {"name": app},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": template(app, image),
        },
    }


def bare_pod(app: str) -> Obj:
    """The body the ReplicaSet controller POSTs (without the owner reference)."""
    return {"metadata": {"generateName": f"{app}-", **template(app, "nginx:1.27")["metadata"]}}


# ---- baselines ---------------------------------------------------------------------


async def baseline_creates(client: Client, namespace: str, count: int, conc: int) -> float:
    """Pods/s for ``count`` raw POSTs with ``conc`` in flight."""
    body = {**bare_pod("raw"), "spec": template("raw", "nginx:1.27")["spec"]}

    async def one(_: int) -> None:
        await client.create("v1", "pods", body, namespace)

    return count / await parallel(list(range(count)), conc, one)


async def baseline_slow_start(client: Client, namespace: str, count: int) -> float:
    """Pods/s for raw POSTs in the controller's pattern: bursts of 500 in 1, 2, 4, ... batches."""
    body = {**bare_pod("slow"), "spec": template("slow", "nginx:1.27")["spec"]}
    start = time.perf_counter()
    left = count
    while left > 0:
        burst = min(left, BURST_REPLICAS)
        for size in slow_start_batches(burst):
            await asyncio.gather(
                *(client.create("v1", "pods", body, namespace) for _ in range(size))
            )
        left -= burst
    return count / (time.perf_counter() - start)


# ---- the simulated kubelet -----------------------------------------------------------


class SimulatedKubelet:
    """Makes every new Pod Running and Ready, and finishes every deletion at once."""

    def __init__(self, client: Client, pods: SharedInformer, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.queue: asyncio.Queue[Obj] = asyncio.Queue()
        pods.add_handler(on_add=self._seen, on_update=lambda _o, new: self._seen(new))

    def _seen(self, pod: Obj) -> None:
        if pod["metadata"].get("namespace") == self.namespace:
            self.queue.put_nowait(pod)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for _ in range(KUBELET_WORKERS):
                tg.create_task(self._worker())

    async def _worker(self) -> None:
        while True:
            pod = await self.queue.get()
            m = pod["metadata"]
            # A Pod already gone, or changed meanwhile, is the next event's business.
            with contextlib.suppress(errors.NotFound, errors.Conflict, errors.InternalError):
                if m.get("deletionTimestamp"):
                    await self.client.delete(
                        "v1",
                        "pods",
                        m["name"],
                        self.namespace,
                        grace_period_seconds=0,
                        preconditions={"uid": m["uid"]},
                    )
                elif not is_pod_ready(pod):
                    await self.client.patch_status(
                        "v1", "pods", m["name"], running_status(), self.namespace
                    )


def running_status() -> Obj:
    now = format_time(datetime.now(UTC))
    conditions = [
        {"type": t, "status": "True", "lastTransitionTime": now}
        for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]
    return {"status": {"phase": "Running", "conditions": conditions, "startTime": now}}


# ---- the timed runs ----------------------------------------------------------------


class WriteCounter:
    """Counts the write requests (POST, PUT, PATCH, DELETE) the shared client sends."""

    def __init__(self, client: Client) -> None:
        self.writes = 0
        inner = client.request

        async def counted(method: str, path: str, **kw: Any) -> Any:
            if method != "GET":
                self.writes += 1
            return await inner(method, path, **kw)

        client.request = counted  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def running(*tasks: Callable[[], Any]) -> AsyncIterator[None]:
    """Run coroutine factories in a task group for the body's duration."""
    async with asyncio.TaskGroup() as tg:
        started = [tg.create_task(t()) for t in tasks]
        try:
            yield
        finally:
            for task in started:
                task.cancel()


async def wait_for(check: Callable[[], Any], poll: float = 0.05) -> None:
    """Poll an async ``check`` until it holds; a stuck run fails instead of hanging."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if await check():
                return
            await asyncio.sleep(poll)


async def time_replica_set(client: Client, namespace: str, replicas: int) -> float:
    factory = InformerFactory(client)
    ctx = ControllerContext(client, factory)
    controller = replicaset.new(ctx)
    seen: set[str] = set()
    done = asyncio.Event()

    def count(pod: Obj) -> None:
        if pod["metadata"].get("namespace") == namespace:
            seen.add(pod["metadata"]["name"])
            if len(seen) >= replicas:
                done.set()

    factory.get("v1", "pods").add_handler(on_add=count)
    async with running(factory.run, controller.run, *[r.run for r in ctx.recorders]):
        await factory.wait_synced()
        start = time.perf_counter()
        await client.create("apps/v1", "replicasets", workload("rs-bench", replicas), namespace)
        async with asyncio.timeout(TIMEOUT):
            await done.wait()
        return time.perf_counter() - start


async def deployment_done(client: Client, namespace: str, name: str, replicas: int) -> bool:
    d = await client.get("apps/v1", "deployments", name, namespace)
    s = d.get("status") or {}
    return (
        s.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
        and s.get("updatedReplicas") == replicas
        and s.get("availableReplicas") == replicas
        and s.get("replicas") == replicas
    )


async def time_deployment(
    client: Client, namespace: str, replicas: int
) -> tuple[float, float, int]:
    """Seconds to bring up a Deployment, seconds to roll it to a new image, writes the roll took."""
    factory = InformerFactory(client)
    ctx = ControllerContext(client, factory)
    controllers = [deployment.new(ctx), replicaset.new(ctx)]
    kubelet = SimulatedKubelet(client, factory.get("v1", "pods"), namespace)
    tasks = [factory.run, kubelet.run, *(c.run for c in controllers)]
    async with running(*tasks, *[r.run for r in ctx.recorders]):
        await factory.wait_synced()
        start = time.perf_counter()
        await client.create("apps/v1", "deployments", workload("web", replicas), namespace)
        await wait_for(lambda: deployment_done(client, namespace, "web", replicas), 0.2)
        up = time.perf_counter() - start
        counter = WriteCounter(client)
        start = time.perf_counter()
        new_image = {"spec": {"template": template("web", "nginx:1.28")}}
        await client.patch("apps/v1", "deployments", "web", new_image, namespace)
        await wait_for(lambda: deployment_done(client, namespace, "web", replicas), 0.2)
        await wait_for(lambda: only_new_pods(client, namespace, replicas), 0.2)
        return up, time.perf_counter() - start, counter.writes


async def only_new_pods(client: Client, namespace: str, replicas: int) -> bool:
    pods = (await client.list_all("v1", "pods", namespace, label_selector="app=web"))["items"]
    images = {p["spec"]["containers"][0]["image"] for p in pods}
    return len(pods) == replicas and images == {"nginx:1.28"}


# ---- the report --------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="tinykube-bench-"))
    data = tmp / "data"
    proc = start_apiserver(data, free_port())
    n = args.replicas
    try:
        async with await Client.from_kubeconfig(data / "admin.kubeconfig") as client:
            for ns in ("baseline", "slowstart", "rs", "deploy"):
                await client.create("v1", "namespaces", {"metadata": {"name": ns}})
            await baseline_creates(client, "baseline", 50, args.concurrency)  # warm up
            raw = await baseline_creates(client, "baseline", n, args.concurrency)
            slow = await baseline_slow_start(client, "slowstart", n)
            rs_seconds = await time_replica_set(client, "rs", n)
            up, rollout, writes = await time_deployment(client, "deploy", n)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "raw": raw,
        "slow": slow,
        "rs": rs_seconds,
        "up": up,
        "rollout": rollout,
        "writes": writes,
    }


def report(args: argparse.Namespace, r: dict[str, float]) -> None:
    n = args.replicas
    raw = r["raw"]
    print(f"\ncontroller benchmark: {n} replicas, cpu count {os.cpu_count()}")
    print(f"{'figure':52} {'seconds':>8} {'pods/s':>8}  ratio to raw POSTs")
    print(
        f"{'raw pod POSTs, concurrency ' + str(args.concurrency):52} {n / raw:8.2f} {raw:8.0f}  1.00"
    )
    rows = [
        ("raw pod POSTs in slow-start batches", n / r["slow"]),
        (f"ReplicaSet of {n}: create -> {n} pods stored", r["rs"]),
        (f"Deployment of {n}: create -> all available", r["up"]),
        (f"Deployment of {n}: new image -> rolled out", r["rollout"]),
    ]
    for label, seconds in rows:
        rate = n / seconds
        print(f"{label:52} {seconds:8.2f} {rate:8.0f}  {rate / raw:.2f}")
    writes = r["writes"]
    print(
        f"\nrollout API writes (every client in this process): {writes:.0f} in all, "
        f"{writes / r['rollout']:.0f}/s, {writes / n:.1f} per pod replaced"
    )
    print(
        "(the rollout replaces every pod: a create, the simulated kubelet's status write and "
        "two deletes per pod, plus status writes, so its ratio to bare creates stays well below 1)",
        file=sys.stderr,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    report(args, asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
