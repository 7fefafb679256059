"""Cluster DNS answers: the records the Kubernetes DNS specification defines.

This is the part of CoreDNS's ``kubernetes`` plugin a cluster relies on,
as a pure function from a parsed query (dnslib's ``DNSRecord``) and two
lookups (a Service by namespace and name; the EndpointSlices of a Service)
to a reply. ``dnsserver.py`` puts it on sockets and feeds it informer
caches; tests call it directly with dnslib-built queries.

Names under the cluster domain (``cluster.local``), per the spec
(github.com/kubernetes/dns, docs/specification.md):

- ``<svc>.<ns>.svc.<domain>``: A/AAAA with the ClusterIP(s); for a headless
  Service, the addresses of its ready endpoints; for an ExternalName
  Service, a CNAME to the external name;
- ``<hostname>.<svc>.<ns>.svc.<domain>``: an endpoint of a headless Service
  that has a hostname (StatefulSet pods);
- ``_<port>._<proto>.<svc>.<ns>.svc.<domain>``: SRV for each named port,
  pointing at the Service name (ClusterIP) or at each endpoint (headless),
  with the address records in the additional section;
- ``<a-b-c-d>.<ns>.pod.<domain>``: A with that address (CoreDNS's
  ``pods insecure`` mode, kubeadm's default);
- any other name in the domain is NXDOMAIN, with the zone's SOA in the
  authority section so resolvers cache the negative answer; a name that
  exists without records of the asked type is NOERROR with no answers.

Reverse names (``in-addr.arpa``, ``ip6.arpa``) of a Service's ClusterIP or
of a headless Service's endpoint get a PTR to that name (CoreDNS serves
these zones too, which keeps ``nslookup``'s lookup of the server quick);
other reverse names, and every name outside the domain, get ``None``: the
server forwards them upstream.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from dnslib import AAAA, CNAME, PTR, QTYPE, RCODE, RR, SOA, SRV, A, DNSLabel, DNSRecord

Obj = dict[str, Any]
ServiceLookup = Callable[[str, str], Obj | None]
SlicesLookup = Callable[[str, str], list[Obj]]
# An address -> the names it belongs to (``web.default.svc.cluster.local.``).
ReverseLookup = Callable[[str], list[str]]

DEFAULT_DOMAIN = "cluster.local"
TTL = 5  # CoreDNS's kubernetes plugin default
NEGATIVE_TTL = 5


class ClusterDNS:
    """Answers queries for one cluster domain from Service and EndpointSlice lookups."""

    def __init__(
        self,
        service: ServiceLookup,
        slices: SlicesLookup,
        domain: str = DEFAULT_DOMAIN,
        reverse: ReverseLookup | None = None,
    ) -> None:
        self.service = service
        self.slices = slices
        self.reverse = reverse
        self.domain = domain.strip(".").lower()
        self._suffix = tuple(self.domain.split("."))

    def in_zone(self, name: str) -> bool:
        labels = _labels(name)
        return labels[len(labels) - len(self._suffix) :] == self._suffix

    def answer(self, query: DNSRecord) -> DNSRecord | None:
        """The reply to ``query``, or None when its name is outside the cluster domain."""
        qname = str(query.q.qname)
        if not self.in_zone(qname):
            return self._ptr(query, qname)
        reply = query.reply()
        reply.header.ra = 1
        found = self._records(qname, query.q.qtype, reply)
        if found is None:
            reply.header.rcode = RCODE.NXDOMAIN
        if not reply.rr:
            reply.add_auth(self._soa())
        return reply

    def _ptr(self, query: DNSRecord, qname: str) -> DNSRecord | None:
        """PTR for a Service or endpoint address; other reverse names fall through."""
        ip = reverse_ip(qname)
        names = self.reverse(ip) if ip and self.reverse is not None else []
        if not names:
            return None  # upstream's "fallthrough in-addr.arpa ip6.arpa": forwarded
        reply = query.reply()
        reply.header.ra = 1
        if query.q.qtype in (QTYPE.PTR, QTYPE.ANY):
            for name in names:
                reply.add_answer(RR(qname, QTYPE.PTR, rdata=PTR(name), ttl=TTL))
        return reply

    def names_of(self, svc: Obj, ns: str, name: str, ip: str) -> list[str]:
        """The names ``ip`` has through ``svc``: its own name, or an endpoint's."""
        base = f"{name}.{ns}.svc.{self.domain}."
        if not is_headless(svc):
            return [base] if ip in self._addresses(svc, ns, name) else []
        return [
            f"{endpoint_label(ep, ip)}.{base}"
            for ep in self._ready(ns, name)
            if ip in (ep.get("addresses") or [])
        ]

    def _records(self, qname: str, qtype: int, reply: DNSRecord) -> bool | None:
        """Add the answers; True/False if the name exists, None for NXDOMAIN."""
        rel = _labels(qname)[: -len(self._suffix)]
        if len(rel) <= 1 and rel in ((), ("svc",), ("pod",)):
            return True  # the zone apex and its two subtrees exist, with no records
        if rel[-1:] == ("pod",) and len(rel) == 3:
            return self._pod(qname, rel[0], qtype, reply)
        if rel[-1:] != ("svc",):
            return None
        rel = rel[:-1]
        if len(rel) == 1:
            return True  # <ns>.svc: a namespace is not checked, as CoreDNS answers NODATA
        if len(rel) == 2:
            return self._service(qname, rel[1], rel[0], qtype, reply)
        if len(rel) == 3:
            return self._endpoint(qname, rel[0], rel[2], rel[1], qtype, reply)
        if len(rel) == 4 and rel[0].startswith("_") and rel[1].startswith("_"):
            return self._srv(qname, rel[3], rel[2], rel[0][1:], rel[1][1:], qtype, reply)
        return None

    def _pod(self, qname: str, dashed: str, qtype: int, reply: DNSRecord) -> bool | None:
        try:
            ip = ipaddress.ip_address(dashed.replace("-", ".") if dashed.count("-") == 3 else "")
        except ValueError:
            try:
                ip = ipaddress.ip_address(dashed.replace("-", ":"))
            except ValueError:
                return None
        _add_address(reply, qname, str(ip), qtype)
        return True

    def _service(self, qname: str, ns: str, name: str, qtype: int, reply: DNSRecord) -> bool | None:
        svc = self.service(ns, name)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            target = spec.get("externalName", "").strip(".") + "."
            reply.add_answer(RR(qname, QTYPE.CNAME, rdata=CNAME(target), ttl=TTL))
            return True
        for ip in self._addresses(svc, ns, name):
            _add_address(reply, qname, ip, qtype)
        return True

    def _addresses(self, svc: Obj, ns: str, name: str) -> list[str]:
        if not is_headless(svc):
            spec = svc.get("spec") or {}
            return [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip]
        return sorted({ip for ep in self._ready(ns, name) for ip in ep.get("addresses") or []})

    def _ready(self, ns: str, name: str) -> list[Obj]:
        return [
            ep
            for es in self.slices(ns, name)
            for ep in es.get("endpoints") or []
            if (ep.get("conditions") or {}).get("ready") is not False
        ]

    def _endpoint(
        self, qname: str, host: str, ns: str, name: str, qtype: int, reply: DNSRecord
    ) -> bool | None:
        svc = self.service(ns, name)
        if svc is None or not is_headless(svc):
            return None
        matched = [ep for ep in self._ready(ns, name) if endpoint_label(ep) == host]
        for ep in matched:
            for ip in ep.get("addresses") or []:
                _add_address(reply, qname, ip, qtype)
        return True if matched else None

    def _srv(
        self,
        qname: str,
        ns: str,
        name: str,
        port_name: str,
        proto: str,
        qtype: int,
        reply: DNSRecord,
    ) -> bool | None:
        svc = self.service(ns, name)
        if svc is None:
            return None
        ports = [
            p
            for p in (svc.get("spec") or {}).get("ports") or []
            if (p.get("name") or "").lower() == port_name
            and p.get("protocol", "TCP").lower() == proto
        ]
        if not ports:
            return None
        if qtype in (QTYPE.SRV, QTYPE.ANY):
            for target, port, ip in self._srv_targets(svc, ns, name, ports[0]):
                reply.add_answer(RR(qname, QTYPE.SRV, rdata=SRV(0, 100, port, target), ttl=TTL))
                _add_address(reply, target, ip, QTYPE.ANY, additional=True)
        return True

    def _srv_targets(self, svc: Obj, ns: str, name: str, port: Obj) -> list[tuple[str, int, str]]:
        base = f"{name}.{ns}.svc.{self.domain}."
        if not is_headless(svc):
            return [(base, int(port["port"]), ip) for ip in self._addresses(svc, ns, name)]
        targets = []
        for es in self.slices(ns, name):
            number = next(
                (int(p["port"]) for p in es.get("ports") or [] if p.get("name") == port["name"]),
                None,
            )
            for ep in es.get("endpoints") or []:
                if number is None or (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for ip in ep.get("addresses") or []:
                    targets.append((f"{endpoint_label(ep, ip)}.{base}", number, ip))
        return sorted(targets)

    def _soa(self) -> RR:
        zone = self.domain + "."
        soa = SOA(f"ns.dns.{zone}", f"hostmaster.{zone}", (1, 7200, 1800, 86400, NEGATIVE_TTL))
        return RR(zone, QTYPE.SOA, rdata=soa, ttl=NEGATIVE_TTL)


def is_headless(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") in (None, "", "None")


def endpoint_label(ep: Obj, ip: str | None = None) -> str:
    """An endpoint's DNS label: its hostname, or its address with dashes (CoreDNS's rule)."""
    if ep.get("hostname"):
        return str(ep["hostname"]).lower()
    address = ip or (ep.get("addresses") or [""])[0]
    return address.replace(".", "-").replace(":", "-")


def reverse_ip(name: str) -> str | None:
    """The address a reverse name spells (``4.3.2.1.in-addr.arpa.`` -> ``1.2.3.4``)."""
    labels = _labels(name)
    try:
        if labels[-2:] == ("in-addr", "arpa") and len(labels) == 6:
            return str(ipaddress.IPv4Address(".".join(reversed(labels[:4]))))
        if labels[-2:] == ("ip6", "arpa") and len(labels) == 34:
            nibbles = "".join(reversed(labels[:32]))
            return str(ipaddress.IPv6Address(int(nibbles, 16)))
    except ValueError:
        return None
    return None


def _labels(name: str) -> tuple[str, ...]:
    return tuple(label.decode(errors="replace").lower() for label in DNSLabel(name).label)


def _add_address(
    reply: DNSRecord, name: str, ip: str, qtype: int, *, additional: bool = False
) -> None:
    """An A or AAAA record for ``ip`` if the query asked for that family (or ANY)."""
    v6 = ":" in ip
    if qtype not in (QTYPE.ANY, QTYPE.AAAA if v6 else QTYPE.A):
        return
    rr = RR(name, QTYPE.AAAA if v6 else QTYPE.A, rdata=AAAA(ip) if v6 else A(ip), ttl=TTL)
    if additional:
        reply.add_ar(rr)
    else:
        reply.add_answer(rr)
