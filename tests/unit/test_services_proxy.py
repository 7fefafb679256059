"""kube-proxy's table when no endpoint is ready: serving endpoints that are
terminating take the traffic (upstream's ProxyTerminatingEndpoints), decided
separately for the node-local set of a Local traffic policy."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.proxy.table import Frontend, build_table

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
NODE = "node-a"
CLUSTER_IP = Frontend("10.96.0.20", 80, "TCP")


def service(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.20",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            **spec,
        },
    }


def endpoint(ip: str, state: str, node: str = NODE) -> Obj:
    conditions = {
        "ready": {"ready": True, "serving": True, "terminating": False},
        "draining": {"ready": False, "serving": True, "terminating": True},
        "stopping": {"ready": False, "serving": False, "terminating": True},
        "unready": {"ready": False, "serving": False, "terminating": False},
    }[state]
    return {"addresses": [ip], "nodeName": node, "conditions": conditions}


def ips(svc: Obj, *eps: Obj, frontend: Frontend = CLUSTER_IP) -> list[str]:
    es = {
        "metadata": {"name": "web-a", "namespace": "ns"},
        "addressType": "IPv4",
        "endpoints": list(eps),
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }
    return [e.ip for e in build_table([svc], {"ns/web": [es]}, NODE)[frontend].endpoints]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["ready", "draining"], ["10.0.0.1"]),
        (["draining", "stopping"], ["10.0.0.1"]),
        (["stopping", "unready"], []),
        (["unready", "draining"], ["10.0.0.2"]),
    ],
    ids=["ready-wins", "draining-when-none-ready", "none-serving", "unready-never"],
)
def test_terminating_endpoints_serve_only_when_none_is_ready(states, expected):
    eps = [endpoint(f"10.0.0.{n}", state) for n, state in enumerate(states, 1)]
    assert ips(service(), *eps) == expected


def test_local_policy_falls_back_on_its_own_node():
    svc = service(type="NodePort", externalTrafficPolicy="Local")
    svc["spec"]["ports"][0]["nodePort"] = 30080
    eps = [endpoint("10.0.0.1", "ready", node="node-b"), endpoint("10.0.0.2", "draining")]
    assert ips(svc, *eps, frontend=Frontend("", 30080, "TCP")) == ["10.0.0.2"]
    assert ips(svc, *eps) == ["10.0.0.1"]
