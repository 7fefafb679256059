"""Custom resources through the official Python client, as operators use them.

A CRD is created with ``ApiextensionsV1Api`` (whose models insist on the
status fields upstream always sends), then its objects are created, listed,
patched and watched with ``CustomObjectsApi``; deleting the CRD takes the
objects with it. A restarted API server serves the CRDs it finds stored.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cluster import ApiServer
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e

GROUP = "py.example.com"
PLURAL = "gizmos"
NAME = f"{PLURAL}.{GROUP}"
WAIT_SECONDS = 30.0


def api_client(server: ApiServer) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(server.kubeconfig))


def gizmo_crd() -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "properties": {
            "size": {"type": "integer", "minimum": 1},
            "mode": {"type": "string", "default": "auto"},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "kind": "Gizmo"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}
                    },
                }
            ],
        },
    }


def gizmo(name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gizmo",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


def wait_established(ext: client.ApiextensionsV1Api) -> client.V1CustomResourceDefinition:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        crd = ext.read_custom_resource_definition(NAME)
        conditions = {c.type: c.status for c in crd.status.conditions or []}
        if conditions.get("Established") == "True":
            return crd
        assert time.monotonic() < deadline, f"not established: {conditions}"
        time.sleep(0.2)


def wait_gone(objects: client.CustomObjectsApi, namespace: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            objects.list_namespaced_custom_object(GROUP, "v1", namespace, PLURAL)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        assert time.monotonic() < deadline, "the custom resource is still served"
        time.sleep(0.2)


def test_custom_objects_api(apiserver: ApiServer) -> None:
    api = api_client(apiserver)
    core = client.CoreV1Api(api)
    ext = client.ApiextensionsV1Api(api)
    objects = client.CustomObjectsApi(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pycrd")))
    created = ext.create_custom_resource_definition(gizmo_crd())
    assert created.status.stored_versions == ["v1"]
    crd = wait_established(ext)
    assert crd.status.accepted_names.kind == "Gizmo"
    assert crd.status.accepted_names.list_kind == "GizmoList"

    seen: list[tuple[str, str, int]] = []
    started = threading.Event()

    def follow() -> None:
        w = watch.Watch()
        started.set()
        for ev in w.stream(
            objects.list_namespaced_custom_object,
            GROUP,
            "v1",
            "pycrd",
            PLURAL,
            timeout_seconds=10,
        ):
            obj = ev["object"]
            seen.append((ev["type"], obj["metadata"]["name"], obj["spec"]["size"]))
            if len(seen) == 3:
                w.stop()

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    started.wait()
    first = objects.create_namespaced_custom_object(GROUP, "v1", "pycrd", PLURAL, gizmo("a", 1))
    assert first["spec"] == {"size": 1, "mode": "auto"}
    assert first["metadata"]["generation"] == 1
    objects.create_namespaced_custom_object(GROUP, "v1", "pycrd", PLURAL, gizmo("b", 2))
    listed = objects.list_namespaced_custom_object(GROUP, "v1", "pycrd", PLURAL)
    assert listed["kind"] == "GizmoList"
    assert [o["metadata"]["name"] for o in listed["items"]] == ["a", "b"]
    patched = objects.patch_namespaced_custom_object(
        GROUP, "v1", "pycrd", PLURAL, "a", {"spec": {"size": 5}}
    )
    assert patched["spec"]["size"] == 5
    assert patched["metadata"]["generation"] == 2
    watcher.join(15)
    assert ("ADDED", "a", 1) in seen
    assert ("ADDED", "b", 2) in seen
    assert ("MODIFIED", "a", 5) in seen

    with pytest.raises(ApiException) as exc:
        objects.create_namespaced_custom_object(GROUP, "v1", "pycrd", PLURAL, gizmo("c", 0))
    assert exc.value.status == 422
    assert "spec.size in body should be greater than or equal to 1" in exc.value.body

    ext.delete_custom_resource_definition(NAME)
    wait_gone(objects, "pycrd")
    ext.create_custom_resource_definition(gizmo_crd())
    wait_established(ext)
    again = objects.list_namespaced_custom_object(GROUP, "v1", "pycrd", PLURAL)
    assert again["items"] == []  # the old objects went with the old definition
    ext.delete_custom_resource_definition(NAME)


def test_stored_crds_are_served_after_a_restart(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "data")
    server.start()
    try:
        api = api_client(server)
        ext = client.ApiextensionsV1Api(api)
        ext.create_custom_resource_definition(gizmo_crd())
        wait_established(ext)
        objects = client.CustomObjectsApi(api)
        objects.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, gizmo("kept", 3))
        server.stop()
        server.start()
        objects = client.CustomObjectsApi(api_client(server))
        kept = objects.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "kept")
        assert kept["spec"] == {"size": 3, "mode": "auto"}
    finally:
        server.stop()
