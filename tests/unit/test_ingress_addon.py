"""The ingress add-on's manifests: the pieces must fit each other and the controller."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.cluster import addons
from tinykube.ingress import command, routes

Obj = dict[str, Any]


def objects(monkeypatch: pytest.MonkeyPatch, uid: int) -> dict[str, Obj]:
    monkeypatch.setattr(addons.os, "geteuid", lambda: uid)
    return {resource: obj for _v, resource, obj in addons.ingress_objects("python3")}


def test_service_reaches_the_controller_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    made = objects(monkeypatch, 0)
    svc, deploy = made["services"], made["deployments"]
    template = deploy["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert svc["spec"]["type"] == "NodePort"
    assert all("nodePort" not in p for p in svc["spec"]["ports"])  # the allocator picks them
    assert svc["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= names.keys()
    assert names == {"http": 80, "https": 443}
    assert f"--http-port={names['http']}" in container["args"]
    publish = f"--publish-service={svc['metadata']['namespace']}/{svc['metadata']['name']}"
    assert publish in container["args"]
    assert container["command"][:3] == ["python3", "-m", "tinykube.ingress.command"]


def test_without_root_the_pod_listens_on_unprivileged_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container = objects(monkeypatch, 1000)["deployments"]["spec"]["template"]["spec"]
    ports = {p["name"]: p["containerPort"] for p in container["containers"][0]["ports"]}
    assert ports == {"http": 8080, "https": 8443}


def test_class_is_the_default_and_names_the_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    ic = objects(monkeypatch, 0)["ingressclasses"]
    assert routes.is_default_class(ic)
    assert ic["spec"]["controller"] == command.CONTROLLER_CLASS
    assert routes.serves({"metadata": {}, "spec": {}}, [ic], command.CONTROLLER_CLASS)


def test_role_allows_what_the_controller_does(monkeypatch: pytest.MonkeyPatch) -> None:
    made = objects(monkeypatch, 0)
    allowed = {
        (group, resource, verb)
        for rule in made["clusterroles"]["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    needed = [
        ("networking.k8s.io", "ingresses", "watch"),
        ("networking.k8s.io", "ingressclasses", "list"),
        ("networking.k8s.io", "ingresses/status", "update"),
        ("", "services", "watch"),
        ("", "secrets", "list"),
        ("discovery.k8s.io", "endpointslices", "watch"),
    ]
    assert [n for n in needed if n not in allowed] == []
    binding = made["clusterrolebindings"]
    account = made["serviceaccounts"]["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    assert made["deployments"]["spec"]["template"]["spec"]["serviceAccountName"] == account["name"]


def test_controller_stays_off_simulated_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = objects(monkeypatch, 0)["deployments"]["spec"]["template"]["spec"]
    required = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expression = required["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expression == {"key": "tinykube.io/simulated", "operator": "NotIn", "values": ["true"]}
