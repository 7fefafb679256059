"""Generate tinykube/api/protobuf_schema.json from kubernetes/api and kubernetes/apimachinery.

client-go sends built-in kinds as Kubernetes protobuf, and decoding it needs
the field numbers and the JSON rules of every Go struct involved. Those facts
live in the ``protobuf:"..."`` and ``json:"..."`` struct tags of the upstream
``types.go`` files, so this script reads them from checkouts (bare git
repositories or work trees) and writes only the facts: no comments, no prose.

    python tools/gen_protobuf_schema.py API_REPO APIMACHINERY_REPO [-o OUT]

Output layout (read by ``tinykube.api.protobuf``)::

    {"groups":   {"apps/v1": "apps/v1", "v1": "core/v1", ...},   # apiVersion -> package
     "messages": {"apps/v1.Deployment":
                      [[number, jsonName, kind, ref, flags], ...],  # Go declaration order
                  ...}}

``kind`` is a wire kind (string, bool, int32, int64, bytes, message, map) or one
of the special message types with their own JSON form (time, microtime,
quantity, intorstring, rawjson, stringlist). ``ref`` names the message type of
a message field, or the value kind/type of a map. ``flags`` holds ``r``
(repeated), ``o`` (omitempty), ``z`` (omitzero), ``p`` (Go pointer) and ``i``
(embedded and inlined into the parent's JSON).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The API groups tinykube serves (see tinykube/api/resources.py), as package dirs.
API_PACKAGES = (
    "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2",
    "coordination/v1", "discovery/v1", "events/v1", "networking/v1", "policy/v1",
    "rbac/v1", "scheduling/v1", "storage/v1", "authentication/v1", "authorization/v1",
    "certificates/v1",
)  # fmt: skip
# apimachinery packages: key -> directory inside the repository.
MACHINERY_PACKAGES = {"meta/v1": "pkg/apis/meta/v1", "types": "pkg/types"}
# Go import path prefixes -> package keys.
API_IMPORT = "k8s.io/api/"
MACHINERY_IMPORTS = {
    "k8s.io/apimachinery/pkg/apis/meta/v1": "meta/v1",
    "k8s.io/apimachinery/pkg/types": "types",
    "k8s.io/apimachinery/pkg/api/resource": "resource",
    "k8s.io/apimachinery/pkg/util/intstr": "intstr",
    "k8s.io/apimachinery/pkg/runtime": "runtime",
}
# Types whose protobuf and JSON forms are hand-written upstream (time_proto.go,
# quantity_proto.go, intstr.go, runtime/types_proto.go, meta/v1 FieldsV1).
SPECIAL = {
    ("meta/v1", "Time"): "time",
    ("meta/v1", "MicroTime"): "microtime",
    ("meta/v1", "FieldsV1"): "rawjson",
    ("resource", "Quantity"): "quantity",
    ("intstr", "IntOrString"): "intorstring",
    ("runtime", "RawExtension"): "rawjson",
}
SCALARS = {"string": "string", "bool": "bool", "int32": "int32", "int64": "int64", "int": "int64"}
# meta/v1 structs that are no protobuf messages (no tags, interfaces, or JSON-only).
META_SKIP = {"TypeMeta", "Patch", "Table", "TableRow", "TableColumnDefinition",
             "TableRowCondition", "TableOptions", "List", "Timestamp", "Duration"}  # fmt: skip

_TYPE_LINE = re.compile(r"^type (\w+) (.+?)\s*$")
_FIELD_LINE = re.compile(r"^(?:(\w+)\s+)?([\w.*\[\]]+)\s*`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')
_IMPORT = re.compile(r'^\s*(?:import\s+)?(\w+\s+)?"([^"]+)"\s*$')


class SchemaError(Exception):
    """A Go type the generator does not know how to express."""


@dataclass
class GoField:
    name: str  # empty for an embedded field
    type: str
    tags: dict[str, str]


@dataclass
class GoPackage:
    key: str
    imports: dict[str, str] = field(default_factory=dict)  # alias -> package key
    structs: dict[str, list[GoField]] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)  # type X Y
    nullable: set[str] = field(default_factory=set)  # +protobuf.nullable=true


class Repo:
    """Reads files from a work tree, or from HEAD of a (bare) git repository."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.bare = not (self.path / ".git").exists() and (self.path / "HEAD").exists()

    def list_dir(self, directory: str) -> list[str]:
        if not self.bare:
            return sorted(p.name for p in (self.path / directory).iterdir() if p.is_file())
        out = self._git("ls-tree", "--name-only", f"HEAD:{directory}")
        return sorted(out.split())

    def read(self, path: str) -> str:
        if not self.bare:
            return (self.path / path).read_text()
        return self._git("show", f"HEAD:{path}")

    def _git(self, *args: str) -> str:
        cmd = ["git", f"--git-dir={self.path}", *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _is_source(name: str) -> bool:
    skip = ("_test.go", "generated.pb.go", "_fuzz.go")
    return name.endswith(".go") and not name.startswith("zz_") and not name.endswith(skip)


def parse_package(key: str, repo: Repo, directory: str) -> GoPackage:
    pkg = GoPackage(key)
    for name in repo.list_dir(directory):
        if _is_source(name):
            _parse_file(pkg, repo.read(f"{directory}/{name}"))
    return pkg


def _import_key(path: str) -> str | None:
    if path.startswith(API_IMPORT):
        return path[len(API_IMPORT) :]
    return MACHINERY_IMPORTS.get(path)


def _parse_file(pkg: GoPackage, source: str) -> None:
    lines = source.splitlines()
    comments: list[str] = []
    in_imports = False
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("import ("):
            in_imports = True
        elif in_imports and line.startswith(")"):
            in_imports = False
        elif in_imports or line.startswith("import "):
            _add_import(pkg, line)
        elif line.startswith("//"):
            comments.append(line)
            continue
        elif (match := _TYPE_LINE.match(line)) is not None:
            name, rest = match.groups()
            if "+protobuf.nullable=true" in "\n".join(comments):
                pkg.nullable.add(name)
            if rest == "struct {":
                i = _parse_struct(pkg, name, lines, i)
            elif not rest.startswith(("interface", "func", "=")):
                pkg.named[name] = rest.split("//")[0].strip()
        comments = []


def _add_import(pkg: GoPackage, line: str) -> None:
    match = _IMPORT.match(line)
    if match is None:
        return
    alias, path = match.groups()
    key = _import_key(path)
    if key is not None:
        pkg.imports[alias.strip() if alias else path.rsplit("/", 1)[-1]] = key


def _parse_struct(pkg: GoPackage, name: str, lines: list[str], i: int) -> int:
    fields: list[GoField] = []
    while not lines[i].startswith("}"):
        match = _FIELD_LINE.match(lines[i].strip())
        i += 1
        if match is not None:
            fname, ftype, tag = match.groups()
            fields.append(GoField(fname or "", ftype, dict(_TAG.findall(tag))))
    pkg.structs[name] = fields
    return i + 1


@dataclass(frozen=True)
class Resolved:
    kind: str
    ref: str = ""
    repeated: bool = False


class Schema:
    """Turns parsed Go packages into the message table, following references."""

    def __init__(self, packages: dict[str, GoPackage], api: Repo) -> None:
        self.packages = packages
        self.api = api  # alpha/beta packages that served kinds point into load on demand
        self.messages: dict[str, list[list[object]]] = {}
        self.pending: list[tuple[str, str]] = []

    def add(self, pkg: str, name: str) -> str:
        full = f"{pkg}.{name}"
        if full not in self.messages:
            self.messages[full] = []  # placeholder: breaks reference cycles
            self.pending.append((pkg, name))
        return full

    def build(self) -> dict[str, list[list[object]]]:
        while self.pending:
            pkg, name = self.pending.pop()
            self.messages[f"{pkg}.{name}"] = self._message(pkg, name)
        return dict(sorted(self.messages.items()))

    def _message(self, pkg: str, name: str) -> list[list[object]]:
        out = []
        for go in self.packages[pkg].structs[name]:
            proto = go.tags.get("protobuf", "-")
            if proto == "-":
                continue
            number = int(proto.split(",")[1])
            try:
                out.append([number, *self._field(pkg, go)])
            except SchemaError as err:
                raise SchemaError(f"{pkg}.{name}.{go.name or go.type}: {err}") from None
        return out

    def _field(self, pkg: str, go: GoField) -> list[object]:
        json_opts = go.tags.get("json", "").split(",")
        json_name = json_opts[0] or go.name
        resolved = self.resolve(pkg, go.type.lstrip("*"))
        flags = "r" if resolved.repeated else ""
        flags += "o" if "omitempty" in json_opts else ""
        flags += "z" if "omitzero" in json_opts else ""
        flags += "p" if go.type.startswith("*") else ""
        if not go.name and not json_opts[0]:
            flags += "i"
            json_name = ""
        return [json_name, resolved.kind, resolved.ref, flags]

    def resolve(self, pkg: str, expr: str) -> Resolved:
        """The wire facts of Go type ``expr`` as written inside package ``pkg``."""
        if expr == "[]byte":
            return Resolved("bytes")
        if expr.startswith("[]"):
            inner = self.resolve(pkg, expr[2:])
            if inner.repeated:
                raise SchemaError(f"nested list {expr}")
            return Resolved(inner.kind, inner.ref, repeated=True)
        if expr.startswith("map["):
            key, value = expr[4:].split("]", 1)
            if self.resolve(pkg, key).kind != "string":
                raise SchemaError(f"map key {key}")
            inner = self.resolve(pkg, value)
            if inner.repeated:
                raise SchemaError(f"map of lists {expr}")
            ref = inner.ref if inner.kind == "message" else inner.kind
            return Resolved("map", ref)
        if expr in SCALARS:
            return Resolved(SCALARS[expr])
        target, name = self._qualify(pkg, expr)
        return self._named(target, name)

    def _qualify(self, pkg: str, expr: str) -> tuple[str, str]:
        if "." not in expr:
            return pkg, expr
        alias, name = expr.split(".", 1)
        target = self.packages[pkg].imports.get(alias)
        if target is None:
            raise SchemaError(f"unknown package of {expr}")
        return target, name

    def _named(self, pkg: str, name: str) -> Resolved:
        if (pkg, name) in SPECIAL:
            return Resolved(SPECIAL[pkg, name])
        if pkg not in self.packages and pkg.count("/") == 1 and "/" in pkg:
            self.packages[pkg] = parse_package(pkg, self.api, pkg)
        go = self.packages.get(pkg)
        if go is None:
            raise SchemaError(f"package {pkg} not loaded for {name}")
        if name in go.structs:
            return Resolved("message", self.add(pkg, name))
        underlying = go.named.get(name)
        if underlying is None:
            raise SchemaError(f"unknown type {pkg}.{name}")
        if name in go.nullable and underlying.startswith("[]"):
            # go-to-protobuf wraps a named slice in a message with repeated field 1 "items".
            if self.resolve(pkg, underlying[2:]).kind != "string":
                raise SchemaError(f"wrapped list {underlying}")
            return Resolved("stringlist")
        return self.resolve(pkg, underlying)


def group_versions(api: Repo) -> dict[str, str]:
    """apiVersion -> package key, from each package's ``GroupName`` constant."""
    out = {"meta.k8s.io/v1": "meta/v1"}
    for key in API_PACKAGES:
        match = re.search(r'GroupName\s*=\s*"([^"]*)"', api.read(f"{key}/register.go"))
        if match is None:
            raise SchemaError(f"no GroupName in {key}/register.go")
        group = match.group(1)
        version = key.rsplit("/", 1)[1]
        out[f"{group}/{version}" if group else version] = key
    return dict(sorted(out.items()))


def generate(api_path: str, machinery_path: str) -> dict[str, object]:
    api, machinery = Repo(api_path), Repo(machinery_path)
    packages = {key: parse_package(key, api, key) for key in API_PACKAGES}
    for key, directory in MACHINERY_PACKAGES.items():
        packages[key] = parse_package(key, machinery, directory)
    schema = Schema(packages, api)
    for key in API_PACKAGES:
        for name in packages[key].structs:
            schema.add(key, name)
    for name, fields in packages["meta/v1"].structs.items():
        special = ("meta/v1", name) in SPECIAL
        if name not in META_SKIP and not special and any("protobuf" in f.tags for f in fields):
            schema.add("meta/v1", name)
    return {"groups": group_versions(api), "messages": schema.build()}


def dump(schema: dict[str, object]) -> str:
    """Stable JSON with one message per line, so regenerations diff well."""
    messages = schema["messages"]
    assert isinstance(messages, dict)
    lines = [
        f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in messages.items()
    ]
    groups = json.dumps(schema["groups"], separators=(",", ":"))
    return '{"groups": ' + groups + ',\n "messages": {\n' + ",\n".join(lines) + "\n}}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("api", help="checkout or bare git repo of kubernetes/api")
    parser.add_argument("apimachinery", help="checkout or bare git repo of kubernetes/apimachinery")
    default_out = Path(__file__).parent.parent / "tinykube/api/protobuf_schema.json"
    parser.add_argument("-o", "--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    try:
        schema = generate(args.api, args.apimachinery)
    except SchemaError as err:
        print(f"gen_protobuf_schema: {err}", file=sys.stderr)
        return 1
    args.out.write_text(dump(schema))
    print(f"wrote {len(schema['messages'])} messages to {args.out}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
