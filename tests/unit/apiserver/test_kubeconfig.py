"""kubeconfig files: the layout kubectl reads, embedded credentials, mode 0600."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tinykube.apiserver.kubeconfig import write_admin_kubeconfig, write_kubeconfig
from tinykube.apiserver.tls import Pki, cert_pem, ensure_pki, key_pem

pytestmark = pytest.mark.unit

SERVER = "https://127.0.0.1:6443"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("data"), hosts=[], ips=[])


def read(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_admin_kubeconfig(pki: Pki, tmp_path: Path) -> None:
    path = write_admin_kubeconfig(tmp_path, SERVER, pki)
    assert path == tmp_path / "admin.kubeconfig"
    doc = read(path)
    assert doc["current-context"] == "tinykube"
    assert doc["contexts"] == [
        {"name": "tinykube", "context": {"cluster": "tinykube", "user": "kubernetes-admin"}}
    ]
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == SERVER
    assert base64.b64decode(cluster["certificate-authority-data"]) == pki.ca_pem
    user = doc["users"][0]
    assert user["name"] == "kubernetes-admin"
    assert base64.b64decode(user["user"]["client-certificate-data"]) == cert_pem(pki.admin_cert)
    assert base64.b64decode(user["user"]["client-key-data"]) == key_pem(pki.admin_key)


def test_kubeconfig_is_owner_only(pki: Pki, tmp_path: Path) -> None:
    path = write_admin_kubeconfig(tmp_path, SERVER, pki)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rewrite_replaces_the_file_and_leaves_no_temporaries(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "config"
    write_kubeconfig(path, server=SERVER, ca_pem=pki.ca_pem, user="u", token="one")
    write_kubeconfig(path, server=SERVER, ca_pem=pki.ca_pem, user="u", token="two")
    assert read(path)["users"] == [{"name": "u", "user": {"token": "two"}}]
    assert [p.name for p in tmp_path.iterdir()] == ["config"]


def test_token_kubeconfig_with_namespace(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "sa.kubeconfig"
    write_kubeconfig(
        path,
        server=SERVER,
        ca_pem=pki.ca_pem,
        user="builder",
        token="t0ken",
        context="ci",
        cluster="prod",
        namespace="build",
    )
    doc = read(path)
    assert doc["current-context"] == "ci"
    assert doc["contexts"][0]["context"] == {
        "cluster": "prod",
        "user": "builder",
        "namespace": "build",
    }
    assert doc["clusters"][0]["name"] == "prod"
    assert doc["users"] == [{"name": "builder", "user": {"token": "t0ken"}}]


def test_certificate_without_key_is_refused(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="together"):
        write_kubeconfig(
            tmp_path / "x",
            server=SERVER,
            ca_pem=pki.ca_pem,
            user="u",
            client_cert_pem=cert_pem(pki.admin_cert),
        )
    assert not (tmp_path / "x").exists()
