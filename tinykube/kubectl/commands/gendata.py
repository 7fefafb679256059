"""Generators for data objects: ``create configmap`` and ``create secret generic|tls|docker-registry``.

Values come from ``--from-literal``, ``--from-file`` (a file, ``key=path`` or
a directory) and ``--from-env-file``; ConfigMaps keep non-UTF-8 files in
``binaryData``, Secrets base64 everything, as kubectl does.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tinykube.kubectl.commands.genbase import name_arg, object_meta
from tinykube.kubectl.errors import CommandError

Obj = dict[str, Any]


def _literals(values: list[str]) -> Obj:
    out: Obj = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"invalid literal source {item}, expected key=value")
        out[key] = value
    return out


def _files(values: list[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for item in values:
        key, sep, path = item.partition("=")
        if not sep:
            key, path = Path(item).name, item
        p = Path(path)
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.is_file():
                    out[child.name] = child.read_bytes()
        else:
            try:
                out[key] = p.read_bytes()
            except OSError:
                raise CommandError(f"error reading {path}: no such file or directory") from None
    return out


def _env_files(values: list[str]) -> Obj:
    out: Obj = {}
    for path in values:
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                out[key] = value
    return out


def configmap(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = name_arg(args, "configmap")
    data: Obj = {**_literals(o.from_literal or []), **_env_files(o.from_env_file or [])}
    binary: Obj = {}
    for key, raw in _files(o.from_file or []).items():
        try:
            data[key] = raw.decode()
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(raw).decode()
    obj: Obj = {"apiVersion": "v1"}
    if binary:
        obj["binaryData"] = binary
    if data:
        obj["data"] = data
    obj.update({"kind": "ConfigMap", "metadata": object_meta(f, name)})
    return obj


def _b64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def secret(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    if not args or args[0] not in ("generic", "tls", "docker-registry"):
        raise CommandError("Usage: kubectl create secret (docker-registry|generic|tls) NAME")
    kind, name = args[0], name_arg(args[1:], "secret")
    data: Obj = {}
    secret_type = o.type or ""
    if kind == "generic":
        data = {
            k: _b64(v)
            for k, v in {
                **_literals(o.from_literal or []),
                **_env_files(o.from_env_file or []),
            }.items()
        }
        data.update({k: _b64(v) for k, v in _files(o.from_file or []).items()})
    elif kind == "tls":
        cert, key = Path(o.cert).read_bytes(), Path(o.key).read_bytes()
        if b"-----BEGIN" not in cert:
            raise CommandError("tls: failed to find any PEM data in certificate input")
        if b"-----BEGIN" not in key:
            raise CommandError("tls: failed to find any PEM data in key input")
        data = {"tls.crt": _b64(cert), "tls.key": _b64(key)}
        secret_type = "kubernetes.io/tls"
    else:
        import json

        auth = _b64(f"{o.docker_username}:{o.docker_password}")
        entry = {
            "username": o.docker_username,
            "password": o.docker_password,
            "email": o.docker_email,
            "auth": auth,
        }
        if not o.docker_email:
            entry.pop("email")
        cfg = {"auths": {o.docker_server: entry}}
        data = {".dockerconfigjson": _b64(json.dumps(cfg, separators=(",", ":")))}
        secret_type = "kubernetes.io/dockerconfigjson"
    obj: Obj = {"apiVersion": "v1"}
    if data:
        obj["data"] = data
    obj.update({"kind": "Secret", "metadata": object_meta(f, name)})
    if secret_type:
        obj["type"] = secret_type
    return obj
