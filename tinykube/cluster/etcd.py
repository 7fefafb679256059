"""``up --etcd``: a stacked etcd as ``kubeadm init`` lays it out, with its own PKI.

kubeadm runs etcd as the static pod ``etcd-<node>`` beside the API server and
gives it a CA of its own (``pki/etcd/ca.crt``): etcd trusts only certificates
of that CA, so the cluster CA's many client certificates cannot read the
store. Under ``<data-dir>/pki`` this module writes what kubeadm writes under
``/etc/kubernetes/pki``:

- ``etcd/ca``: the etcd CA (CN ``etcd-ca``);
- ``etcd/server`` and ``etcd/peer``: etcd's serving and peer certificates, CN
  the node name, SANs ``localhost``, the node name, 127.0.0.1, ::1 and the node
  address, usable for both server and client auth (which is why the CKA
  ``etcdctl --cert server.crt`` command works);
- ``etcd/healthcheck-client``: ``kube-etcd-healthcheck-client``;
- ``apiserver-etcd-client``: the API server's client certificate
  (``kube-apiserver-etcd-client``), handed to it as ``--etcd-certfile``.

Existing files are kept as long as they are signed by the etcd CA and carry
the wanted SANs, so a second ``up`` finds the same certificates. The manifest
``etcd.yaml`` is written once and then belongs to the user, as on a kubeadm
node: the CKA restore edits its data directory, and ``up`` must not undo that.
The API server is pointed at the client URL that manifest advertises.

Everything listens on 127.0.0.1 only, on ports that are flags of ``up``,
because several clusters share one host in the tests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tinykube.apiserver.tls import cert_pem, key_pem, new_private_key, write_file_atomic

ETCD_IMAGE = "registry.k8s.io/etcd:3.6.4-0"
MANIFEST = "etcd.yaml"
MISSING_BINARY = (
    "--etcd needs the etcd binary on PATH; install it (Debian/Ubuntu: apt-get install "
    "etcd-server etcd-client) or start without --etcd"
)
CA_NAME = "etcd-ca"
HEALTHCHECK_CLIENT = "kube-etcd-healthcheck-client"
APISERVER_CLIENT = "kube-apiserver-etcd-client"
CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Ports:
    client: int = 2379
    peer: int = 2380
    metrics: int = 2381


def missing_binary() -> str | None:
    """The message for a host without ``etcd``, or None when it is there."""
    return None if shutil.which("etcd") else MISSING_BINARY


# ---- PKI -------------------------------------------------------------------------------


def member_sans(node_name: str, node_ip: str) -> tuple[list[str], list[Address]]:
    """kubeadm's SANs of etcd's server and peer certificates."""
    names = list(dict.fromkeys(["localhost", node_name.lower()]))
    ips = ["127.0.0.1", "::1", node_ip]
    return names, list(dict.fromkeys(ipaddress.ip_address(ip) for ip in ips))


def ensure_pki(data_dir: Path, node_name: str, node_ip: str) -> None:
    """Create or keep the etcd CA and the four certificates issued under it."""
    pki = data_dir / "pki"
    (pki / "etcd").mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ensure_ca(pki / "etcd")
    names, ips = member_sans(node_name, node_ip)
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    client = [ExtendedKeyUsageOID.CLIENT_AUTH]
    leaves: list[tuple[Path, str, list[str], list[x509.ObjectIdentifier], list[str], list[Address]]]
    leaves = [
        (pki / "etcd" / "server", node_name, [], both, names, ips),
        (pki / "etcd" / "peer", node_name, [], both, names, ips),
        (pki / "etcd" / "healthcheck-client", HEALTHCHECK_CLIENT, [], client, [], []),
        (pki / "apiserver-etcd-client", APISERVER_CLIENT, [], client, [], []),
    ]
    for stem, cn, orgs, usages, dns, addrs in leaves:
        _ensure_leaf(stem, ca_cert, ca_key, cn, orgs, usages, dns, addrs)


def _ensure_ca(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    crt, key = directory / "ca.crt", directory / "ca.key"
    if crt.exists() != key.exists():  # never replace half of a CA: restore both or neither
        raise FileNotFoundError(f"{directory}: ca.crt and ca.key must both exist or neither")
    if crt.exists():
        return _load_cert(crt), _load_key(key)
    ca_key = new_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    cert = (
        _builder(name, name, ca_key.public_key(), CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write_pair(crt, key, cert, ca_key)
    return cert, ca_key


def _ensure_leaf(
    stem: Path,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    common_name: str,
    organizations: list[str],
    usages: list[x509.ObjectIdentifier],
    dns_names: list[str],
    addresses: list[Address],
) -> None:
    crt, key = stem.with_suffix(".crt"), stem.with_suffix(".key")
    wanted = _san_strings(dns_names, addresses)
    if crt.exists() and key.exists():
        cert = _load_cert(crt)
        if _still_good(cert, ca_cert) and sans_of(cert) == wanted:
            return
    leaf_key = new_private_key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _builder(x509.Name(attrs), ca_cert.subject, leaf_key.public_key(), LEAF_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )
    if dns_names or addresses:
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(a) for a in addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_pair(crt, key, builder.sign(ca_key, hashes.SHA256()), leaf_key)


def sans_of(cert: x509.Certificate) -> frozenset[str]:
    """A certificate's SANs as ``DNS:name`` and ``IP:address`` strings."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    return _san_strings(
        ext.get_values_for_type(x509.DNSName), ext.get_values_for_type(x509.IPAddress)
    )


