"""Health-check node ports: how a load balancer learns which nodes have local endpoints.

A LoadBalancer Service with ``externalTrafficPolicy: Local`` only forwards
external traffic to endpoints on the receiving node, so the load balancer
must not send to nodes that have none. The API server gives such a Service
a ``spec.healthCheckNodePort``, and every kube-proxy answers HTTP on it
(upstream's ``pkg/proxy/healthcheck``): 200 while the node has at least one
ready local endpoint, 503 otherwise, with a small JSON body naming the
Service and the count, and the count again in
``X-Load-Balancing-Endpoint-Weight``. Any path gets the same answer.

``health_checks`` is the pure part (from Services and their EndpointSlices
to what each port should say); ``HealthCheckServers`` keeps one listener per
port, opening and closing them as the set changes, and always answers from
the latest set, so a count change needs no socket work. A port that cannot
be bound (taken by another process) is logged and retried at the next sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tinykube.proxy.table import slice_endpoints

log = logging.getLogger(__name__)

Obj = dict[str, Any]
READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class ServiceHealth:
    namespace: str
    name: str
    local_endpoints: int


def health_checks(
    services: Iterable[Obj], slices_of: dict[str, list[Obj]], node: str
) -> dict[int, ServiceHealth]:
    """Health-check port -> what it reports, for every Service that has one.

    The count is upstream's: ready endpoints on this node, summed over the
    Service's ports.
    """
    out: dict[int, ServiceHealth] = {}
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        port = spec.get("healthCheckNodePort")
        if (
            spec.get("type") != "LoadBalancer"
            or spec.get("externalTrafficPolicy") != "Local"
            or not isinstance(port, int)
            or port <= 0
        ):
            continue
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        slices = slices_of.get(f"{ns}/{name}") or []
        count = 0
        for p in spec.get("ports") or []:
            found = slice_endpoints(slices, p.get("name") or "", p.get("protocol", "TCP"))
            count += sum(1 for ep in found if ep.node == node)
        out.setdefault(port, ServiceHealth(ns, name, count))
    return out


def render(health: ServiceHealth) -> bytes:
    """The whole HTTP response for one check."""
    healthy = health.local_endpoints > 0
    body = json.dumps(
        {
            "service": {"namespace": health.namespace, "name": health.name},
            "localEndpoints": health.local_endpoints,
            "serviceProxyHealthy": True,
        },
        indent="\t",
    ).encode()
    status = "200 OK" if healthy else "503 Service Unavailable"
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"X-Load-Balancing-Endpoint-Weight: {health.local_endpoints}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class HealthCheckServers:
    """One HTTP listener per health-check node port, on every host address."""

    def __init__(self, host: str = "0.0.0.0") -> None:
        self.host = host
        self.checks: dict[int, ServiceHealth] = {}
        self._servers: dict[int, asyncio.Server] = {}

    async def sync(self, checks: dict[int, ServiceHealth]) -> None:
        self.checks = checks
        for port in set(self._servers) - set(checks):
            self._servers.pop(port).close()
        for port in set(checks) - set(self._servers):
            try:
                self._servers[port] = await asyncio.start_server(
                    lambda r, w, port=port: self._answer(r, w, port), self.host, port
                )
            except OSError as exc:
                log.warning("component=kube-proxy health check port %d: %s", port, exc)

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        try:
            with contextlib.suppress(asyncio.LimitOverrunError, asyncio.IncompleteReadError):
                async with asyncio.timeout(READ_TIMEOUT):
                    await reader.readuntil(b"\r\n\r\n")
            health = self.checks.get(port)
            if health is not None:
                writer.write(render(health))
                await writer.drain()
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
