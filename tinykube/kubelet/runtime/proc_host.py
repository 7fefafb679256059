"""Host plumbing for the process runtime: commands, pod networks, processes.

Python 3.11 cannot enter or create namespaces itself (``os.unshare`` arrived
in 3.12), so everything goes through ``ip``, ``unshare`` and ``nsenter``, run
through ``proc_spawn`` (``vfork``, not uvloop's costly ``fork``).

Networking (root only) follows what a CNI bridge plugin does: one Linux
bridge ``tk0`` in the host namespace holds the node's gateway address (the
first address of the pod CIDR), so the host reaches every pod; each pod gets
a network namespace ``tk-<sandbox>`` whose ``eth0`` is one end of a veth pair,
the other end (``tkv<sandbox>``) enslaved to the bridge. Several kubelets on
one host share the bridge, each adding its own gateway address; the last one
to leave deletes it.

Cgroups are in ``proc_cgroups``, the start of processes in ``proc_spawn``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from pathlib import Path

from tinykube.kubelet.runtime import proc_spawn
from tinykube.kubelet.runtime.interface import RuntimeError_

log = logging.getLogger(__name__)

BRIDGE = "tk0"
CGROUP_ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


async def run(*argv: str, check: bool = True, stdin: bytes | None = None) -> str:
    """Run a host command; its stdout, or RuntimeError_ with its stderr when it fails."""
    proc = await proc_spawn.spawn(
        *argv,
        stdin=proc_spawn.DEVNULL if stdin is None else proc_spawn.PIPE,
        stdout=proc_spawn.PIPE,
        stderr=proc_spawn.PIPE,
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


# procfs reads never wait for a disk: these run on the event loop, without a thread hop.


def children(pid: int) -> list[int] | None:
    """The pids of ``pid``'s children; None once it is gone."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return None


def comm(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return ""
    return text.strip()


async def userns_works() -> bool:
    try:
        proc = await proc_spawn.spawn(
            "unshare",
            "--user",
            "--map-current-user",
            "--mount",
            "true",
            stdout=proc_spawn.DEVNULL,
            stderr=proc_spawn.DEVNULL,
        )
    except FileNotFoundError:
        return False
    return await proc.wait() == 0
