"""The csrsigning controller: issue certificates for approved CertificateSigningRequests.

As kube-controller-manager's ``csrsigning`` does with
``--cluster-signing-cert-file`` / ``--cluster-signing-key-file``: a CSR that is
Approved (and neither Denied nor Failed), has no certificate yet, and names
one of the built-in Kubernetes signers gets a certificate signed by the
cluster CA, written to ``status.certificate``. The certificate keeps the
request's subject and public key (so ``CN`` is the user name and each ``O`` a
group, as the API server's x509 authenticator reads them), lasts
``spec.expirationSeconds`` capped at ``--cluster-signing-duration`` (one year
by default), and carries the requested key usages. A request for a usage its
signer does not allow is marked Failed instead. Without the two files the
controller signs nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from tinykube.api import duration, errors
from tinykube.controllers.podutil import meta
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "certificatesigningrequest-signing-controller"  # alias "csrsigning"
API = "certificates.k8s.io/v1"
DEFAULT_DURATION = 365 * 24 * 3600.0
BACKDATE = 5 * 60  # upstream backdates certificates so slightly skewed clocks accept them

# signer -> usages it may grant (upstream's per-signer validation).
SIGNERS: dict[str, frozenset[str]] = {
    "kubernetes.io/kube-apiserver-client": frozenset(
        {"digital signature", "key encipherment", "client auth"}
    ),
    "kubernetes.io/kube-apiserver-client-kubelet": frozenset(
        {"digital signature", "key encipherment", "client auth"}
    ),
    "kubernetes.io/kubelet-serving": frozenset(
        {"digital signature", "key encipherment", "server auth"}
    ),
}


def _true(csr: Obj, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status", "True") == "True"
        for c in (csr.get("status") or {}).get("conditions") or []
    )


def wants_signing(csr: Obj) -> bool:
    status = csr.get("status") or {}
    return (
        _true(csr, "Approved")
        and not _true(csr, "Denied")
        and not _true(csr, "Failed")
        and not status.get("certificate")
        and (csr.get("spec") or {}).get("signerName") in SIGNERS
    )


def sign(csr: Obj, ca_cert: Any, ca_key: Any, max_seconds: float, now: dt.datetime) -> bytes:
    """The PEM certificate for ``csr``; ValueError when it cannot be issued as asked."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    spec = csr.get("spec") or {}
    allowed = SIGNERS[spec["signerName"]]
    usages = set(spec.get("usages") or [])
    if not usages <= allowed:
        bad = ", ".join(sorted(usages - allowed))
        raise ValueError(f"invalid usage for {spec['signerName']} signer: {bad}")
    request = x509.load_pem_x509_csr(base64.b64decode(spec["request"]))
    if not request.is_signature_valid:
        raise ValueError("the certificate request's signature is invalid")
    seconds = float(spec.get("expirationSeconds") or max_seconds)
    not_after = now + dt.timedelta(seconds=min(seconds, max_seconds))
    ca_not_after = ca_cert.not_valid_after_utc
    extended = [
        oid
        for usage, oid in (
            ("client auth", ExtendedKeyUsageOID.CLIENT_AUTH),
            ("server auth", ExtendedKeyUsageOID.SERVER_AUTH),
        )
        if usage in usages
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca_cert.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(seconds=BACKDATE))
        .not_valid_after(min(not_after, ca_not_after))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
    )
    # Only usages asked for: with none of these bits Go writes no KeyUsage extension, and an
    # empty one would make TLS refuse the certificate for client authentication.
    if usages & {"digital signature", "key encipherment"}:
        key_usage = x509.KeyUsage(
            digital_signature="digital signature" in usages,
            content_commitment=False,
            key_encipherment="key encipherment" in usages,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(key_usage, critical=True)
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    try:
        sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        builder = builder.add_extension(sans.value, critical=False)
    except x509.ExtensionNotFound:
        pass
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


def load_ca(cert_file: str, key_file: str) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    return cert, key


class CSRSigningController(Controller[str]):
    name = NAME

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        cert_file = ctx.options.get("cluster-signing-cert-file")
        key_file = ctx.options.get("cluster-signing-key-file")
        self.ca = load_ca(cert_file, key_file) if cert_file and key_file else None
        raw = ctx.options.get("cluster-signing-duration")
        self.max_seconds = _seconds(raw) if raw else DEFAULT_DURATION
        self.csrs = self.informer(API, "certificatesigningrequests")
        self.csrs.add_handler(on_add=self._changed, on_update=lambda _o, n: self._changed(n))

    def _changed(self, csr: Obj) -> None:
        if self.ca is not None and wants_signing(csr):
            self.enqueue(csr)

    async def reconcile(self, key: str) -> Requeue | None:
        csr = self.csrs.get(key)
        if csr is None or self.ca is None or not wants_signing(csr):
            return None
        status = dict(csr.get("status") or {})
        now = dt.datetime.now(dt.UTC)
        try:
            pem = sign(csr, *self.ca, self.max_seconds, now)
            status["certificate"] = base64.b64encode(pem).decode()
        except ValueError as exc:
            stamp = duration.format_time(now)
            failed = {
                "type": "Failed",
                "status": "True",
                "reason": "SignerValidationFailure",
                "message": str(exc),
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            }
            status["conditions"] = [*(status.get("conditions") or []), failed]
        try:
            await self.client.update_status(
                API, "certificatesigningrequests", {**csr, "status": status}
            )
        except errors.Conflict:
            return Requeue(after=0.1)
        except errors.NotFound:
            return None
        log.info("controller=%s csr=%s signed", self.name, meta(csr).get("name"))
        return None


def _seconds(text: str) -> float:
    from tinykube.controllers.manager import parse_duration

    return parse_duration(text)


def new(ctx: ControllerContext) -> CSRSigningController:
    return CSRSigningController(ctx)
