"""The Corefile of ``kube-system/coredns`` as the cluster DNS reads it: kubeadm's
default, stub domains, other upstreams and ``hosts`` entries, reloaded on change."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, DNSRecord

from tinykube.proxy import corefile, dnsserver
from tinykube.proxy.dns import ClusterDNS

pytestmark = pytest.mark.unit

KUBEADM = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""

CUSTOM = """\
# a stub domain, other upstreams and pinned names
corp.example:53 {
    forward . 10.0.0.53 10.0.0.54:5353
}
.:53 {
    hosts {
        192.0.2.7 legacy.example.org db.legacy.example.org
        2001:db8::7 legacy.example.org
        fallthrough
    }
    kubernetes k8s.internal in-addr.arpa ip6.arpa
    forward . dns://8.8.8.8 [2001:db8::53]:53
}
"""


def resolv(path: Path) -> list[str]:
    assert path == Path("/etc/resolv.conf")
    return ["192.0.2.53"]


def test_kubeadm_default_keeps_the_domain_and_the_node_resolvers():
    config = corefile.parse(KUBEADM, resolv_reader=resolv)
    assert config.domain == "cluster.local"
    assert config.ttl == 30
    assert config.upstreams == [("192.0.2.53", 53)]
    assert config.stubs == {} and config.hosts == []


def test_stub_domains_upstreams_and_hosts():
    config = corefile.parse(CUSTOM)
    assert config.domain == "k8s.internal"
    assert config.upstreams == [("8.8.8.8", 53), ("2001:db8::53", 53)]
    assert config.stubs == {"corp.example.": [("10.0.0.53", 53), ("10.0.0.54", 5353)]}
    assert config.stub_for("git.corp.example") == [("10.0.0.53", 53), ("10.0.0.54", 5353)]
    assert config.stub_for("corp.example.org") is None
    (hosts,) = config.hosts
    assert hosts.fallthrough
    assert hosts.entries["legacy.example.org."] == ["192.0.2.7", "2001:db8::7"]


def test_forward_from_a_zone_inside_the_root_block_is_a_stub():
    config = corefile.parse(".:53 {\n  forward lab.test 10.1.1.1\n}\n")
    assert config.upstreams is None
    assert config.stubs == {"lab.test.": [("10.1.1.1", 53)]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (".:53 {\n  forward . not-an-ip\n}\n", "line 2: not an IP address"),
        (".:53 {\n  errors\n", "missing '}'"),
        (".:53\n  errors\n}\n", "unexpected '}'"),
        (".:53 {\n  hosts {\n    999.1.1.1 x\n  }\n}\n", "line 2: not an IP address in hosts"),
        (".:53 {\n  kubernetes cluster.local {\n    ttl 9999\n  }\n}\n", "line 2: ttl must be"),
    ],
    ids=["bad-upstream", "unclosed", "no-open-brace", "bad-hosts-ip", "bad-ttl"],
)
def test_broken_corefiles_name_the_line(text, message):
    with pytest.raises(corefile.CorefileError, match=message):
        corefile.parse(text)


def answer(config: corefile.DNSConfig, name: str, qtype: str = "A") -> DNSRecord | None:
    return corefile.hosts_answer(config, DNSRecord.question(name, qtype))


def test_hosts_answers_its_names_and_falls_through_for_others():
    config = corefile.parse(CUSTOM)
    reply = answer(config, "legacy.example.org")
    assert reply is not None and [str(rr.rdata) for rr in reply.rr] == ["192.0.2.7"]
    reply = answer(config, "legacy.example.org", "AAAA")
    assert reply is not None and [str(rr.rdata) for rr in reply.rr] == ["2001:db8::7"]
    assert answer(config, "db.legacy.example.org", "AAAA") is None  # no AAAA: fall through
    assert answer(config, "web.default.svc.k8s.internal") is None


def test_hosts_without_fallthrough_owns_its_zones():
    config = corefile.parse(".:53 {\n  hosts {\n    192.0.2.9 pinned.test\n  }\n}\n")
    reply = answer(config, "anything.else")
    assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN
    reply = answer(config, "pinned.test", "AAAA")
    assert reply is not None and reply.header.rcode == RCODE.NOERROR and reply.rr == []


SERVICES: dict[tuple[str, str], Any] = {
    ("default", "web"): {"spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"]}}
}


def server(text: str) -> dnsserver.DNSServer:
    resolver = ClusterDNS(lambda ns, name: SERVICES.get((ns, name)), lambda ns, name: [])
    srv = dnsserver.DNSServer(resolver, [("192.0.2.53", 53)])
    srv.configure(corefile.parse(text), [("192.0.2.53", 53)])
    return srv


async def ask(srv: dnsserver.DNSServer, name: str) -> DNSRecord:
    out = await srv.handle(DNSRecord.question(name).pack())
    assert out is not None
    return DNSRecord.parse(out)


async def test_server_follows_the_corefile(monkeypatch):
    asked: list[tuple[str, str]] = []

    async def upstream(packet: bytes, host: str, port: int = 53) -> bytes:
        query = DNSRecord.parse(packet)
        asked.append((str(query.q.qname), host))
        reply = query.reply()
        reply.add_answer(*RR.fromZone(f"{query.q.qname} 60 A 203.0.113.1"))
        return bytes(reply.pack())

    monkeypatch.setattr(dnsserver, "query_udp", upstream)
    srv = server(CUSTOM)
    assert [str(r.rdata) for r in (await ask(srv, "legacy.example.org")).rr] == ["192.0.2.7"]
    assert [str(r.rdata) for r in (await ask(srv, "web.default.svc.k8s.internal")).rr] == [
        "10.96.0.20"
    ]
    old_domain = await ask(srv, "web.default.svc.cluster.local")  # not ours any more
    assert [str(r.rdata) for r in old_domain.rr] == ["203.0.113.1"]
    await ask(srv, "git.corp.example")
    await ask(srv, "example.org")
    assert asked == [
        ("web.default.svc.cluster.local.", "8.8.8.8"),
        ("git.corp.example.", "10.0.0.53"),
        ("example.org.", "8.8.8.8"),
    ]


def test_reloader_applies_changes_and_keeps_the_last_good_config(tmp_path):
    conf = tmp_path / "Corefile"
    conf.write_text(CUSTOM)
    srv = server(KUBEADM)
    reloader = dnsserver.CorefileReloader(srv, conf, [("192.0.2.53", 53)], {"8.8.8.8"})
    reloader.check()
    assert srv.resolver.domain == "k8s.internal"
    assert srv.resolver.ttl == 5  # CUSTOM sets no ttl: the plugin's default
    assert srv.upstreams == [("2001:db8::53", 53)]  # our own address is never an upstream
    conf.write_text(".:53 {\n  forward . nonsense\n}\n")
    reloader.check()
    assert srv.resolver.domain == "k8s.internal"
    conf.write_text(".:53 {\n  kubernetes cluster.local {\n    ttl 30\n  }\n}\n")
    reloader.check()
    assert srv.resolver.domain == "cluster.local"
    assert srv.resolver.ttl == 30
    assert srv.upstreams == [("192.0.2.53", 53)]
    assert srv.config.hosts == [] and srv.config.stubs == {}


async def test_records_carry_the_corefile_ttl():
    srv = server(KUBEADM)
    reply = await ask(srv, "web.default.svc.cluster.local")
    assert [rr.ttl for rr in reply.rr] == [30]
    missing = await ask(srv, "nope.default.svc.cluster.local")
    assert [rr.ttl for rr in missing.auth] == [30]


def test_loadbalance_is_kubeadms_default_and_a_corefile_may_drop_it():
    assert corefile.DNSConfig().loadbalance
    assert corefile.parse(KUBEADM, resolv_reader=resolv).loadbalance
    assert not corefile.parse(CUSTOM).loadbalance


def test_shuffled_answers_keep_cnames_first_and_every_address():
    reply = DNSRecord.question("alias.default.svc.cluster.local").reply()
    reply.add_answer(
        *RR.fromZone("alias.default.svc.cluster.local. 5 CNAME db.default.svc.cluster.local.")
    )
    for n in range(1, 9):
        reply.add_answer(*RR.fromZone(f"db.default.svc.cluster.local. 5 A 10.0.0.{n}"))
    orders = set()
    for seed in range(20):
        copy = DNSRecord.parse(reply.pack())
        corefile.shuffle_addresses(copy, random.Random(seed))
        assert copy.rr[0].rtype == QTYPE.CNAME
        assert sorted(str(rr.rdata) for rr in copy.rr[1:]) == [f"10.0.0.{n}" for n in range(1, 9)]
        orders.add(tuple(str(rr.rdata) for rr in copy.rr[1:]))
    assert len(orders) > 1
