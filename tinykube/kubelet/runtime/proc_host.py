"""Host plumbing for the process runtime: commands, pod networks and cgroups.

Python 3.11 cannot enter or create namespaces itself (``os.unshare`` arrived
in 3.12), so everything goes through ``ip``, ``unshare`` and ``nsenter``, run
with ``asyncio.create_subprocess_exec``. Cgroup files are plain writes, done
in a thread.

Networking (root only) follows what a CNI bridge plugin does: one Linux
bridge ``tk0`` in the host namespace holds the node's gateway address (the
first address of the pod CIDR), so the host reaches every pod; each pod gets
a network namespace ``tk-<sandbox>`` whose ``eth0`` is one end of a veth pair,
the other end (``tkv<sandbox>``) enslaved to the bridge. Several kubelets on
one host share the bridge, each adding its own gateway address; the last one
to leave deletes it.

Cgroups: v1 (separate ``memory`` and ``cpu`` hierarchies, as on the project's
machines) or v2 (one unified tree, when ``/sys/fs/cgroup/cgroup.controllers``
exists). Each container gets ``tinykube/<node>/pod<uid>/<container>`` with
``memory.limit_in_bytes``/``memory.max`` and the CFS quota for its CPU limit;
the OOM-kill counter of that cgroup tells an OOM kill from any other SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from tinykube.kubelet.runtime.interface import Resources, RuntimeError_

log = logging.getLogger(__name__)

BRIDGE = "tk0"
CGROUP_ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


async def run(*argv: str, check: bool = True, stdin: bytes | None = None) -> str:
    """Run a host command; its stdout, or RuntimeError_ with its stderr when it fails."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin)
    if check and proc.returncode != 0:
        raise RuntimeError_(
            f"{' '.join(argv)}: {err.decode(errors='replace').strip()}",
            reason="CreatePodSandboxError",
        )
    return out.decode(errors="replace")


# ---- pod networks ---------------------------------------------------------------


class IPAllocator:
    """Hands out host addresses of a subnet, skipping the reserved ones."""

    def __init__(self, cidr: str, reserved: int = 1) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._reserved = reserved
        self._used: set[str] = set()

    def allocate(self) -> str:
        for n, ip in enumerate(self.network.hosts()):
            if n >= self._reserved and str(ip) not in self._used:
                self._used.add(str(ip))
                return str(ip)
        raise RuntimeError_(f"no free address left in {self.network}", "CreatePodSandboxError")

    def claim(self, ip: str) -> None:
        self._used.add(ip)

    def release(self, ip: str) -> None:
        self._used.discard(ip)


def rootless_cidr(pod_cidr: str) -> str:
    """The loopback /24 standing in for a pod CIDR: 10.244.1.0/24 -> 127.244.1.0/24."""
    net = ipaddress.ip_network(pod_cidr, strict=False)
    octets = str(net.network_address).split(".")
    return f"127.{octets[1]}.{octets[2]}.0/24"


def netns_name(sandbox_id: str) -> str:
    return f"tk-{sandbox_id[:12]}"


def veth_name(sandbox_id: str) -> str:
    return f"tkv{sandbox_id[:8]}"


class BridgeNetwork:
    """The node's share of the ``tk0`` bridge and the pod namespaces hanging off it.

    The gateway address is removed again only by the runtime that added it
    (``state_file`` records that, so a crashed runtime's address is removed
    by the next one on the same root directory): another kubelet on this host
    may be using the same bridge, even the same address.
    """

    def __init__(self, pod_cidr: str, state_file: Path) -> None:
        self.network = ipaddress.ip_network(pod_cidr, strict=False)
        self.gateway = str(next(self.network.hosts()))
        self.prefix = self.network.prefixlen
        self.state_file = state_file

    @property
    def address(self) -> str:
        return f"{self.gateway}/{self.prefix}"

    async def setup(self) -> None:
        if not await _link_exists(BRIDGE):
            await run("ip", "link", "add", BRIDGE, "type", "bridge")
        addrs = await run("ip", "-o", "addr", "show", "dev", BRIDGE)
        if f" {self.address} " not in addrs:
            await run("ip", "addr", "add", self.address, "dev", BRIDGE)
            await asyncio.to_thread(self.state_file.write_text, self.address)
        await run("ip", "link", "set", BRIDGE, "up")

    async def teardown(self) -> None:
        await self.remove_recorded(self.state_file)

    @staticmethod
    async def remove_recorded(state_file: Path) -> None:
        """Remove the address ``state_file`` says we added; the bridge too once unused."""
        try:
            address = (await asyncio.to_thread(state_file.read_text)).strip()
        except OSError:
            return
        await run("ip", "addr", "del", address, "dev", BRIDGE, check=False)
        await asyncio.to_thread(state_file.unlink, True)
        ports = await run("ip", "-o", "link", "show", "master", BRIDGE, check=False)
        addrs = await run("ip", "-o", "-4", "addr", "show", "dev", BRIDGE, check=False)
        if not ports.strip() and not addrs.strip():
            await run("ip", "link", "del", BRIDGE, check=False)

    async def add_pod(self, sandbox_id: str, ip: str) -> None:
        ns, veth = netns_name(sandbox_id), veth_name(sandbox_id)
        # Two ``ip -batch`` runs (host side, then inside the namespace) instead of seven
        # processes: pod start-up is dominated by process spawns on a busy node.
        host_side = (
            f"netns add {ns}\n"
            f"link add {veth} type veth peer name eth0 netns {ns}\n"
            f"link set {veth} master {BRIDGE} up\n"
        )
        await run("ip", "-batch", "-", stdin=host_side.encode())
        pod_side = (
            f"addr add {ip}/{self.prefix} dev eth0\n"
            "link set eth0 up\n"
            "link set lo up\n"
            f"route add default via {self.gateway}\n"
        )
        await run("ip", "-n", ns, "-batch", "-", stdin=pod_side.encode())

    @staticmethod
    async def remove_pod(sandbox_id: str) -> None:
        await run("ip", "link", "del", veth_name(sandbox_id), check=False)
        await run("ip", "netns", "del", netns_name(sandbox_id), check=False)


