"""Endpoints and EndpointSlices as pure functions: named ports per Pod, who is ready, how
subsets pack and how slices are reused and split."""

from __future__ import annotations

import pytest
from workload_builders import pod

from tinykube.controllers import endpoints, endpointslice

pytestmark = pytest.mark.unit


def service(ports: list[dict] | None = None, **spec: object) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "uid-svc", "labels": {"tier": "a"}},
        "spec": {
            "selector": {"app": "web"},
            "ports": ports
            if ports is not None
            else [{"name": "http", "port": 80, "targetPort": "http"}],
            **spec,
        },
    }


def backend(name: str, ip: str, port: int = 8080, ready: bool = True, **kw: object) -> dict:
    p = pod(name, ready_for=10 if ready else None, **kw)  # type: ignore[arg-type]
    p["status"]["podIP"] = ip
    p["spec"]["containers"] = [{"name": "c", "ports": [{"name": "http", "containerPort": port}]}]
    return p


@pytest.mark.parametrize(
    ("svc_port", "expected"),
    [
        ({"port": 80, "targetPort": 8080}, 8080),
        ({"port": 80, "targetPort": "http"}, 9000),
        ({"port": 80}, 80),
        ({"port": 80, "targetPort": "missing"}, None),
        ({"port": 80, "targetPort": "http", "protocol": "UDP"}, None),
    ],
)
def test_find_port(svc_port: dict, expected: int | None) -> None:
    assert endpoints.find_port(backend("a", "1.1.1.1", 9000), svc_port) == expected


@pytest.mark.parametrize(
    ("changes", "included"),
    [
        ({}, True),
        ({"phase": "Succeeded"}, False),
        ({"podIP": ""}, False),
    ],
)
def test_which_pods_count(changes: dict, included: bool) -> None:
    p = backend("a", "1.1.1.1")
    p["status"].update(changes)
    assert endpoints.should_include(p, include_terminating=False) is included


def test_subsets_pack_by_port_and_split_ready() -> None:
    pods = [
        backend("b", "10.0.0.2", 8080, ready=False),
        backend("a", "10.0.0.1", 8080),
        backend("c", "10.0.0.3", 9090),
        backend("d", "10.0.0.4", 8080, deleting=True),
    ]
    subsets = endpoints.desired_subsets(service(), pods)
    assert [[a["ip"] for a in s.get("addresses", [])] for s in subsets] == [
        ["10.0.0.1"],
        ["10.0.0.3"],
    ]
    assert [[a["ip"] for a in s.get("notReadyAddresses", [])] for s in subsets] == [
        ["10.0.0.2"],
        [],
    ]
    assert [s["ports"] for s in subsets] == [
        [{"name": "http", "port": 8080, "protocol": "TCP"}],
        [{"name": "http", "port": 9090, "protocol": "TCP"}],
    ]


def test_publish_not_ready_addresses_makes_everyone_ready() -> None:
    subsets = endpoints.desired_subsets(
        service(publishNotReadyAddresses=True), [backend("a", "1.1.1.1", ready=False)]
    )
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["1.1.1.1"]


def test_headless_service_without_ports_lists_addresses() -> None:
    svc = service(ports=[], clusterIP="None")
    assert endpoints.desired_subsets(svc, [backend("a", "1.1.1.1")]) == [
        {
            "addresses": [
                {"ip": "1.1.1.1", "targetRef": endpoints.target_ref(backend("a", "1.1.1.1"))}
            ]
        }
    ]
    assert endpoints.desired_labels(svc) == {"tier": "a", "service.kubernetes.io/headless": ""}


def test_slice_endpoint_conditions() -> None:
    terminating = backend("t", "1.1.1.9", deleting=True)
    terminating["spec"]["nodeName"] = "n1"
    ep = endpointslice.endpoint(terminating, service(), {"n1": "zone-a"})
    assert ep["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert ep["nodeName"] == "n1" and ep["zone"] == "zone-a"


def test_slices_split_at_one_hundred_and_reuse_existing() -> None:
    svc = service()
    pods = [backend(f"p{i:03}", f"10.0.{i // 250}.{i % 250}") for i in range(230)]
    groups = endpointslice.desired_groups(svc, pods, {})
    create, update, delete = endpointslice.plan_slices(svc, groups, [])
    assert [len(s["endpoints"]) for s in create] == [100, 100, 30]
    assert update == [] and delete == []
    assert create[0]["metadata"]["generateName"] == "web-"
    assert create[0]["metadata"]["labels"] == {
        "tier": "a",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    existing = [
        {**s, "metadata": {**s["metadata"], "name": f"web-{i}"}} for i, s in enumerate(create)
    ]
    existing.append(
        {
            **create[0],
            "metadata": {**create[0]["metadata"], "name": "web-x"},
            "ports": [{"port": 1}],
        }
    )
    create2, update2, delete2 = endpointslice.plan_slices(svc, groups, existing)
    assert create2 == [] and update2 == []
    assert [s["metadata"]["name"] for s in delete2] == ["web-x"]


def test_a_service_without_endpoints_keeps_one_empty_slice() -> None:
    create, _, _ = endpointslice.plan_slices(service(), [], [])
    assert len(create) == 1 and create[0]["endpoints"] == []


def addresses(prefix: str, count: int) -> list[dict]:
    return [{"ip": f"{prefix}.{i}"} for i in range(count)]


def test_truncation_drops_not_ready_first_in_proportion() -> None:
    subsets = [
        {"addresses": addresses("10.0.0", 600), "notReadyAddresses": addresses("10.0.1", 300)},
        {"addresses": addresses("10.0.2", 300), "notReadyAddresses": addresses("10.0.3", 100)},
    ]
    assert endpoints.truncate(subsets)
    assert [len(s["addresses"]) for s in subsets] == [600, 300]
    assert [len(s.get("notReadyAddresses", [])) for s in subsets] == [75, 25]


def test_truncation_of_ready_addresses_drops_every_not_ready_one() -> None:
    subsets = [
        {"addresses": addresses("10.0.0", 900), "notReadyAddresses": addresses("10.0.1", 5)},
        {"addresses": addresses("10.0.2", 300)},
    ]
    assert endpoints.truncate(subsets)
    assert [len(s["addresses"]) for s in subsets] == [750, 250]
    assert all("notReadyAddresses" not in s for s in subsets)
    assert not endpoints.truncate([{"addresses": addresses("10.0.0", 1000)}])
