"""Service cluster IPs and node ports: who holds which, and handing out free ones.

Upstream keeps two bitmaps (the service CIDR and ``--service-node-port-range``)
and the Service REST layer allocates from them around the storage write.
We do the same in memory: at start the server rebuilds the maps from the
stored Services with ``mark_used``, and every create or update of a Service
goes through ``allocate_for_service`` before it is stored.

Both allocators split their range like upstream (KEP-3070, KEP-3668): a small
low "static" band is left for values users and the bootstrap pick by hand (the
``kubernetes`` Service takes the first address, kube-dns the tenth), and
``allocate_next`` hands out random free values from the upper band first, so
a fixed address is rarely taken by chance.

``allocate_for_service`` is all-or-nothing: when one value fails, what it
already took in that call is given back. If a later step of the write fails,
``rollback_for_service(new, old, ...)`` restores the maps to match ``old``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
from typing import Any

from tinykube.api import errors
from tinykube.api.errors import FieldError, invalid

__all__ = [
    "AllocationError",
    "ClusterIPAllocator",
    "NodePortAllocator",
    "allocate_for_service",
    "first_ip",
    "mark_service_used",
    "nth_ip",
    "release_for_service",
    "rollback_for_service",
]

DEFAULT_NODE_PORT_RANGE = "30000-32767"
IP_ALREADY_ALLOCATED = "provided IP is already allocated"
PORT_ALREADY_ALLOCATED = "provided port is already allocated"
RANGE_FULL = "range is full"


class AllocationError(Exception):
    """A specific value could not be taken; ``str()`` is upstream's message."""


class _Bitmap:
    """Offsets 0..size-1, each free or used, with random next-free picking."""

    def __init__(self, size: int, static_band: int, rng: random.Random | None) -> None:
        self.size = size
        self.static_band = min(static_band, size)
        self.used: set[int] = set()
        self.rng = rng or random.Random()

    def take(self, offset: int) -> bool:
        if offset in self.used:
            return False
        self.used.add(offset)
        return True

    def next_free(self) -> int | None:
        upper = self._scan(self.static_band, self.size)
        return upper if upper is not None else self._scan(0, self.static_band)

    def _scan(self, lo: int, hi: int) -> int | None:
        if hi <= lo:
            return None
        start = self.rng.randrange(lo, hi)
        for i in range(hi - lo):
            offset = lo + (start - lo + i) % (hi - lo)
            if offset not in self.used:
                self.used.add(offset)
                return offset
        return None


