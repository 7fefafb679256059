"""Loading kubeconfig files and in-cluster config into a ClientConfig."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from tinykube.apiserver.tls import Pki, cert_pem, ensure_pki, key_pem
from tinykube.client.kubeconfig import (
    ConfigError,
    default_paths,
    in_cluster_config,
    load_kubeconfig,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("pki"), hosts=[], ips=[])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def doc(cluster: dict[str, Any], user: dict[str, Any], **ctx: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", **ctx}}],
        "current-context": "ctx",
    }


def test_embedded_ca_and_client_certificate(pki: Pki, tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            {"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(pki.ca_pem)},
            {
                "client-certificate-data": b64(cert_pem(pki.admin_cert)),
                "client-key-data": b64(key_pem(pki.admin_key)),
            },
        ),
    )
    config = load_kubeconfig(path)
    assert config.server == "https://127.0.0.1:6443"  # trailing slash dropped
    assert config.namespace == "default"
    assert isinstance(config.ssl_context, ssl.SSLContext)
    assert config.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert len(config.ssl_context.get_ca_certs()) == 1
    assert "Authorization" not in config.headers


def test_files_relative_to_the_kubeconfig(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(pki.ca_pem)
    (tmp_path / "admin.crt").write_bytes(cert_pem(pki.admin_cert))
    (tmp_path / "admin.key").write_bytes(key_pem(pki.admin_key))
    path = write(
        tmp_path / "config",
        doc(
            {"server": "https://h:1", "certificate-authority": "ca.crt"},
            {"client-certificate": "admin.crt", "client-key": "admin.key"},
            namespace="work",
        ),
    )
    config = load_kubeconfig(path)
    assert config.namespace == "work"
    assert len(config.ssl_context.get_ca_certs()) == 1  # type: ignore[union-attr]


def test_bad_key_material_fails_loudly(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            {"server": "https://h:1", "insecure-skip-tls-verify": True},
            {"client-certificate-data": b64(b"junk"), "client-key-data": b64(b"junk")},
        ),
    )
    with pytest.raises(ssl.SSLError):
        load_kubeconfig(path)


def test_token_and_insecure(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc({"server": "https://h:1", "insecure-skip-tls-verify": True}, {"token": "abc"}),
    )
    config = load_kubeconfig(path)
    assert config.ssl_context.verify_mode == ssl.CERT_NONE  # type: ignore[union-attr]
    assert config.ssl_context.check_hostname is False  # type: ignore[union-attr]
    assert config.auth_headers() == {"Authorization": "Bearer abc"}


def test_token_file_is_read_on_every_request(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    path = write(
        tmp_path / "config",
        doc({"server": "http://h:1"}, {"tokenFile": "token"}),
    )
    config = load_kubeconfig(path)
    assert config.ssl_context is None  # plain http
    assert config.auth_headers() == {"Authorization": "Bearer one"}
    token.write_text("two")
    assert config.auth_headers() == {"Authorization": "Bearer two"}


def test_context_selection(tmp_path: Path) -> None:
    d = doc({"server": "http://one"}, {})
    d["clusters"].append({"name": "c2", "cluster": {"server": "http://two"}})
    d["contexts"].append({"name": "other", "context": {"cluster": "c2", "user": "u"}})
    path = write(tmp_path / "config", d)
    assert load_kubeconfig(path).server == "http://one"
    assert load_kubeconfig(path, context="other").server == "http://two"
    with pytest.raises(ConfigError, match='context "nope" does not exist'):
        load_kubeconfig(path, context="nope")


def test_kubeconfig_env_merges_first_wins(tmp_path: Path) -> None:
    first = doc({"server": "http://first"}, {"token": "t1"})
    first.pop("current-context")
    second = doc({"server": "http://second"}, {"token": "t2"})
    second["contexts"].append({"name": "only-second", "context": {"cluster": "c", "user": "u"}})
    a = write(tmp_path / "a", first)
    b = write(tmp_path / "b", second)
    env = {"KUBECONFIG": f"{a}:{tmp_path / 'missing'}:{b}"}
    assert default_paths(env) == [a, tmp_path / "missing", b]
    config = load_kubeconfig(env=env)
    # current-context comes from the second file; the cluster "c" from the first
    assert config.server == "http://first"
    assert config.headers["Authorization"] == "Bearer t1"


def test_default_path_is_home_kube_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_paths({}) == [Path("/home/someone/.kube/config")]


def test_missing_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no kubeconfig found"):
        load_kubeconfig(tmp_path / "nothing")


def test_no_current_context(tmp_path: Path) -> None:
    d = doc({"server": "http://h"}, {})
    d.pop("current-context")
    with pytest.raises(ConfigError, match="current-context"):
        load_kubeconfig(write(tmp_path / "config", d))


def test_in_cluster(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_bytes(pki.ca_pem)
    (tmp_path / "namespace").write_text("team-a")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = in_cluster_config(env, tmp_path)
    assert config.server == "https://10.96.0.1:443"
    assert config.namespace == "team-a"
    assert config.auth_headers() == {"Authorization": "Bearer sa-token"}
    assert len(config.ssl_context.get_ca_certs()) == 1  # type: ignore[union-attr]


def test_in_cluster_ipv6_host(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    (tmp_path / "ca.crt").write_bytes(pki.ca_pem)
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    config = in_cluster_config(env, tmp_path)
    assert config.server == "https://[fd00::1]:443"
    assert config.namespace == "default"


def test_not_in_cluster(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not in a cluster"):
        in_cluster_config({}, tmp_path)
