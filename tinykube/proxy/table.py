"""Services and EndpointSlices in, a forwarding table out: the pure core of kube-proxy.

Upstream's proxiers all start from the same two maps, ``ServicePortMap``
(one entry per Service port) and ``EndpointsMap`` (the endpoints of each
Service port, merged from its EndpointSlices); each proxier then renders
them into its data plane (iptables chains, IPVS virtual servers, nftables
sets). Here the two maps are folded into one table the proxier can apply
as it is: each *frontend* (an address, port and protocol the node must
accept) maps to a *route* (which endpoints may take a new connection, and
how to choose among them). Everything here is a plain function over API
dicts, so the rules are unit-tested without sockets:

- a ClusterIP frontend per Service port (``internalTrafficPolicy: Local``
  keeps only the endpoints on this node); headless Services (``clusterIP:
  None``) and ExternalName Services get no frontends at all (they are DNS
  only);
- a NodePort frontend (address ``""``: every host address) per port of a
  NodePort or LoadBalancer Service, and a frontend for each
  ``status.loadBalancer.ingress[].ip`` and ``spec.externalIPs`` entry;
  ``externalTrafficPolicy: Local`` keeps only endpoints on this node for
  these external frontends;
- only endpoints whose ``ready`` condition is true (unset means true, as
  upstream reads it) and whose slice lists the port by the Service port's
  name and protocol; when none is ready, the ones still ``serving`` while
  ``terminating`` take the traffic instead (upstream's
  ProxyTerminatingEndpoints, GA in 1.28), so a single replica shutting down
  gracefully keeps answering until it is gone. The fallback is decided
  separately for the node-local set of a ``Local`` traffic policy.

Services without a selector take their endpoints from EndpointSlices,
exactly like any other Service: written by hand, or mirrored from the
Endpoints their owner wrote (the controller manager's mirroring, in
``controllers/endpointslicemirroring.py``). Until a mirrored slice exists,
or when the Endpoints opt out of mirroring, the Endpoints object is read
directly, so a hand-made Service works from its first second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# The informers' label selector, as upstream kube-proxy sets it: Services an
# alternative proxy owns and headless Services are not this proxy's business.
SERVICE_SELECTOR = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
DEFAULT_AFFINITY_TIMEOUT = (
    10800.0  # upstream's default sessionAffinityConfig.clientIP.timeoutSeconds
)


@dataclass(frozen=True, order=True)
class Frontend:
    """An address the node accepts for a Service; ``ip == ""`` means every host address."""

    ip: str
    port: int
    protocol: str  # "TCP" or "UDP"

    def __str__(self) -> str:
        return f"{self.ip or '*'}:{self.port}/{self.protocol}"


@dataclass(frozen=True, order=True)
class Endpoint:
    """One ready backend: a pod address and the port its container listens on."""

    ip: str
    port: int
    node: str = ""

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Route:
    """What a frontend forwards new connections to.

    ``name`` (``ns/svc:port``) keys round robin and affinity state, shared by
    every frontend of one Service port. ``affinity`` is the ClientIP timeout
    in seconds, or ``None`` without session affinity.
    """

    name: str
    endpoints: tuple[Endpoint, ...]
    affinity: float | None = None


Table = dict[Frontend, Route]


def is_proxied(svc: Obj) -> bool:
    """ExternalName and headless Services are DNS only; no proxy touches them."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return False
    ip = spec.get("clusterIP") or ""
    return bool(ip) and ip != "None"


def affinity_timeout(svc: Obj) -> float | None:
    spec = svc.get("spec") or {}
    if spec.get("sessionAffinity") != "ClientIP":
        return None
    cfg = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return float(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)


def slice_endpoints(
    slices: Iterable[Obj], port_name: str, protocol: str, *, terminating: bool = False
) -> list[Endpoint]:
    """The ready endpoints of one Service port, merged over its slices and de-duplicated.

    With ``terminating``, the endpoints that are serving but terminating
    instead: the fallback for when no endpoint is ready.
    """
    found: set[Endpoint] = set()
    for es in slices:
        if es.get("addressType", "IPv4") not in ("IPv4", "IPv6"):
            continue
        target = _slice_port(es, port_name, protocol)
        if target is None:
            continue
        for ep in es.get("endpoints") or []:
            if _usable(ep.get("conditions") or {}, terminating):
                node = ep.get("nodeName") or ""
                found.update(Endpoint(addr, target, node) for addr in ep.get("addresses") or [])
    return sorted(found)


def _usable(conditions: Obj, terminating: bool) -> bool:
    if not terminating:
        return conditions.get("ready") is not False
    return conditions.get("serving") is not False and conditions.get("terminating") is True


def _prefer_ready(ready: list[Endpoint], fallback: list[Endpoint]) -> tuple[Endpoint, ...]:
    return tuple(ready or fallback)


def _slice_port(es: Obj, port_name: str, protocol: str) -> int | None:
    for port in es.get("ports") or []:
        if (port.get("name") or "") == port_name and port.get("protocol", "TCP") == protocol:
            number = port.get("port")
            return int(number) if number else None
    return None


