"""tkctl's kubeconfig: the shared loader's answer, remembered between runs.

``tinykube.client.kubeconfig`` reads kubeconfig files (precedence, merging,
contexts, certificates) for every component. Reading one costs tkctl more
than the real kubectl takes for a whole ``get pods``: PyYAML's import
compiles a dozen regexes and its pure-Python parser is slow, and the loader
writes inline keys to a temporary directory to hand them to ``ssl``. A
kubeconfig rarely changes, so tkctl keeps what the loader resolved (server,
namespace, credentials, PEM material) in
``<cache-dir>/kubeconfig/<crc>.json`` and reuses it while every file it came
from (the kubeconfig files and any certificate or key files they name) has
the same size and modification time as when it was read; any change, or a
different ``--kubeconfig``/``--context``, goes through the shared loader
again. A file modified in the last two seconds could still change within
the same timestamp tick, so such a result is not cached at all. The
entry holds the same secrets as the kubeconfig, so it is written with mode
0600, like the file it copies, and an entry owned by another user, or
writable by others, is ignored.

``Config`` offers what tkctl's transport and commands read from the shared
``ClientConfig``: ``server``, ``namespace``, ``headers``, ``auth_headers()``,
``ssl_context`` and ``tls_server_name``.
"""

from __future__ import annotations

import json
import os
import time
import zlib

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    import ssl
    from typing import Any

    from tinykube.client.kubeconfig import ClientConfig


CACHE_FORMAT = 1
RACY_SECONDS = 2


class ConfigError(Exception):
    """The kubeconfig is missing, malformed, or names a context that does not exist."""


