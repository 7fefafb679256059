"""resolv.conf and /etc/hosts for pods, from dnsPolicy, dnsConfig and hostAliases (pure)."""

from __future__ import annotations

import pytest

from tinykube.kubelet import dns
from tinykube.kubelet.runtime.interface import PodSandboxConfig
from tinykube.kubelet.runtime.proc_setup import hosts_file

pytestmark = pytest.mark.unit

HOST = "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"


def pod(**spec: object) -> dict[str, object]:
    return {"metadata": {"name": "p", "namespace": "team"}, "spec": spec}


def test_cluster_first() -> None:
    text = dns.resolv_conf(pod(), ["10.96.0.10"], "cluster.local", HOST)
    assert text == (
        "search team.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )


def test_cluster_first_without_cluster_dns_falls_back_to_the_host() -> None:
    assert dns.resolv_conf(pod(), [], "cluster.local", HOST) == (
        "search corp.example\nnameserver 192.0.2.53\noptions edns0\n"
    )


@pytest.mark.parametrize(
    ("spec", "policy"),
    [
        ({"hostNetwork": True}, "Default"),
        ({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}, "ClusterFirst"),
        ({"dnsPolicy": "None"}, "None"),
        ({"dnsPolicy": "Default"}, "Default"),
    ],
)
def test_effective_policy(spec: dict[str, object], policy: str) -> None:
    assert dns.effective_policy(spec, ["10.96.0.10"]) == policy


def test_dns_config_adds_and_overrides() -> None:
    config = {
        "nameservers": ["1.2.3.4"],
        "searches": ["extra.local"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
    }
    text = dns.resolv_conf(pod(dnsPolicy="None", dnsConfig=config), [], "cluster.local", HOST)
    assert text == "search extra.local\nnameserver 1.2.3.4\noptions ndots:2 edns0\n"


def test_hosts_file_with_subdomain_and_aliases() -> None:
    config = PodSandboxConfig(
        uid="u",
        namespace="team",
        name="p",
        hostname="web-0",
        domain=dns.pod_domain(pod(subdomain="web"), "cluster.local"),
        host_aliases=dns.host_aliases(
            pod(hostAliases=[{"ip": "1.1.1.1", "hostnames": ["a", "b"]}])
        ),
    )
    text = hosts_file(config, "10.244.0.5", "web-0")
    assert "10.244.0.5\tweb-0.web.team.svc.cluster.local\tweb-0\n" in text
    assert text.endswith("# Entries added by HostAliases.\n1.1.1.1\ta\tb\n")
