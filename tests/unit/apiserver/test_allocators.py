"""Cluster IP and node port allocation for Services, with upstream's error texts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.apiserver.allocators import (
    AllocationError,
    ClusterIPAllocator,
    NodePortAllocator,
    allocate_for_service,
    first_ip,
    mark_service_used,
    nth_ip,
    release_for_service,
    rollback_for_service,
)

CIDR = "10.96.0.0/12"


@pytest.fixture
def ips() -> ClusterIPAllocator:
    return ClusterIPAllocator(CIDR, rng=random.Random(7))


@pytest.fixture
def ports() -> NodePortAllocator:
    return NodePortAllocator(rng=random.Random(7))


def service(kind: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    body = {"type": kind, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}
    return {"metadata": {"name": "s", "namespace": "default"}, "spec": body}


def messages(errs: list[errors.FieldError]) -> list[str]:
    return [str(e) for e in errs]


def test_well_known_addresses() -> None:
    assert first_ip(CIDR) == "10.96.0.1"
    assert nth_ip(CIDR, 10) == "10.96.0.10"


def test_cluster_ip_allocator_never_repeats() -> None:
    alloc = ClusterIPAllocator("10.0.0.0/28", rng=random.Random(1))
    seen = {alloc.allocate_next() for _ in range(14)}
    assert len(seen) == 14
    assert "10.0.0.0" not in seen and "10.0.0.15" not in seen
    with pytest.raises(AllocationError, match="range is full"):
        alloc.allocate_next()


def test_dynamic_allocation_avoids_the_static_band(ips: ClusterIPAllocator) -> None:
    for _ in range(50):
        assert ips.allocate_next() not in {"10.96.0.1", "10.96.0.10"}


def test_specific_ip_errors(ips: ClusterIPAllocator) -> None:
    ips.allocate("10.96.0.10")
    with pytest.raises(AllocationError, match="provided IP is already allocated"):
        ips.allocate("10.96.0.10")
    ips.release("10.96.0.10")
    ips.allocate("10.96.0.10")


def test_node_port_allocator_range() -> None:
    alloc = NodePortAllocator("30000-30002")
    assert sorted(alloc.allocate_next() for _ in range(3)) == [30000, 30001, 30002]
    with pytest.raises(AllocationError, match="range is full"):
        alloc.allocate_next()


def test_cluster_ip_service(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    svc = service()
    assert allocate_for_service(svc, None, ips, ports) == []
    ip = svc["spec"]["clusterIP"]
    assert svc["spec"]["clusterIPs"] == [ip]
    assert ips.is_allocated(ip)
    assert "nodePort" not in svc["spec"]["ports"][0]


def test_kubernetes_service_gets_first_address(
    ips: ClusterIPAllocator, ports: NodePortAllocator
) -> None:
    svc = service(clusterIP=first_ip(CIDR))
    assert allocate_for_service(svc, None, ips, ports) == []
    assert svc["spec"]["clusterIPs"] == ["10.96.0.1"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"clusterIP": "None"}, {"clusterIP": "None", "clusterIPs": ["None"]}, id="headless"
        ),
        pytest.param({"externalName": "example.com"}, {}, id="external-name"),
    ],
)
def test_services_without_address(
    spec: dict[str, Any],
    expected: dict[str, Any],
    ips: ClusterIPAllocator,
    ports: NodePortAllocator,
) -> None:
    kind = "ExternalName" if "externalName" in spec else "ClusterIP"
    svc = service(kind, **spec)
    assert allocate_for_service(svc, None, ips, ports) == []
    assert {k: svc["spec"][k] for k in ("clusterIP", "clusterIPs") if k in svc["spec"]} == expected
    assert ips.free() == ClusterIPAllocator(CIDR).free()


def test_cluster_ip_out_of_range(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    svc = service(clusterIP="10.0.0.5")
    assert messages(allocate_for_service(svc, None, ips, ports)) == [
        'spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: '
        "the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
    ]


def test_cluster_ip_taken(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    ips.allocate("10.96.0.50")
    assert messages(allocate_for_service(service(clusterIP="10.96.0.50"), None, ips, ports)) == [
        'spec.clusterIPs: Invalid value: ["10.96.0.50"]: failed to allocate IP 10.96.0.50: '
        "provided IP is already allocated"
    ]


def test_node_ports_are_allocated(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    svc = service("NodePort")
    svc["spec"]["ports"].append({"name": "dns", "port": 80, "protocol": "UDP"})
    assert allocate_for_service(svc, None, ips, ports) == []
    tcp, udp = (p["nodePort"] for p in svc["spec"]["ports"])
    assert 30000 <= tcp <= 32767
    assert udp == tcp  # the same port number shares one node port across protocols


@pytest.mark.parametrize(
    ("node_port", "taken", "expected"),
    [
        pytest.param(
            80,
            False,
            "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
            id="out-of-range",
        ),
        pytest.param(
            30080,
            True,
            "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated",
            id="taken",
        ),
    ],
)
def test_node_port_errors(
    node_port: int, taken: bool, expected: str, ips: ClusterIPAllocator, ports: NodePortAllocator
) -> None:
    if taken:
        ports.allocate(node_port)
    svc = service("NodePort")
    svc["spec"]["ports"][0]["nodePort"] = node_port
    free_ips = ips.free()
    assert messages(allocate_for_service(svc, None, ips, ports)) == [expected]
    assert ips.free() == free_ips  # the cluster IP taken first was given back


def test_load_balancer_without_node_ports(
    ips: ClusterIPAllocator, ports: NodePortAllocator
) -> None:
    svc = service("LoadBalancer", allocateLoadBalancerNodePorts=False)
    assert allocate_for_service(svc, None, ips, ports) == []
    assert "nodePort" not in svc["spec"]["ports"][0]


def test_health_check_node_port(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    svc = service("LoadBalancer", externalTrafficPolicy="Local")
    assert allocate_for_service(svc, None, ips, ports) == []
    assert ports.is_allocated(svc["spec"]["healthCheckNodePort"])


def test_update_keeps_and_releases(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    old = service("NodePort")
    allocate_for_service(old, None, ips, ports)
    old_port = old["spec"]["ports"][0]["nodePort"]
    new = service("ClusterIP", clusterIP=old["spec"]["clusterIP"])
    assert allocate_for_service(new, old, ips, ports) == []
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert not ports.is_allocated(old_port)
    assert ips.is_allocated(new["spec"]["clusterIP"])


def test_rollback_restores_old_state(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    old = service("NodePort")
    allocate_for_service(old, None, ips, ports)
    old_port = old["spec"]["ports"][0]["nodePort"]
    new = service("NodePort", clusterIP=old["spec"]["clusterIP"])
    new["spec"]["ports"] = [{"name": "web", "port": 8080, "protocol": "TCP"}]
    allocate_for_service(new, old, ips, ports)
    new_port = new["spec"]["ports"][0]["nodePort"]
    rollback_for_service(new, old, ips, ports)
    assert ports.is_allocated(old_port)
    assert not ports.is_allocated(new_port)


def test_release_and_mark_used(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    svc = service("NodePort")
    allocate_for_service(svc, None, ips, ports)
    release_for_service(svc, ips, ports)
    assert not ips.is_allocated(svc["spec"]["clusterIP"])
    assert not ports.is_allocated(svc["spec"]["ports"][0]["nodePort"])
    ips.mark_used(svc["spec"]["clusterIP"])
    ips.mark_used("192.168.0.1")  # out of range: ignored
    assert ips.is_allocated(svc["spec"]["clusterIP"])


def test_full_range_is_an_internal_error(ports: NodePortAllocator) -> None:
    tiny = ClusterIPAllocator("10.0.0.0/30")
    tiny.allocate_next()
    tiny.allocate_next()
    with pytest.raises(errors.InternalError, match="failed to allocate a serviceIP: range is full"):
        allocate_for_service(service(), None, tiny, ports)


def test_rebuild_from_stored_services(ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    stored = service(
        "LoadBalancer",
        clusterIP="10.96.0.10",
        externalTrafficPolicy="Local",
        healthCheckNodePort=30500,
    )
    stored["spec"]["ports"][0]["nodePort"] = 30080
    mark_service_used(stored, ips, ports)
    assert ips.is_allocated("10.96.0.10")
    assert ports.is_allocated(30080) and ports.is_allocated(30500)
