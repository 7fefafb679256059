"""Health-check node ports of Local LoadBalancer Services: which ports exist and what
they answer (upstream kube-proxy's service health server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinykube.proxy.healthcheck import ServiceHealth, health_checks, render

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
NODE = "node-a"


def service(name: str, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 32000,
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
            ],
            **spec,
        },
    }


def eslice(*eps: tuple[str, str, bool]) -> Obj:
    return {
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [ip], "nodeName": node, "conditions": {"ready": ready}}
            for ip, node, ready in eps
        ],
        "ports": [
            {"name": "http", "port": 8080, "protocol": "TCP"},
            {"name": "dns", "port": 5353, "protocol": "UDP"},
        ],
    }


def test_local_ready_endpoints_are_counted_per_port():
    slices = {"ns/web": [eslice(("10.0.0.1", NODE, True), ("10.0.0.2", NODE, False))]}
    slices["ns/web"].append(eslice(("10.0.0.3", "node-b", True)))
    assert health_checks([service("web")], slices, NODE) == {
        32000: ServiceHealth("ns", "web", 2)  # one local ready endpoint, two ports
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"externalTrafficPolicy": "Cluster"},
        {"type": "NodePort"},
        {"healthCheckNodePort": None},
    ],
    ids=["cluster-policy", "not-a-load-balancer", "no-port"],
)
def test_only_local_load_balancers_have_a_check(spec: Obj):
    assert health_checks([service("web", **spec)], {}, NODE) == {}


@pytest.mark.parametrize(
    ("count", "status"), [(2, "200 OK"), (0, "503 Service Unavailable")], ids=["up", "down"]
)
def test_the_answer_says_how_many_and_whether_to_send(count: int, status: str):
    head, _, body = render(ServiceHealth("ns", "web", count)).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == f"HTTP/1.1 {status}"
    assert f"X-Load-Balancing-Endpoint-Weight: {count}" in lines
    assert "Content-Type: application/json" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {
        "service": {"namespace": "ns", "name": "web"},
        "localEndpoints": count,
        "serviceProxyHealthy": True,
    }
