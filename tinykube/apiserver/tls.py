"""The cluster's TLS material: a CA, the API server's serving certificate, the admin's
client certificate and the service-account signing key pair.

Kubernetes trusts identities through one cluster CA, and kubeadm lays the files out under
``/etc/kubernetes/pki``; we keep the same names under ``<data-dir>/pki`` so that anyone who
knows kubeadm finds their way (``ca.crt``/``ca.key``, ``apiserver.crt``/``.key``,
``admin.crt``/``.key``, ``sa.key``/``sa.pub``).

``ensure_pki`` is idempotent: the first start creates everything, later starts load what
exists. The CA and the service-account key are never replaced (that would invalidate every
kubeconfig and every token ever issued); the serving certificate is re-issued whenever the
requested SAN set differs from the one on disk, or it is near expiry, or it was not signed
by the current CA, because clients verify the host name they dial against those SANs.

Choices, following kubeadm:
- RSA 2048 keys, SHA-256 signatures, the CA valid for 10 years and leaf certificates for 1
  year, ``notBefore`` backdated 5 minutes to tolerate clock skew between machines.
- The admin certificate carries ``O=kubeadm:cluster-admins``, as ``admin.conf`` has since
  kubeadm 1.29 (kubernetes/kubeadm#2414); ``system:masters`` is reserved to the break-glass
  ``super-admin.conf``. The group has no built-in power: bootstrap must create the
  ClusterRoleBinding ``kubeadm:cluster-admins`` -> ClusterRole ``cluster-admin``.

Private keys are written with mode 0600, every file atomically (temporary file + rename), so
a crash mid-write never leaves a half-written key that a later start would trust.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_COMMON_NAME = "kubernetes"
APISERVER_COMMON_NAME = "kube-apiserver"
ADMIN_COMMON_NAME = "kubernetes-admin"
ADMIN_GROUP = "kubeadm:cluster-admins"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_DNS_DOMAIN = "cluster.local"

CA_VALIDITY_DAYS = 3650
CERT_VALIDITY_DAYS = 365
RENEW_BEFORE_DAYS = 30
BACKDATE = dt.timedelta(minutes=5)
RSA_KEY_SIZE = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Pki:
    """Paths and loaded objects of one data directory's PKI."""

    dir: Path
    ca_cert: x509.Certificate
    ca_key: rsa.RSAPrivateKey
    serving_cert: x509.Certificate
    serving_key: rsa.RSAPrivateKey
    admin_cert: x509.Certificate
    admin_key: rsa.RSAPrivateKey
    sa_key: rsa.RSAPrivateKey
    sa_public_key: rsa.RSAPublicKey

    @property
    def ca_cert_path(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key_path(self) -> Path:
        return self.dir / "ca.key"

    @property
    def serving_cert_path(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def serving_key_path(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def admin_cert_path(self) -> Path:
        return self.dir / "admin.crt"

    @property
    def admin_key_path(self) -> Path:
        return self.dir / "admin.key"

    @property
    def sa_key_path(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub_path(self) -> Path:
        return self.dir / "sa.pub"

    @property
    def ca_pem(self) -> bytes:
        return cert_pem(self.ca_cert)


# ---- public entry points ---------------------------------------------------------------


def ensure_pki(
    data_dir: Path,
    *,
    hosts: list[str],
    ips: list[str],
    service_cidr: str = DEFAULT_SERVICE_CIDR,
    dns_domain: str = DEFAULT_DNS_DOMAIN,
) -> Pki:
    """Create what is missing under ``<data_dir>/pki`` and load everything.

    ``hosts`` and ``ips`` are added to the serving certificate's SANs on top of the names
    every in-cluster client uses (``kubernetes.default.svc...``), localhost, 127.0.0.1 and
    the first address of ``service_cidr`` (the ``kubernetes`` Service's ClusterIP).
    """
    pki_dir = Path(data_dir) / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ensure_ca(pki_dir)
    dns_names, ip_addresses = serving_sans(hosts, ips, service_cidr, dns_domain)
    serving_cert, serving_key = _ensure_serving(pki_dir, ca_cert, ca_key, dns_names, ip_addresses)
    admin_cert, admin_key = _ensure_client(
        pki_dir, "admin", ca_cert, ca_key, ADMIN_COMMON_NAME, [ADMIN_GROUP]
    )
    sa_key = _ensure_sa_key(pki_dir)
    return Pki(
        dir=pki_dir,
        ca_cert=ca_cert,
        ca_key=ca_key,
        serving_cert=serving_cert,
        serving_key=serving_key,
        admin_cert=admin_cert,
        admin_key=admin_key,
        sa_key=sa_key,
        sa_public_key=sa_key.public_key(),
    )


def issue_client_cert(
    pki: Pki, common_name: str, organizations: list[str], days: int = CERT_VALIDITY_DAYS
) -> tuple[bytes, bytes]:
    """A new client certificate and key (both PEM) signed by the cluster CA.

    Kubernetes maps CN to the user name and each O to a group, so components get
    ``system:kube-controller-manager``, ``system:kube-scheduler`` or ``system:node:<name>``
    with ``O=system:nodes``. Nothing is written to disk: the caller embeds the result in
    that component's kubeconfig.
    """
    key = new_private_key()
    cert = _client_cert(pki.ca_cert, pki.ca_key, key, common_name, organizations, days)
    return cert_pem(cert), key_pem(key)


def server_ssl_context(pki: Pki) -> ssl.SSLContext:
    """The API server's TLS context.

    Client certificates are requested but optional (bearer tokens need no certificate),
    and verified against the cluster CA when sent; a certificate from another CA fails the
    handshake. ALPN offers only ``http/1.1``: the server does not speak h2, and client-go
    would otherwise try it.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.serving_cert_path, pki.serving_key_path)
    ctx.load_verify_locations(cafile=str(pki.ca_cert_path))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def serving_sans(
    hosts: list[str],
    ips: list[str],
    service_cidr: str = DEFAULT_SERVICE_CIDR,
    dns_domain: str = DEFAULT_DNS_DOMAIN,
) -> tuple[list[str], list[IPAddress]]:
    """The DNS names and IP addresses the serving certificate must carry, deduplicated."""
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    dns.append(f"kubernetes.default.svc.{dns_domain}")
    addresses: list[IPAddress] = [ipaddress.ip_address("127.0.0.1"), first_service_ip(service_cidr)]
    for host in hosts:
        # A caller passing an address as a host name still means an IP SAN.
        try:
            addresses.append(ipaddress.ip_address(host))
        except ValueError:
            dns.append(host.lower())
    addresses.extend(ipaddress.ip_address(ip) for ip in ips)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(addresses))


def first_service_ip(service_cidr: str) -> IPAddress:
    """The ``kubernetes`` Service's ClusterIP: the first host of the service range."""
    network = ipaddress.ip_network(service_cidr, strict=False)
    return network.network_address + 1


# ---- PEM helpers -----------------------------------------------------------------------


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 (``BEGIN RSA PRIVATE KEY``), the form kubeadm writes and every client reads."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_key_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_file_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    The temporary file is created with ``mode`` already set, so a private key is never
    readable by others, not even for an instant.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- creating or loading each piece ----------------------------------------------------


def _ensure_ca(pki_dir: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    crt, key = pki_dir / "ca.crt", pki_dir / "ca.key"
    _refuse_half_pair(crt, key)
    if crt.exists():
        return _load_cert(crt), _load_key(key)
    ca_key = new_private_key()
    ca_cert = _ca_cert(ca_key)
    _write_pair(crt, key, ca_cert, ca_key)
    return ca_cert, ca_key


def _ensure_serving(
    pki_dir: Path,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    dns_names: list[str],
    addresses: list[IPAddress],
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    crt, key = pki_dir / "apiserver.crt", pki_dir / "apiserver.key"
    if crt.exists() and key.exists():
        cert = _load_cert(crt)
        if _still_good(cert, ca_cert) and _sans_of(cert) == _san_set(dns_names, addresses):
            return cert, _load_key(key)
    serving_key = new_private_key()
    cert = _serving_cert(ca_cert, ca_key, serving_key, dns_names, addresses)
    _write_pair(crt, key, cert, serving_key)
    return cert, serving_key


def _ensure_client(
    pki_dir: Path,
    name: str,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    common_name: str,
    organizations: list[str],
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    crt, key = pki_dir / f"{name}.crt", pki_dir / f"{name}.key"
    if crt.exists() and key.exists():
        cert = _load_cert(crt)
        if _still_good(cert, ca_cert):
            return cert, _load_key(key)
    client_key = new_private_key()
    cert = _client_cert(ca_cert, ca_key, client_key, common_name, organizations)
    _write_pair(crt, key, cert, client_key)
    return cert, client_key


def _ensure_sa_key(pki_dir: Path) -> rsa.RSAPrivateKey:
    key_path, pub_path = pki_dir / "sa.key", pki_dir / "sa.pub"
    if pub_path.exists() and not key_path.exists():
        _refuse_half_pair(key_path, pub_path)
    if key_path.exists():
        sa_key = _load_key(key_path)
    else:
        sa_key = new_private_key()
        write_file_atomic(key_path, key_pem(sa_key), 0o600)
    if not pub_path.exists():
        write_file_atomic(pub_path, public_key_pem(sa_key.public_key()), 0o644)
    return sa_key


def _refuse_half_pair(first: Path, second: Path) -> None:
    """Never replace a CA or signing key whose other half is on disk: everything issued
    under it would silently stop working. An operator must remove both or restore both."""
    if first.exists() != second.exists():
        present, missing = (first, second) if first.exists() else (second, first)
        raise FileNotFoundError(
            f"{missing.name} is missing but {present.name} exists in {present.parent}; "
            "refusing to generate a replacement"
        )


def _write_pair(crt: Path, key: Path, cert: x509.Certificate, pkey: rsa.RSAPrivateKey) -> None:
    # The key first: a certificate on disk without its key would be loaded and then fail.
    write_file_atomic(key, key_pem(pkey), 0o600)
    write_file_atomic(crt, cert_pem(cert), 0o644)


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    # Our own keys, from 0600 files: skipping the RSA consistency check saves ~30 ms each.
    key = serialization.load_pem_private_key(
        path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path.name}: expected an RSA private key")
    return key


def _still_good(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """Signed by this CA and not within ``RENEW_BEFORE_DAYS`` of expiry."""
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    remaining = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return remaining > dt.timedelta(days=RENEW_BEFORE_DAYS)


def _sans_of(cert: x509.Certificate) -> frozenset[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    names = ext.get_values_for_type(x509.DNSName)
    addresses = ext.get_values_for_type(x509.IPAddress)
    return _san_set(names, addresses)


def _san_set(dns_names: list[str], addresses: list[IPAddress]) -> frozenset[str]:
    return frozenset([f"DNS:{n}" for n in dns_names] + [f"IP:{a}" for a in addresses])


# ---- certificate builders --------------------------------------------------------------


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _ca_cert(ca_key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
    builder = (
        _builder(name, name, ca_key.public_key(), CA_VALIDITY_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
    )
    return builder.sign(ca_key, hashes.SHA256())


def _leaf_builder(
    ca_cert: x509.Certificate,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    usage: x509.ObjectIdentifier,
    days: int,
) -> x509.CertificateBuilder:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        _builder(subject, ca_cert.subject, public_key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
    )


def _serving_cert(
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    key: rsa.RSAPrivateKey,
    dns_names: list[str],
    addresses: list[IPAddress],
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, APISERVER_COMMON_NAME)])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(a) for a in addresses]
    builder = _leaf_builder(
        ca_cert, subject, key.public_key(), ExtendedKeyUsageOID.SERVER_AUTH, CERT_VALIDITY_DAYS
    ).add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _client_cert(
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    key: rsa.RSAPrivateKey,
    common_name: str,
    organizations: list[str],
    days: int = CERT_VALIDITY_DAYS,
) -> x509.Certificate:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = _leaf_builder(
        ca_cert, x509.Name(attrs), key.public_key(), ExtendedKeyUsageOID.CLIENT_AUTH, days
    )
    return builder.sign(ca_key, hashes.SHA256())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
