"""Finding and trusting the API server: kubeconfig files and in-cluster config.

Every component, like every user, reaches the API server through a kubeconfig
(or, inside a pod, through the service account files the kubelet mounts). This
module turns either into one ``ClientConfig``: the server URL, an
``ssl.SSLContext`` that trusts the cluster CA and presents the client
certificate, the headers to send (a bearer token), and the default namespace.

Precedence follows client-go's ``clientcmd``: an explicit path wins, then
``$KUBECONFIG`` (a ``os.pathsep``-separated list whose files are merged, the
first file to set a key winning), then ``~/.kube/config``. Relative file paths
inside a kubeconfig are relative to the file that names them. Certificates
and keys given as ``*-data`` are base64 PEM; because ``ssl`` can only load a
certificate chain from a file, inline keys are written to a private temporary
file just long enough to load them.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The kubeconfig is missing, malformed, or names a context that does not exist."""


@dataclass
class ClientConfig:
    """Everything the REST client needs to reach one API server as one user."""

    server: str
    ssl_context: ssl.SSLContext | None = None
    headers: dict[str, str] = field(default_factory=dict)
    namespace: str = "default"
    # A token file is re-read on every request by client-go (rotation); we keep the
    # path so the client can do the same.
    token_file: Path | None = None
    # ``tls-server-name``: the name to verify the serving certificate against when it
    # differs from the URL's host (ssl has no per-context override; aiohttp passes it).
    tls_server_name: str = ""

    def auth_headers(self) -> dict[str, str]:
        """The headers to send now, re-reading a rotating token file if there is one."""
        if self.token_file is None:
            return dict(self.headers)
        try:
            token = self.token_file.read_text().strip()
        except OSError:
            return dict(self.headers)
        return {**self.headers, "Authorization": f"Bearer {token}"}


def default_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """The files a kubeconfig is read from when no path is given."""
    env = os.environ if env is None else env
    listed = env.get("KUBECONFIG", "")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def load_documents(paths: list[Path]) -> dict[str, Any]:
    """Merge kubeconfig files: named entries and current-context, the first setting wins."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}}
    found = False
    for path in paths:
        if not _visible(path):
            continue
        found = True
        doc = yaml.safe_load(path.read_text()) or {}
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: not a kubeconfig document")
        base = path.resolve().parent
        for section, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(section) or []:
                name = entry.get("name", "")
                body = dict(entry.get(key) or {})
                body["_base"] = base
                merged[section].setdefault(name, body)
        if doc.get("current-context") and "current-context" not in merged:
            merged["current-context"] = doc["current-context"]
    if not found:
        raise ConfigError(
            "no kubeconfig found in " + ", ".join(str(p) for p in paths) or "(no paths)"
        )
    return merged


def from_dict(doc: dict[str, Any], context: str | None = None) -> ClientConfig:
    """Build a ClientConfig from a merged kubeconfig (see ``load_documents``)."""
    name = context or doc.get("current-context") or ""
    if not name:
        raise ConfigError("no context given and current-context is not set")
    ctx = doc["contexts"].get(name)
    if ctx is None:
        raise ConfigError(f'context "{name}" does not exist')
    cluster = doc["clusters"].get(ctx.get("cluster", ""))
    if cluster is None:
        raise ConfigError(f'cluster "{ctx.get("cluster")}" of context "{name}" does not exist')
    user = doc["users"].get(ctx.get("user", ""), {})
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ConfigError(f'cluster "{ctx.get("cluster")}" has no server')
    config = ClientConfig(server=server, namespace=ctx.get("namespace") or "default")
    if server.startswith("https://"):
        config.ssl_context = _ssl_context(cluster, user)
        config.tls_server_name = cluster.get("tls-server-name") or ""
    _apply_credentials(config, user)
    return config


def load_kubeconfig(
    path: str | os.PathLike[str] | None = None,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Load a kubeconfig from ``path``, ``$KUBECONFIG`` or ``~/.kube/config``."""
    paths = [Path(path).expanduser()] if path else default_paths(env)
    return from_dict(load_documents(paths), context)


def in_cluster_config(
    env: Mapping[str, str] | None = None, sa_dir: Path = SERVICE_ACCOUNT_DIR
) -> ClientConfig:
    """The config a pod uses: the service env vars plus the mounted service account."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
    token_file = sa_dir / "token"
    if not token_file.exists():
        raise ConfigError(f"not in a cluster: {token_file} does not exist")
    if ":" in host:  # an IPv6 address needs brackets in a URL
        host = f"[{host}]"
    ctx = ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))
    namespace = "default"
    ns_file = sa_dir / "namespace"
    if ns_file.exists():
        namespace = ns_file.read_text().strip() or "default"
    return ClientConfig(
        server=f"https://{host}:{port}",
        ssl_context=ctx,
        namespace=namespace,
        token_file=token_file,
    )


def load(path: str | os.PathLike[str] | None = None, context: str | None = None) -> ClientConfig:
    """A kubeconfig if one is given or found, else the in-cluster config."""
    if path or any(_visible(p) for p in default_paths()):
        return load_kubeconfig(path, context)
    return in_cluster_config()


# ---- helpers ----------------------------------------------------------------


def _visible(path: Path) -> bool:
    """Exists and may be looked at: a $HOME we may not enter (a pod of a rootless node
    runs as a mapped root whose /root is not its own) is as good as no kubeconfig."""
    try:
        return path.exists()
    except PermissionError:
        return False


def _file(entry: dict[str, Any], key: str) -> Path | None:
    value = entry.get(key)
    if not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else entry["_base"] / p


def _data(entry: dict[str, Any], key: str) -> bytes | None:
    """``<key>-data`` decoded, else the file ``<key>`` read, else None."""
    inline = entry.get(f"{key}-data")
    if inline:
        return base64.b64decode(inline)
    path = _file(entry, key)
    return path.read_bytes() if path else None


def _ssl_context(cluster: dict[str, Any], user: dict[str, Any]) -> ssl.SSLContext:
    # As client-go: a cluster CA, when given, is the only trust root; the system's
    # roots are used only when the kubeconfig names none.
    ca = (
        None if cluster.get("insecure-skip-tls-verify") else _data(cluster, "certificate-authority")
    )
    ctx = ssl.create_default_context(cadata=ca.decode() if ca is not None else None)
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    cert, key = _data(user, "client-certificate"), _data(user, "client-key")
    if cert is not None:
        _load_cert_chain(ctx, cert, key)
    return ctx


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes | None) -> None:
    # ssl only reads chains from files: write them to a private temporary directory
    # that is removed as soon as they are loaded.
    with tempfile.TemporaryDirectory(prefix="tinykube-") as tmp:
        cert_path = Path(tmp) / "client.crt"
        cert_path.write_bytes(cert)
        key_path = None
        if key is not None:
            key_path = Path(tmp) / "client.key"
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
        ctx.load_cert_chain(str(cert_path), str(key_path) if key_path else None)


def _apply_credentials(config: ClientConfig, user: dict[str, Any]) -> None:
    if user.get("token"):
        config.headers["Authorization"] = f"Bearer {user['token']}"
    elif user.get("tokenFile"):
        config.token_file = _file(user, "tokenFile")
    elif user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        config.headers["Authorization"] = f"Basic {basic}"
