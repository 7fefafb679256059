"""The OpenAPI v3 index and documents, and the Swagger 2.0 JSON, as clients read them."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api import resources, schemagen
from tinykube.api.schema import REF_PREFIX
from tinykube.apiserver import openapi

ALL_GV_PATHS = openapi.openapi_paths()


def doc(gv_path: str) -> dict[str, Any]:
    found = openapi.v3_document(gv_path)
    assert found is not None
    return found


def item_path(res: resources.Resource) -> str:
    ns = "/namespaces/{namespace}" if res.namespaced else ""
    return f"/{openapi.gv_path(res.group, res.version)}{ns}/{res.plural}/{{name}}"


def test_paths_cover_every_group_version() -> None:
    assert ALL_GV_PATHS[0] == "api/v1"
    assert "apis/apps/v1" in ALL_GV_PATHS
    assert len(ALL_GV_PATHS) == len(resources.group_versions())


def test_index_points_at_hashed_documents() -> None:
    index = openapi.v3_index()["paths"]
    assert list(index) == ALL_GV_PATHS
    for path, entry in index.items():
        assert entry == {"serverRelativeURL": f"/openapi/v3/{path}?hash={openapi.v3_hash(path)}"}
        assert len(openapi.v3_hash(path)) == 128 and openapi.v3_hash(path).isupper()


def test_hash_is_a_content_hash() -> None:
    assert openapi.v3_hash("api/v1") != openapi.v3_hash("apis/apps/v1")
    assert openapi.v3_hash("api/v1") == openapi.v3_hash("/api/v1/")
    assert openapi.v3_hash("apis/nope/v1") == ""


@pytest.mark.parametrize("path", ["apis/nope/v1", "api/v2", "apis/apps", "", "x/y/z/w"])
def test_unknown_group_versions_have_no_document(path: str) -> None:
    assert openapi.v3_document(path) is None


def test_documents_are_built_once() -> None:
    assert openapi.v3_document("api/v1") is openapi.v3_document("api/v1")
    assert openapi.v2_document() is openapi.v2_document()


PATCHABLE = [r for r in resources.RESOURCES if "patch" in r.verbs]


@pytest.mark.parametrize("res", PATCHABLE, ids=lambda r: f"{r.group_version}/{r.plural}")
def test_every_patch_operation_carries_gvk_and_field_validation(res: resources.Resource) -> None:
    patch = doc(openapi.gv_path(res.group, res.version))["paths"][item_path(res)]["patch"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": res.group,
        "version": res.version,
        "kind": res.kind,
    }
    query = {p["name"] for p in patch["parameters"] if p["in"] == "query"}
    assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= query
    assert set(patch["requestBody"]["content"]) == set(openapi.PATCH_CONTENT_TYPES)


def test_pod_operations() -> None:
    paths = doc("api/v1")["paths"]
    collection = paths["/api/v1/namespaces/{namespace}/pods"]
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["get"]["operationId"] == "listCoreV1NamespacedPod"
    assert collection["post"]["x-kubernetes-action"] == "post"
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert {p["name"] for p in collection["get"]["parameters"]} >= {"watch", "labelSelector"}
    assert {p["name"] for p in collection["post"]["parameters"]} >= {"fieldValidation", "dryRun"}
    item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert [item[m]["x-kubernetes-action"] for m in ("get", "put", "patch", "delete")] == [
        "get",
        "put",
        "patch",
        "delete",
    ]
    assert {p["name"] for p in item["parameters"]} == {"name", "namespace", "pretty"}
    assert paths["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    body = item["put"]["requestBody"]["content"]["*/*"]["schema"]
    assert body == {"$ref": REF_PREFIX + "io.k8s.api.core.v1.Pod"}


def test_subresources_carry_their_own_kind() -> None:
    core = doc("api/v1")["paths"]
    eviction = core["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]
    assert eviction["x-kubernetes-group-version-kind"]["kind"] == "Eviction"
    assert eviction["x-kubernetes-group-version-kind"]["group"] == "policy"
    status = core["/api/v1/namespaces/{namespace}/pods/{name}/status"]
    assert status["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Pod"
    assert "fieldValidation" in {p["name"] for p in status["patch"]["parameters"]}
    token = core["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]["post"]
    assert token["x-kubernetes-group-version-kind"]["kind"] == "TokenRequest"
    assert "/api/v1/namespaces/{namespace}/pods/{name}/exec" not in core
    apps = doc("apis/apps/v1")["paths"]
    scale = apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
    }
    assert scale["patch"]["operationId"] == "patchAppsV1NamespacedDeploymentScale"
    schemas = doc("apis/apps/v1")["components"]["schemas"]
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas


def test_verbs_limit_operations() -> None:
    authz = doc("apis/authorization.k8s.io/v1")["paths"]
    review = authz["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(review) == {"parameters", "post"}
    assert "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/{name}" not in authz
    namespaces = doc("api/v1")["paths"]["/api/v1/namespaces"]
    assert "delete" not in namespaces  # no deletecollection for namespaces


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


@pytest.mark.parametrize("gv_path", ALL_GV_PATHS)
def test_every_reference_resolves_inside_the_document(gv_path: str) -> None:
    document = doc(gv_path)
    schemas = document["components"]["schemas"]
    names = {ref.removeprefix(REF_PREFIX) for ref in _refs(document)}
    assert names <= set(schemas)


@pytest.mark.parametrize("gv_path", ALL_GV_PATHS)
def test_every_kind_of_the_group_version_has_a_schema_with_its_gvk(gv_path: str) -> None:
    document = doc(gv_path)
    gvks = [
        gvk
        for s in document["components"]["schemas"].values()
        for gvk in s.get(schemagen.GVK_EXT, [])
    ]
    for res in resources.resources_in(*document_gv(gv_path)):
        assert {"group": res.group, "version": res.version, "kind": res.kind} in gvks


def document_gv(gv_path: str) -> tuple[str, str]:
    parts = gv_path.split("/")
    return ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])


def test_containers_carry_the_merge_key() -> None:
    schemas = doc("api/v1")["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"] == {"allOf": [{"$ref": REF_PREFIX + "io.k8s.api.core.v1.Container"}]}


def test_v2_document() -> None:
    v2 = openapi.v2_document()
    assert v2["swagger"] == "2.0"
    pod = v2["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["spec"] == {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}
    assert v2["definitions"][schemagen.INT_OR_STRING]["format"] == "int-or-string"
    patch = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert set(patch["consumes"]) == set(openapi.PATCH_CONTENT_TYPES)
    body = [p for p in patch["parameters"] if p["in"] == "body"]
    assert body == [
        {
            "name": "body",
            "in": "body",
            "required": True,
            "schema": {"$ref": "#/definitions/" + schemagen.PATCH},
        }
    ]
    assert {
        "name": "fieldValidation",
        "in": "query",
        "type": "string",
        "uniqueItems": True,
    } in patch["parameters"]
    assert "#/components/" not in str(v2)
