"""kubectl's resource builder: turn arguments and files into (resource, names) requests.

Users name objects in several ways, all handled here once for every command:
``pods``, ``pods a b``, ``pods,svc``, ``pod/a svc/b``, ``all`` (a category),
and ``-f`` files, directories (``-R`` to recurse) or ``-`` for stdin holding
one or more YAML/JSON documents (``kind: List`` is flattened).

PyYAML is imported only when a manifest is read: ``get pods`` should not pay
for the regexes it compiles at import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tinykube.kubectl.errors import CommandError

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any

    import yaml

    from tinykube.kubectl.discovery import Mapping
    from tinykube.kubectl.factory import Factory


Obj = dict[str, "Any"]
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class Request:
    """One resource type with the names asked for (none: the whole collection)."""

    __slots__ = ("mapping", "names")

    def __init__(self, mapping: Mapping, names: list[str] | None = None) -> None:
        self.mapping = mapping
        self.names = names if names is not None else []

    def __repr__(self) -> str:
        return f"Request({self.mapping.qualified!r}, {self.names!r})"


async def from_args(
    f: Factory, args: list[str], *, allow_empty_names: bool = True
) -> list[Request]:
    """Resolve ``TYPE [NAME...]``, ``TYPE1,TYPE2`` and ``TYPE/NAME...`` arguments."""
    if not args:
        raise CommandError("You must specify the type of resource to get. ")
    if any("/" in a for a in args):
        return await _slash_form(f, args)
    requests: list[Request] = []
    names = args[1:]
    for word in args[0].split(","):
        if not word:
            continue
        for mapping in await _expand(f, word):
            requests.append(Request(mapping, list(names)))
    return requests


async def _expand(f: Factory, word: str) -> list[Mapping]:
    if word == "all" or word in {"api-extensions"}:
        found = await f.discovery.category(word)
        if found:
            return found
    return [await f.discovery.find(word)]


async def _slash_form(f: Factory, args: list[str]) -> list[Request]:
    requests: list[Request] = []
    for arg in args:
        kind, sep, name = arg.partition("/")
        if not sep or not name:
            raise CommandError(
                "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'"
            )
        mapping = await f.discovery.find(kind)
        if requests and requests[-1].mapping == mapping:
            requests[-1].names.append(name)
        else:
            requests.append(Request(mapping, [name]))
    return requests


# ---- manifests ------------------------------------------------------------------


def read_sources(paths: list[str], recursive: bool = False) -> list[tuple[str, str]]:
    """(source name, text) for each file, directory entry or stdin."""
    out: list[tuple[str, str]] = []
    for p in paths:
        if p == "-":
            out.append(("STDIN", sys.stdin.read()))
            continue
        path = Path(p)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for child in sorted(path.glob(pattern)):
                if child.is_file() and child.suffix in MANIFEST_SUFFIXES:
                    out.append((str(child), child.read_text()))
        elif path.exists():
            out.append((p, path.read_text()))
        else:
            raise CommandError(f'the path "{p}" does not exist')
    return out


def _manifest_loader() -> type[yaml.SafeLoader]:
    """A SafeLoader that reads YAML as sigs.k8s.io/yaml does into JSON: timestamps stay strings."""
    global _loader
    if _loader is None:
        import yaml

        class ManifestLoader(yaml.SafeLoader):
            pass

        ManifestLoader.yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        _loader = ManifestLoader
    return _loader


_loader: type[yaml.SafeLoader] | None = None


def parse_documents(source: str, text: str) -> list[Obj]:
    """Every object in a YAML stream or JSON document, ``List`` kinds flattened."""
    import yaml

    try:
        if text.lstrip().startswith("{"):
            docs = [json.loads(text)]
        else:
            docs = list(yaml.load_all(text, Loader=_manifest_loader()))
    except (yaml.YAMLError, ValueError) as exc:
        raise CommandError(
            f"error parsing {source}: error converting YAML to JSON: {_yaml_reason(exc)}"
        ) from None
    out: list[Obj] = []
    for doc in docs:
        if not doc:
            continue
        if not isinstance(doc, dict):
            raise CommandError(f"error validating data: invalid object in {source}")
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            out.extend(doc["items"])
        else:
            out.append(doc)
    return out


def _yaml_reason(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"yaml: line {mark.line + 1}: {problem}"
    return str(problem)


class Item:
    """One object from a manifest, with its resource and namespace resolved."""

    __slots__ = ("mapping", "namespace", "obj", "source")

    def __init__(self, source: str, obj: Obj, mapping: Mapping, namespace: str) -> None:
        self.source, self.obj, self.mapping, self.namespace = source, obj, mapping, namespace

    def __repr__(self) -> str:
        return f"Item({self.source!r}, {self.mapping.qualified!r}, {self.name!r})"

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


async def from_files(f: Factory, paths: list[str], recursive: bool = False) -> list[Item]:
    """Load manifests and map each object to its resource and namespace."""
    items: list[Item] = []
    for source, text in read_sources(paths, recursive):
        for obj in parse_documents(source, text):
            items.append(await _item(f, source, obj))
    if not items:
        raise CommandError("no objects passed to " + str(f.flags.get("cmd_name", "apply")))
    return items


async def _item(f: Factory, source: str, obj: Obj) -> Item:
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    meta = obj.get("metadata") or {}
    if not kind:
        raise CommandError(
            "error validating data: kind not set; if you choose to ignore these errors, turn validation off with --validate=false"
        )
    if not api_version:
        raise CommandError(
            "error validating data: apiVersion not set; if you choose to ignore these errors, turn validation off with --validate=false"
        )
    mapping = await f.discovery.for_kind(api_version, kind)
    if mapping is None:
        raise CommandError(
            f'resource mapping not found for name: "{meta.get("name", "")}" namespace: "{meta.get("namespace", "")}" '
            f'from "{source}": no matches for kind "{kind}" in version "{api_version}"\n'
            "ensure CRDs are installed first"
        )
    namespace = ""
    if mapping.namespaced:
        namespace = meta.get("namespace") or f.namespace
        if f.explicit_namespace and meta.get("namespace") and meta["namespace"] != f.namespace:
            raise CommandError(
                f'the namespace from the provided object "{meta["namespace"]}" does not match the namespace "{f.namespace}". You must pass \'--namespace={meta["namespace"]}\' to perform this operation.'
            )
    return Item(source, obj, mapping, namespace)


def display_name(mapping: Mapping, name: str) -> str:
    """``pod/web``, ``deployment.apps/web``."""
    return f"{mapping.kind_prefix}/{name}"
