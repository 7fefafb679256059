"""Custom objects follow the cluster's clean-up rules, as on Kubernetes.

The garbage collector deletes an object whose owner, a custom object, is
deleted; the namespace controller empties a deleted namespace of its custom
objects too (a namespace of the same name made again starts empty).
"""

from __future__ import annotations

import time

import pytest
from cluster import ApiServer
from kubernetes import client, config
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e

GROUP = "cleanup.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gadgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def eventually(check, within: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {within}s: {check}")
        time.sleep(0.3)


def gone(call) -> bool:  # type: ignore[no-untyped-def]
    try:
        call()
    except ApiException as exc:
        return exc.status == 404
    return False


def test_owned_objects_and_namespaces_take_custom_objects_along(apiserver: ApiServer) -> None:
    api = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    ext = client.ApiextensionsV1Api(api)
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    ext.create_custom_resource_definition(CRD)

    def established() -> bool:
        crd = ext.read_custom_resource_definition(f"gadgets.{GROUP}")
        conds = (crd.status.conditions or []) if crd.status else []
        return any(c.type == "Established" and c.status == "True" for c in conds)

    eventually(established)
    for ns in ("gc-owner", "gc-doomed"):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    def create_gadget(ns: str, name: str) -> dict:
        body = {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": name}}
        return eventually(
            lambda: _try(
                lambda: custom.create_namespaced_custom_object(GROUP, "v1", ns, "gadgets", body)
            )
        )

    owner = create_gadget("gc-owner", "owner")
    ref = client.V1OwnerReference(
        api_version=f"{GROUP}/v1", kind="Gadget", name="owner", uid=owner["metadata"]["uid"]
    )
    core.create_namespaced_config_map(
        "gc-owner",
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owned", owner_references=[ref])),
    )
    time.sleep(2)  # the collector has looked at the ConfigMap and found its owner alive
    core.read_namespaced_config_map("owned", "gc-owner")
    custom.delete_namespaced_custom_object(GROUP, "v1", "gc-owner", "gadgets", "owner")
    eventually(lambda: gone(lambda: core.read_namespaced_config_map("owned", "gc-owner")))

    create_gadget("gc-doomed", "inside")
    core.delete_namespace("gc-doomed")
    eventually(lambda: gone(lambda: core.read_namespace("gc-doomed")))
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="gc-doomed")))
    listed = custom.list_namespaced_custom_object(GROUP, "v1", "gc-doomed", "gadgets")
    assert listed["items"] == []


def _try(call):  # type: ignore[no-untyped-def]
    try:
        return call()
    except ApiException as exc:
        if exc.status in (404, 503):  # the new kind is not served yet
            return None
        raise
