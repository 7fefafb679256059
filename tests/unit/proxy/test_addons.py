"""The add-on manifests kubeadm would create: addresses, names, labels, commands."""

from __future__ import annotations

import pytest

from tinykube.api import errors
from tinykube.cluster import addons

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cidr", "ip"),
    [
        ("10.96.0.0/12", "10.96.0.10"),
        ("127.96.0.0/16", "127.96.0.10"),
        ("10.1.0.0/24,fd00::/108", "10.1.0.10"),
    ],
)
def test_kube_dns_is_the_tenth_address_of_the_service_range(cidr, ip):
    assert addons.dns_service_ip(cidr) == ip


def test_kube_dns_service_ports_and_labels():
    svc = addons.kube_dns_service("10.96.0.10")
    assert svc["metadata"]["namespace"] == "kube-system"
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert svc["metadata"]["labels"]["kubernetes.io/cluster-service"] == "true"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
    ]


def test_kube_proxy_runs_on_the_host_network_of_every_node():
    ds = addons.kube_proxy_daemonset("https://127.0.0.1:6443", "/usr/bin/python3", ["-v", "4"])
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert spec["tolerations"] == [{"operator": "Exists"}]
    container = spec["containers"][0]
    assert container["securityContext"]["privileged"] is True
    assert container["command"] == ["/usr/bin/python3", "-m", "tinykube.proxy.command", "proxy"]
    assert container["args"] == [
        "--master", "https://127.0.0.1:6443", "--hostname-override", "$(NODE_NAME)", "-v", "4"
    ]  # fmt: skip


def test_coredns_listens_on_its_pod_address_and_named_ports():
    deploy = addons.coredns_deployment("cluster.local", 1053, replicas=2, python="python3")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "dns": 1053,
        "dns-tcp": 1053,
    }
    assert "$(POD_IP)" in container["args"]
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"k8s-app": "kube-dns"}


async def test_creation_is_retried_while_the_api_server_is_not_reachable(monkeypatch):
    async def instant(_delay: float) -> None:
        return None

    monkeypatch.setattr(addons.asyncio, "sleep", instant)
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("not yet")

    await addons._with_retries(attempt)
    assert len(calls) == 3


async def test_a_rejected_object_is_not_retried():
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(1)
        raise errors.Invalid("bad")

    with pytest.raises(errors.Invalid):
        await addons._with_retries(attempt)
    assert calls == [1]


def test_coredns_reads_kubeadms_corefile_from_its_configmap():
    from tinykube.proxy.corefile import parse

    cm = addons.coredns_configmap("corp.local")
    assert (cm["kind"], cm["metadata"]["name"], cm["metadata"]["namespace"]) == (
        "ConfigMap",
        "coredns",
        "kube-system",
    )
    text = cm["data"]["Corefile"]
    assert "kubernetes corp.local in-addr.arpa ip6.arpa {" in text
    config = parse(text, resolv_reader=lambda path: ["192.0.2.53"])
    assert (config.domain, config.ttl) == ("corp.local", 30)  # the DNS server reads it
    spec = addons.coredns_deployment("corp.local", 53)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["args"][-2:] == ["--conf", "/etc/coredns/Corefile"]
    (mount,) = container["volumeMounts"]
    (volume,) = spec["volumes"]
    assert mount["mountPath"] == "/etc/coredns" and mount["name"] == volume["name"]
    assert volume["configMap"]["name"] == "coredns"
