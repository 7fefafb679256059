"""EndpointSlice mirroring: hand-written Endpoints of a selector-less Service become
slices that DNS and kube-proxy read, with upstream's labels, owner and conditions."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.controllers import endpointslicemirroring as mirroring

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def endpoints(subsets: list[Obj], **meta: Any) -> Obj:
    return {
        "metadata": {"name": "db", "namespace": "ns", "uid": "ep-uid", **meta},
        "subsets": subsets,
    }


SELECTORLESS: Obj = {"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}
PG = [{"name": "pg", "port": 5432, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("svc", "meta", "mirrored"),
    [
        (SELECTORLESS, {}, True),
        (None, {}, False),
        ({"spec": {"selector": {"app": "db"}}}, {}, False),
        ({"spec": {"type": "ExternalName", "externalName": "x.example"}}, {}, False),
        (SELECTORLESS, {"labels": {mirroring.SKIP_MIRROR_LABEL: "true"}}, False),
        (SELECTORLESS, {"annotations": {mirroring.LEADER_ANNOTATION: "{}"}}, False),
    ],
    ids=["selectorless", "no-service", "selector", "externalname", "skip-mirror", "leader"],
)
def test_which_endpoints_are_mirrored(svc: Obj | None, meta: Obj, mirrored: bool) -> None:
    assert mirroring.should_mirror(svc, endpoints([], **meta)) is mirrored


def test_addresses_become_endpoints_with_their_readiness_and_names() -> None:
    ep = endpoints(
        [
            {
                "addresses": [{"ip": "192.0.2.10"}, {"ip": "192.0.2.11", "hostname": "primary"}],
                "notReadyAddresses": [{"ip": "192.0.2.12", "nodeName": "n1"}],
                "ports": PG,
            }
        ]
    )
    create, update, delete = mirroring.plan_mirror(ep, [])
    assert update == [] and delete == []
    (body,) = create
    assert body["addressType"] == "IPv4"
    assert body["ports"] == PG
    assert body["endpoints"] == [
        {"addresses": ["192.0.2.10"], "conditions": {"ready": True}},
        {"addresses": ["192.0.2.11"], "conditions": {"ready": True}, "hostname": "primary"},
        {"addresses": ["192.0.2.12"], "conditions": {"ready": False}, "nodeName": "n1"},
    ]
    assert body["metadata"]["generateName"] == "db-"
    assert body["metadata"]["labels"] == {
        "kubernetes.io/service-name": "db",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
    }
    assert "annotations" not in body["metadata"]
    (owner,) = body["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Endpoints",
        "db",
        "ep-uid",
        True,
    )


def test_address_families_and_port_lists_get_slices_of_their_own() -> None:
    ep = endpoints(
        [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}], "ports": PG},
            {"addresses": [{"ip": "10.0.0.2"}], "ports": PG},
            {"addresses": [{"ip": "10.0.0.3"}, {"ip": "not-an-ip"}], "ports": [{"port": 80}]},
        ]
    )
    create, _, _ = mirroring.plan_mirror(ep, [])
    found = sorted(
        (s["addressType"], s["ports"][0]["port"], [e["addresses"][0] for e in s["endpoints"]])
        for s in create
    )
    assert found == [
        ("IPv4", 80, ["10.0.0.3"]),
        ("IPv4", 5432, ["10.0.0.1", "10.0.0.2"]),
        ("IPv6", 5432, ["fd00::1"]),
    ]


def test_labels_and_annotations_are_copied_except_the_endpoints_own() -> None:
    ep = endpoints(
        [],
        labels={"team": "a", mirroring.SKIP_MIRROR_LABEL: "false"},
        annotations={
            "note": "kept",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z",
        },
    )
    labels, annotations = mirroring.slice_meta(ep)
    assert labels["team"] == "a" and mirroring.SKIP_MIRROR_LABEL not in labels
    assert annotations == {"note": "kept"}


def test_a_changed_address_updates_the_slice_in_place() -> None:
    first = endpoints([{"addresses": [{"ip": "10.0.0.1"}], "ports": PG}])
    (created,), _, _ = mirroring.plan_mirror(first, [])
    current = {**created, "metadata": {**created["metadata"], "name": "db-abcde"}}
    assert mirroring.plan_mirror(first, [current]) == ([], [], [])
    moved = endpoints([{"addresses": [{"ip": "10.0.0.9"}], "ports": PG}])
    create, update, delete = mirroring.plan_mirror(moved, [current])
    assert create == [] and delete == []
    assert update[0]["metadata"]["name"] == "db-abcde"
    assert update[0]["endpoints"][0]["addresses"] == ["10.0.0.9"]


def test_endpoints_without_addresses_leave_no_slice() -> None:
    existing = {"metadata": {"name": "db-abcde"}, "addressType": "IPv4", "ports": PG}
    assert mirroring.plan_mirror(endpoints([]), [existing]) == ([], [], [existing])