def endpoints_as_slices(endpoints: Obj | None) -> list[Obj]:
    """A legacy Endpoints object read as EndpointSlices (what mirroring would write)."""
    if not endpoints:
        return []
    slices = []
    for subset in endpoints.get("subsets") or []:
        eps = [
            {"addresses": [a["ip"]], "nodeName": a.get("nodeName", ""), "conditions": {"ready": r}}
            for key, r in (("addresses", True), ("notReadyAddresses", False))
            for a in subset.get(key) or []
            if a.get("ip")
        ]
        slices.append({"endpoints": eps, "ports": subset.get("ports") or []})
    return slices


def service_routes(svc: Obj, slices: list[Obj], node: str) -> Table:
    """The frontends of one Service, each with its route (see the module docstring)."""
    if not is_proxied(svc):
        return {}
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    external_local = spec.get("externalTrafficPolicy") == "Local"
    external_ips = _external_ips(svc)
    affinity = affinity_timeout(svc)
    table: Table = {}
    for port in spec.get("ports") or []:
        protocol = port.get("protocol", "TCP")
        if protocol not in ("TCP", "UDP"):
            continue  # SCTP needs a kernel data plane
        port_name = port.get("name") or ""
        ready = slice_endpoints(slices, port_name, protocol)
        ending = slice_endpoints(slices, port_name, protocol, terminating=True)
        everywhere = _prefer_ready(ready, ending)
        local = _prefer_ready(
            [ep for ep in ready if ep.node == node], [ep for ep in ending if ep.node == node]
        )
        key = f"{name}:{port_name}" if port_name else name
        internal = Route(key, local if internal_local else everywhere, affinity)
        external = Route(key, local if external_local else everywhere, affinity)
        number = int(port["port"])
        for ip in _cluster_ips(spec):
            table[Frontend(ip, number, protocol)] = internal
        for ip in external_ips:
            table[Frontend(ip, number, protocol)] = external
        if port.get("nodePort") and spec.get("type") in ("NodePort", "LoadBalancer"):
            table[Frontend("", int(port["nodePort"]), protocol)] = external
    return table


def _cluster_ips(spec: Obj) -> list[str]:
    ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    return [ip for ip in ips if ip and ip != "None"]


def _external_ips(svc: Obj) -> list[str]:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    ips = list(spec.get("externalIPs") or [])
    if spec.get("type") == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        ips += [i["ip"] for i in ingress if i.get("ip")]
    return sorted(set(ips))


def build_table(
    services: Iterable[Obj],
    slices_of: dict[str, list[Obj]],
    node: str,
    endpoints_of: dict[str, Obj] | None = None,
    cache: RouteCache | None = None,
) -> Table:
    """The whole node's forwarding table.

    ``slices_of`` and ``endpoints_of`` are keyed ``namespace/service``; the
    Endpoints object is read only for a Service without a selector and
    without slices. Where two Services claim one frontend (a NodePort typed
    twice by hand, say), the first by name wins, so the result is stable.

    ``cache`` (kept by the caller between calls) remembers each Service's
    routes under the resourceVersions they were computed from, so after one
    endpoint change only that Service is recomputed; the rest is a merge.
    """
    endpoints_of = endpoints_of or {}
    table: Table = {}
    for svc in sorted(services, key=_svc_key):
        key = _svc_key(svc)
        slices = slices_of.get(key) or []
        legacy = None
        if not slices and not (svc.get("spec") or {}).get("selector"):
            legacy = endpoints_of.get(key)
            slices = endpoints_as_slices(legacy)
        routes = _cached_routes(cache, key, svc, slices_of.get(key) or [], legacy)
        if routes is None:
            routes = service_routes(svc, slices, node)
            if cache is not None:
                cache[key] = (_versions(svc, slices_of.get(key) or [], legacy), routes)
        for frontend, route in routes.items():
            table.setdefault(frontend, route)
    if cache is not None:
        for gone in set(cache) - {_svc_key(s) for s in services}:
            del cache[gone]
    return table


RouteCache = dict[str, tuple[tuple[str, ...] | None, Table]]


def _versions(svc: Obj, slices: list[Obj], legacy: Obj | None) -> tuple[str, ...] | None:
    """The resourceVersions a Service's routes depend on; None if any is unknown."""
    objs = [svc, *slices, *([legacy] if legacy else [])]
    versions = tuple((o.get("metadata") or {}).get("resourceVersion") or "" for o in objs)
    return None if "" in versions else versions


def _cached_routes(
    cache: RouteCache | None, key: str, svc: Obj, slices: list[Obj], legacy: Obj | None
) -> Table | None:
    if cache is None or key not in cache:
        return None
    versions, routes = cache[key]
    return routes if versions is not None and versions == _versions(svc, slices, legacy) else None


def _svc_key(svc: Obj) -> str:
    meta = svc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def slice_service_key(es: Obj) -> str | None:
    """``namespace/service`` an EndpointSlice belongs to, from its service-name label."""
    meta = es.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return f"{meta.get('namespace', '')}/{svc}" if svc else None
