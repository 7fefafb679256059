"""The PKI under <data-dir>/pki: what is created, what is reused, what is regenerated."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tinykube.apiserver import tls
from tinykube.apiserver.tls import Pki, ensure_pki, issue_client_cert, server_ssl_context

pytestmark = pytest.mark.unit

PKI_FILES = ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key"]
PKI_FILES += ["sa.key", "sa.pub"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    data_dir = tmp_path_factory.mktemp("data")
    return ensure_pki(data_dir, hosts=["cp.example.com"], ips=["192.0.2.10"])


def subject_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def extended_usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return ext.get_values_for_type(x509.DNSName), ips


def test_creates_kubeadm_layout(pki: Pki) -> None:
    assert sorted(p.name for p in pki.dir.iterdir()) == sorted(PKI_FILES)
    assert pki.dir.name == "pki"


@pytest.mark.parametrize("name", ["ca.key", "apiserver.key", "admin.key", "sa.key"])
def test_private_keys_are_owner_only(pki: Pki, name: str) -> None:
    assert stat.S_IMODE((pki.dir / name).stat().st_mode) == 0o600


def test_ca_is_a_ca_named_kubernetes(pki: Pki) -> None:
    assert subject_values(pki.ca_cert.subject, NameOID.COMMON_NAME) == ["kubernetes"]
    constraints = pki.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    assert pki.ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_serving_cert_sans(pki: Pki) -> None:
    dns, ips = sans(pki.serving_cert)
    assert dns == [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "cp.example.com",
    ]
    assert ips == ["127.0.0.1", "10.96.0.1", "192.0.2.10"]


def test_serving_cert_is_for_servers_and_signed_by_ca(pki: Pki) -> None:
    assert extended_usages(pki.serving_cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    pki.serving_cert.verify_directly_issued_by(pki.ca_cert)


def test_admin_cert_identity(pki: Pki) -> None:
    subject = pki.admin_cert.subject
    assert subject_values(subject, NameOID.COMMON_NAME) == ["kubernetes-admin"]
    assert subject_values(subject, NameOID.ORGANIZATION_NAME) == ["kubeadm:cluster-admins"]
    assert extended_usages(pki.admin_cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    pki.admin_cert.verify_directly_issued_by(pki.ca_cert)


def test_sa_pub_is_the_public_half_of_sa_key(pki: Pki) -> None:
    loaded = serialization.load_pem_public_key(pki.sa_pub_path.read_bytes())
    assert loaded.public_numbers() == pki.sa_key.public_key().public_numbers()  # type: ignore[union-attr]
    assert pki.sa_public_key.public_numbers() == pki.sa_key.public_key().public_numbers()


def test_second_start_reuses_everything(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, hosts=["a"], ips=[])
    before = {name: (tmp_path / "pki" / name).read_bytes() for name in PKI_FILES}
    second = ensure_pki(tmp_path, hosts=["a"], ips=[])
    after = {name: (tmp_path / "pki" / name).read_bytes() for name in PKI_FILES}
    assert before == after
    assert second.serving_cert == first.serving_cert


def test_new_san_regenerates_only_the_serving_cert(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, hosts=["a"], ips=[])
    second = ensure_pki(tmp_path, hosts=["a", "b"], ips=["192.0.2.7"])
    assert second.serving_cert.serial_number != first.serving_cert.serial_number
    assert "b" in sans(second.serving_cert)[0]
    assert "192.0.2.7" in sans(second.serving_cert)[1]
    assert second.ca_cert == first.ca_cert
    assert second.admin_cert == first.admin_cert
    assert second.sa_public_key.public_numbers() == first.sa_public_key.public_numbers()


def test_serving_cert_near_expiry_is_renewed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls, "CERT_VALIDITY_DAYS", tls.RENEW_BEFORE_DAYS - 1)
    first = ensure_pki(tmp_path, hosts=[], ips=[])
    monkeypatch.undo()
    second = ensure_pki(tmp_path, hosts=[], ips=[])
    assert second.serving_cert.serial_number != first.serving_cert.serial_number
    assert second.ca_cert == first.ca_cert


@pytest.mark.parametrize("removed", ["ca.key", "ca.crt", "sa.key"])
def test_half_a_ca_or_signing_key_is_not_replaced(tmp_path: Path, removed: str) -> None:
    ensure_pki(tmp_path, hosts=[], ips=[])
    (tmp_path / "pki" / removed).unlink()
    with pytest.raises(FileNotFoundError, match=f"{removed} is missing"):
        ensure_pki(tmp_path, hosts=[], ips=[])
    assert not (tmp_path / "pki" / removed).exists()


def test_host_given_as_address_becomes_ip_san() -> None:
    dns, ips = tls.serving_sans(["10.0.0.5", "Node1"], [])
    assert "node1" in dns
    assert ipaddress.ip_address("10.0.0.5") in ips
    assert "10.0.0.5" not in dns


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [("10.96.0.0/12", "10.96.0.1"), ("172.20.0.0/16", "172.20.0.1"), ("fd00::/108", "fd00::1")],
)
def test_first_service_ip(cidr: str, expected: str) -> None:
    assert str(tls.first_service_ip(cidr)) == expected


def test_issue_client_cert_for_a_kubelet(pki: Pki) -> None:
    cert_pem, key_pem = issue_client_cert(pki, "system:node:worker-1", ["system:nodes"], 30)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert subject_values(cert.subject, NameOID.COMMON_NAME) == ["system:node:worker-1"]
    assert subject_values(cert.subject, NameOID.ORGANIZATION_NAME) == ["system:nodes"]
    assert extended_usages(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert.verify_directly_issued_by(pki.ca_cert)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=30) < lifetime <= dt.timedelta(days=30, minutes=6)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> ssl.SSLObject:
    """Run a TLS handshake through memory BIOs (no sockets); return the server side."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="kubernetes.default.svc")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for side, obj, out, peer_in in (
            ("client", client, c_out, s_in),
            ("server", server, s_out, c_in),
        ):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done.values()):
            break
    # TLS 1.3 delivers the client certificate after the client thinks it is done.
    server.write(b"x")
    c_in.write(s_out.read())
    client.read(1)
    client.write(b"y")
    s_in.write(c_out.read())
    server.read(1)
    return server


def client_context(pki: Pki, *, with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert_path))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if with_cert:
        ctx.load_cert_chain(pki.admin_cert_path, pki.admin_key_path)
    return ctx


def test_server_context_accepts_clients_without_certificates(pki: Pki) -> None:
    server = handshake(server_ssl_context(pki), client_context(pki, with_cert=False))
    assert server.selected_alpn_protocol() == "http/1.1"
    assert server.getpeercert(binary_form=True) is None


def test_server_context_receives_verified_client_certificate(pki: Pki) -> None:
    server = handshake(server_ssl_context(pki), client_context(pki, with_cert=True))
    der = server.getpeercert(binary_form=True)
    assert der == pki.admin_cert.public_bytes(serialization.Encoding.DER)
