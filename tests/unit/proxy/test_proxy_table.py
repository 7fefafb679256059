"""Services and EndpointSlices -> the forwarding table: which frontends exist and
which endpoints each may send new connections to."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.proxy.table import (
    Endpoint,
    Frontend,
    build_table,
    endpoints_as_slices,
    slice_endpoints,
    slice_service_key,
)

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
NODE = "node-a"


def service(name: str = "web", **spec: Any) -> Obj:
    body: Obj = {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.20",
        "selector": {"app": name},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
    }
    body.update(spec)
    status = body.pop("status", {})
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": body, "status": status}


def endpoint(ip: str, node: str = NODE, ready: bool | None = True, **extra: Any) -> Obj:
    conditions = {} if ready is None else {"ready": ready}
    return {"addresses": [ip], "nodeName": node, "conditions": conditions, **extra}


def eslice(svc: str, *eps: Obj, port: int = 8080, name: str = "http", proto: str = "TCP") -> Obj:
    return {
        "metadata": {
            "name": f"{svc}-abc",
            "namespace": "ns",
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": "IPv4",
        "endpoints": list(eps),
        "ports": [{"name": name, "port": port, "protocol": proto}],
    }


def table_for(svc: Obj, *slices: Obj, endpoints: Obj | None = None) -> dict:
    key = f"ns/{svc['metadata']['name']}"
    return build_table([svc], {key: list(slices)}, NODE, {key: endpoints} if endpoints else None)


def test_cluster_ip_forwards_to_ready_endpoints():
    table = table_for(service(), eslice("web", endpoint("10.244.0.2"), endpoint("10.244.0.3")))
    route = table[Frontend("10.96.0.20", 80, "TCP")]
    assert route.endpoints == (
        Endpoint("10.244.0.2", 8080, NODE),
        Endpoint("10.244.0.3", 8080, NODE),
    )
    assert route.name == "ns/web:http"
    assert route.affinity is None


@pytest.mark.parametrize(
    ("ready", "included"),
    [(True, True), (None, True), (False, False)],
    ids=["ready", "unset-means-ready", "not-ready"],
)
def test_only_ready_endpoints_take_new_connections(ready, included):
    table = table_for(service(), eslice("web", endpoint("10.244.0.2", ready=ready)))
    assert bool(table[Frontend("10.96.0.20", 80, "TCP")].endpoints) is included


def test_endpoints_are_merged_over_slices_and_deduplicated():
    a = eslice("web", endpoint("10.244.0.2"), endpoint("10.244.0.3"))
    b = eslice("web", endpoint("10.244.0.3"), endpoint("10.244.0.4"))
    route = table_for(service(), a, b)[Frontend("10.96.0.20", 80, "TCP")]
    assert [e.ip for e in route.endpoints] == ["10.244.0.2", "10.244.0.3", "10.244.0.4"]


def test_slice_ports_match_by_name_and_protocol():
    slices = [eslice("web", endpoint("10.244.0.2"), name="metrics", port=9090)]
    assert slice_endpoints(slices, "http", "TCP") == []
    assert slice_endpoints(slices, "metrics", "UDP") == []
    assert slice_endpoints(slices, "metrics", "TCP") == [Endpoint("10.244.0.2", 9090, NODE)]


@pytest.mark.parametrize(
    "svc",
    [
        service(clusterIP="None"),
        service(type="ExternalName", clusterIP="", externalName="db.example.org"),
        service(clusterIP=""),
    ],
    ids=["headless", "external-name", "no-cluster-ip"],
)
def test_dns_only_services_have_no_frontends(svc):
    assert table_for(svc, eslice("web", endpoint("10.244.0.2"))) == {}


def test_node_port_listens_on_every_address():
    svc = service(type="NodePort")
    svc["spec"]["ports"][0]["nodePort"] = 30080
    table = table_for(svc, eslice("web", endpoint("10.244.0.2")))
    assert set(table) == {Frontend("10.96.0.20", 80, "TCP"), Frontend("", 30080, "TCP")}


def test_load_balancer_ingress_and_external_ips_are_frontends():
    svc = service(
        type="LoadBalancer",
        externalIPs=["192.0.2.7"],
        status={"loadBalancer": {"ingress": [{"ip": "127.240.0.1"}, {"hostname": "lb.example"}]}},
    )
    svc["spec"]["ports"][0]["nodePort"] = 31000
    table = table_for(svc, eslice("web", endpoint("10.244.0.2")))
    assert set(table) == {
        Frontend("10.96.0.20", 80, "TCP"),
        Frontend("127.240.0.1", 80, "TCP"),
        Frontend("192.0.2.7", 80, "TCP"),
        Frontend("", 31000, "TCP"),
    }


def test_external_traffic_policy_local_keeps_node_local_endpoints_for_external_frontends():
    svc = service(type="NodePort", externalTrafficPolicy="Local")
    svc["spec"]["ports"][0]["nodePort"] = 30080
    table = table_for(svc, eslice("web", endpoint("10.244.0.2"), endpoint("10.244.1.2", "node-b")))
    assert [e.ip for e in table[Frontend("", 30080, "TCP")].endpoints] == ["10.244.0.2"]
    cluster = table[Frontend("10.96.0.20", 80, "TCP")].endpoints
    assert [e.ip for e in cluster] == ["10.244.0.2", "10.244.1.2"]


def test_internal_traffic_policy_local_keeps_node_local_endpoints_for_the_cluster_ip():
    svc = service(internalTrafficPolicy="Local")
    table = table_for(svc, eslice("web", endpoint("10.244.1.2", "node-b")))
    assert table[Frontend("10.96.0.20", 80, "TCP")].endpoints == ()


def test_client_ip_affinity_carries_its_timeout():
    svc = service(
        sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}
    )
    assert table_for(svc)[Frontend("10.96.0.20", 80, "TCP")].affinity == 60.0
    svc = service(sessionAffinity="ClientIP")
    assert table_for(svc)[Frontend("10.96.0.20", 80, "TCP")].affinity == 10800.0


def test_udp_ports_are_proxied_and_sctp_is_not():
    svc = service(
        ports=[
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "sctp", "port": 99, "protocol": "SCTP"},
        ]
    )
    table = table_for(
        svc, eslice("web", endpoint("10.244.0.2"), name="dns", port=5353, proto="UDP")
    )
    assert list(table) == [Frontend("10.96.0.20", 53, "UDP")]
    assert table[Frontend("10.96.0.20", 53, "UDP")].endpoints[0].port == 5353


def test_service_without_selector_uses_its_hand_written_endpoints():
    svc = service(selector=None, ports=[{"port": 80, "protocol": "TCP"}])
    legacy = {
        "metadata": {"name": "web", "namespace": "ns"},
        "subsets": [
            {
                "addresses": [{"ip": "192.0.2.10"}],
                "notReadyAddresses": [{"ip": "192.0.2.11"}],
                "ports": [{"port": 9000, "protocol": "TCP"}],
            }
        ],
    }
    route = table_for(svc, endpoints=legacy)[Frontend("10.96.0.20", 80, "TCP")]
    assert route.endpoints == (Endpoint("192.0.2.10", 9000, ""),)


def test_slices_win_over_endpoints_for_a_service_without_selector():
    svc = service(selector=None)
    legacy = endpoints_as_slices(None)
    assert legacy == []
    table = table_for(svc, eslice("web", endpoint("192.0.2.20")))
    assert table[Frontend("10.96.0.20", 80, "TCP")].endpoints[0].ip == "192.0.2.20"


def test_a_frontend_claimed_twice_goes_to_the_first_service_by_name():
    a, b = service("a", type="NodePort"), service("b", type="NodePort", clusterIP="10.96.0.21")
    a["spec"]["ports"][0]["nodePort"] = b["spec"]["ports"][0]["nodePort"] = 30080
    table = build_table([b, a], {}, NODE)
    assert table[Frontend("", 30080, "TCP")].name == "ns/a:http"


def test_slice_service_key_reads_the_service_name_label():
    assert slice_service_key(eslice("web")) == "ns/web"
    assert slice_service_key({"metadata": {"name": "x", "namespace": "ns"}}) is None


def test_route_cache_recomputes_only_services_whose_objects_changed():
    a, b = service("a"), service("b", clusterIP="10.96.0.21")
    for obj in (a, b):
        obj["metadata"]["resourceVersion"] = "1"
    sa, sb = eslice("a", endpoint("10.244.0.2")), eslice("b", endpoint("10.244.0.3"))
    for es in (sa, sb):
        es["metadata"]["resourceVersion"] = "2"
    cache: dict = {}
    first = build_table([a, b], {"ns/a": [sa], "ns/b": [sb]}, NODE, cache=cache)
    sb = {**sb, "metadata": {**sb["metadata"], "resourceVersion": "3"}, "endpoints": []}
    second = build_table([a, b], {"ns/a": [sa], "ns/b": [sb]}, NODE, cache=cache)
    assert second[Frontend("10.96.0.20", 80, "TCP")] is first[Frontend("10.96.0.20", 80, "TCP")]
    assert second[Frontend("10.96.0.21", 80, "TCP")].endpoints == ()
    build_table([a], {"ns/a": [sa]}, NODE, cache=cache)
    assert set(cache) == {"ns/a"}


def test_objects_without_resource_versions_are_never_cached_stale():
    svc = service()
    cache: dict = {}
    build_table([svc], {"ns/web": [eslice("web", endpoint("10.244.0.2"))]}, NODE, cache=cache)
    table = build_table([svc], {"ns/web": []}, NODE, cache=cache)
    assert table[Frontend("10.96.0.20", 80, "TCP")].endpoints == ()
