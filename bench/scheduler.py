"""Scheduler throughput against a real API server, beside a baseline from the same run.

    python -m bench.scheduler [--nodes 1000] [--pods 5000] [--concurrency 64]

Steps (each against one fresh ``tinykube apiserver`` process on this machine):

1. Create ``--nodes`` Node objects (POST, then PUT nodes/status with
   allocatable and a Ready condition), as a simulated cluster.
2. **cycle**: the filter+score work alone, in this process, with no I/O: the
   default profile run over a static snapshot of the same nodes for up to
   ``--cycle-pods`` pods, each assumed onto its node as the real loop does.
3. **baseline**: the bare cost of binding: ``--pods`` pods bound with
   ``POST pods/<p>/binding`` through the same client at the same concurrency,
   with no scheduling work (targets chosen round robin).
4. **scheduler**: ``--pods`` new pending pods, then the scheduler (default
   profile, in this process) is started and timed until it has bound them all;
   pods/s; the p50/p99 of the scheduling cycle per pod (filter, score, select,
   assume: upstream's scheduling_algorithm_duration); and the p50/p99 from leaving
   the queue to a written binding, which includes waiting for the API server.

The ratio scheduler/baseline says how much of the binding path's capacity the
scheduler uses; the cycle figure says what the Python filter+score costs per
pod before any I/O.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tinykube.client.rest import Client
from tinykube.scheduler.config import SchedulerConfig, default_profile
from tinykube.scheduler.framework import CycleState, NodeInfo, PodInfo, Snapshot
from tinykube.scheduler.runtime import Framework
from tinykube.scheduler.schedule_one import Algorithm
from tinykube.scheduler.scheduler import Scheduler

BIN = Path(sys.executable).parent
Obj = dict[str, Any]


def node(i: int) -> Obj:
    name = f"node-{i:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": f"zone-{i % 3}",
                "type": "kwok",
            },
        },
        "status": {
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ]
        },
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_apiserver(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True)
    log = open(data_dir.parent / "apiserver.log", "wb")  # noqa: SIM115 - the process owns it
    cmd = [str(BIN / "tinykube"), "apiserver", "--data-dir", str(data_dir), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (data_dir / "admin.kubeconfig").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    return proc


async def parallel(items: list[Any], concurrency: int, fn: Any) -> float:
    """Run ``fn(item)`` for every item with ``concurrency`` workers; seconds taken."""
    it = iter(items)

    async def worker() -> None:
        for item in it:
            await fn(item)

    start = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    return time.perf_counter() - start


async def create_nodes(client: Client, count: int, concurrency: int) -> None:
    async def one(i: int) -> None:
        obj = node(i)
        status = obj.pop("status")
        created = await client.create("v1", "nodes", obj)
        created["status"] = status
        await client.update_status("v1", "nodes", created)

    await parallel(list(range(count)), concurrency, one)


async def create_pods(client: Client, namespace: str, prefix: str, count: int, conc: int) -> float:
    async def one(i: int) -> None:
        await client.create("v1", "pods", pod(f"{prefix}-{i}"), namespace)

    return await parallel(list(range(count)), conc, one)


def cycle_only(nodes: int, pods: int, percentage: int) -> tuple[float, int]:
    """Mean seconds of filter+score per pod over a static snapshot; and nodes evaluated."""
    infos = [NodeInfo(node(i)) for i in range(nodes)]
    snapshot = Snapshot.of(infos)
    fwk = Framework(default_profile(), lambda: snapshot)
    algorithm = Algorithm(percentage)
    evaluated = 0
    start = time.thread_time()  # CPU time: the figure survives a busy machine
    for i in range(pods):
        obj = pod(f"cycle-{i}")
        obj["metadata"].update(namespace="default", uid=f"cycle-{i}")
        info = PodInfo(obj)
        result = algorithm.schedule(fwk, CycleState(), info)
        evaluated += result.evaluated
        snapshot.get(result.node).add_pod(info)  # the assume step
    return (time.thread_time() - start) / pods, evaluated // pods


async def baseline_binds(client: Client, count: int, nodes: int, concurrency: int) -> float:
    await client.create("v1", "namespaces", {"metadata": {"name": "baseline"}})
    await create_pods(client, "baseline", "b", count, concurrency)

    async def bind(i: int) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": f"b-{i}", "namespace": "baseline"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": f"node-{i % nodes:05d}"},
        }
        await client.create_subresource("v1", "pods", f"b-{i}", "binding", body, "baseline")

    seconds = await parallel(list(range(count)), concurrency, bind)
    return count / seconds


async def run_scheduler(client: Client, count: int, conc: int) -> tuple[float, Scheduler, float]:
    await client.create("v1", "namespaces", {"metadata": {"name": "sched"}})
    await create_pods(client, "sched", "s", count, conc)
    scheduler = Scheduler(client, SchedulerConfig())
    task = asyncio.create_task(scheduler.run())
    await scheduler.factory.wait_synced()
    start, cpu = time.perf_counter(), time.process_time()
    while scheduler.scheduled < count:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    seconds = time.perf_counter() - start
    scheduler.process_cpu = time.process_time() - cpu  # type: ignore[attr-defined]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return count / seconds, scheduler, seconds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tinykube-bench-"))
    data = tmp / "data"
    port = free_port()
    proc = start_apiserver(data, port)
    try:
        async with await Client.from_kubeconfig(data / "admin.kubeconfig") as client:
            t = time.perf_counter()
            await create_nodes(client, args.nodes, args.concurrency)
            print(f"created {args.nodes} nodes in {time.perf_counter() - t:.1f}s", file=sys.stderr)
            per_pod, evaluated = cycle_only(args.nodes, min(args.cycle_pods, args.pods), 0)
            binds = await baseline_binds(client, args.pods, args.nodes, args.concurrency)
            rate, scheduler, seconds = await run_scheduler(client, args.pods, args.concurrency)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    lat = list(scheduler.latencies)
    cycle_ms = scheduler.cycle_seconds / max(scheduler.scheduled, 1) * 1000
    print(
        f"\nscheduler benchmark: {args.nodes} nodes, {args.pods} pods, cpu count {os.cpu_count()}"
    )
    print(f"{'figure':44} {'value':>12}   {'baseline (same run)':34} {'value':>10}  ratio")
    print(
        f"{'scheduled pods/s (end to end)':44} {rate:12,.0f}   "
        f"{'bare bind requests/s, same client':34} {binds:10,.0f}  {rate / binds:.2f}"
    )
    print(
        f"{'filter+score CPU per pod, static snapshot (ms)':44} {per_pod * 1000:12.3f}   "
        f"{'nodes evaluated per pod':34} {evaluated:10d}"
    )
    print(f"{'filter+score CPU per pod inside the run (ms)':44} {cycle_ms:12.3f}")
    total_cpu = scheduler.process_cpu / args.pods * 1000  # type: ignore[attr-defined]
    print(f"{'scheduler process CPU per pod, all work (ms)':44} {total_cpu:12.3f}")
    cycles = list(scheduler.cycle_latencies)
    print(f"{'cycle latency p50 (ms)':44} {percentile(cycles, 0.50) * 1000:12.2f}")
    print(f"{'cycle latency p99 (ms)':44} {percentile(cycles, 0.99) * 1000:12.2f}")
    print(f"{'latency pop->bound p50 (ms)':44} {percentile(lat, 0.50) * 1000:12.1f}")
    print(f"{'latency pop->bound p99 (ms)':44} {percentile(lat, 0.99) * 1000:12.1f}")
    print(f"{'wall time to bind all pods (s)':44} {seconds:12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--cycle-pods", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
