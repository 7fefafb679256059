"""Cluster DNS answers: the records the Kubernetes DNS specification defines.

This is the part of CoreDNS's ``kubernetes`` plugin a cluster relies on,
as a pure function from a parsed query (dnslib's ``DNSRecord``) and two
lookups (a Service by namespace and name; the EndpointSlices of a Service)
to a reply. ``dnsserver.py`` puts it on sockets and feeds it informer
caches; tests call it directly with dnslib-built queries.

Names under the cluster domain (``cluster.local``), per the spec
(github.com/kubernetes/dns, docs/specification.md):

- ``<svc>.<ns>.svc.<domain>``: A/AAAA with the ClusterIP(s); for a headless
  Service, the addresses of its ready endpoints (NXDOMAIN while it has none,
  as CoreDNS answers: the name has no records of any type); for an ExternalName
  Service, a CNAME to the external name, followed, as CoreDNS does, by the
  target's own records: answered here when the target is in the cluster
  domain (another Service), else looked up upstream by ``dnsserver``
  (``external_target`` names what is left to look up). Stub resolvers such
  as glibc's do not chase a CNAME themselves, so without the target's
  records the name would not resolve at all;
- ``<hostname>.<svc>.<ns>.svc.<domain>``: an endpoint of a headless Service
  that has a hostname (StatefulSet pods);
- ``_<port>._<proto>.<svc>.<ns>.svc.<domain>``: SRV for each named port,
  pointing at the Service name (ClusterIP) or at each endpoint (headless),
  with the address records in the additional section;
- ``<a-b-c-d>.<ns>.pod.<domain>``: A with that address (CoreDNS's
  ``pods insecure`` mode, kubeadm's default);
- ``<ns>.svc.<domain>`` and ``<ns>.pod.<domain>`` exist (NOERROR, no
  records) only while the namespace does, when a namespace lookup is given;
  a missing namespace is NXDOMAIN, as for CoreDNS. This is what makes a
  short name that matches nothing fail with "Name or service not known":
  one NODATA answer along the search path turns glibc's final error into
  "No address associated with hostname";
- any other name in the domain is NXDOMAIN, with the zone's SOA in the
  authority section so resolvers cache the negative answer; a name that
  exists without records of the asked type is NOERROR with no answers.

SRV records carry CoreDNS's weights: the 100 of a priority shared out among
its records (two endpoints get 50 each).

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
NamespaceLookup = Callable[[str], bool]

DEFAULT_DOMAIN = "cluster.local"
TTL = 5  # CoreDNS's kubernetes plugin default; a Corefile's ``ttl`` overrides it
# How many ExternalName Services one answer may follow into each other; a loop
# of them stops here with the CNAMEs so far (CoreDNS stops at a depth of 8 too).
MAX_CNAME_CHAIN = 8


class ClusterDNS:
    """Answers queries for one cluster domain from Service and EndpointSlice lookups."""

    def __init__(
        self,
        service: ServiceLookup,
        slices: SlicesLookup,
        domain: str = DEFAULT_DOMAIN,
        reverse: ReverseLookup | None = None,
        namespace: NamespaceLookup | None = None,
    ) -> None:
        self.service = service
        self.slices = slices
        self.reverse = reverse
        # None: every namespace is taken to exist (no namespace cache to ask).
        self.namespace = namespace
        self.ttl = TTL  # of every record, and the SOA's negative-caching time
        self.use_domain(domain)

    def use_domain(self, domain: str) -> None:
        """Answer for ``domain`` from now on (a reloaded Corefile may change it)."""
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

    def external_target(self, reply: DNSRecord) -> str | None:
        """The name outside the domain an answer's CNAME chain ends at, still to look up.

        None when the answer is complete: no CNAME, a chain ending inside the
        domain (already followed), or a question for the CNAME itself.
        """
        if reply.q.qtype in (QTYPE.CNAME, QTYPE.ANY) or not reply.rr:
            return None
        last = reply.rr[-1]
        if last.rtype != QTYPE.CNAME:
            return None
        target = str(last.rdata.label)
        return None if self.in_zone(target) else target

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
                reply.add_answer(RR(qname, QTYPE.PTR, rdata=PTR(name), ttl=self.ttl))
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

    def _namespace_exists(self, ns: str) -> bool:
        return self.namespace is None or self.namespace(ns)

    def _records(self, qname: str, qtype: int, reply: DNSRecord, depth: int = 0) -> bool | None:
        """Add the answers; True/False if the name exists, None for NXDOMAIN."""
        rel = _labels(qname)[: -len(self._suffix)]
        if len(rel) <= 1 and rel in ((), ("svc",), ("pod",)):
            return True  # the zone apex and its two subtrees exist, with no records
        if rel[-1:] not in (("svc",), ("pod",)) or not self._namespace_exists(rel[-2]):
            return None
        if rel[-1:] == ("pod",):
            if len(rel) == 2:
                return True  # <ns>.pod: the namespace exists, with no records
            return self._pod(qname, rel[0], qtype, reply) if len(rel) == 3 else None
        rel = rel[:-1]
        if len(rel) == 1:
            return True  # <ns>.svc: NODATA while the namespace exists, as CoreDNS answers
        if len(rel) == 2:
            return self._service(qname, rel[1], rel[0], qtype, reply, depth)
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
        _add_address(reply, qname, str(ip), qtype, self.ttl)
        return True

    def _service(
        self, qname: str, ns: str, name: str, qtype: int, reply: DNSRecord, depth: int = 0
    ) -> bool | None:
        svc = self.service(ns, name)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            target = spec.get("externalName", "").strip(".") + "."
            reply.add_answer(RR(qname, QTYPE.CNAME, rdata=CNAME(target), ttl=self.ttl))
            if qtype != QTYPE.CNAME and self.in_zone(target) and depth < MAX_CNAME_CHAIN:
                # Another Service of this cluster: its records follow the CNAME in
                # this answer. A target that does not exist leaves the CNAME alone.
                self._records(target, qtype, reply, depth + 1)
            return True
        addresses = self._addresses(svc, ns, name)
        if not addresses and is_headless(svc):
            return None  # no ready endpoint: CoreDNS has nothing for the name, so NXDOMAIN
        for ip in addresses:
            _add_address(reply, qname, ip, qtype, self.ttl)
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
                _add_address(reply, qname, ip, qtype, self.ttl)
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
        targets = self._srv_targets(svc, ns, name, ports[0])
        if not targets and is_headless(svc):
            return None
        if qtype in (QTYPE.SRV, QTYPE.ANY):
            weight = srv_weight(len(targets))
            for target, port, ip in targets:
                srv = SRV(0, weight, port, target)
                reply.add_answer(RR(qname, QTYPE.SRV, rdata=srv, ttl=self.ttl))
                _add_address(reply, target, ip, QTYPE.ANY, self.ttl, additional=True)
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
        soa = SOA(f"ns.dns.{zone}", f"hostmaster.{zone}", (1, 7200, 1800, 86400, self.ttl))
        return RR(zone, QTYPE.SOA, rdata=soa, ttl=self.ttl)


def srv_weight(count: int) -> int:
    """CoreDNS's weight for each of ``count`` SRV records of one priority: 100 shared out."""
    return 100 // count if count else 100


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
    reply: DNSRecord, name: str, ip: str, qtype: int, ttl: int, *, additional: bool = False
) -> None:
    """An A or AAAA record for ``ip`` if the query asked for that family (or ANY)."""
    v6 = ":" in ip
    if qtype not in (QTYPE.ANY, QTYPE.AAAA if v6 else QTYPE.A):
        return
    rr = RR(name, QTYPE.AAAA if v6 else QTYPE.A, rdata=AAAA(ip) if v6 else A(ip), ttl=ttl)
    if additional:
        reply.add_ar(rr)
    else:
        reply.add_answer(rr)