async def _link_exists(name: str) -> bool:
    out = await run("ip", "-o", "link", "show", name, check=False)
    return bool(out.strip())


# ---- cgroups -----------------------------------------------------------------------


def cgroup_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


@dataclass
class Cgroup:
    """One container's cgroup: a directory per hierarchy (v1) or one directory (v2)."""

    dirs: list[Path] = field(default_factory=list)
    v2: bool = False

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in this cgroup."""
        for d in self.dirs:
            name = "memory.events" if self.v2 else "memory.oom_control"
            path = d / name
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in path.read_text().split())
        return sorted(found)


class CgroupManager:
    """Creates and removes the per-container cgroups of one node."""

    def __init__(self, node_name: str, instance: str = "") -> None:
        self.v2 = cgroup_v2()
        # ``instance`` (derived from the kubelet's root directory) keeps two kubelets
        # that share a node name on one host (test clusters, a re-made data dir) from
        # ever removing each other's cgroups and the processes in them.
        self.base = Path("tinykube") / (f"{node_name}-{instance}" if instance else node_name)

    def _roots(self) -> list[Path]:
        if self.v2:
            return [CGROUP_ROOT]
        return [CGROUP_ROOT / "memory", CGROUP_ROOT / "cpu"]

    def create(self, pod_uid: str, container_id: str, resources: Resources) -> Cgroup:
        """Create the cgroup and write its limits (blocking: call in a thread)."""
        rel = self.base / f"pod{pod_uid}" / container_id[:12]
        group = Cgroup(v2=self.v2)
        for root in self._roots():
            path = root / rel
            if self.v2:
                _enable_v2_controllers(root, rel)
            path.mkdir(parents=True, exist_ok=True)
            group.dirs.append(path)
        self._write_limits(group, resources)
        return group

    def _write_limits(self, group: Cgroup, resources: Resources) -> None:
        for d in group.dirs:
            if resources.memory_bytes is not None:
                name = "memory.max" if self.v2 else "memory.limit_in_bytes"
                if (d / name).exists():
                    (d / name).write_text(str(resources.memory_bytes))
                    _disable_swap(d, self.v2)
            if resources.cpu_millis is not None:
                quota = max(1000, resources.cpu_millis * CFS_PERIOD_US // 1000)
                if self.v2 and (d / "cpu.max").exists():
                    (d / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
                elif (d / "cpu.cfs_quota_us").exists():
                    (d / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                    (d / "cpu.cfs_quota_us").write_text(str(quota))

    def remove(self, group: Cgroup) -> None:
        """Kill what is left in the cgroup and remove it, with its empty pod parent."""
        for pid in group.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        for d in group.dirs:
            _rmdir_retry(d)
            with contextlib.suppress(OSError):
                d.parent.rmdir()

    def remove_all(self) -> None:
        """Remove this node's whole subtree (bottom-up), then empty parents."""
        for root in self._roots():
            top = root / self.base
            if not top.exists():
                continue
            for d in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if d.is_dir():
                    _kill_procs(d)
                    _rmdir_retry(d)
            _rmdir_retry(top)
            with contextlib.suppress(OSError):
                top.parent.rmdir()


def _disable_swap(d: Path, v2: bool) -> None:
    name = "memory.swap.max" if v2 else "memory.memsw.limit_in_bytes"
    with contextlib.suppress(OSError):
        if (d / name).exists() and v2:
            (d / name).write_text("0")
    if not v2:
        with contextlib.suppress(OSError):
            (d / "memory.swappiness").write_text("0")


def _enable_v2_controllers(root: Path, rel: Path) -> None:
    current = root
    for part in rel.parts:
        with contextlib.suppress(OSError):
            (current / "cgroup.subtree_control").write_text("+memory +cpu")
        current = current / part
        current.mkdir(exist_ok=True)


def _kill_procs(d: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (d / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)


def _rmdir_retry(d: Path) -> None:
    import time

    for _ in range(50):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            # Killed processes take a moment to leave the cgroup.
            time.sleep(0.02)
    log.warning("cgroup=%s could not be removed", d)


# ---- processes ---------------------------------------------------------------------


def workload_pid(shim: int, pid_file: Path) -> int:
    """The host pid of the child of ``shim`` whose in-container pid ``pid_file`` holds."""
    if not shim:
        return 0
    try:
        ns_pid = pid_file.read_text().strip()
        children = Path(f"/proc/{shim}/task/{shim}/children").read_text().split()
    except OSError:
        return 0
    for child in children:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:") and line.split()[-1] == ns_pid:
                return int(child)
    return 0


async def comm(pid: int) -> str:
    try:
        text = await asyncio.to_thread(Path(f"/proc/{pid}/comm").read_text)
    except OSError:
        return ""
    return text.strip()


async def userns_works() -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(
            "unshare",
            "--user",
            "--map-current-user",
            "--mount",
            "true",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return False
    return await proc.wait() == 0
