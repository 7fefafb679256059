"""The official ``kubernetes`` Python client against a started API server.

Besides plain CRUD this checks the property informers depend on: a list+watch
that resumes from its last resourceVersion after the server restarts sees
every change exactly once, in order.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cluster import ApiServer
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def api_client(server: ApiServer) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(server.kubeconfig))


def test_crud_and_errors(apiserver: ApiServer) -> None:
    api = api_client(apiserver)
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyclient")))
    cm = core.create_namespaced_config_map(
        "pyclient",
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"), data={"k": "v"}),
    )
    assert cm.metadata.uid and cm.metadata.resource_version
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(
            "pyclient", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"))
        )
    assert exc.value.status == 409
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("nope", "pyclient")
    assert exc.value.status == 404
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
            ),
        ),
    )
    created = apps.create_namespaced_deployment("pyclient", dep)
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.metadata.generation == 1
    patched = apps.patch_namespaced_deployment("web", "pyclient", {"spec": {"replicas": 4}})
    assert patched.spec.replicas == 4
    assert patched.metadata.generation == 2
    scale = apps.read_namespaced_deployment_scale("web", "pyclient")
    assert scale.spec.replicas == 4
    assert scale.status.selector == "app=web"
    listed = apps.list_namespaced_deployment("pyclient", label_selector="")
    assert [d.metadata.name for d in listed.items] == ["web"]
    assert int(listed.metadata.resource_version) >= int(patched.metadata.resource_version)
    nodes = core.list_node()  # the models insist on every required Node field
    assert "controlplane" in [n.metadata.name for n in nodes.items]
    core.delete_namespaced_config_map("c1", "pyclient")
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("c1", "pyclient")
    assert exc.value.status == 404


def _collect(
    api: client.ApiClient, rv: str, seen: list[tuple[str, str, str]], stop: threading.Event
) -> None:
    """A list+watch consumer that resumes from its last resourceVersion, as informers do."""
    core = client.CoreV1Api(api)
    while not stop.is_set():
        w = watch.Watch()
        try:
            for ev in w.stream(
                core.list_namespaced_config_map,
                "informer",
                resource_version=rv,
                timeout_seconds=2,
                _request_timeout=5,
            ):
                obj = ev["object"]
                rv = obj.metadata.resource_version
                seen.append((ev["type"], obj.metadata.name, rv))
        except Exception:
            if stop.is_set():
                return
            stop.wait(0.2)


def test_watch_resumes_across_restart(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "data")
    server.start()
    try:
        api = api_client(server)
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="informer")))
        listed = core.list_namespaced_config_map("informer")
        seen: list[tuple[str, str, str]] = []
        stop = threading.Event()
        worker = threading.Thread(
            target=_collect, args=(api, listed.metadata.resource_version, seen, stop), daemon=True
        )
        worker.start()
        for i in range(5):
            core.create_namespaced_config_map(
                "informer", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"a{i}"))
            )
        server.stop()
        server.start()
        api2 = api_client(server)
        core2 = client.CoreV1Api(api2)
        for i in range(5):
            core2.create_namespaced_config_map(
                "informer", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"b{i}"))
            )
        core2.delete_namespaced_config_map("a0", "informer")
        deadline = threading.Event()
        for _ in range(100):
            if len([s for s in seen if s[0] == "DELETED"]) == 1 and len(seen) >= 11:
                break
            deadline.wait(0.1)
        stop.set()
        worker.join(10)
        names = [(t, n) for t, n, _ in seen if n != "kube-root-ca.crt"]
        expected = [("ADDED", f"a{i}") for i in range(5)] + [("ADDED", f"b{i}") for i in range(5)]
        expected.append(("DELETED", "a0"))
        assert names == expected
        revisions = [int(rv) for _, _, rv in seen]
        assert revisions == sorted(revisions)
        assert len(set(revisions)) == len(revisions)
    finally:
        server.stop()
