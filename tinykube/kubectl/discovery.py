"""Discovery and REST mapping: from what users type to a URL.

kubectl learns the server's resources from discovery and keeps them on disk
(``<cache-dir>/discovery/<host_port>/servergroups.json`` and
``<group>/<version>/serverresources.json``, trusted for six hours). We read
and write the very same files, so tkctl and kubectl share one cache. Fresh
documents come from aggregated discovery (two requests: ``/api`` and
``/apis``); a server without it is asked per group version, as client-go does.

Mapping follows kubectl's order: ``resource.version.group`` and
``resource.group`` first, then plural, singular, short name and kind,
case-insensitively, trying groups in the server's priority order (core
first). An unknown name invalidates the cache and tries once more before
failing with ``the server doesn't have a resource type "x"``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tinykube.kubectl.errors import CommandError

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

    from tinykube.kubectl.transport import KubectlClient


Obj = dict[str, "Any"]
TTL_SECONDS = 6 * 3600
AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)


class Mapping:
    """One REST resource as discovery describes it (a value: equal when its fields are).

    A plain class rather than a dataclass: every tkctl run builds one per
    server resource, and start-up time is what tkctl competes on.
    """

    __slots__ = (
        "categories",
        "group",
        "kind",
        "namespaced",
        "resource",
        "short_names",
        "singular",
        "subresources",
        "verbs",
        "version",
    )

    def __init__(
        self,
        group: str,
        version: str,
        kind: str,
        resource: str,
        singular: str = "",
        namespaced: bool = True,
        short_names: tuple[str, ...] = (),
        categories: tuple[str, ...] = (),
        verbs: tuple[str, ...] = (),
        subresources: tuple[str, ...] = (),
    ) -> None:
        self.group, self.version, self.kind, self.resource = group, version, kind, resource
        self.singular, self.namespaced = singular, namespaced
        self.short_names, self.categories, self.verbs = short_names, categories, verbs
        self.subresources = subresources

    def _key(self) -> tuple[Any, ...]:
        # subresources do not take part in equality, as before.
        return (
            self.group,
            self.version,
            self.kind,
            self.resource,
            self.singular,
            self.namespaced,
            self.short_names,
            self.categories,
            self.verbs,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Mapping({self.group!r}, {self.version!r}, {self.kind!r}, {self.resource!r})"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods``, ``deployments.apps``: how Status messages name the resource."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def kind_prefix(self) -> str:
        """``pod``, ``deployment.apps``: the ``-o name`` and ``created`` prefix."""
        low = self.kind.lower()
        return f"{low}.{self.group}" if self.group else low

    def path(self, namespace: str = "", name: str = "", sub: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.resource)
        if name:
            parts.append(name)
        if sub:
            parts.append(sub)
        return "/".join(parts)


def cache_root(cache_dir: str | None, server: str) -> Path:
    """``~/.kube/cache/discovery/<host_port>``, as kubectl names it."""
    base = Path(cache_dir).expanduser() if cache_dir else Path("~/.kube/cache").expanduser()
    host = server.removeprefix("https://").removeprefix("http://").rstrip("/")
    host = "".join(c if c.isalnum() or c in "._" else "_" for c in host)
    return base / "discovery" / host


class StaleCache(Exception):
    """A cached per-version document vanished or is corrupt: discovery must be fetched."""


class GroupVersion:
    """One group version's resources, read from its cache file only when first needed.

    ``tkctl get pods`` finds pods in the first file (core ``v1``); reading and
    decoding the other twenty would cost more than the request itself.
    """

    __slots__ = ("_path", "_resources", "group", "version")

    def __init__(
        self, group: str, version: str, resources: list[Obj] | None, path: Path | None = None
    ) -> None:
        self.group, self.version = group, version
        self._resources, self._path = resources, path

    @property
    def resources(self) -> list[Obj]:
        if self._resources is None:
            assert self._path is not None
            try:
                self._resources = json.loads(self._path.read_text()).get("resources") or []
            except (OSError, ValueError, AttributeError) as exc:
                raise StaleCache(str(self._path)) from exc
        return self._resources


class Discovery:
    """The server's resources, from the disk cache or the server (see the module docstring)."""

    def __init__(self, client: KubectlClient, root: Path) -> None:
        self.client = client
        self.root = root
        self._gvs: list[GroupVersion] | None = None
        self._preferred: dict[str, str] = {}
        self._fresh = False

    # ---- loading ----------------------------------------------------------

    async def group_versions(self) -> list[GroupVersion]:
        if self._gvs is None:
            self._gvs = self._read_cache()
            if self._gvs is None:
                await self.refresh()
        assert self._gvs is not None
        return self._gvs

    async def refresh(self) -> None:
        """Fetch discovery from the server and rewrite the cache."""
        groups: list[Obj] = []
        for path in ("/api", "/apis"):
            doc = await self.client.call("GET", path, accept=AGGREGATED_ACCEPT)
            if doc.get("kind") == "APIGroupDiscoveryList":
                groups.extend(doc.get("items") or [])
            else:
                groups.extend(await self._legacy(path, doc))
        self._gvs, self._preferred = _from_aggregated(groups)
        self._fresh = True
        self._write_cache()

    async def _legacy(self, path: str, doc: Obj) -> list[Obj]:
        """Turn unaggregated discovery into aggregated-shaped groups."""
        out: list[Obj] = []
        if path == "/api":
            listing = [("", [{"version": v} for v in doc.get("versions") or []])]
        else:
            listing = [(g["name"], g.get("versions") or []) for g in doc.get("groups") or []]
        for group, versions in listing:
            entry: Obj = {"metadata": {"name": group}, "versions": []}
            for v in versions:
                gv = f"{group}/{v['version']}" if group else v["version"]
                base = "/apis/" if group else "/api/"
                res = await self.client.call("GET", base + gv)
                entry["versions"].append(
                    {"version": v["version"], "legacy": res.get("resources") or []}
                )
            out.append(entry)
        return out

    def _read_cache(self) -> list[GroupVersion] | None:
        index = self.root / "servergroups.json"
        try:
            if time.time() - index.stat().st_mtime > TTL_SECONDS:
                return None
            groups = json.loads(index.read_text()).get("groups") or []
            gvs: list[GroupVersion] = []
            for g in groups:
                self._preferred[g["name"]] = (g.get("preferredVersion") or {}).get("version", "")
                for v in g.get("versions") or []:
                    path = self._gv_dir(g["name"], v["version"]) / "serverresources.json"
                    gvs.append(GroupVersion(g["name"], v["version"], None, path))
            return gvs
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            return None

    def _gv_dir(self, group: str, version: str) -> Path:
        return self.root / group / version if group else self.root / version

    def _write_cache(self) -> None:
        assert self._gvs is not None
        try:
            groups: dict[str, Obj] = {}
            for gv in self._gvs:
                entry = groups.setdefault(gv.group, {"name": gv.group, "versions": []})
                gvname = f"{gv.group}/{gv.version}" if gv.group else gv.version
                entry["versions"].append({"groupVersion": gvname, "version": gv.version})
                d = self._gv_dir(gv.group, gv.version)
                d.mkdir(parents=True, exist_ok=True)
                doc = {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": gvname,
                    "resources": gv.resources,
                }
                _atomic_write(d / "serverresources.json", json.dumps(doc, separators=(",", ":")))
            for entry in groups.values():
                pref = self._preferred.get(entry["name"]) or entry["versions"][0]["version"]
                gvname = f"{entry['name']}/{pref}" if entry["name"] else pref
                entry["preferredVersion"] = {"groupVersion": gvname, "version": pref}
            doc = {"kind": "APIGroupList", "apiVersion": "v1", "groups": list(groups.values())}
            _atomic_write(self.root / "servergroups.json", json.dumps(doc, separators=(",", ":")))
        except OSError:
            pass  # an unwritable cache only costs speed, as in kubectl

    # ---- mapping ------------------------------------------------------------

    async def mappings(self) -> list[Mapping]:
        """Every top-level resource, preferred versions first within each group."""
        try:
            return list(self._each_mapping(await self.group_versions()))
        except StaleCache:
            await self.refresh()
            return list(self._each_mapping(await self.group_versions()))

    def _each_mapping(self, gvs: list[GroupVersion]) -> Iterator[Mapping]:
        """Mappings in kubectl's order, reading each version's file only when reached."""
        ordered = sorted(
            enumerate(gvs),
            key=lambda p: (
                _group_rank(gvs, p[1].group),
                self._preferred.get(p[1].group) != p[1].version,
                p[0],
            ),
        )
        for _, gv in ordered:
            subs: dict[str, list[str]] = {}
            for r in gv.resources:
                parent, _, sub = r["name"].partition("/")
                if sub:
                    subs.setdefault(parent, []).append(sub)
            for r in gv.resources:
                if "/" not in r["name"]:
                    yield _mapping(gv, r, tuple(subs.get(r["name"], ())))

    async def _match(self, arg: str) -> Mapping | None:
        if "." in arg:  # the group-qualified forms are tried across every resource first
            return _match(await self.mappings(), arg)
        try:
            return _match(self._each_mapping(await self.group_versions()), arg)
        except StaleCache:
            await self.refresh()
            return _match(self._each_mapping(await self.group_versions()), arg)

    async def find(self, arg: str) -> Mapping:
        """Map ``po``, ``pods``, ``Pod``, ``deploy.apps``, ``deployments.v1.apps``."""
        found = await self._match(arg)
        if found is None and not self._fresh:
            await self.refresh()
            found = await self._match(arg)
        if found is None:
            raise CommandError(f'the server doesn\'t have a resource type "{arg}"')
        return found

    async def for_kind(self, api_version: str, kind: str) -> Mapping | None:
        """The resource of a manifest's ``apiVersion``/``kind`` (None when unknown)."""
        group, _, version = api_version.rpartition("/")
        for _attempt in range(2):
            for m in await self.mappings():
                if m.group == group and m.version == version and m.kind == kind:
                    return m
            if self._fresh:
                break
            await self.refresh()
        return None

    async def category(self, name: str) -> list[Mapping]:
        seen: set[tuple[str, str]] = set()
        out = []
        for m in await self.mappings():
            if name in m.categories and (m.group, m.resource) not in seen:
                seen.add((m.group, m.resource))
                out.append(m)
        return out