def _san_strings(dns_names: list[str], addresses: list[Address]) -> frozenset[str]:
    return frozenset([f"DNS:{n}" for n in dns_names] + [f"IP:{a}" for a in addresses])


def _still_good(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


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
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate clock skew, as kubeadm
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
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


def _write_pair(crt: Path, key: Path, cert: x509.Certificate, pkey: rsa.RSAPrivateKey) -> None:
    write_file_atomic(key, key_pem(pkey), 0o600)  # the key first: see apiserver/tls.py
    write_file_atomic(crt, cert_pem(cert), 0o644)


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: expected an RSA private key")
    return key


# ---- manifests -------------------------------------------------------------------------


def client_url(ports: Ports) -> str:
    return f"https://127.0.0.1:{ports.client}"


def pod(data_dir: Path, node_name: str, ports: Ports) -> dict[str, Any]:
    """kubeadm's etcd static pod, on this data directory's paths and these ports."""
    data = data_dir.resolve()
    certs, store = data / "pki" / "etcd", data / "etcd"
    peer = f"https://127.0.0.1:{ports.peer}"
    flags = {
        "advertise-client-urls": client_url(ports),
        "cert-file": certs / "server.crt",
        "client-cert-auth": "true",
        "data-dir": store,
        "initial-advertise-peer-urls": peer,
        "initial-cluster": f"{node_name}={peer}",
        "key-file": certs / "server.key",
        "listen-client-urls": client_url(ports),
        "listen-metrics-urls": f"http://127.0.0.1:{ports.metrics}",
        "listen-peer-urls": peer,
        "name": node_name,
        "peer-cert-file": certs / "peer.crt",
        "peer-client-cert-auth": "true",
        "peer-key-file": certs / "peer.key",
        "peer-trusted-ca-file": certs / "ca.crt",
        "snapshot-count": "10000",
        "trusted-ca-file": certs / "ca.crt",
    }
    probe = {
        "httpGet": {
            "host": "127.0.0.1",
            "path": "/health?exclude=NOSPACE&serializable=true",
            "port": ports.metrics,
            "scheme": "HTTP",
        },
        "initialDelaySeconds": 10,
        "timeoutSeconds": 15,
        "periodSeconds": 10,
        "failureThreshold": 8,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "etcd",
            "namespace": "kube-system",
            "annotations": {"kubeadm.kubernetes.io/etcd.advertise-client-urls": client_url(ports)},
            "labels": {"component": "etcd", "tier": "control-plane"},
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "restartPolicy": "Always",
            "containers": [
                {
                    "name": "etcd",
                    "image": ETCD_IMAGE,
                    "command": ["etcd", *(f"--{k}={v}" for k, v in flags.items())],
                    "livenessProbe": probe,
                    "startupProbe": {
                        **probe,
                        "httpGet": dict(probe["httpGet"]),  # no YAML anchors in the file
                        "failureThreshold": 24,
                    },
                    "volumeMounts": [
                        {"name": "etcd-data", "mountPath": str(store)},
                        {"name": "etcd-certs", "mountPath": str(certs)},
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "etcd-certs",
                    "hostPath": {"path": str(certs), "type": "DirectoryOrCreate"},
                },
                {
                    "name": "etcd-data",
                    "hostPath": {"path": str(store), "type": "DirectoryOrCreate"},
                },
            ],
        },
    }


def apiserver_args(data_dir: Path, server_url: str) -> list[str]:
    """The API server's flags for this etcd, as kubeadm writes them."""
    pki = data_dir.resolve() / "pki"
    return [
        "--etcd-servers",
        server_url,
        "--etcd-cafile",
        str(pki / "etcd" / "ca.crt"),
        "--etcd-certfile",
        str(pki / "apiserver-etcd-client.crt"),
        "--etcd-keyfile",
        str(pki / "apiserver-etcd-client.key"),
    ]


def advertised_client_url(manifest: dict[str, Any]) -> str | None:
    """The first ``--advertise-client-urls`` of an etcd manifest (the user's, maybe edited)."""
    for container in (manifest.get("spec") or {}).get("containers") or []:
        for arg in [*(container.get("command") or []), *(container.get("args") or [])]:
            if str(arg).startswith("--advertise-client-urls="):
                return str(arg).split("=", 1)[1].split(",")[0]
    return None


def ensure_manifest(directory: Path, data_dir: Path, node_name: str, ports: Ports) -> str:
    """Write ``etcd.yaml`` unless it exists; the client URL the API server must use."""
    path = directory / MANIFEST
    if path.exists():
        manifest = yaml.safe_load(path.read_text()) or {}
        found = advertised_client_url(manifest)
        if found:
            return found
        return client_url(ports)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(pod(data_dir, node_name, ports), sort_keys=False))
    tmp.replace(path)
    return client_url(ports)
