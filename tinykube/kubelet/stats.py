"""The kubelet's resource usage numbers: ``/stats/summary``, what ``kubectl top`` reads.

Every ``SAMPLE_PERIOD`` seconds the sampler reads the node's CPU time and
memory from ``/proc`` and each running container's from the runtime
(``container_stats``: its cgroup, or its processes), and keeps the last two
readings: usage in nanocores is the CPU time spent between them divided by
the time between them, as cAdvisor computes it. The summary has the kubelet
Summary API's shape (``node`` and ``pods``, each with ``cpu.usageNanoCores``,
``cpu.usageCoreNanoSeconds`` and ``memory.workingSetBytes``); the API server
serves it as ``metrics.k8s.io`` NodeMetrics and PodMetrics. A container that
has only one reading yet has no CPU rate and is left out, as metrics-server
leaves out pods it cannot measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tinykube.api import duration

if TYPE_CHECKING:
    from tinykube.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

SAMPLE_PERIOD = 10.0
FIRST_RATE_AFTER = 1.0  # a second reading soon after start, so rates exist early
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Obj = dict[str, Any]


@dataclass
class Reading:
    at: float  # time.time()
    cpu_ns: int
    memory: int


@dataclass
class Sampler:
    kubelet: Kubelet
    node: list[Reading] = field(default_factory=list)
    containers: dict[tuple[str, str], list[Reading]] = field(default_factory=dict)

    async def run(self) -> None:
        await self.sample()
        await asyncio.sleep(FIRST_RATE_AFTER)
        while True:
            with contextlib.suppress(Exception):
                await self.sample()
            await asyncio.sleep(SAMPLE_PERIOD)

    async def sample(self) -> None:
        now = time.time()
        cpu, memory = await asyncio.to_thread(node_usage)
        _keep(self.node, Reading(now, cpu, memory))
        seen: set[tuple[str, str]] = set()
        for worker in list(self.kubelet.workers.values()):
            for name, cid in list(worker.container_ids.items()):
                try:
                    stats = await self.kubelet.runtime.container_stats(cid)
                except Exception:
                    stats = None
                if stats is None:
                    continue
                key = (worker.uid, name)
                seen.add(key)
                reading = Reading(
                    stats.timestamp, stats.cpu_usage_ns, stats.memory_working_set_bytes
                )
                _keep(self.containers.setdefault(key, []), reading)
        for key in set(self.containers) - seen:
            del self.containers[key]

    def summary(self) -> Obj:
        node: Obj = {"nodeName": self.kubelet.node_name}
        if len(self.node) == 2:
            node.update(_usage(self.node))
        pods = []
        for worker in list(self.kubelet.workers.values()):
            containers = []
            for name in worker.container_ids:
                readings = self.containers.get((worker.uid, name))
                if readings and len(readings) == 2:
                    containers.append({"name": name, **_usage(readings)})
            if not containers:
                continue
            meta = worker.pod.get("metadata") or {}
            pods.append(
                {
                    "podRef": {
                        "name": meta.get("name", ""),
                        "namespace": meta.get("namespace", ""),
                        "uid": meta.get("uid", ""),
                    },
                    "containers": containers,
                    "cpu": _sum(containers, "cpu", "usageNanoCores"),
                    "memory": _sum(containers, "memory", "workingSetBytes"),
                }
            )
        return {"node": node, "pods": pods}


def _keep(readings: list[Reading], reading: Reading) -> None:
    readings.append(reading)
    del readings[:-2]


def _usage(readings: list[Reading]) -> Obj:
    before, after = readings
    elapsed = max(after.at - before.at, 1e-3)
    nanocores = max(0, int((after.cpu_ns - before.cpu_ns) / elapsed))
    stamp = duration.format_time(datetime.fromtimestamp(after.at, UTC))
    return {
        "cpu": {"time": stamp, "usageNanoCores": nanocores, "usageCoreNanoSeconds": after.cpu_ns},
        "memory": {"time": stamp, "workingSetBytes": after.memory},
    }


def _sum(containers: list[Obj], kind: str, key: str) -> Obj:
    return {
        "time": containers[0][kind]["time"],
        key: sum(c[kind][key] for c in containers),
    }


def node_usage() -> tuple[int, int]:
    """(busy CPU nanoseconds of all CPUs, memory in use) of this host, from /proc."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    busy_ticks = sum(fields[:8]) - idle
    info: dict[str, int] = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
    used = info.get("MemTotal", 0) - info.get("MemAvailable", info.get("MemFree", 0))
    return busy_ticks * 1_000_000_000 // CLOCK_TICKS, used
