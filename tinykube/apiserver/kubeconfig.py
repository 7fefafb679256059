"""Writing kubeconfig files: how kubectl and every component find and trust the API server.

A kubeconfig names a cluster (server URL + CA), a user (client certificate and key, or a
bearer token) and a context tying the two together. We embed the PEM material as base64
``*-data`` fields rather than pointing at files, as kubeadm does for ``admin.conf``, so a
kubeconfig can be copied elsewhere and still work.

The file holds a private key or a token, so it is created with mode 0600 and replaced
atomically: a reader never sees half a file, and it is never briefly world-readable.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tinykube.apiserver.tls import cert_pem, key_pem, write_file_atomic

if TYPE_CHECKING:
    from tinykube.apiserver.tls import Pki

ADMIN_KUBECONFIG = "admin.kubeconfig"
ADMIN_USER = "kubernetes-admin"
DEFAULT_CONTEXT = "tinykube"


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    context: str = DEFAULT_CONTEXT,
    cluster: str = DEFAULT_CONTEXT,
    namespace: str | None = None,
) -> None:
    """Write a single-cluster, single-user kubeconfig whose current context is ``context``."""
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("client_cert_pem and client_key_pem must be given together")
    doc = kubeconfig_dict(
        server=server,
        ca_pem=ca_pem,
        user=user,
        client_cert_pem=client_cert_pem,
        client_key_pem=client_key_pem,
        token=token,
        context=context,
        cluster=cluster,
        namespace=namespace,
    )
    text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
    write_file_atomic(Path(path), text.encode(), 0o600)


def kubeconfig_dict(
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    context: str = DEFAULT_CONTEXT,
    cluster: str = DEFAULT_CONTEXT,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The kubeconfig document, as ``clientcmd/api/v1`` lays it out."""
    credentials: dict[str, str] = {}
    if client_cert_pem is not None and client_key_pem is not None:
        credentials["client-certificate-data"] = _b64(client_cert_pem)
        credentials["client-key-data"] = _b64(client_key_pem)
    if token is not None:
        credentials["token"] = token
    context_body: dict[str, str] = {"cluster": cluster, "user": user}
    if namespace:
        context_body["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"certificate-authority-data": _b64(ca_pem), "server": server},
            }
        ],
        "contexts": [{"name": context, "context": context_body}],
        "current-context": context,
        "preferences": {},
        "users": [{"name": user, "user": credentials}],
    }


def write_admin_kubeconfig(data_dir: Path, server_url: str, pki: Pki) -> Path:
    """Write ``<data_dir>/admin.kubeconfig`` for ``kubernetes-admin``; returns its path."""
    path = Path(data_dir) / ADMIN_KUBECONFIG
    write_kubeconfig(
        path,
        server=server_url,
        ca_pem=pki.ca_pem,
        user=ADMIN_USER,
        client_cert_pem=cert_pem(pki.admin_cert),
        client_key_pem=key_pem(pki.admin_key),
    )
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
