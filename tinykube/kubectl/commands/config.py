"""``kubectl config``: read and edit kubeconfig files, never the cluster.

Reading merges every file of ``$KUBECONFIG`` (first one wins per entry, as
``tinykube.client.kubeconfig`` does); writing changes the file that holds
the entry, or the first file for new entries, and rewrites it in kubectl's
layout (keys sorted, named lists sorted by name). ``view`` hides credential
data (``DATA+OMITTED``, ``REDACTED``) unless ``--raw``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]
SECTIONS = (("clusters", "cluster"), ("contexts", "context"), ("users", "user"))

FLAGS = [
    Flag("output", "o"),
    Flag("minify", kind="bool", default=False),
    Flag("raw", kind="bool", default=False),
    Flag("flatten", kind="bool", default=False),
    Flag("current", kind="bool", default=False),
    Flag("no-headers", kind="bool", default=False),
    Flag("certificate-authority"),
    Flag("embed-certs", kind="bool", default=False),
    Flag("client-certificate"),
    Flag("client-key"),
    Flag("password"),
    Flag("username"),
]


def _paths(f: Any) -> list[Path]:
    if f.flags.get("kubeconfig"):
        return [Path(f.flags["kubeconfig"]).expanduser()]
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _load(path: Path) -> Obj:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def merged(f: Any) -> Obj:
    out: Obj = {
        "apiVersion": "v1",
        "clusters": [],
        "contexts": [],
        "current-context": "",
        "kind": "Config",
        "users": [],
    }
    seen: dict[str, set[str]] = {s: set() for s, _ in SECTIONS}
    for path in _paths(f):
        doc = _load(path)
        for section, _ in SECTIONS:
            for entry in doc.get(section) or []:
                if entry.get("name") not in seen[section]:
                    seen[section].add(entry.get("name"))
                    out[section].append(entry)
        if doc.get("current-context") and not out["current-context"]:
            out["current-context"] = doc["current-context"]
    for section, _ in SECTIONS:
        out[section].sort(key=lambda e: e.get("name", ""))
    return out


def _owner(f: Any, section: str, name: str) -> Path:
    for path in _paths(f):
        if any(e.get("name") == name for e in _load(path).get(section) or []):
            return path
    return _paths(f)[0]


def _save(path: Path, doc: Obj) -> None:
    doc.setdefault("apiVersion", "v1")
    doc.setdefault("kind", "Config")
    for section, _ in SECTIONS:
        doc[section] = sorted(doc.get(section) or [], key=lambda e: e.get("name", ""))
    doc.setdefault("current-context", "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(printers.to_yaml(doc))


def _current(f: Any) -> str:
    return str(f.flags.get("context") or merged(f).get("current-context") or "")


def _redact(doc: Obj) -> Obj:
    doc = copy.deepcopy(doc)
    for entry in doc.get("clusters") or []:
        body = entry.get("cluster") or {}
        if body.get("certificate-authority-data"):
            body["certificate-authority-data"] = "DATA+OMITTED"
    for entry in doc.get("users") or []:
        body = entry.get("user") or {}
        for key in ("client-certificate-data", "client-key-data"):
            if body.get(key):
                body[key] = "DATA+OMITTED"
        for key in ("token", "password"):
            if body.get(key):
                body[key] = "REDACTED"
    return doc


def _minify(f: Any, doc: Obj) -> Obj:
    name = _current(f)
    if not name:
        raise CommandError("current-context must exist in order to minify")
    ctx = next((c for c in doc["contexts"] if c.get("name") == name), None)
    if ctx is None:
        raise CommandError(f"cannot locate context {name}")
    body = ctx.get("context") or {}
    doc["contexts"] = [ctx]
    doc["clusters"] = [c for c in doc["clusters"] if c.get("name") == body.get("cluster")]
    doc["users"] = [u for u in doc["users"] if u.get("name") == body.get("user")]
    doc["current-context"] = name
    return doc


async def view(f: Any, o: Any) -> int:
    doc = merged(f)
    if o.minify:
        doc = _minify(f, doc)
    if not o.raw and not o.flatten:
        doc = _redact(doc)
    from tinykube.kubectl.output import parse_output, print_objects

    fmt = parse_output(o.output or "yaml")
    print_objects(f.out, fmt, [doc], single=True)
    return 0


async def get_contexts(f: Any, o: Any) -> int:
    doc = merged(f)
    contexts = doc["contexts"]
    if o.args:
        contexts = [c for c in contexts if c.get("name") in o.args]
        missing = [n for n in o.args if n not in {c.get("name") for c in contexts}]
        if missing:
            raise CommandError(f"context {missing[0]} not found")
    if o.output == "name":
        f.out.write("".join(f"{c.get('name')}\n" for c in contexts))
        return 0
    current = _current(f)
    lines = [] if o.no_headers else [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
    for c in contexts:
        body = c.get("context") or {}
        mark = "*" if c.get("name") == current else ""
        lines.append(
            [
                mark,
                c.get("name", ""),
                body.get("cluster", ""),
                body.get("user", ""),
                body.get("namespace", ""),
            ]
        )
    f.out.write(printers.render(lines))
    return 0


def _named(doc: Obj, section: str, name: str) -> Obj | None:
    return next((e for e in doc.get(section) or [] if e.get("name") == name), None)


async def set_entry(f: Any, o: Any, section: str, key: str, options: dict[str, str]) -> int:
    """``set-context``/``set-cluster``/``set-credentials``: create or modify one entry."""
    name = _current(f) if (o.current and section == "contexts") else (o.args[0] if o.args else "")
    if not name:
        raise CommandError(
            "you must specify a non-empty context name or --current"
            if section == "contexts"
            else "you must specify a non-empty name"
        )
    path = _owner(f, section, name)
    doc = _load(path)
    entry = _named(doc, section, name)
    created = entry is None
    if entry is None:
        entry = {"name": name, key: {}}
        doc.setdefault(section, []).append(entry)
    body = entry.setdefault(key, {})
    for field, value in options.items():
        if value is not None:
            body[field] = value
    _save(path, doc)
    what = {"contexts": "Context", "clusters": "Cluster", "users": "User"}[section]
    f.out.write(f'{what} "{name}" {"created" if created else "modified"}.\n')
    return 0


async def use_context(f: Any, o: Any) -> int:
    name = o.args[0] if o.args else ""
    if _named(merged(f), "contexts", name) is None:
        raise CommandError(f'no context exists with the name: "{name}"')
    path = _paths(f)[0]
    doc = _load(path)
    doc["current-context"] = name
    _save(path, doc)
    f.out.write(f'Switched to context "{name}".\n')
    return 0


async def delete_context(f: Any, o: Any) -> int:
    name = o.args[0] if o.args else ""
    path = _owner(f, "contexts", name)
    doc = _load(path)
    if _named(doc, "contexts", name) is None:
        raise CommandError(f"cannot delete context {name}, not in {path}")
    doc["contexts"] = [c for c in doc.get("contexts") or [] if c.get("name") != name]
    if doc.get("current-context") == name:
        f.err.write(
            'warning: this removed your active context, use "kubectl config use-context" to select a different one\n'
        )
    _save(path, doc)
    f.out.write(f"deleted context {name} from {path}\n")
    return 0


async def rename_context(f: Any, o: Any) -> int:
    if len(o.args) != 2:
        raise CommandError("Unexpected args: " + str(o.args))
    old, new = o.args
    path = _owner(f, "contexts", old)
    doc = _load(path)
    entry = _named(doc, "contexts", old)
    if entry is None:
        raise CommandError(f'cannot rename the context "{old}", it\'s not in {path}')
    if _named(doc, "contexts", new) is not None:
        raise CommandError(
            f'cannot rename the context "{old}", the context "{new}" already exists in {path}'
        )
    entry["name"] = new
    if doc.get("current-context") == old:
        doc["current-context"] = new
    _save(path, doc)
    f.out.write(f'Context "{old}" renamed to "{new}".\n')
    return 0


async def run(f: Any, o: Any) -> int:
    if not o.args:
        raise CommandError("config requires a subcommand")
    sub, o.args = o.args[0], o.args[1:]
    if sub == "view":
        return await view(f, o)
    if sub == "current-context":
        name = _current(f)
        if not name:
            raise CommandError("current-context is not set")
        f.out.write(name + "\n")
        return 0
    if sub == "get-contexts":
        return await get_contexts(f, o)
    if sub in ("get-clusters", "get-users"):
        section = "clusters" if sub == "get-clusters" else "users"
        f.out.write("NAME\n" + "".join(f"{e.get('name')}\n" for e in merged(f)[section]))
        return 0
    if sub == "use-context" or sub == "use":
        return await use_context(f, o)
    if sub == "set-context":
        return await set_entry(f, o, "contexts", "context", _context_options(f))
    if sub == "set-cluster":
        return await set_entry(
            f,
            o,
            "clusters",
            "cluster",
            {
                "server": f.flags.get("server"),
                "certificate-authority": o.certificate_authority,
                "insecure-skip-tls-verify": True
                if f.flags.get("insecure_skip_tls_verify")
                else None,
            },
        )
    if sub == "set-credentials":
        return await set_entry(
            f,
            o,
            "users",
            "user",
            {
                "token": f.flags.get("token"),
                "client-certificate": o.client_certificate,
                "client-key": o.client_key,
                "username": o.username,
                "password": o.password,
            },
        )
    if sub == "delete-context":
        return await delete_context(f, o)
    if sub == "rename-context":
        return await rename_context(f, o)
    raise CommandError(f'unknown command "{sub}" for "kubectl config"')


def _context_options(f: Any) -> dict[str, str]:
    return {
        "cluster": f.flags.get("cluster"),
        "namespace": f.flags.get("namespace"),
        "user": f.flags.get("user"),
    }
