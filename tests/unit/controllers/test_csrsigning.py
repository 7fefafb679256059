"""Which CSRs get signed, and what the signed certificate says."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tinykube.api.tables.cluster import csr_condition
from tinykube.api.validation.certificates import validate_csr
from tinykube.controllers.csrsigning import sign, wants_signing

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def csr(
    usages: list[str], signer: str = "kubernetes.io/kube-apiserver-client", **spec: object
) -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "jane"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs"),
        ]
    )
    pem = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    request = base64.b64encode(pem.public_bytes(serialization.Encoding.PEM)).decode()
    return {
        "metadata": {"name": "jane"},
        "spec": {"request": request, "signerName": signer, "usages": usages, **spec},
    }


def approved(obj: dict, *extra: str) -> dict:
    kinds = ["Approved", *extra]
    return {**obj, "status": {"conditions": [{"type": k, "status": "True"} for k in kinds]}}


def test_only_approved_unissued_requests_to_known_signers_are_signed() -> None:
    assert not wants_signing(csr(["client auth"]))
    assert wants_signing(approved(csr(["client auth"])))
    assert not wants_signing(approved(csr(["client auth"]), "Denied"))
    assert not wants_signing(approved(csr(["client auth"], signer="example.com/mine")))
    issued = approved(csr(["client auth"]))
    issued["status"]["certificate"] = "Zm9v"
    assert not wants_signing(issued)


def test_the_certificate_keeps_the_subject_and_caps_the_lifetime() -> None:
    ca_cert, ca_key = make_ca()
    pem = sign(approved(csr(["client auth"], expirationSeconds=3600)), ca_cert, ca_key, 86400, NOW)
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.rfc4514_string() == "O=devs,CN=jane"
    assert cert.issuer == ca_cert.subject
    assert cert.not_valid_after_utc == NOW + dt.timedelta(hours=1)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.KeyUsage)
    long = sign(
        approved(csr(["client auth"], expirationSeconds=10**8)), ca_cert, ca_key, 86400, NOW
    )
    assert x509.load_pem_x509_certificate(long).not_valid_after_utc == NOW + dt.timedelta(days=1)


def test_a_usage_the_signer_does_not_allow_is_refused() -> None:
    ca_cert, ca_key = make_ca()
    with pytest.raises(ValueError, match=r"invalid usage for kubernetes\.io/kube-apiserver-client"):
        sign(approved(csr(["client auth", "server auth"])), ca_cert, ca_key, 86400, NOW)


def test_validation_and_condition_column() -> None:
    assert validate_csr(csr(["client auth"])) == []
    problems = {str(e) for e in validate_csr(csr(["client auth", "bogus"], signer="nodomain"))}
    assert any(p.startswith("spec.signerName: Invalid value") for p in problems)
    assert any(p.startswith('spec.usages[1]: Unsupported value: "bogus"') for p in problems)
    bad = csr(["client auth"])
    bad["spec"]["request"] = base64.b64encode(b"not pem").decode()
    assert [e.field for e in validate_csr(bad)] == ["spec.request"]
    both = approved(csr(["client auth"]), "Denied")
    assert any("mutually exclusive" in str(e) for e in validate_csr(both))
    assert csr_condition(csr(["client auth"])) == "Pending"
    issued = approved(csr(["client auth"]), "Failed")
    issued["status"]["certificate"] = "Zm9v"
    assert csr_condition(issued) == "Approved,Failed,Issued"
