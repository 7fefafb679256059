"""The stacked etcd of ``up --etcd``: kubeadm's etcd PKI and static pod manifest."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tinykube.cluster import etcd
from tinykube.cluster.up import UpConfig, _stacked_etcd

pytestmark = pytest.mark.unit

PORTS = etcd.Ports(client=32379, peer=32380, metrics=32381)


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def usages(c: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def common_name(c: x509.Certificate) -> str:
    return str(c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    etcd.ensure_pki(data, "controlplane", "192.0.2.10")
    return data / "pki"


def test_member_certificates_carry_kubeadm_sans(pki: Path) -> None:
    want = {
        "DNS:localhost",
        "DNS:controlplane",
        "IP:127.0.0.1",
        "IP:::1",
        "IP:192.0.2.10",
    }
    for name in ("server", "peer"):
        c = cert(pki / "etcd" / f"{name}.crt")
        assert etcd.sans_of(c) == want, name
        assert common_name(c) == "controlplane"
        # etcdctl --cert server.crt (the CKA command) needs client auth on it too.
        assert usages(c) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


@pytest.mark.parametrize(
    ("path", "cn"),
    [
        ("etcd/healthcheck-client.crt", "kube-etcd-healthcheck-client"),
        ("apiserver-etcd-client.crt", "kube-apiserver-etcd-client"),
    ],
    ids=["healthcheck-client", "apiserver-etcd-client"],
)
def test_client_certificates(pki: Path, path: str, cn: str) -> None:
    c = cert(pki / path)
    assert common_name(c) == cn
    assert usages(c) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert etcd.sans_of(c) == frozenset()


def test_every_certificate_is_signed_by_the_etcd_ca_not_the_cluster_ca(pki: Path) -> None:
    ca = cert(pki / "etcd" / "ca.crt")
    assert common_name(ca) == "etcd-ca"
    for path in ("etcd/server.crt", "etcd/peer.crt", "etcd/healthcheck-client.crt"):
        cert(pki / path).verify_directly_issued_by(ca)
    cert(pki / "apiserver-etcd-client.crt").verify_directly_issued_by(ca)
    assert (pki / "etcd" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_pki_is_kept_on_a_second_run_and_reissued_for_a_new_address(tmp_path: Path) -> None:
    etcd.ensure_pki(tmp_path, "controlplane", "127.0.0.1")
    files = {p: p.read_bytes() for p in (tmp_path / "pki").rglob("*.crt")}
    etcd.ensure_pki(tmp_path, "controlplane", "127.0.0.1")
    assert {p: p.read_bytes() for p in files} == files
    etcd.ensure_pki(tmp_path, "controlplane", "192.0.2.7")
    server = cert(tmp_path / "pki" / "etcd" / "server.crt")
    assert "IP:192.0.2.7" in etcd.sans_of(server)
    assert (tmp_path / "pki" / "etcd" / "ca.crt").read_bytes() == files[
        tmp_path / "pki" / "etcd" / "ca.crt"
    ]


def test_member_sans_deduplicate_the_loopback_node_address() -> None:
    names, ips = etcd.member_sans("ControlPlane", "127.0.0.1")
    assert names == ["localhost", "controlplane"]
    assert ips == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]


def flags(pod: dict) -> dict[str, str]:
    command = pod["spec"]["containers"][0]["command"]
    assert command[0] == "etcd"
    return dict(arg.removeprefix("--").split("=", 1) for arg in command[1:])


def test_static_pod_is_kubeadms_etcd(tmp_path: Path) -> None:
    pod = etcd.pod(tmp_path, "controlplane", PORTS)
    pki = tmp_path.resolve() / "pki" / "etcd"
    f = flags(pod)
    assert f["name"] == "controlplane"
    assert f["data-dir"] == str(tmp_path.resolve() / "etcd")
    assert f["listen-client-urls"] == f["advertise-client-urls"] == "https://127.0.0.1:32379"
    assert f["listen-peer-urls"] == f["initial-advertise-peer-urls"] == "https://127.0.0.1:32380"
    assert f["initial-cluster"] == "controlplane=https://127.0.0.1:32380"
    assert f["listen-metrics-urls"] == "http://127.0.0.1:32381"
    assert f["client-cert-auth"] == f["peer-client-cert-auth"] == "true"
    assert f["trusted-ca-file"] == f["peer-trusted-ca-file"] == str(pki / "ca.crt")
    assert (f["cert-file"], f["key-file"]) == (str(pki / "server.crt"), str(pki / "server.key"))
    assert (f["peer-cert-file"], f["peer-key-file"]) == (
        str(pki / "peer.crt"),
        str(pki / "peer.key"),
    )
    assert f["snapshot-count"] == "10000"
    meta, spec = pod["metadata"], pod["spec"]
    assert (meta["name"], meta["namespace"]) == ("etcd", "kube-system")
    assert meta["labels"] == {"component": "etcd", "tier": "control-plane"}
    assert spec["priorityClassName"] == "system-node-critical"
    assert spec["hostNetwork"] is True
    probe = spec["containers"][0]["livenessProbe"]["httpGet"]
    assert probe == {
        "host": "127.0.0.1",
        "path": "/health?exclude=NOSPACE&serializable=true",
        "port": 32381,
        "scheme": "HTTP",
    }


def test_data_directory_is_a_host_path_volume_the_user_can_repoint(tmp_path: Path) -> None:
    pod = etcd.pod(tmp_path, "controlplane", PORTS)
    volumes = {v["name"]: v["hostPath"]["path"] for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert volumes["etcd-data"] == mounts["etcd-data"] == flags(pod)["data-dir"]
    assert volumes["etcd-certs"] == mounts["etcd-certs"]


def test_manifest_is_written_once_and_an_edited_one_is_kept(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    url = etcd.ensure_manifest(manifests, tmp_path, "controlplane", PORTS)
    assert url == "https://127.0.0.1:32379"
    path = manifests / etcd.MANIFEST
    edited = path.read_text().replace(str(tmp_path.resolve() / "etcd"), "/restored")
    path.write_text(edited)
    other = etcd.Ports(client=42379, peer=42380, metrics=42381)
    # The URL comes from the manifest on disk, which stays as the user left it.
    assert etcd.ensure_manifest(manifests, tmp_path, "controlplane", other) == url
    assert path.read_text() == edited
    assert "&id" not in edited  # plain YAML, no anchors for a user to trip over


def test_up_points_the_api_server_at_the_stacked_etcd(tmp_path: Path) -> None:
    cfg = UpConfig(data_dir=tmp_path, etcd=True, etcd_port=32379)
    args = _stacked_etcd(cfg)
    pki = tmp_path.resolve() / "pki"
    assert args == [
        "--etcd-servers",
        "https://127.0.0.1:32379",
        "--etcd-cafile",
        str(pki / "etcd" / "ca.crt"),
        "--etcd-certfile",
        str(pki / "apiserver-etcd-client.crt"),
        "--etcd-keyfile",
        str(pki / "apiserver-etcd-client.key"),
    ]
    manifest = yaml.safe_load((tmp_path / "manifests" / "etcd.yaml").read_text())
    assert flags(manifest)["listen-peer-urls"] == "https://127.0.0.1:2380"
    # Later starts without --etcd stay on etcd: the manifest says the cluster is there.
    assert _stacked_etcd(UpConfig(data_dir=tmp_path)) == args


def test_without_etcd_nothing_is_written(tmp_path: Path) -> None:
    assert _stacked_etcd(UpConfig(data_dir=tmp_path)) == []
    assert not (tmp_path / "pki" / "etcd").exists()


def test_missing_binary_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    message = etcd.missing_binary()
    assert message is not None
    assert "etcd-server" in message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["init", "--etcd"], "etcd-server", id="no-binary"),
        pytest.param(
            ["init", "--etcd", "--storage", "sqlite:///x.db"], "cannot be combined", id="storage"
        ),
    ],
)
def test_init_etcd_refuses_before_writing_anything(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tinykube import cli

    if message == "etcd-server":
        monkeypatch.setenv("PATH", "")
    assert cli.main([*argv, "--data-dir", str(tmp_path / "data")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
