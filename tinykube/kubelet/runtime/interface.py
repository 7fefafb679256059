"""The container runtime interface the kubelet drives, shaped like the CRI.

Kubernetes' kubelet never starts a process itself: it asks a runtime (through
the CRI gRPC API) for a *pod sandbox* (the shared network, IPC and UTS
namespaces of one pod), then for containers inside that sandbox, and polls
their status. tinykube keeps the same split so that the kubelet core does not
care whether a container is a real process, a simulated one, or (later) a
containerd task. The kubelet imports only this module; a runtime is chosen by
name from the table in ``tinykube.kubelet.runtime``.

Everything here is data: the configs the kubelet hands in (already resolved:
env values, host paths of volumes, byte limits) and the statuses a runtime
hands back. Times are Unix seconds (floats); the kubelet renders them.

Errors a runtime raises are ``RuntimeError_`` subclasses carrying the reason
the kubelet puts into a container's ``waiting`` state (``ErrImagePull``,
``CreateContainerError``, ...), so the status shown to users says what went
wrong in Kubernetes' words.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class ContainerState(enum.StrEnum):
    CREATED = "Created"
    RUNNING = "Running"
    EXITED = "Exited"
    UNKNOWN = "Unknown"


class SandboxState(enum.StrEnum):
    READY = "Ready"
    NOT_READY = "NotReady"


class RuntimeError_(Exception):  # "RuntimeError" is a builtin
    """A runtime failure with the Kubernetes reason the kubelet reports for it."""

    reason = "CreateContainerError"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ImagePullError(RuntimeError_):
    reason = "ErrImagePull"


class NotFoundError(RuntimeError_):
    reason = "NotFound"


class ExecUnsupported(RuntimeError_):
    reason = "ExecUnsupported"


@dataclass
class Mount:
    """A host path made visible at ``container_path`` inside the container."""

    host_path: Path
    container_path: str
    read_only: bool = False


@dataclass
class Resources:
    """Enforced limits: bytes of memory and CPU in millicores (None: unlimited)."""

    memory_bytes: int | None = None
    cpu_millis: int | None = None


@dataclass
class PodSandboxConfig:
    """What a pod's shared environment needs: identity, network mode, hosts files."""

    uid: str
    namespace: str
    name: str
    hostname: str
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    # spec.shareProcessNamespace: one PID namespace for all the pod's containers.
    share_process_namespace: bool = False
    log_directory: Path | None = None
    # /etc/resolv.conf for every container (empty: the host's), and what /etc/hosts adds
    # to its own entry: the pod's DNS domain (subdomain pods) and spec.hostAliases.
    resolv_conf: str = ""
    domain: str = ""
    host_aliases: list[tuple[str, list[str]]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    # The pod-level cgroup, as the CRI's LinuxPodSandboxConfig gives a cgroup parent and
    # pod resources: the QoS class picks its parent (kubepods/, burstable/, besteffort/),
    # ``resources`` caps the whole pod (the sum of its containers' limits, with overhead).
    qos_class: str = ""
    resources: Resources = field(default_factory=Resources)
    # Simulated runtime only: how long a finite container "runs" before it exits 0.
    simulated_run_seconds: float | None = None


@dataclass
class ContainerConfig:
    """One container, fully resolved by the kubelet."""

    name: str
    image: str
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    env: list[tuple[str, str]] = field(default_factory=list)
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    log_path: Path | None = None
    resources: Resources = field(default_factory=Resources)
    attempt: int = 0
    tty: bool = False
    stdin: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    # An init container: it must end before the app containers start.
    init: bool = False
    # securityContext.runAsUser/runAsGroup (root only; the rootless mode cannot switch).
    run_as_user: int | None = None
    run_as_group: int | None = None
    # The CRI's TARGET PID namespace mode: the id of a running container of the same
    # sandbox whose processes this one sees and shares (an ephemeral container's
    # ``targetContainerName``). A runtime that cannot do that gives it its own.
    target_container_id: str = ""


@dataclass
class ImageInfo:
    """A resolved image: what to run and how Kubernetes shows it (``imageID``)."""

    ref: str
    image_id: str
    rootfs: Path | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    size_bytes: int = 0


@dataclass
class SandboxStatus:
    id: str
    uid: str
    namespace: str
    name: str
    state: SandboxState
    ip: str = ""
    created_at: float = 0.0
    netns: str = ""  # path of the pod's network namespace; "" when it uses the host's


@dataclass
class ContainerStatus:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: ContainerState
    image: str = ""
    image_id: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    log_path: Path | None = None
    pid: int = 0


@dataclass
class ContainerStats:
    """Cumulative CPU time and current memory working set (the CRI's ContainerStats)."""

    cpu_usage_ns: int
    memory_working_set_bytes: int
    timestamp: float


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False


@dataclass
class ExecProcess:
    """A process started by ``exec``: pipes, or with a TTY the terminal's master side."""

    process: asyncio.subprocess.Process
    pty_master: int | None = None


class Attachment(Protocol):
    """A client attached to a running container's own stdio (the CRI's ``Attach``).

    Output is live: what the container writes after ``attach`` returns, as
    ``(stream, bytes)`` pairs ("stdout"/"stderr"; a terminal's output is all
    "stdout"), then ``None`` once the container's output ended (it exited).
    Input goes to the process's stdin, which exists only for a container
    started with ``stdin`` or ``tty``; without one, writes are dropped, as
    containerd drops them. ``close_stdin`` closes the process's stdin for
    good (``stdinOnce``); ``close`` only ends this client's view.
    """

    tty: bool
    stdin: bool

    async def read(self) -> tuple[str, bytes] | None: ...

    async def write(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    def close(self) -> None: ...


@dataclass
class RuntimeOptions:
    """How the kubelet configures whichever runtime it picked from the table."""

    node_name: str
    root_dir: Path
    pod_cidr: str = "10.244.0.0/24"
    # Where images are unpacked: <image_dir>/<name>/rootfs (+ optional config.json).
    image_dir: Path | None = None
    # Force the unprivileged fallback (host network, no cgroups) even as root.
    rootless: bool = False
    # Simulated runtime: seconds a finite container "runs" (restartPolicy Never/OnFailure).
    simulated_run_seconds: float = 5.0


@dataclass
class RuntimeVersion:
    runtime_name: str
    runtime_version: str


class Runtime(Protocol):
    """The CRI-shaped operations the kubelet uses. All ids are opaque strings."""

    name: str
    # True for runtimes that start no processes: the kubelet labels everything it shows.
    simulated: bool

    async def version(self) -> RuntimeVersion: ...

    async def start(self) -> None:
        """Prepare host state (bridge, cgroup roots) and clean leftovers of a previous run."""

    async def close(self) -> None:
        """Stop every container and remove every sandbox this runtime created."""

    async def update_pod_cidr(self, cidr: str) -> bool:
        """Adopt the node's podCIDR (allocated after start); False if pods already use IPs."""
        ...

    async def pull_image(self, image: str, has_command: bool) -> ImageInfo: ...

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str: ...

    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus: ...

    async def list_pod_sandboxes(self) -> list[SandboxStatus]: ...

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, image: ImageInfo
    ) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        """SIGTERM, then SIGKILL once ``grace_period`` seconds passed; returns when it exited."""

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def container_stats(self, container_id: str) -> ContainerStats | None:
        """CPU and memory of a running container; None when the runtime cannot tell."""
        ...

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    def container_log_path(self, container_id: str) -> Path | None: ...

    async def exec_sync(
        self, container_id: str, cmd: list[str], time_limit: float
    ) -> ExecResult: ...

    async def exec(self, container_id: str, cmd: list[str], tty: bool) -> ExecProcess:
        """An interactive process in the container: pipes, or a terminal when ``tty``."""
        ...

    async def attach(self, container_id: str) -> Attachment:
        """The running container's stdio, from now on; ``RuntimeError_`` if it is not running."""
        ...