class Config:
    """A resolved kubeconfig context (see the module docstring)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.server: str = record["server"]
        self.namespace: str = record["namespace"]
        self.tls_server_name: str = record["tls_server_name"]
        self.headers: dict[str, str] = dict(record["headers"])
        self.token_file: str | None = record["token_file"]
        self._ssl: ssl.SSLContext | None = None

    def auth_headers(self) -> dict[str, str]:
        """The headers to send now, re-reading a rotating token file as client-go does."""
        if self.token_file is None:
            return dict(self.headers)
        try:
            with open(self.token_file) as f:
                token = f.read().strip()
        except OSError:
            return dict(self.headers)
        return {**self.headers, "Authorization": f"Bearer {token}"}

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        if self._ssl is None and self.server.startswith("https://"):
            self._ssl = _ssl_context(self.record)
        return self._ssl


def bare(server: str) -> Config:
    """A config with only a server: what kubectl falls back to without a kubeconfig."""
    return Config(
        {
            "server": server,
            "namespace": "default",
            "tls_server_name": "",
            "headers": {},
            "token_file": None,
            "insecure": False,
            "ca": None,
            "cert": None,
            "key": None,
        }
    )


def load(
    explicit: str | None, context: str | None, cache_dir: str | None, env: dict[str, str]
) -> Config:
    """The config for ``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config`` and ``--context``."""
    paths = _paths(explicit, env)
    cache = _cache_file(cache_dir, paths, context)
    record = _read_cache(cache, paths, context)
    if record is None:
        record = _resolve(paths, context)
        _write_cache(cache, record)
    return Config(record)


def _paths(explicit: str | None, env: dict[str, str]) -> list[str]:
    # The same precedence as the shared loader's ``default_paths``.
    if explicit:
        return [os.path.expanduser(explicit)]
    listed = env.get("KUBECONFIG", "")
    if listed:
        return [os.path.expanduser(p) for p in listed.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def _cache_file(cache_dir: str | None, paths: list[str], context: str | None) -> str:
    base = os.path.expanduser(cache_dir or "~/.kube/cache")
    ident = json.dumps([os.path.abspath(p) for p in paths] + [context or ""])
    return os.path.join(base, "kubeconfig", f"{zlib.crc32(ident.encode()):08x}.json")


def _stamp(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, st.st_mtime_ns, st.st_size]


def _read_cache(cache: str, paths: list[str], context: str | None) -> dict[str, Any] | None:
    try:
        with open(cache) as f:
            st = os.fstat(f.fileno())
            # Only an entry this user wrote and nobody else can change is trusted:
            # it decides which server (and which credentials) tkctl uses.
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return None
            entry = json.load(f)
    except (OSError, ValueError):
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("format") != CACHE_FORMAT
        or entry.get("paths") != [os.path.abspath(p) for p in paths]
        or entry.get("context") != (context or "")
    ):
        return None
    stamps = entry.get("sources") or []
    if any(_stamp(s[0]) != s for s in stamps):
        return None
    record: dict[str, Any] = entry["record"]
    return record


def _write_cache(cache: str, record: dict[str, Any]) -> None:
    paths, context, sources = record.pop("_paths"), record.pop("_context"), record.pop("_sources")
    # A file changed less than RACY_SECONDS ago could change again within the
    # same timestamp tick and keep its size: not cached until it has settled
    # (git's "racily clean" index entries are the same problem).
    settled = time.time_ns() - RACY_SECONDS * 1_000_000_000
    if any(stamp[1] is not None and stamp[1] > settled for stamp in sources):
        return
    entry = {
        "format": CACHE_FORMAT,
        "paths": paths,
        "context": context,
        "sources": sources,
        "record": record,
    }
    tmp = f"{cache}.{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(cache), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f)
        os.replace(tmp, cache)
    except OSError:
        pass  # an unwritable cache only costs speed


def _resolve(paths: list[str], context: str | None) -> dict[str, Any]:
    """Run the shared loader and keep what it resolved, plus the files it depended on."""
    from pathlib import Path

    from tinykube.client import kubeconfig

    sources = [_stamp(p) for p in paths]  # stamped before reading: a later change invalidates
    try:
        doc = kubeconfig.load_documents([Path(p) for p in paths])
        config: ClientConfig = kubeconfig.from_dict(doc, context)
    except kubeconfig.ConfigError as exc:
        raise ConfigError(str(exc)) from None
    name = context or doc.get("current-context") or ""
    ctx = doc["contexts"][name]
    cluster = doc["clusters"][ctx.get("cluster", "")]
    user = doc["users"].get(ctx.get("user", ""), {})
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    record: dict[str, Any] = {
        "server": config.server,
        "namespace": config.namespace,
        "tls_server_name": config.tls_server_name,
        "headers": config.headers,
        "token_file": str(config.token_file) if config.token_file else None,
        "insecure": insecure,
        "ca": None if insecure else _pem(cluster, "certificate-authority", sources),
        "cert": _pem(user, "client-certificate", sources),
        "key": _pem(user, "client-key", sources),
        "_paths": [os.path.abspath(p) for p in paths],
        "_context": context or "",
        "_sources": sources,
    }
    return record  # a token file is not a source: it is read on every request


def _pem(entry: dict[str, Any], key: str, sources: list[list[Any]]) -> str | None:
    """``<key>-data`` decoded, else the file ``<key>`` read (and remembered as a source)."""
    inline = entry.get(f"{key}-data")
    if inline:
        import base64

        return base64.b64decode(inline).decode()
    value = entry.get(key)
    if not value:
        return None
    path = os.path.join(str(entry["_base"]), os.path.expanduser(value))
    sources.append(_stamp(path))
    with open(path) as f:
        return f.read()


def _ssl_context(record: dict[str, Any]) -> ssl.SSLContext:
    # As the shared loader (and client-go): a cluster CA, when given, is the only
    # trust root; the system's roots are used only when the kubeconfig names none.
    import ssl

    ctx = ssl.create_default_context(cadata=record["ca"])
    if record["insecure"]:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if record["cert"] is not None:
        _load_cert_chain(ctx, record["cert"], record["key"])
    return ctx


def _load_cert_chain(ctx: ssl.SSLContext, cert: str, key: str | None) -> None:
    """Hand PEM text to ``ssl``, which only reads chains from files.

    On Linux the files are anonymous memory (memfd), never on a disk; elsewhere
    the shared loader's private temporary directory is used.
    """
    try:
        fds = [os.memfd_create("tkctl-cert", os.MFD_CLOEXEC)]
        if key is not None:
            fds.append(os.memfd_create("tkctl-key", os.MFD_CLOEXEC))
    except (AttributeError, OSError):
        from tinykube.client import kubeconfig

        kubeconfig._load_cert_chain(ctx, cert.encode(), key.encode() if key else None)
        return
    try:
        for fd, text in zip(fds, (cert, key), strict=False):
            os.write(fd, text.encode())  # type: ignore[union-attr]
        files = [f"/proc/self/fd/{fd}" for fd in fds]
        ctx.load_cert_chain(files[0], files[1] if len(files) > 1 else None)
    finally:
        for fd in fds:
            os.close(fd)
