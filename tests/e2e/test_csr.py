"""A new user by CertificateSigningRequest, as the CKA curriculum does it, with the real kubectl.

The user makes a key and a CSR, an admin creates the CertificateSigningRequest
and approves it with ``kubectl certificate approve``, the controller manager's
signer issues the certificate, and a kubeconfig built from it authenticates as
that user (whom RBAC then refuses until a binding grants something).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

pytestmark = pytest.mark.e2e


def csr_manifest(name: str, user: str, groups: list[str], tmp: Path, **spec: object) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
    subject += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
    pem = request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    (tmp / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
            **spec,
        },
    }
    return json.dumps(body)


def ok(
    server: ApiServer, *args: str, input: str | None = None, kubeconfig: Path | None = None
) -> str:
    done = run_kubectl(server, *args, input=input, kubeconfig=kubeconfig)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_user_from_an_approved_csr(apiserver: ApiServer, tmp_path: Path) -> None:
    manifest = csr_manifest("csr-jane", "jane", ["dev-team"], tmp_path, expirationSeconds=86400)
    assert ok(apiserver, "create", "-f", "-", input=manifest).strip() == (
        "certificatesigningrequest.certificates.k8s.io/csr-jane created"
    )
    table = ok(apiserver, "get", "csr", "csr-jane").splitlines()
    assert table[0].split() == [
        "NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION",
    ]  # fmt: skip
    row = table[1].split()
    assert row[2:] == ["kubernetes.io/kube-apiserver-client", "kubernetes-admin", "24h", "Pending"]

    assert ok(apiserver, "certificate", "approve", "csr-jane").strip() == (
        "certificatesigningrequest.certificates.k8s.io/csr-jane approved"
    )
    deadline = time.monotonic() + 30
    cert = ""
    while not cert and time.monotonic() < deadline:
        cert = ok(apiserver, "get", "csr", "csr-jane", "-o", "jsonpath={.status.certificate}")
        time.sleep(0.2)
    assert cert, "the signer never issued a certificate"
    assert ok(apiserver, "get", "csr", "csr-jane", "--no-headers").split()[-1] == "Approved,Issued"
    issued = x509.load_pem_x509_certificate(base64.b64decode(cert))
    assert issued.subject.rfc4514_string() == "O=dev-team,CN=jane"
    lifetime = issued.not_valid_after_utc - issued.not_valid_before_utc
    assert 86400 <= lifetime.total_seconds() <= 86400 + 600
    usages = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    (tmp_path / "jane.crt").write_bytes(base64.b64decode(cert))
    kubeconfig = tmp_path / "jane.kubeconfig"
    kubeconfig.write_text(apiserver.kubeconfig.read_text())
    ok(
        apiserver,
        "config",
        "set-credentials",
        "jane",
        f"--client-certificate={tmp_path / 'jane.crt'}",
        f"--client-key={tmp_path / 'csr-jane.key'}",
        "--embed-certs",
        kubeconfig=kubeconfig,
    )
    ok(
        apiserver,
        "config",
        "set-context",
        "jane",
        "--cluster=tinykube",
        "--user=jane",
        kubeconfig=kubeconfig,
    )
    ok(apiserver, "config", "use-context", "jane", kubeconfig=kubeconfig)
    who = ok(apiserver, "auth", "whoami", "-o", "json", kubeconfig=kubeconfig)
    info = json.loads(who)["status"]["userInfo"]
    assert (info["username"], info["groups"]) == ("jane", ["dev-team", "system:authenticated"])
    refused = run_kubectl(apiserver, "get", "pods", "-n", "default", kubeconfig=kubeconfig)
    assert refused.returncode == 1
    assert 'User "jane" cannot list resource "pods"' in refused.stderr


def test_denied_and_invalid_requests(apiserver: ApiServer, tmp_path: Path) -> None:
    ok(apiserver, "create", "-f", "-", input=csr_manifest("csr-bob", "bob", [], tmp_path))
    assert ok(apiserver, "certificate", "deny", "csr-bob").strip() == (
        "certificatesigningrequest.certificates.k8s.io/csr-bob denied"
    )
    time.sleep(1)
    assert ok(apiserver, "get", "csr", "csr-bob", "-o", "jsonpath={.status.certificate}") == ""
    assert ok(apiserver, "get", "csr", "csr-bob", "--no-headers").split()[-1] == "Denied"

    bad = json.loads(csr_manifest("csr-bad", "x", [], tmp_path, expirationSeconds=60))
    bad["spec"]["usages"] = ["client auth", "client auth"]
    done = run_kubectl(apiserver, "create", "-f", "-", input=json.dumps(bad))
    assert done.returncode == 1
    assert done.stderr.startswith(
        'The CertificateSigningRequest "csr-bad" is invalid: \n* spec.usages[1]: Duplicate value: "client auth"'
    ), done.stderr
    assert (
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600"
        in done.stderr
    )
