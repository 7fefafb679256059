"""Discovery documents, generated from the resource table.

Two shapes, chosen by the Accept header exactly as client-go chooses: the
aggregated ``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList`` (one request
gives kubectl every resource) when the client offers it, otherwise the legacy
``APIVersions``/``APIGroupList``/``APIResourceList`` documents. The response
Content-Type says which one was sent, because that is all the client looks at.
Documents are built once and cached until the resource table's custom rows
change (a CRD was served or withdrawn).
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import orjson

from tinykube.api import resources
from tinykube.api.resources import Resource, group_versions, resources_in

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_BETA = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> str:
    """The discovery version (``v2``/``v2beta1``) the client accepts, or ``""``."""
    for clause in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in clause.split(";")[1:] if "=" in p)
        if (
            params.get("g") == "apidiscovery.k8s.io"
            and params.get("as") == "APIGroupDiscoveryList"
            and params.get("v") in ("v2", "v2beta1")
        ):
            return params["v"]
    return ""


def _api_resource(r: Resource) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
            **({"shortNames": list(r.short_names)} if r.short_names else {}),
            **({"categories": list(r.categories)} if r.categories else {}),
            "storageVersionHash": _hash(f"{r.group}/{r.version}/{r.kind}"),
        }
    ]
    for sub in r.subresources:
        entry: dict[str, Any] = {
            "name": f"{r.plural}/{sub.name}",
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": sub.kind,
            "verbs": list(sub.verbs),
        }
        if sub.group is not None:
            entry["group"] = sub.group
            entry["version"] = sub.version
        out.append(entry)
    return out


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).digest()[:8].hex()


@cache
def resource_list(group: str, version: str) -> bytes:
    gv = f"{group}/{version}" if group else version
    body = {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": [e for r in resources_in(group, version) for e in _api_resource(r)],
    }
    return orjson.dumps(body)


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for group, version in group_versions():
        if group:
            groups.setdefault(group, []).append(version)
    return groups


def api_group(name: str) -> dict[str, Any] | None:
    versions = _groups().get(name)
    if not versions:
        return None
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": entries,
        "preferredVersion": entries[0],
    }


@cache
def api_group_list() -> bytes:
    groups = [api_group(g) for g in _groups()]
    body = {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {k: v for k, v in g.items() if k not in ("kind", "apiVersion")} for g in groups if g
        ],
    }
    return orjson.dumps(body)


def _resource_discovery(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {
                    "group": r.group if s.group is None else s.group,
                    "version": r.version if s.version is None else s.version,
                    "kind": s.kind,
                },
                "verbs": list(s.verbs),
            }
            for s in r.subresources
        ]
    return entry


def _group_discovery(group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": group, "creationTimestamp": None},
        "versions": [
            {
                "version": v,
                "resources": [_resource_discovery(r) for r in resources_in(group, v)],
                "freshness": "Current",
            }
            for v in versions
        ],
    }


@cache
def aggregated(legacy: bool, version: str) -> bytes:
    """``/api`` (legacy=True: the core group only) or ``/apis`` (every other group)."""
    if legacy:
        items = [_group_discovery("", ["v1"])]
    else:
        items = [_group_discovery(g, vs) for g, vs in _groups().items()]
    body = {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
    return orjson.dumps(body)


def _forget() -> None:
    """Custom resources came or went: every cached document is stale."""
    resource_list.cache_clear()
    api_group_list.cache_clear()
    aggregated.cache_clear()


resources.add_listener(_forget)


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
