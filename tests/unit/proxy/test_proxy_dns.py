"""Cluster DNS answers, asked with dnslib-built queries: Service and pod records,
headless Services, SRV, NXDOMAIN, and what is forwarded."""

from __future__ import annotations

from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, DNSRecord

from tinykube.proxy import dnsserver
from tinykube.proxy.dns import ClusterDNS, reverse_ip

pytestmark = pytest.mark.unit

Obj = dict[str, Any]

SERVICES: dict[tuple[str, str], Obj] = {
    ("default", "web"): {
        "spec": {
            "clusterIP": "10.96.0.20",
            "clusterIPs": ["10.96.0.20"],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        }
    },
    ("default", "db"): {
        "spec": {
            "clusterIP": "None",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        }
    },
    ("default", "ext"): {"spec": {"type": "ExternalName", "externalName": "db.example.org"}},
    ("default", "v6"): {"spec": {"clusterIP": "fd00::20", "clusterIPs": ["fd00::20"]}},
}
SLICES: dict[tuple[str, str], list[Obj]] = {
    ("default", "db"): [
        {
            "endpoints": [
                {"addresses": ["10.244.0.5"], "hostname": "db-0", "conditions": {"ready": True}},
                {"addresses": ["10.244.0.6"], "conditions": {}},
                {"addresses": ["10.244.0.7"], "conditions": {"ready": False}},
            ],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        }
    ]
}


@pytest.fixture
def dns() -> ClusterDNS:
    return ClusterDNS(
        lambda ns, name: SERVICES.get((ns, name)), lambda ns, name: SLICES.get((ns, name), [])
    )


def ask(dns: ClusterDNS, name: str, qtype: str = "A") -> DNSRecord:
    reply = dns.answer(DNSRecord.question(name, qtype))
    assert reply is not None
    # Through the wire format and back, as a client would read it.
    return DNSRecord.parse(reply.pack())


def rdata(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr)


def test_service_name_resolves_to_its_cluster_ip(dns):
    reply = ask(dns, "web.default.svc.cluster.local")
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa
    assert rdata(reply) == ["10.96.0.20"]


def test_names_are_case_insensitive_and_keep_the_question_spelling(dns):
    reply = ask(dns, "WEB.Default.SVC.cluster.local")
    assert rdata(reply) == ["10.96.0.20"]
    assert str(reply.rr[0].rname) == "WEB.Default.SVC.cluster.local."


def test_headless_service_resolves_to_ready_pod_addresses(dns):
    assert rdata(ask(dns, "db.default.svc.cluster.local")) == ["10.244.0.5", "10.244.0.6"]


def test_headless_endpoint_hostname_resolves(dns):
    assert rdata(ask(dns, "db-0.db.default.svc.cluster.local")) == ["10.244.0.5"]
    assert rdata(ask(dns, "10-244-0-6.db.default.svc.cluster.local")) == ["10.244.0.6"]


