"""Cluster DNS as CoreDNS answers it where users notice: ExternalName Services
followed to their target, namespaces that do not exist, and SRV weights."""

from __future__ import annotations

from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, DNSRecord

from tinykube.proxy import dnsserver
from tinykube.proxy.dns import ClusterDNS

pytestmark = pytest.mark.unit

Obj = dict[str, Any]

SERVICES: dict[tuple[str, str], Obj] = {
    ("prod", "api"): {"spec": {"clusterIP": "10.96.1.1", "clusterIPs": ["10.96.1.1"]}},
    ("dev", "api"): {
        "spec": {"type": "ExternalName", "externalName": "api.prod.svc.cluster.local"}
    },
    ("dev", "ghost"): {
        "spec": {"type": "ExternalName", "externalName": "gone.prod.svc.cluster.local"}
    },
    ("dev", "web"): {"spec": {"type": "ExternalName", "externalName": "www.example.org"}},
    ("dev", "loop-a"): {
        "spec": {"type": "ExternalName", "externalName": "loop-b.dev.svc.cluster.local"}
    },
    ("dev", "loop-b"): {
        "spec": {"type": "ExternalName", "externalName": "loop-a.dev.svc.cluster.local"}
    },
    ("prod", "db"): {
        "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}
    },
}
SLICES: dict[tuple[str, str], list[Obj]] = {
    ("prod", "db"): [
        {
            "endpoints": [{"addresses": [f"10.244.0.{n}"]} for n in (5, 6, 7)],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        }
    ]
}
NAMESPACES = {"default", "dev", "prod"}


@pytest.fixture
def dns() -> ClusterDNS:
    return ClusterDNS(
        lambda ns, name: SERVICES.get((ns, name)),
        lambda ns, name: SLICES.get((ns, name), []),
        namespace=lambda ns: ns in NAMESPACES,
    )


def ask(dns: ClusterDNS, name: str, qtype: str = "A") -> DNSRecord:
    reply = dns.answer(DNSRecord.question(name, qtype))
    assert reply is not None
    return DNSRecord.parse(reply.pack())


def records(reply: DNSRecord) -> list[tuple[str, str, str]]:
    return [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr]


def test_external_name_to_a_cluster_service_carries_its_address(dns):
    reply = ask(dns, "api.dev.svc.cluster.local")
    assert reply.header.rcode == RCODE.NOERROR
    assert records(reply) == [
        ("api.dev.svc.cluster.local.", "CNAME", "api.prod.svc.cluster.local."),
        ("api.prod.svc.cluster.local.", "A", "10.96.1.1"),
    ]
    assert dns.external_target(reply) is None


def test_a_cname_question_gets_only_the_cname(dns):
    reply = ask(dns, "api.dev.svc.cluster.local", "CNAME")
    assert [r[1] for r in records(reply)] == ["CNAME"]


def test_external_name_to_a_missing_cluster_service_is_the_cname_alone(dns):
    reply = ask(dns, "ghost.dev.svc.cluster.local")
    assert reply.header.rcode == RCODE.NOERROR
    assert [r[1] for r in records(reply)] == ["CNAME"]


def test_a_loop_of_external_names_ends(dns):
    reply = ask(dns, "loop-a.dev.svc.cluster.local")
    assert 1 < len(reply.rr) <= 10
    assert {r[1] for r in records(reply)} == {"CNAME"}


def test_external_name_outside_the_domain_is_left_to_look_up(dns):
    reply = ask(dns, "web.dev.svc.cluster.local")
    assert dns.external_target(reply) == "www.example.org."


async def test_server_appends_the_upstream_answer_for_an_external_target(dns, monkeypatch):
    asked: list[tuple[str, int]] = []

    async def upstream(packet: bytes, server: str, port: int = 53) -> bytes:
        query = DNSRecord.parse(packet)
        asked.append((str(query.q.qname), query.q.qtype))
        reply = query.reply()
        reply.add_answer(*RR.fromZone("www.example.org. 60 A 192.0.2.80"))
        return bytes(reply.pack())

    monkeypatch.setattr(dnsserver, "query_udp", upstream)
    server = dnsserver.DNSServer(dns, [("192.0.2.53", 53)])
    out = await server.handle(DNSRecord.question("web.dev.svc.cluster.local").pack())
    reply = DNSRecord.parse(out)
    assert asked == [("www.example.org.", QTYPE.A)]
    assert records(reply) == [
        ("web.dev.svc.cluster.local.", "CNAME", "www.example.org."),
        ("www.example.org.", "A", "192.0.2.80"),
    ]


async def test_an_unreachable_upstream_leaves_the_cname(dns):
    server = dnsserver.DNSServer(dns, [])
    out = await server.handle(DNSRecord.question("web.dev.svc.cluster.local").pack())
    reply = DNSRecord.parse(out)
    assert reply.header.rcode == RCODE.NOERROR
    assert [r[1] for r in records(reply)] == ["CNAME"]


@pytest.mark.parametrize(
    ("name", "rcode"),
    [
        ("dev.svc.cluster.local", RCODE.NOERROR),
        ("nope.svc.cluster.local", RCODE.NXDOMAIN),
        ("api.nope.svc.cluster.local", RCODE.NXDOMAIN),
        ("dev.pod.cluster.local", RCODE.NOERROR),
        ("nope.pod.cluster.local", RCODE.NXDOMAIN),
        ("10-1-2-3.nope.pod.cluster.local", RCODE.NXDOMAIN),
        ("10-1-2-3.dev.pod.cluster.local", RCODE.NOERROR),
    ],
)
def test_names_under_a_missing_namespace_do_not_exist(dns, name, rcode):
    assert ask(dns, name).header.rcode == rcode


def test_without_a_namespace_lookup_every_namespace_exists():
    dns = ClusterDNS(lambda ns, name: None, lambda ns, name: [])
    assert ask(dns, "anything.svc.cluster.local").header.rcode == RCODE.NOERROR


def test_srv_weights_share_one_hundred_among_the_endpoints(dns):
    reply = ask(dns, "_pg._tcp.db.prod.svc.cluster.local", "SRV")
    assert sorted(str(rr.rdata).split()[1] for rr in reply.rr) == ["33", "33", "33"]


def test_a_headless_service_without_ready_endpoints_is_nxdomain():
    dns = ClusterDNS(
        lambda ns, name: SERVICES.get((ns, name)),
        lambda ns, name: [
            {
                "endpoints": [{"addresses": ["10.244.0.9"], "conditions": {"ready": False}}],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            }
        ],
        namespace=lambda ns: ns in NAMESPACES,
    )
    assert ask(dns, "db.prod.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    assert ask(dns, "_pg._tcp.db.prod.svc.cluster.local", "SRV").header.rcode == RCODE.NXDOMAIN
    assert ask(dns, "api.prod.svc.cluster.local").header.rcode == RCODE.NOERROR