def _group_rank(gvs: list[GroupVersion], group: str) -> int:
    for i, gv in enumerate(gvs):
        if gv.group == group:
            return i
    return len(gvs)


def _mapping(gv: GroupVersion, r: Obj, subs: tuple[str, ...]) -> Mapping:
    return Mapping(
        group=r.get("group") or gv.group,
        version=r.get("version") or gv.version,
        kind=r.get("kind", ""),
        resource=r["name"],
        singular=r.get("singularName") or "",
        namespaced=bool(r.get("namespaced")),
        short_names=tuple(r.get("shortNames") or ()),
        categories=tuple(r.get("categories") or ()),
        verbs=tuple(r.get("verbs") or ()),
        subresources=subs,
    )


def _names(m: Mapping) -> set[str]:
    return {m.resource, m.singular or m.kind.lower(), m.kind.lower(), *m.short_names}


def _match(mappings: Iterable[Mapping], arg: str) -> Mapping | None:
    """The first mapping ``arg`` names (a list when ``arg`` has a dot: it is read thrice)."""
    low = arg.lower()
    head, _, rest = low.partition(".")
    if rest:
        version, _, group = rest.partition(".")
        for m in mappings:  # resource.version.group
            if group and m.version == version and m.group == group and head in _names(m):
                return m
        for m in mappings:  # resource.group
            if m.group == rest and head in _names(m):
                return m
    for m in mappings:
        if low in _names(m):
            return m
    return None


