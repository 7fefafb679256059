"""Validation for ``certificates.k8s.io/v1`` CertificateSigningRequests.

The request must be a PEM ``CERTIFICATE REQUEST`` block (base64 in JSON, as
every ``[]byte`` field), the signer a qualified ``<domain>/<path>`` name, the
usages known and not repeated, and a requested lifetime at least ten minutes.
Approved and Denied are mutually exclusive, and an issued certificate must be
PEM ``CERTIFICATE`` blocks.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from tinykube.api.errors import FieldError, duplicate, invalid, not_supported, required
from tinykube.api.validation.common import as_dict, as_list, index

USAGES = [
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
    "server auth", "client auth", "code signing", "email protection", "s/mime",
    "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc",
]  # fmt: skip
MIN_EXPIRATION_SECONDS = 600


def pem_bytes(value: Any) -> bytes:
    """The bytes of a ``[]byte`` field as JSON carries them (base64)."""
    if not isinstance(value, str):
        raise TypeError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"illegal base64 data: {exc}") from None


def _pem_blocks(data: bytes, kind: str) -> int:
    """How many PEM blocks of ``kind`` ``data`` holds; ValueError for anything else."""
    begin, end = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    text = data.decode("ascii", errors="replace")
    found = 0
    for chunk in text.split(begin)[1:]:
        if end not in chunk:
            raise ValueError(f"PEM block type must be {kind}")
        found += 1
    if found == 0:
        raise ValueError(f"PEM block type must be {kind}")
    return found


def _request(spec: dict[str, Any]) -> list[FieldError]:
    raw = spec.get("request")
    if not raw:
        return [required("spec.request")]
    try:
        data = pem_bytes(raw)
        _pem_blocks(data, "CERTIFICATE REQUEST")
        from cryptography import x509

        x509.load_pem_x509_csr(data)
    except ValueError as exc:
        detail = str(exc) if "PEM block" in str(exc) else f"invalid certificate request: {exc}"
        return [invalid("spec.request", "<request>", detail)]
    return []


def _signer(spec: dict[str, Any]) -> list[FieldError]:
    name = spec.get("signerName", "")
    if not name:
        return [required("spec.signerName")]
    domain, _, path = name.partition("/")
    if not path or "." not in domain or path.endswith("/"):
        return [invalid("spec.signerName", name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")]  # fmt: skip
    return []


def _usages(spec: dict[str, Any]) -> list[FieldError]:
    usages = as_list(spec.get("usages"))
    if not usages:
        return [required("spec.usages")]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, usage in enumerate(usages):
        path = index("spec.usages", i)
        if usage not in USAGES:
            errs.append(not_supported(path, usage, USAGES))
        elif usage in seen:
            errs.append(duplicate(path, usage))
        seen.add(usage)
    return errs


def _expiration(spec: dict[str, Any]) -> list[FieldError]:
    seconds = spec.get("expirationSeconds")
    if seconds is not None and int(seconds) < MIN_EXPIRATION_SECONDS:
        detail = "may not specify a duration less than 600 seconds (10 minutes)"
        return [invalid("spec.expirationSeconds", seconds, detail)]
    return []


def _status(status: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    kinds: set[str] = set()
    for i, cond in enumerate(as_list(status.get("conditions"))):
        cond = as_dict(cond)
        path = index("status.conditions", i)
        kind = cond.get("type", "")
        if not kind:
            errs.append(required(f"{path}.type"))
        elif kind in kinds:
            errs.append(duplicate(f"{path}.type", kind))
        kinds.add(kind)
        if cond.get("status", "True") not in ("True", "False", "Unknown"):
            errs.append(not_supported(f"{path}.status", cond.get("status"), ["False", "True", "Unknown"]))  # fmt: skip
    if "Approved" in kinds and "Denied" in kinds:
        errs.append(invalid("status.conditions", "Approved,Denied", "Approved and Denied conditions are mutually exclusive"))  # fmt: skip
    cert = status.get("certificate")
    if cert:
        try:
            _pem_blocks(pem_bytes(cert), "CERTIFICATE")
        except ValueError as exc:
            errs.append(invalid("status.certificate", "<certificate data>", str(exc)))
    return errs


def validate_csr(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    return [
        *_request(spec),
        *_signer(spec),
        *_usages(spec),
        *_expiration(spec),
        *_status(as_dict(obj.get("status"))),
    ]


VALIDATORS = {"CertificateSigningRequest": (validate_csr, None)}
