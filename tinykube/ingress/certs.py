"""Serving certificates for the HTTPS port: one per ``spec.tls`` secret, picked by SNI.

An Ingress's ``spec.tls`` lists hosts and the ``kubernetes.io/tls`` Secret
(``tls.crt``, ``tls.key``, PEM) that serves them. ``tls_secrets`` maps every
such host (an exact name or a ``*.`` wildcard; an entry without hosts covers
its Ingress's rule hosts) to its Secret, the oldest Ingress winning a
conflict. ``CertStore`` keeps an ``SSLContext`` per Secret, rebuilt only when
the Secret's resourceVersion changes, and its ``sni_callback`` swaps the
handshake's context for the one its server name asks for. A name without a
Secret, a missing or broken Secret, or a client that sends no SNI gets the
controller's self-signed default certificate, as ingress-nginx's "Kubernetes
Ingress Controller Fake Certificate" is served.

``ssl`` loads keys only from files: ``load_pem`` hands it an anonymous
memory file (Linux) or a private temporary file removed at once, so no key
ever sits on disk longer than the load.
"""

from __future__ import annotations

import base64
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from tinykube.client import healthz
from tinykube.ingress.routes import by_age, normalize_host, wildcard_suffix

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SecretKey = tuple[str, str]  # (namespace, name)
DEFAULT_CERT_HOSTS = ("ingress.local",)


def tls_secrets(ingresses: Iterable[Obj]) -> dict[str, SecretKey]:
    """Host (exact or ``*.suffix``) -> the Secret serving it."""
    out: dict[str, SecretKey] = {}
    for ing in by_age(ingresses):
        namespace = ing["metadata"].get("namespace", "")
        spec = ing.get("spec") or {}
        rule_hosts = [r["host"] for r in spec.get("rules") or [] if r.get("host")]
        for entry in spec.get("tls") or []:
            if not entry.get("secretName"):
                continue
            for host in entry.get("hosts") or rule_hosts:
                out.setdefault(host.lower(), (namespace, entry["secretName"]))
    return out


def new_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def load_pem(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Load a certificate chain and key held in memory into ``ctx``."""
    blob = cert_pem.rstrip(b"\n") + b"\n" + key_pem
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and os.path.isdir("/proc/self/fd"):
        fd = memfd("ingress-cert", 0)
        try:
            os.write(fd, blob)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pair.pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(blob)
        ctx.load_cert_chain(path)


def context_from_secret(secret: Obj) -> ssl.SSLContext:
    """A context serving a ``kubernetes.io/tls`` Secret; raises on a malformed one."""
    data = secret.get("data") or {}
    cert, key = base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])
    ctx = new_context()
    load_pem(ctx, cert, key)
    return ctx


class CertStore:
    """The default context plus one per Secret in use; ``refresh`` after every change."""

    def __init__(self, default_hosts: Iterable[str] = DEFAULT_CERT_HOSTS) -> None:
        self.default = new_context()
        cert, key = healthz.self_signed(default_hosts)
        load_pem(self.default, cert, key)
        self.default.sni_callback = self.sni_callback
        self._by_host: dict[str, SecretKey] = {}
        self._contexts: dict[SecretKey, tuple[str, ssl.SSLContext]] = {}

    def refresh(
        self, ingresses: Iterable[Obj], get_secret: Callable[[str, str], Obj | None]
    ) -> None:
        """Point every TLS host at its Secret's context, loading new or changed Secrets."""
        by_host = tls_secrets(ingresses)
        contexts: dict[SecretKey, tuple[str, ssl.SSLContext]] = {}
        for key in set(by_host.values()):
            secret = get_secret(*key)
            if secret is None:
                continue
            version = secret["metadata"].get("resourceVersion", "")
            cached = self._contexts.get(key)
            if cached is not None and cached[0] == version:
                contexts[key] = cached
                continue
            try:
                contexts[key] = (version, context_from_secret(secret))
            except (KeyError, ValueError, ssl.SSLError) as exc:
                log.warning("component=ingress secret=%s/%s unusable: %s", *key, exc)
        self._by_host, self._contexts = by_host, contexts

    def context_for(self, server_name: str | None) -> ssl.SSLContext:
        if not server_name:
            return self.default
        host = normalize_host(server_name)
        suffix = wildcard_suffix(host)
        for name in (host, f"*.{suffix}" if suffix else ""):
            key = self._by_host.get(name)
            if key is not None and key in self._contexts:
                return self._contexts[key][1]
        return self.default

    def sni_callback(self, conn: Any, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        chosen = self.context_for(server_name)
        if chosen is not self.default:
            conn.context = chosen
