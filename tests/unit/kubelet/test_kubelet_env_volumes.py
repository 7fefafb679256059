"""Environment resolution and volume projection (pure)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tinykube.kubelet import envvars, volumes

pytestmark = pytest.mark.unit

POD = {
    "metadata": {
        "name": "web",
        "namespace": "ns",
        "uid": "u1",
        "labels": {"app": "web"},
        "annotations": {"a": "b"},
    },
    "spec": {"nodeName": "node1", "serviceAccountName": "default"},
    "status": {"podIP": "10.0.0.9", "hostIP": "127.0.0.1"},
}
CM = {"data": {"k": "v", "other": "o"}}
SECRET = {"data": {"pw": base64.b64encode(b"s3cret").decode()}}


def sources(**kw: object) -> envvars.EnvSources:
    return envvars.EnvSources(
        configmaps={"cm": CM}, secrets={"sec": SECRET}, node_allocatable={"cpu": "4"}, **kw
    )


def test_env_values_refs_and_expansion() -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "A", "value": "x"},
            {"name": "B", "value": "$(A)-$(MISSING)-$$(A)"},
            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
            {"name": "D", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
            {"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ],
    }
    env = dict(envvars.resolve_env(POD, container, sources()))
    assert env["B"] == "x-$(MISSING)-$(A)"
    assert (env["C"], env["D"], env["E"], env["F"]) == ("v", "s3cret", "web", "10.0.0.9")


def test_env_from_with_prefix_and_later_env_wins() -> None:
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "P_"}],
        "env": [{"name": "P_k", "value": "override"}],
    }
    env = dict(envvars.resolve_env(POD, container, sources()))
    assert env["P_k"] == "override" and env["P_other"] == "o"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        (
            {"configMapKeyRef": {"name": "cm", "key": "zz"}},
            "couldn't find key zz in ConfigMap ns/cm",
        ),
        ({"secretKeyRef": {"name": "sec", "key": "zz"}}, "couldn't find key zz in Secret ns/sec"),
    ],
)
def test_missing_references_are_config_errors(ref: dict[str, object], message: str) -> None:
    container = {"name": "c", "env": [{"name": "X", "valueFrom": ref}]}
    with pytest.raises(envvars.EnvError, match=message):
        envvars.resolve_env(POD, container, sources())


def test_optional_missing_reference_is_skipped() -> None:
    ref = {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}
    container = {"name": "c", "env": [{"name": "X", "valueFrom": ref}]}
    assert "X" not in dict(envvars.resolve_env(POD, container, sources()))


def test_resource_field_ref_uses_limits_or_node_allocatable() -> None:
    container = {"name": "c", "resources": {"limits": {"memory": "64Mi"}}}
    mem = {"resource": "limits.memory", "divisor": "1Mi"}
    cpu = {"resource": "limits.cpu"}
    assert envvars.resource_value(POD, container, mem, sources()) == "64"
    assert envvars.resource_value(POD, container, cpu, sources()) == "4"


def test_service_env_vars() -> None:
    svc = {
        "metadata": {"name": "my-svc"},
        "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80}]},
    }
    env = envvars.service_env([svc])
    assert env["MY_SVC_SERVICE_HOST"] == "10.96.0.10"
    assert env["MY_SVC_SERVICE_PORT_HTTP"] == "80"
    assert env["MY_SVC_PORT"] == "tcp://10.96.0.10:80"
    assert env["MY_SVC_PORT_80_TCP_ADDR"] == "10.96.0.10"


def test_headless_services_give_no_env() -> None:
    svc = {"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}}
    assert envvars.service_env([svc]) == {}


def test_configmap_volume_items_and_modes() -> None:
    volume = {"name": "v", "configMap": {"name": "cm", "items": [{"key": "k", "path": "sub/k"}]}}
    files = volumes.project(POD, volume, volumes.ProjectionSources(configmaps={"cm": CM}))
    assert files == {"sub/k": (b"v", 0o644)}


def test_missing_configmap_key_is_a_volume_error() -> None:
    volume = {"name": "v", "configMap": {"name": "cm", "items": [{"key": "zz", "path": "p"}]}}
    with pytest.raises(volumes.VolumeError, match="non-existent config key: zz"):
        volumes.project(POD, volume, volumes.ProjectionSources(configmaps={"cm": CM}))


def test_projected_service_account_volume() -> None:
    volume = {
        "name": "kube-api-access-x",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "root", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }
    token_source = volume["projected"]["sources"][0]["serviceAccountToken"]  # type: ignore[index]
    src = volumes.ProjectionSources(
        configmaps={"root": {"data": {"ca.crt": "PEM"}}},
        tokens={volumes.token_key(token_source): "jwt"},
    )
    files = volumes.project(POD, volume, src)
    assert files == {"token": (b"jwt", 420), "ca.crt": (b"PEM", 420), "namespace": (b"ns", 420)}


def test_secret_volume_decodes_data() -> None:
    volume = {"name": "s", "secret": {"secretName": "sec", "defaultMode": 0o400}}
    files = volumes.project(POD, volume, volumes.ProjectionSources(secrets={"sec": SECRET}))
    assert files == {"pw": (b"s3cret", 0o400)}


def test_atomic_writer_swaps_data_and_drops_removed_keys(tmp_path: Path) -> None:
    volumes.write_atomic(tmp_path, {"a": (b"1", 0o644), "b": (b"2", 0o644)})
    assert (tmp_path / "a").read_text() == "1"
    volumes.write_atomic(tmp_path, {"a": (b"3", 0o644)})
    assert (tmp_path / "a").read_text() == "3"
    assert not (tmp_path / "b").exists()
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("..2")]) == 1


def test_sub_path_mount(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    container = {"volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "data"}]}
    mounts = volumes.container_mounts(container, {"v": tmp_path}, {})
    assert mounts[0].host_path == tmp_path / "data"
    assert mounts[0].container_path == "/x"


def test_sub_path_may_not_escape(tmp_path: Path) -> None:
    container = {"volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "../etc"}]}
    with pytest.raises(volumes.VolumeError):
        volumes.container_mounts(container, {"v": tmp_path}, {})
