"""A runtime that starts no processes: pods only *look* like they run (KWOK-like).

Used by ``tinykube simulated-nodes`` and ``tinykube kubelet --runtime simulated``
for scale work: thousands of pods cost a few hundred bytes each. A container
is Running as soon as it is started; a container of a finite workload (the
kubelet passes ``simulated_run_seconds`` for restartPolicy Never/OnFailure)
exits 0 that many seconds later, so Jobs complete. Every id and image id
starts with ``simulated://`` and the runtime name is ``simulated``, so nobody
mistakes these pods for real workloads. Exec succeeds without running
anything (probes pass); logs are a single line saying the pod is simulated.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import itertools
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tinykube.kubelet.runtime.interface import (
    Attachment,
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ExecProcess,
    ExecResult,
    ExecUnsupported,
    ImageInfo,
    NotFoundError,
    PodSandboxConfig,
    RuntimeOptions,
    RuntimeVersion,
    SandboxState,
    SandboxStatus,
)

SIMULATED_LOG_LINE = "tinykube: this container is simulated; no process runs\n"


@dataclass
class _Sandbox:
    status: SandboxStatus
    run_seconds: float | None


class SimulatedRuntime:
    """In-memory sandboxes and containers whose state is computed from the clock."""

    name = "simulated"
    simulated = True

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self._ids = itertools.count(1)
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, ContainerStatus] = {}
        self._init_ids: set[str] = set()
        network = ipaddress.ip_network(options.pod_cidr, strict=False)
        self._free_ips = (str(ip) for ip in itertools.islice(network.hosts(), 1, None))
        self._released: list[str] = []

    def _new_id(self, kind: str) -> str:
        seed = f"{self.options.node_name}/{kind}/{next(self._ids)}/{time.time_ns()}"
        return hashlib.sha256(seed.encode()).hexdigest()

    async def version(self) -> RuntimeVersion:
        return RuntimeVersion("simulated", "0.1.0")

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._containers.clear()
        self._sandboxes.clear()

    async def update_pod_cidr(self, cidr: str) -> bool:
        if any(s.status.ip for s in self._sandboxes.values()):
            return False
        network = ipaddress.ip_network(cidr, strict=False)
        self._free_ips = (str(ip) for ip in itertools.islice(network.hosts(), 1, None))
        self._released = []
        return True

    async def pull_image(self, image: str, has_command: bool) -> ImageInfo:
        digest = hashlib.sha256(image.encode()).hexdigest()
        return ImageInfo(ref=image, image_id=f"simulated://sha256:{digest}")

    # ---- sandboxes ----

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sandbox_id = self._new_id("sandbox")
        ip = self._released.pop() if self._released else next(self._free_ips, "")
        status = SandboxStatus(
            sandbox_id,
            config.uid,
            config.namespace,
            config.name,
            SandboxState.READY,
            ip=ip,
            created_at=time.time(),
        )
        self._sandboxes[sandbox_id] = _Sandbox(status, config.simulated_run_seconds)
        return sandbox_id

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFoundError(f"sandbox {sandbox_id} not found") from None

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandbox(sandbox_id)
        for status in list(self._containers.values()):
            if status.sandbox_id == sandbox_id:
                await self.stop_container(status.id, 0)
        sandbox.status.state = SandboxState.NOT_READY

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.pop(sandbox_id, None)
        if sandbox is None:
            return
        for status in list(self._containers.values()):
            if status.sandbox_id == sandbox_id:
                del self._containers[status.id]
                self._init_ids.discard(status.id)
        if sandbox.status.ip:
            self._released.append(sandbox.status.ip)

    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        return replace(self._sandbox(sandbox_id).status)

    async def list_pod_sandboxes(self) -> list[SandboxStatus]:
        return [replace(s.status) for s in self._sandboxes.values()]

    # ---- containers ----

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, image: ImageInfo
    ) -> str:
        self._sandbox(sandbox_id)
        container_id = self._new_id("container")
        if config.init:
            self._init_ids.add(container_id)
        self._containers[container_id] = ContainerStatus(
            id=container_id,
            sandbox_id=sandbox_id,
            name=config.name,
            attempt=config.attempt,
            state=ContainerState.CREATED,
            image=config.image,
            image_id=image.image_id,
            created_at=time.time(),
            log_path=config.log_path,
        )
        return container_id

    def _container(self, container_id: str) -> ContainerStatus:
        try:
            return self._containers[container_id]
        except KeyError:
            raise NotFoundError(f"container {container_id} not found") from None

    async def start_container(self, container_id: str) -> None:
        status = self._container(container_id)
        status.state = ContainerState.RUNNING
        status.started_at = time.time()
        if status.log_path is not None:
            await asyncio.to_thread(_write_log, status.log_path)

    def _advance(self, status: ContainerStatus) -> None:
        """A finite container whose run time has passed has exited successfully."""
        if status.state != ContainerState.RUNNING:
            return
        run_seconds = self._sandboxes[status.sandbox_id].run_seconds
        if status.id in self._init_ids:
            run_seconds = 0.0  # simulated init containers complete at once
        if run_seconds is not None and time.time() >= status.started_at + run_seconds:
            status.state = ContainerState.EXITED
            status.finished_at = status.started_at + run_seconds
            status.exit_code = 0
            status.reason = "Completed"

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        status = self._container(container_id)
        self._advance(status)
        if status.state in (ContainerState.RUNNING, ContainerState.CREATED):
            status.state = ContainerState.EXITED
            status.finished_at = time.time()
            status.exit_code = 0
            status.reason = "Completed"

    async def remove_container(self, container_id: str) -> None:
        self._containers.pop(container_id, None)
        self._init_ids.discard(container_id)

    async def container_status(self, container_id: str) -> ContainerStatus:
        status = self._container(container_id)
        self._advance(status)
        return replace(status)

    async def container_stats(self, container_id: str) -> None:
        return None  # simulated containers use no resources to measure

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        out = []
        for status in self._containers.values():
            if sandbox_id is None or status.sandbox_id == sandbox_id:
                self._advance(status)
                out.append(replace(status))
        return out

    def container_log_path(self, container_id: str) -> Path | None:
        status = self._containers.get(container_id)
        return status.log_path if status else None

    async def exec_sync(self, container_id: str, cmd: list[str], time_limit: float) -> ExecResult:
        self._container(container_id)
        return ExecResult(0)

    async def exec(self, container_id: str, cmd: list[str], tty: bool) -> ExecProcess:
        raise ExecUnsupported("exec is not possible in a simulated container")

    async def attach(self, container_id: str) -> Attachment:
        raise ExecUnsupported("attach is not possible in a simulated container")


def _write_log(path: Path) -> None:
    from datetime import UTC, datetime

    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with path.open("a") as f:
        f.write(f"{stamp} stdout F {SIMULATED_LOG_LINE}")
