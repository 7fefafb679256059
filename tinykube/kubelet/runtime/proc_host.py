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
import weakref
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
    """Hands out host addresses of a subnet, skipping the reserved ones.

    As the host-local CNI plugin does, the search starts after the address
    handed out last and wraps around, so a released address is reused last:
    a pod's replacement does not inherit the address of a pod still being
    torn down, nor the bridge's stale neighbour entry for it.
    """

    def __init__(self, cidr: str, reserved: int = 1) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._reserved = reserved
        self._used: set[str] = set()
        self._hosts = [str(ip) for n, ip in enumerate(self.network.hosts()) if n >= reserved]
        self._last = -1  # index in _hosts of the address handed out last

    def allocate(self) -> str:
        count = len(self._hosts)
        for step in range(1, count + 1):
            i = (self._last + step) % count
            if self._hosts[i] not in self._used:
                self._used.add(self._hosts[i])
                self._last = i
                return self._hosts[i]
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

    async def add_pod(self, sandbox_id: str) -> None:
        """The host side: the pod's namespace, its veth pair, one end on the bridge.

        Pods that start together share one ``ip -batch`` (``host_batch``): on a
        busy node, pod start-up is dominated by starting processes.
        """
        ns, veth = netns_name(sandbox_id), veth_name(sandbox_id)
        await host_batch().run(
            [
                f"netns add {ns}",
                f"link add {veth} type veth peer name eth0 netns {ns}",
                f"link set {veth} master {BRIDGE} up",
            ]
        )

    def pod_side(self, ip: str) -> bytes:
        """The ``ip -batch`` input that sets the network up inside the pod's namespace.

        The pause process runs it (it starts there anyway), rather than one more
        ``ip -n <ns>`` from the kubelet.
        """
        return (
            f"addr add {ip}/{self.prefix} dev eth0\n"
            "link set eth0 up\n"
            "link set lo up\n"
            f"route add default via {self.gateway}\n"
        ).encode()

    @staticmethod
    async def remove_pod(sandbox_id: str) -> None:
        """Remove the veth pair and the namespace; what is already gone is no error."""
        await host_batch().run(
            [f"link del {veth_name(sandbox_id)}", f"netns del {netns_name(sandbox_id)}"],
            check=False,
        )


class IpBatch:
    """Host-side ``ip`` commands of pods that arrive together, run as one ``ip -batch``.

    The first caller leads: it yields once, so that every pod started in the
    same turn of the event loop joins, then runs batches until none is left
    (pods that arrive meanwhile join the next). ``-force`` runs every command
    even after one failed; ip names the failed lines ("Command failed -:N"),
    and only the pods those lines belong to get the error.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[list[str], bool, asyncio.Future[None]]] = []
        self._leading = False

    async def run(self, commands: list[str], check: bool = True) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((commands, check, future))
        if not self._leading:
            self._leading = True
            try:
                await asyncio.sleep(0)
                while self._pending:
                    batch, self._pending = self._pending, []
                    await _run_batch(batch)
            finally:
                self._leading = False
                _fail(self._pending, "interrupted")  # only when the leader was cancelled
                self._pending = []
        await future


Batch = list[tuple[list[str], bool, asyncio.Future[None]]]


async def _run_batch(batch: Batch) -> None:
    try:
        text = "".join(line + "\n" for commands, _, _ in batch for line in commands)
        proc = await proc_spawn.spawn(
            "ip",
            "-force",
            "-batch",
            "-",
            stdin=proc_spawn.PIPE,
            stdout=proc_spawn.DEVNULL,
            stderr=proc_spawn.PIPE,
        )
        _, err = await proc.communicate(text.encode())
    except BaseException as exc:
        _fail(batch, f"ip -batch: {exc}")
        raise
    failed = _failed_lines(err.decode(errors="replace"))
    if proc.returncode and not failed:
        lines = sum(len(commands) for commands, _, _ in batch)
        failed = dict.fromkeys(range(1, lines + 1), err.decode(errors="replace").strip())
    first = 1
    for commands, check, future in batch:
        errors = [failed[n] for n in range(first, first + len(commands)) if n in failed]
        first += len(commands)
        if errors and check:
            message = "ip: " + "; ".join(errors)
            future.set_exception(RuntimeError_(message, reason="CreatePodSandboxError"))
        else:
            future.set_result(None)


def _failed_lines(stderr: str) -> dict[int, str]:
    """ip's "<message>... Command failed -:<line>" records, by line number."""
    failed: dict[int, str] = {}
    messages: list[str] = []
    for line in stderr.splitlines():
        head, _, number = line.rpartition(":")
        if head == "Command failed -" and number.isdigit():
            failed[int(number)] = " ".join(messages) or "failed"
            messages = []
        elif line.strip():
            messages.append(line.strip())
    return failed


def _fail(batch: Batch, message: str) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(RuntimeError_(message, reason="CreatePodSandboxError"))


# One per event loop: every runtime on it shares the host's network, and a batch's
# futures belong to the loop that made them.
_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IpBatch] = (
    weakref.WeakKeyDictionary()
)


def host_batch() -> IpBatch:
    return _BATCHES.setdefault(asyncio.get_running_loop(), IpBatch())


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
            "--map-root-user",
            "--mount",
            "true",
            stdout=proc_spawn.DEVNULL,
            stderr=proc_spawn.DEVNULL,
        )
    except FileNotFoundError:
        return False
    return await proc.wait() == 0
