"""Many simulated nodes in one process, for scale work (what KWOK does).

``tinykube simulated-nodes --count N`` registers N Nodes (labelled
``tinykube.io/simulated=true``, runtime ``simulated://``), renews their
Leases every 10 s (spread over the interval so the API server sees an even
load), and plays the kubelet's part for every pod bound to any of them
through one shared watch: a bound pod becomes Running and Ready at once with
an IP from its node's /24; a pod with restartPolicy Never or OnFailure
becomes Succeeded ``run_seconds`` later; a pod being deleted is deleted for
good (grace 0, uid precondition). No process, sandbox or file is created:
everything shown is labelled simulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp

from tinykube.api import errors
from tinykube.client import Client
from tinykube.client.informers import SharedInformer
from tinykube.kubelet import lease, nodestatus, status
from tinykube.kubelet.runtime.interface import ContainerState, ContainerStatus

log = logging.getLogger(__name__)

Obj = dict[str, Any]
TRANSIENT = (errors.APIError, aiohttp.ClientError, OSError, TimeoutError)
RUNTIME = "simulated"
# Requests in flight at once for registrations and lease renewals.
CONCURRENCY = 32


def sim_container_status(
    pod: Obj, container: Obj, state: ContainerState, now: float
) -> ContainerStatus:
    cid = hashlib.sha256(f"{pod['metadata']['uid']}/{container['name']}".encode()).hexdigest()
    started = now
    return ContainerStatus(
        id=cid,
        sandbox_id="",
        name=container["name"],
        attempt=0,
        state=state,
        image=container.get("image", ""),
        image_id=f"simulated://sha256:{hashlib.sha256(container.get('image', '').encode()).hexdigest()}",
        started_at=started,
        finished_at=now if state == ContainerState.EXITED else 0.0,
        exit_code=0,
        reason="Completed" if state == ContainerState.EXITED else "",
    )


def simulated_status(pod: Obj, pod_ip: str, host_ip: str, finished: bool, now: float) -> Obj:
    spec = pod.get("spec") or {}
    state = ContainerState.EXITED if finished else ContainerState.RUNNING

    def view(c: Obj, st: ContainerState) -> status.ContainerView:
        v = status.ContainerView(c["name"], c.get("image", ""), RUNTIME)
        v.current = sim_container_status(pod, c, st, now)
        v.ready = v.started = st == ContainerState.RUNNING
        return v

    inits = [view(c, ContainerState.EXITED) for c in spec.get("initContainers") or []]
    apps = [view(c, state) for c in spec.get("containers") or []]
    return status.pod_status(
        pod,
        inits,
        apps,
        sandbox_ready=True,
        pod_ip=pod_ip,
        host_ip=host_ip,
        start_time=now,
        now=now,
    )


class SimulatedNodes:
    def __init__(
        self, client: Client, count: int, prefix: str, cidr_base: str, run_seconds: float
    ) -> None:
        self.client = client
        self.run_seconds = run_seconds
        base = ipaddress.ip_network(cidr_base)
        if count > 2 ** (24 - base.prefixlen):
            raise ValueError(f"{cidr_base} has room for {2 ** (24 - base.prefixlen)} node /24s")
        subnets = base.subnets(new_prefix=24)
        self.nodes = {f"{prefix}{i + 1:04d}": str(next(subnets)) for i in range(count)}
        self._next_ip: dict[str, int] = dict.fromkeys(self.nodes, 2)
        self._ips: dict[str, str] = {}
        self._handled: dict[str, str] = {}  # pod uid -> phase written
        self._queue: asyncio.Queue[Obj] = asyncio.Queue()

    async def run(self) -> None:
        facts = await asyncio.to_thread(nodestatus.host_facts, Path("."))
        started = time.monotonic()
        gate = asyncio.Semaphore(CONCURRENCY)

        async def register(name: str, cidr: str) -> Obj:
            async with gate:
                return await self._register(name, cidr, facts)

        registered = await asyncio.gather(*(register(n, c) for n, c in self.nodes.items()))
        log.info(
            "simulated nodes registered: %d in %.1fs", len(registered), time.monotonic() - started
        )
        pods = SharedInformer(self.client, "v1", "pods")
        pods.add_handler(
            on_add=self._queue.put_nowait,
            on_update=lambda _o, n: self._queue.put_nowait(n),
            on_delete=lambda o: self._ips.pop(o["metadata"].get("uid", ""), None),
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(pods.run())
            tg.create_task(self._leases(registered))
            for _ in range(8):
                tg.create_task(self._pod_loop())

    def _config(self, name: str, cidr: str) -> nodestatus.NodeConfig:
        return nodestatus.NodeConfig(
            name=name,
            node_ip="127.0.0.1",
            port=10250,
            pod_cidr=cidr,
            runtime_version="simulated://0.1.0",
            simulated=True,
        )

    async def _register(self, name: str, cidr: str, facts: nodestatus.HostFacts) -> Obj:
        node = nodestatus.build_node(self._config(name, cidr), facts, time.time())
        while True:
            try:
                try:
                    created: Obj = await self.client.create("v1", "nodes", node)
                    return created
                except errors.AlreadyExists:
                    got: Obj = await self.client.patch_status(
                        "v1", "nodes", name, {"status": node["status"]}
                    )
                    return got
            except TRANSIENT as exc:
                log.info("node=%s registration failed: %s", name, exc)
                await asyncio.sleep(1)

    async def _leases(self, nodes: list[Obj]) -> None:
        """Renew every Lease once per interval, in batches spread over the interval."""
        renewers = [lease.LeaseRenewer(self.client, n) for n in nodes]
        batches = [renewers[i : i + CONCURRENCY] for i in range(0, len(renewers), CONCURRENCY)]
        spacing = lease.RENEW_INTERVAL / max(1, len(batches))
        while True:
            for batch in batches:
                started = time.monotonic()
                results = await asyncio.gather(*(r.renew() for r in batch), return_exceptions=True)
                for result in results:
                    if isinstance(result, TRANSIENT):
                        log.debug("lease renewal failed: %s", result)
                    elif isinstance(result, BaseException):
                        raise result
                await asyncio.sleep(max(0.0, spacing - (time.monotonic() - started)))

    async def _pod_loop(self) -> None:
        while True:
            pod = await self._queue.get()
            try:
                await self._sync(pod)
            except TRANSIENT as exc:
                log.debug("simulated pod sync failed: %s", exc)

    async def _sync(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        node = spec.get("nodeName", "")
        if node not in self.nodes:
            return
        uid = meta["uid"]
        if meta.get("deletionTimestamp"):
            await self._delete(pod)
            return
        phase = (pod.get("status") or {}).get("phase")
        state = self._handled.get(uid)
        if phase in (status.SUCCEEDED, status.FAILED) or state == "done":
            return
        ip = self._ips.get(uid) or self._allocate(node, uid)
        host_ip = "127.0.0.1"
        if pod.get("_finish"):
            if state == "running":
                body = simulated_status(pod, ip, host_ip, True, time.time())
                await self._write(pod, body)
                self._handled[uid] = "done"
            return
        if state is None:
            await self._write(pod, simulated_status(pod, ip, host_ip, False, time.time()))
            self._handled[uid] = "running"
            if spec.get("restartPolicy", "Always") != "Always":
                loop = asyncio.get_running_loop()
                loop.call_later(self.run_seconds, self._queue.put_nowait, {**pod, "_finish": True})

    async def _write(self, pod: Obj, body: Obj) -> None:
        meta = pod["metadata"]
        patch = {"metadata": {"uid": meta["uid"]}, "status": body}
        await self.client.patch_status("v1", "pods", meta["name"], patch, meta["namespace"])

    def _allocate(self, node: str, uid: str) -> str:
        network = ipaddress.ip_network(self.nodes[node])
        n = self._next_ip[node]
        self._next_ip[node] = 2 + (n - 1) % (network.num_addresses - 3)
        ip = str(network.network_address + n)
        self._ips[uid] = ip
        return ip

    async def _delete(self, pod: Obj) -> None:
        meta = pod["metadata"]
        self._handled.pop(meta["uid"], None)
        self._ips.pop(meta["uid"], None)
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                "v1",
                "pods",
                meta["name"],
                meta["namespace"],
                grace_period_seconds=0,
                preconditions={"uid": meta["uid"]},
            )
