"""The per-resource write rules every endpoint shares (create, update, /status)."""

from __future__ import annotations

import pytest

from tinykube.api import errors
from tinykube.api.resources import lookup
from tinykube.apiserver.registry import strategy

DEPLOYMENTS = lookup("apps", "v1", "deployments")
NAMESPACES = lookup("", "v1", "namespaces")
CONFIGMAPS = lookup("", "v1", "configmaps")
NOW = "2026-01-01T00:00:00Z"


def deployment(replicas: int = 1, status: dict | None = None) -> dict:
    obj = {"metadata": {"name": "d"}, "spec": {"replicas": replicas}}
    if status is not None:
        obj["status"] = status
    return obj


def test_create_sets_server_fields_and_clears_status() -> None:
    obj = deployment(status={"replicas": 9})
    obj["metadata"]["uid"] = "client-chosen"
    strategy.prepare_for_create(DEPLOYMENTS, obj, NOW)
    assert obj["metadata"]["uid"] != "client-chosen"
    assert obj["metadata"]["creationTimestamp"] == NOW
    assert obj["metadata"]["generation"] == 1
    assert "status" not in obj


def test_create_rejects_a_resource_version() -> None:
    obj = deployment()
    obj["metadata"]["resourceVersion"] = "5"
    with pytest.raises(errors.BadRequest, match="resourceVersion should not be set"):
        strategy.prepare_for_create(DEPLOYMENTS, obj, NOW)


def test_namespace_gets_the_kubernetes_finalizer_on_create_only() -> None:
    ns = {"metadata": {"name": "n"}}
    strategy.prepare_for_create(NAMESPACES, ns, NOW)
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    old = {**ns, "metadata": {**ns["metadata"], "resourceVersion": "3"}}
    new = {"metadata": {"name": "n"}, "spec": {"finalizers": []}}
    strategy.prepare_for_update(NAMESPACES, new, old)
    assert new["spec"]["finalizers"] == []


@pytest.mark.parametrize(
    ("change", "generation"),
    [({"replicas": 3}, 2), ({}, 1)],
    ids=["spec-change-bumps", "metadata-only-keeps"],
)
def test_update_keeps_status_and_bumps_generation_on_spec_change(
    change: dict, generation: int
) -> None:
    old = deployment(status={"replicas": 1})
    old["metadata"].update(uid="u", generation=1, resourceVersion="7")
    new = deployment(status={"replicas": 99})
    new["spec"].update(change)
    new["metadata"]["labels"] = {"a": "b"}
    strategy.prepare_for_update(DEPLOYMENTS, new, old)
    assert new["status"] == {"replicas": 1}
    assert new["metadata"]["generation"] == generation
    assert new["metadata"]["uid"] == "u"


def test_status_update_keeps_the_spec() -> None:
    old = deployment(replicas=2, status={"replicas": 1})
    old["metadata"].update(uid="u", generation=4, resourceVersion="7")
    new = deployment(replicas=50, status={"replicas": 2})
    strategy.prepare_for_status_update(DEPLOYMENTS, new, old)
    assert new["spec"] == {"replicas": 2}
    assert new["status"] == {"replicas": 2}
    assert new["metadata"]["generation"] == 4


def test_kinds_without_spec_tracking_get_no_generation() -> None:
    cm = {"metadata": {"name": "c"}, "data": {"a": "1"}}
    strategy.prepare_for_create(CONFIGMAPS, cm, NOW)
    assert "generation" not in cm["metadata"]


DAEMONSETS = lookup("apps", "v1", "daemonsets")


def test_daemonset_template_generation_follows_template_changes() -> None:
    ds = {"metadata": {"name": "ds"}, "spec": {"template": {"spec": {"containers": []}}}}
    strategy.prepare_for_create(DAEMONSETS, ds, NOW)
    key = "deprecated.daemonset.template.generation"
    assert ds["metadata"]["annotations"][key] == "1"
    old = {**ds, "metadata": {**ds["metadata"], "resourceVersion": "2"}}
    relabel = {
        "metadata": {"name": "ds", "annotations": {key: "1"}},
        "spec": {**ds["spec"], "minReadySeconds": 5},
    }
    strategy.prepare_for_update(DAEMONSETS, relabel, old)
    assert relabel["metadata"]["generation"] == 2
    assert relabel["metadata"]["annotations"][key] == "1"
    new_template = {
        "metadata": {"name": "ds", "annotations": {key: "1"}},
        "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}},
    }
    strategy.prepare_for_update(DAEMONSETS, new_template, old)
    assert new_template["metadata"]["annotations"][key] == "2"