def _from_aggregated(groups: list[Obj]) -> tuple[list[GroupVersion], dict[str, str]]:
    """APIGroupDiscovery items -> per-version APIResource lists (client-go's conversion)."""
    gvs: list[GroupVersion] = []
    preferred: dict[str, str] = {}
    for g in groups:
        name = (g.get("metadata") or {}).get("name", "")
        versions = g.get("versions") or []
        if versions:
            preferred[name] = versions[0].get("version", "")
        for v in versions:
            if "legacy" in v:
                gvs.append(GroupVersion(name, v["version"], v["legacy"]))
                continue
            gvs.append(GroupVersion(name, v["version"], _resources(name, v)))
    return gvs, preferred


def _resources(group: str, version: Obj) -> list[Obj]:
    out: list[Obj] = []
    for r in version.get("resources") or []:
        kind = r.get("responseKind") or {}
        if not kind:
            continue
        namespaced = r.get("scope") == "Namespaced"
        entry: Obj = {
            "name": r["resource"],
            "singularName": r.get("singularResource", ""),
            "namespaced": namespaced,
            "kind": kind.get("kind", ""),
            "verbs": r.get("verbs") or [],
        }
        if kind.get("group", group) != group:
            entry["group"] = kind.get("group")
        if kind.get("version") and kind.get("version") != version.get("version"):
            entry["version"] = kind.get("version")
        if r.get("shortNames"):
            entry["shortNames"] = r["shortNames"]
        if r.get("categories"):
            entry["categories"] = r["categories"]
        out.append(entry)
        for sub in r.get("subresources") or []:
            sk = sub.get("responseKind") or {}
            out.append(
                {
                    "name": f"{r['resource']}/{sub['subresource']}",
                    "singularName": "",
                    "namespaced": namespaced,
                    "kind": sk.get("kind", ""),
                    "verbs": sub.get("verbs") or [],
                }
            )
    return out


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
