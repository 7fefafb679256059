"""The host interface that makes Service addresses local: ``tk-svc``, a dummy link.

kube-proxy's IPVS mode binds every ClusterIP to the dummy interface
``kube-ipvs0`` so that the kernel treats them as local addresses; this proxy
does the same, for the same reason: a userspace proxier can only accept a
connection to an address the host owns. A dummy link (or, on kernels built
without the dummy driver, a bridge without ports) carries no traffic of its
own, and since each address is a /32 no route for the service range is
added, so nothing else on the host changes.

Traffic from the host reaches the addresses directly. Traffic from a pod
follows the pod's default route to the bridge gateway (the kubelet's
``tk0`` setup gives every pod ``default via <gateway>``), arrives on the
host and is delivered locally, because the destination is a host address.

Loopback addresses (127.0.0.0/8: the unprivileged mode's service range and
load-balancer pool) need no interface at all; they are never added here.
The proxy removes its own addresses when it stops, and the link once no
address is left on it: several clusters on one host (tests, ``tinykube up``
twice) may share the link, and one stopping must not take the others'
Service addresses away. For the same reason a proxy does not flush the link
when it starts; addresses left by a proxy that was killed outright stay
until ``tinykube proxy --cleanup`` removes the link.

The other way round, another cluster's proxy (or its ``up`` cleaning up
after it) may take one of our addresses away, or the whole link: two
clusters can hand out the same load-balancer address, and the last proxy
to leave a link deletes it. So the link is compared with what it should
hold, not only with what this proxy last wrote: at most every
``VERIFY_SECONDS`` (the periodic sync comes every 30 s at the latest) the
addresses actually on it are read, and what is missing is added again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_INTERFACE = "tk-svc"
LINK_KINDS = ("dummy", "bridge")
VERIFY_SECONDS = 10.0


def needs_interface(ip: str) -> bool:
    """Only non-loopback addresses must be put on the dummy link to be bindable."""
    return bool(ip) and not ipaddress.ip_address(ip).is_loopback


def privileged() -> bool:
    return os.geteuid() == 0


async def _ip(*args: str, stdin: str | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "ip",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, out.decode(errors="replace")


class ServiceInterface:
    """Keeps the set of addresses on the dummy link equal to what the table needs."""

    def __init__(
        self, name: str = DEFAULT_INTERFACE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.clock = clock
        self._addresses: set[str] = set()
        self._created = False
        self._verified = -VERIFY_SECONDS

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset(self._addresses)

    async def ensure(self, wanted: set[str]) -> None:
        """Add missing addresses and delete the ones no frontend uses any more."""
        wanted = {ip for ip in wanted if needs_interface(ip)}
        if wanted and not self._created:
            await self._create()
        if wanted and self.clock() - self._verified >= VERIFY_SECONDS:
            await self._verify()
        add, remove = wanted - self._addresses, self._addresses - wanted
        lines = [f"address add {_cidr(ip)} dev {self.name}" for ip in sorted(add)]
        lines += [f"address del {_cidr(ip)} dev {self.name}" for ip in sorted(remove)]
        if lines:
            code, out = await _ip("-force", "-batch", "-", stdin="\n".join(lines) + "\n")
            if code != 0 and "File exists" not in out:
                log.warning(
                    "component=kube-proxy interface=%s ip batch: %s", self.name, out.strip()
                )
        self._addresses = wanted

    async def _verify(self) -> None:
        """Forget the addresses someone else took off the link, so they are added again."""
        present = await self._present()
        if present is None:  # the link itself is gone
            log.warning("component=kube-proxy interface=%s disappeared; recreating", self.name)
            await self._create()
            present = set()
        lost = self._addresses - present
        if lost:
            log.warning(
                "component=kube-proxy interface=%s lost %s; adding again",
                self.name,
                ",".join(sorted(lost)),
            )
        self._addresses &= present
        self._verified = self.clock()

    async def _present(self) -> set[str] | None:
        code, out = await _ip("-o", "address", "show", "dev", self.name, "scope", "global")
        if code != 0:
            return None
        found = set()
        for line in out.splitlines():
            words = line.split()
            if len(words) > 3 and words[2] in ("inet", "inet6"):
                found.add(str(ipaddress.ip_interface(words[3]).ip))
        return found

    async def _create(self) -> None:
        code, _ = await _ip("link", "show", self.name)
        if code != 0:
            await self._add_link()
        await _ip("link", "set", self.name, "up")
        self._created = True
        log.info("component=kube-proxy interface=%s ready", self.name)

    async def _add_link(self) -> None:
        # Some kernels are built without the dummy driver; a bridge with no ports
        # is as inert (no carrier, no traffic of its own) and holds local addresses
        # just the same.
        out = ""
        for kind in LINK_KINDS:
            code, out = await _ip("link", "add", self.name, "type", kind)
            if code == 0:
                log.info("component=kube-proxy interface=%s type=%s created", self.name, kind)
                return
        raise OSError(f"cannot create interface {self.name}: {out.strip()}")

    async def release(self) -> None:
        """On exit: delete this proxy's addresses, and the link once nobody else has any."""
        await self.ensure(set())
        code, out = await _ip("-o", "address", "show", "dev", self.name, "scope", "global")
        if code == 0 and not out.strip():
            await _ip("link", "del", self.name)
            log.info("component=kube-proxy interface=%s removed", self.name)
        self._created = False

    async def cleanup(self) -> None:
        """``--cleanup``: remove the link and every address on it, whoever added them."""
        code, _ = await _ip("link", "show", self.name)
        if code == 0:
            await _ip("link", "del", self.name)
            log.info("component=kube-proxy interface=%s removed", self.name)
        self._addresses.clear()
        self._created = False


def _cidr(ip: str) -> str:
    return f"{ip}/128" if ":" in ip else f"{ip}/32"


async def release_range(cidr: str, link: str = DEFAULT_INTERFACE) -> int:
    """Take every address of ``cidr`` off the link, and the link once it is empty.

    A kube-proxy stopped without its grace period (a node going down at once)
    cannot remove its addresses itself; whoever stops the node calls this for
    that cluster's service range. Other clusters' addresses on a shared link
    stay. Returns how many addresses were removed."""
    network = ipaddress.ip_network(cidr, strict=False)
    code, out = await _ip("-o", "address", "show", "dev", link, "scope", "global")
    if code != 0:
        return 0
    mine, others = [], 0
    for line in out.splitlines():
        words = line.split()
        if len(words) > 3 and words[2] in ("inet", "inet6"):
            if ipaddress.ip_interface(words[3]).ip in network:
                mine.append(f"address del {words[3]} dev {link}")
            else:
                others += 1
    if mine:
        await _ip("-force", "-batch", "-", stdin="\n".join(mine) + "\n")
    if not others:
        await _ip("link", "del", link)
    return len(mine)