def test_aaaa_for_an_ipv4_service_is_nodata_not_nxdomain(dns):
    reply = ask(dns, "web.default.svc.cluster.local", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.rr == []
    assert reply.auth[0].rtype == QTYPE.SOA


def test_aaaa_for_an_ipv6_service(dns):
    assert rdata(ask(dns, "v6.default.svc.cluster.local", "AAAA")) == ["fd00::20"]


def test_unknown_service_is_nxdomain_with_soa(dns):
    reply = ask(dns, "nope.default.svc.cluster.local")
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert [rr.rtype for rr in reply.auth] == [QTYPE.SOA]


@pytest.mark.parametrize(
    "name",
    ["cluster.local", "svc.cluster.local", "default.svc.cluster.local"],
)
def test_zone_structure_names_exist_without_records(dns, name):
    reply = ask(dns, name)
    assert reply.header.rcode == RCODE.NOERROR and reply.rr == []


def test_srv_for_a_named_port_of_a_cluster_ip_service(dns):
    reply = ask(dns, "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert rdata(reply) == ["0 100 80 web.default.svc.cluster.local."]
    assert [str(rr.rdata) for rr in reply.ar] == ["10.96.0.20"]


def test_srv_for_a_headless_service_names_each_endpoint(dns):
    reply = ask(dns, "_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert rdata(reply) == [
        "0 50 5432 10-244-0-6.db.default.svc.cluster.local.",
        "0 50 5432 db-0.db.default.svc.cluster.local.",
    ]


def test_srv_for_an_unknown_port_or_protocol_is_nxdomain(dns):
    assert ask(dns, "_pg._udp.db.default.svc.cluster.local", "SRV").header.rcode == RCODE.NXDOMAIN
    assert ask(dns, "_x._tcp.web.default.svc.cluster.local", "SRV").header.rcode == RCODE.NXDOMAIN


def test_pod_name_resolves_to_the_address_it_spells(dns):
    assert rdata(ask(dns, "10-244-0-9.default.pod.cluster.local")) == ["10.244.0.9"]
    assert ask(dns, "not-an-ip.default.pod.cluster.local").header.rcode == RCODE.NXDOMAIN


def test_external_name_is_a_cname(dns):
    reply = ask(dns, "ext.default.svc.cluster.local")
    assert reply.rr[0].rtype == QTYPE.CNAME
    assert rdata(reply) == ["db.example.org."]


def test_names_outside_the_domain_are_not_answered(dns):
    assert dns.answer(DNSRecord.question("example.org", "A")) is None
    assert dns.answer(DNSRecord.question("cluster.local.example.org", "A")) is None


async def test_server_forwards_other_names_to_the_upstream(dns, monkeypatch):
    sent: list[tuple[str, int]] = []

    async def fake_udp(packet: bytes, server: str, port: int = 53) -> bytes:
        sent.append((server, port))
        reply = DNSRecord.parse(packet).reply()
        reply.add_answer(*RR.fromZone("example.org. 60 A 192.0.2.1"))
        return bytes(reply.pack())

    monkeypatch.setattr(dnsserver, "query_udp", fake_udp)
    server = dnsserver.DNSServer(dns, [("192.0.2.53", 53)])
    reply = DNSRecord.parse(await server.handle(DNSRecord.question("example.org").pack()))
    assert sent == [("192.0.2.53", 53)]
    assert rdata(reply) == ["192.0.2.1"]


async def test_server_answers_servfail_without_an_upstream(dns):
    server = dnsserver.DNSServer(dns, [])
    reply = DNSRecord.parse(await server.handle(DNSRecord.question("example.org").pack()))
    assert reply.header.rcode == RCODE.SERVFAIL


async def test_server_drops_garbage_and_answers_cluster_names_itself(dns):
    server = dnsserver.DNSServer(dns, [])
    assert await server.handle(b"\x00\x01garbage") is None
    reply = await server.handle(DNSRecord.question("web.default.svc.cluster.local").pack())
    assert rdata(DNSRecord.parse(reply)) == ["10.96.0.20"]


def test_large_udp_replies_are_truncated():
    query = DNSRecord.question("big.example.org")
    reply = query.reply()
    for n in range(60):
        reply.add_answer(*RR.fromZone(f"big.example.org. 60 A 10.0.0.{n}"))
    out = DNSRecord.parse(dnsserver.truncate(query.pack(), reply.pack()))
    assert out.header.tc == 1 and out.rr == []


def test_nameservers_come_from_resolv_conf_without_our_own(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search x\nnameserver 10.0.0.2\nnameserver 10.96.0.10\noptions ndots:5\n")
    assert dnsserver.nameservers(conf, {"10.96.0.10"}) == ["10.0.0.2"]
    assert dnsserver.nameservers(tmp_path / "missing") == []


def test_reverse_lookup_of_a_cluster_ip_names_the_service(dns):
    def reverse(ip: str) -> list[str]:
        return [
            n
            for (ns, name), svc in SERVICES.items()
            for n in dns.names_of(svc, ns, name, ip)
            if svc["spec"].get("type") != "ExternalName"
        ]

    dns.reverse = reverse
    reply = ask(dns, "20.0.96.10.in-addr.arpa", "PTR")
    assert rdata(reply) == ["web.default.svc.cluster.local."]
    reply = ask(dns, "6.0.244.10.in-addr.arpa", "PTR")
    assert rdata(reply) == ["10-244-0-6.db.default.svc.cluster.local."]
    assert dns.answer(DNSRecord.question("9.9.9.9.in-addr.arpa", "PTR")) is None  # forwarded


@pytest.mark.parametrize(
    ("name", "ip"),
    [
        ("4.3.2.1.in-addr.arpa.", "1.2.3.4"),
        ("1." + "0." * 29 + "d.f.ip6.arpa.", "fd00::1"),
        ("x.3.2.1.in-addr.arpa.", None),
        ("3.2.1.in-addr.arpa.", None),
    ],
    ids=["v4", "v6", "garbage", "partial"],
)
def test_reverse_names_spell_addresses(name, ip):
    assert reverse_ip(name) == ip


async def test_a_broken_cache_object_is_servfail_not_a_crash():
    broken = ClusterDNS(lambda ns, name: {"spec": {"clusterIP": 7}}, lambda ns, name: [])
    server = dnsserver.DNSServer(broken, [])
    reply = await server.handle(DNSRecord.question("web.default.svc.cluster.local").pack())
    assert DNSRecord.parse(reply).header.rcode == RCODE.SERVFAIL
