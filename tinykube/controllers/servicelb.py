"""The built-in load-balancer controller: LoadBalancer Services get an address, locally.

Without a cloud, a LoadBalancer Service stays ``<pending>`` forever
upstream; k3s's ServiceLB and MetalLB fill that gap, and so does this
controller. It watches Services and, for every ``type: LoadBalancer`` one
without a ``loadBalancerClass`` (a class means another implementation owns
it, as upstream's service controller reads it), writes
``status.loadBalancer.ingress: [{ip, ipMode: VIP}]`` with an address from
the pool ``--load-balancer-ip-range``. kube-proxy then accepts that address
like a ClusterIP (on its dummy interface as root, or as a loopback address
without root), so ``curl <EXTERNAL-IP>:<port>`` reaches a pod.

The pool defaults to a range that is only ever local to the host:
``127.240.0.0/24`` without root (loopback, bindable with no setup), and
``198.18.0.0/24`` as root (RFC 2544's benchmarking range, which no real
network routes, carried on kube-proxy's dummy link). The flag takes a CIDR
or an ``first-last`` address range.

Allocation is level-triggered: the addresses in use are read from the
Service cache each time (plus the ones this process wrote and the cache may
not show yet), a Service keeps the address it has while it is in the pool,
``spec.loadBalancerIP`` is honoured when free, and a Service that stops
being a LoadBalancer has its status cleared, which frees its address.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterator
from typing import Any

from tinykube.api import errors
from tinykube.client.informers import split_key
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "service-lb-controller"
FLAG = "load-balancer-ip-range"
ENV = "TINYKUBE_LOAD_BALANCER_IP_RANGE"  # for managers started without the flag wired
ROOT_POOL = "198.18.0.0/24"
UNPRIVILEGED_POOL = "127.240.0.0/24"
RETRY_FULL = 30.0
REASON_ENSURED = "EnsuredLoadBalancer"
REASON_FAILED = "AllocationFailed"


def default_pool() -> str:
    return ROOT_POOL if os.geteuid() == 0 else UNPRIVILEGED_POOL


def parse_pool(spec: str) -> list[str]:
    """Addresses of a pool: ``10.0.0.0/30`` (its usable hosts) or ``10.0.0.5-10.0.0.9``."""
    spec = spec.strip()
    if "-" in spec:
        first, last = (ipaddress.ip_address(p.strip()) for p in spec.split("-", 1))
        if int(last) < int(first) or first.version != last.version:
            raise ValueError(f"invalid address range {spec!r}")
        return [str(ipaddress.ip_address(n)) for n in range(int(first), int(last) + 1)]
    network = ipaddress.ip_network(spec, strict=False)
    hosts: Iterator[Any] = network.hosts() if network.num_addresses > 2 else iter(network)
    return [str(ip) for ip in hosts]


def wants_address(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def ingress_ips(svc: Obj) -> list[str]:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [i["ip"] for i in ingress if i.get("ip")]


def choose_address(svc: Obj, pool: list[str], used: set[str]) -> str | None:
    """The address ``svc`` should have: its current one, the one it asks for, or the first free."""
    members = set(pool)
    for ip in ingress_ips(svc):
        if ip in members and ip not in used:
            return ip
    requested = (svc.get("spec") or {}).get("loadBalancerIP")
    if requested:
        return requested if requested in members and requested not in used else None
    return next((ip for ip in pool if ip not in used), None)


class ServiceLBController(Controller[str]):
    """Assigns ``status.loadBalancer.ingress`` to LoadBalancer Services from a local pool."""

    name = NAME

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        spec = str(ctx.options.get(FLAG) or os.environ.get(ENV) or default_pool())
        self.pool = parse_pool(spec)
        self.services = self.informer("v1", "services")
        self.services.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        self.recorder = ctx.recorder("service-lb-controller")
        # key -> address written by this process, until the cache shows it.
        self._written: dict[str, str] = {}
        log.info("controller=%s pool=%s (%d addresses)", NAME, spec, len(self.pool))

    def used_by_others(self, key: str) -> set[str]:
        used = {ip for k, ip in self._written.items() if k != key}
        for svc in self.services.list():
            other = f"{svc['metadata'].get('namespace', '')}/{svc['metadata']['name']}"
            if other != key and wants_address(svc):
                used.update(ingress_ips(svc))
        return used

    async def reconcile(self, key: str) -> Requeue | None:
        svc = self.services.get(key)
        if svc is None or not wants_address(svc):
            self._written.pop(key, None)
            if (
                svc is not None
                and ingress_ips(svc)
                and not (svc.get("spec") or {}).get("loadBalancerClass")
            ):
                await self._write(key, [])
            return None
        ip = choose_address(svc, self.pool, self.used_by_others(key))
        if ip is None:
            self.recorder.event(svc, "Warning", REASON_FAILED, "no free address in the pool")
            return Requeue(RETRY_FULL)
        if ingress_ips(svc) != [ip]:
            await self._write(key, [{"ip": ip, "ipMode": "VIP"}])
            self._written[key] = ip
            self.recorder.event(svc, "Normal", REASON_ENSURED, f"Assigned IP [{ip}]")
        elif self._written.get(key) == ip:
            del self._written[key]  # the cache has caught up
        return None

    async def _write(self, key: str, ingress: list[Obj]) -> None:
        namespace, name = split_key(key)
        patch = {"status": {"loadBalancer": {"ingress": ingress or None}}}  # None deletes
        try:
            await self.client.patch_status("v1", "services", name, patch, namespace)
        except errors.NotFound:
            return
        log.info("controller=%s service=%s ingress=%s", NAME, key, ingress)


def new(ctx: ControllerContext) -> ServiceLBController:
    """The factory the controller manager calls for ``--controllers=service-lb-controller``."""
    return ServiceLBController(ctx)