class ClusterIPAllocator:
    """Addresses of one service CIDR, e.g. ``10.96.0.0/12``."""

    def __init__(self, cidr: str, rng: random.Random | None = None) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(self.network)
        # The network address (and the broadcast address for IPv4) is never handed out.
        reserved = 2 if self.network.version == 4 and self.network.num_addresses > 2 else 1
        size = max(self.network.num_addresses - reserved, 0)
        self._base = int(self.network.network_address) + 1
        self._map = _Bitmap(size, min(max(16, size // 16), 256), rng)

    def _offset(self, ip: str) -> int:
        try:
            value = int(ipaddress.ip_address(ip))
        except ValueError as exc:
            raise AllocationError(f"failed to parse IP {ip!r}") from exc
        offset = value - self._base
        if not 0 <= offset < self._map.size:
            raise AllocationError(
                f"the provided IP ({ip}) is not in the valid range. "
                f"The range of valid IPs is {self.cidr}"
            )
        return offset

    def allocate(self, ip: str) -> None:
        """Take ``ip``; raises AllocationError when out of range or already taken."""
        if not self._map.take(self._offset(ip)):
            raise AllocationError(IP_ALREADY_ALLOCATED)

    def allocate_next(self) -> str:
        offset = self._map.next_free()
        if offset is None:
            raise AllocationError(RANGE_FULL)
        return str(ipaddress.ip_address(self._base + offset))

    def release(self, ip: str) -> None:
        with contextlib.suppress(AllocationError):
            self._map.used.discard(self._offset(ip))

    def mark_used(self, ip: str) -> None:
        """Record an address found in storage; out-of-range values are ignored."""
        with contextlib.suppress(AllocationError):
            self._map.take(self._offset(ip))

    def is_allocated(self, ip: str) -> bool:
        try:
            return self._offset(ip) in self._map.used
        except AllocationError:
            return False

    def free(self) -> int:
        return self._map.size - len(self._map.used)


class NodePortAllocator:
    """Ports of ``--service-node-port-range``, ``30000-32767`` by default."""

    def __init__(
        self, port_range: str = DEFAULT_NODE_PORT_RANGE, rng: random.Random | None = None
    ) -> None:
        lo, _, hi = port_range.partition("-")
        self.base = int(lo)
        last = int(hi) if hi else self.base
        if last < self.base:
            raise ValueError(f"invalid port range {port_range!r}")
        self.range = f"{self.base}-{last}"
        size = last - self.base + 1
        self._map = _Bitmap(size, min(max(16, size // 32), 128), rng)

    def _offset(self, port: int) -> int:
        offset = port - self.base
        if not 0 <= offset < self._map.size:
            raise AllocationError(
                f"provided port is not in the valid range. The range of valid ports is {self.range}"
            )
        return offset

    def allocate(self, port: int) -> None:
        if not self._map.take(self._offset(port)):
            raise AllocationError(PORT_ALREADY_ALLOCATED)

    def allocate_next(self) -> int:
        offset = self._map.next_free()
        if offset is None:
            raise AllocationError(RANGE_FULL)
        return self.base + offset

    def release(self, port: int) -> None:
        with contextlib.suppress(AllocationError):
            self._map.used.discard(self._offset(port))

    def mark_used(self, port: int) -> None:
        with contextlib.suppress(AllocationError):
            self._map.take(self._offset(port))

    def is_allocated(self, port: int) -> bool:
        try:
            return self._offset(port) in self._map.used
        except AllocationError:
            return False

    def free(self) -> int:
        return self._map.size - len(self._map.used)


def nth_ip(cidr: str, n: int) -> str:
    """The ``n``-th address of ``cidr`` (1 is the first usable one)."""
    network = ipaddress.ip_network(cidr, strict=False)
    return str(network.network_address + n)


def first_ip(cidr: str) -> str:
    """The ``kubernetes`` Service's address: ``first_ip("10.96.0.0/12") == "10.96.0.1"``."""
    return nth_ip(cidr, 1)


# ---- per-Service allocation ----------------------------------------------------------


def allocate_for_service(
    svc: dict[str, Any],
    old: dict[str, Any] | None,
    ips: ClusterIPAllocator,
    ports: NodePortAllocator,
) -> list[FieldError]:
    """Fill ``spec.clusterIP(s)``, node ports and the health-check port of ``svc``.

    Explicit values are checked (range, already taken) and reported as field
    errors; on update the values ``old`` holds are kept and those it held but
    ``svc`` no longer does are released. Nothing is kept when an error is
    returned or raised (a full range raises InternalError, a 500 as upstream).
    """
    spec = svc.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    taken = _Taken()
    try:
        errs = _allocate_ips(spec, old_spec, ips, taken)
        errs = errs or _allocate_node_ports(spec, old_spec, ports, taken)
        errs = errs or _allocate_health_check(spec, old_spec, ports, taken)
    except errors.APIError:
        taken.undo(ips, ports)
        raise
    if errs:
        taken.undo(ips, ports)
        return errs
    if old is not None:
        for ip in _held_ips(old_spec) - _held_ips(spec):
            ips.release(ip)
        for port in _held_ports(old_spec) - _held_ports(spec):
            ports.release(port)
    return []


def release_for_service(
    svc: dict[str, Any], ips: ClusterIPAllocator, ports: NodePortAllocator
) -> None:
    """Give back everything a deleted (or never stored) Service held."""
    spec = svc.get("spec") or {}
    for ip in _held_ips(spec):
        ips.release(ip)
    for port in _held_ports(spec):
        ports.release(port)


def mark_service_used(
    svc: dict[str, Any], ips: ClusterIPAllocator, ports: NodePortAllocator
) -> None:
    """Record what a stored Service holds; the server calls this for each one at start."""
    spec = svc.get("spec") or {}
    for ip in _held_ips(spec):
        ips.mark_used(ip)
    for port in _held_ports(spec):
        ports.mark_used(port)


def rollback_for_service(
    svc: dict[str, Any],
    old: dict[str, Any] | None,
    ips: ClusterIPAllocator,
    ports: NodePortAllocator,
) -> None:
    """Undo ``allocate_for_service(svc, old, ...)`` after a later step of the write failed."""
    spec, old_spec = svc.get("spec") or {}, (old or {}).get("spec") or {}
    for ip in _held_ips(spec) - _held_ips(old_spec):
        ips.release(ip)
    for port in _held_ports(spec) - _held_ports(old_spec):
        ports.release(port)
    for ip in _held_ips(old_spec):
        ips.mark_used(ip)
    for port in _held_ports(old_spec):
        ports.mark_used(port)


class _Taken:
    """What one ``allocate_for_service`` call took, so a failure can give it back."""

    def __init__(self) -> None:
        self.ips: list[str] = []
        self.ports: list[int] = []

    def undo(self, ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
        for ip in self.ips:
            ips.release(ip)
        for port in self.ports:
            ports.release(port)


def _held_ips(spec: dict[str, Any]) -> set[str]:
    values = [*list(spec.get("clusterIPs") or []), spec.get("clusterIP")]
    return {v for v in values if v and v != "None"}


def _held_ports(spec: dict[str, Any]) -> set[int]:
    values = [p.get("nodePort") for p in spec.get("ports") or [] if isinstance(p, dict)]
    values.append(spec.get("healthCheckNodePort"))
    return {v for v in values if isinstance(v, int) and v > 0}


def _allocate_ips(
    spec: dict[str, Any], old_spec: dict[str, Any], ips: ClusterIPAllocator, taken: _Taken
) -> list[FieldError]:
    if spec.get("type") == "ExternalName":
        for name in ("clusterIP", "clusterIPs"):
            spec.pop(name, None)
        return []
    requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [""])[0]
    if requested == "None":
        spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
        return []
    old_ip = "" if old_spec.get("type") == "ExternalName" else old_spec.get("clusterIP") or ""
    if old_ip and old_ip != "None" and requested in ("", old_ip):
        spec["clusterIP"], spec["clusterIPs"] = old_ip, [old_ip]
        return []
    if requested:
        try:
            ips.allocate(requested)
        except AllocationError as exc:
            detail = f"failed to allocate IP {requested}: {exc}"
            return [FieldError("spec.clusterIPs", "Invalid value", f'["{requested}"]: {detail}')]
        ip = requested
    else:
        try:
            ip = ips.allocate_next()
        except AllocationError as exc:
            raise errors.InternalError(
                f"Internal error occurred: failed to allocate a serviceIP: {exc}"
            ) from exc
    taken.ips.append(ip)
    spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
    return []


def _allocate_node_ports(
    spec: dict[str, Any], old_spec: dict[str, Any], ports: NodePortAllocator, taken: _Taken
) -> list[FieldError]:
    kind = spec.get("type")
    if kind not in ("NodePort", "LoadBalancer"):
        return []
    dynamic = kind == "NodePort" or spec.get("allocateLoadBalancerNodePorts") is not False
    old_held = (
        _held_ports(old_spec) if old_spec.get("type") in ("NodePort", "LoadBalancer") else set()
    )
    held: set[int] = set()
    by_port: dict[Any, int] = {}
    for i, port in enumerate(spec.get("ports") or []):
        node_port = port.get("nodePort")
        if node_port:
            if node_port not in old_held and node_port not in held:
                try:
                    ports.allocate(node_port)
                except AllocationError as exc:
                    return [invalid(f"spec.ports[{i}].nodePort", node_port, str(exc))]
                taken.ports.append(node_port)
        elif dynamic:
            node_port = by_port.get(port.get("port")) or _next_port(ports, taken)
            port["nodePort"] = node_port
        else:
            continue
        held.add(node_port)
        by_port.setdefault(port.get("port"), node_port)
    return []


def _next_port(ports: NodePortAllocator, taken: _Taken) -> int:
    try:
        port = ports.allocate_next()
    except AllocationError as exc:
        raise errors.InternalError(
            f"Internal error occurred: failed to allocate a nodePort: {exc}"
        ) from exc
    taken.ports.append(port)
    return port


def _allocate_health_check(
    spec: dict[str, Any], old_spec: dict[str, Any], ports: NodePortAllocator, taken: _Taken
) -> list[FieldError]:
    if spec.get("type") != "LoadBalancer" or spec.get("externalTrafficPolicy") != "Local":
        return []
    old_port = old_spec.get("healthCheckNodePort") or 0
    wanted = spec.get("healthCheckNodePort") or old_port
    if wanted and wanted == old_port:
        spec["healthCheckNodePort"] = wanted
        return []
    if not wanted:
        spec["healthCheckNodePort"] = _next_port(ports, taken)
        return []
    try:
        ports.allocate(wanted)
    except AllocationError as exc:
        detail = f"failed to allocate requested HealthCheck NodePort {wanted}: {exc}"
        return [invalid("spec.healthCheckNodePort", wanted, detail)]
    taken.ports.append(wanted)
    return []
