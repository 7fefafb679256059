"""What a CustomResourceDefinition serves: its defaults, its resource rows and per-version facts.

A CRD is stored as the user wrote it (plus defaults); ``serve`` turns it into
what the rest of the server reads: one ``Resource`` row per served version in
the resource table (routing, discovery, OpenAPI, REST mapping), the version's
schema in ``api.schema`` (pruning, managedFields, server-side apply), its
Table printer in ``api.tables`` and the facts only this package needs (scale
paths, printer columns) in ``_VERSIONS``. ``unserve`` takes all of it back.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from tinykube.api import resources, tables
from tinykube.api import schema as api_schema
from tinykube.api.resources import Resource, Subresource, lookup
from tinykube.apiserver.crd.printing import printer

_CRDS = lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
assert _CRDS is not None
CRDS: Resource = _CRDS
FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
DEFAULT_COLUMNS = ({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},)


@dataclass(frozen=True)
class VersionInfo:
    """One served version of a CRD, as the custom-object code paths need it."""

    crd: str
    version: str
    storage_version: str
    schema: dict[str, Any] | None
    columns: tuple[dict[str, Any], ...]
    scale: dict[str, Any] | None
    status: bool
    warning: str = ""  # the Warning every request to a deprecated version gets


_VERSIONS: dict[tuple[str, str, str], VersionInfo] = {}
_SERVED: dict[str, str] = {}  # CRD name -> fingerprint of the spec and names it is served with


def apply_crd_defaults(crd: dict[str, Any]) -> None:
    """SetDefaults for apiextensions/v1: singular, listKind, conversion strategy."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str) and names["kind"]:
        if not names.get("singular"):
            names["singular"] = names["kind"].lower()
        if not names.get("listKind"):
            names["listKind"] = names["kind"] + "List"
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict):
        spec["conversion"] = {"strategy": "None"}
    elif not conversion.get("strategy"):
        conversion["strategy"] = "None"


def initial_status(crd: dict[str, Any]) -> dict[str, Any]:
    """A new CRD's status, as upstream's strategy starts it: no names yet, one stored version."""
    version = storage_version(crd)
    return {
        "acceptedNames": {"plural": "", "kind": ""},
        "storedVersions": [version] if version else [],
    }


def storage_version(crd: dict[str, Any]) -> str:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return str(v.get("name", ""))
    return ""


def storage_resource(crd: dict[str, Any]) -> str:
    """``widgets.example.com``: the third key segment of every custom object of the CRD."""
    return str(crd["metadata"]["name"])


_KUBE_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """Sort key in Kubernetes' version order: v2, v1, v1beta2, v1beta1, v1alpha1, then others
    alphabetically; discovery lists versions so and prefers the first."""
    m = _KUBE_VERSION.fullmatch(name)
    if m is None:
        return (3, 0, 0, name)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), name)


def rows(crd: dict[str, Any], names: dict[str, Any]) -> tuple[Resource, ...]:
    """One resource row per served version, named by the accepted ``names``."""
    spec = crd.get("spec") or {}
    group = spec.get("group", "")
    out = []
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    for v in sorted(versions, key=lambda v: version_priority(str(v.get("name", "")))):
        if not v.get("served"):
            continue
        subs = v.get("subresources") or {}
        sub_rows: list[Subresource] = []
        if "scale" in subs:
            sub_rows.append(Subresource("scale", "Scale", group="autoscaling", version="v1"))
        if "status" in subs:
            sub_rows.append(Subresource("status", names["kind"]))
        out.append(
            Resource(
                group=group,
                version=v["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(sub_rows),
                storage_resource=storage_resource(crd),
                tracks_generation=True,
                crd=crd["metadata"]["name"],
                list_kind_name=names.get("listKind") or names["kind"] + "List",
                storage_version=storage_version(crd),
            )
        )
    return tuple(out)


def serve(crd: dict[str, Any], names: dict[str, Any]) -> None:
    """Make the CRD's served versions visible to the whole server."""
    name = crd["metadata"]["name"]
    digest = hashlib.sha256(orjson.dumps([crd.get("spec"), names], option=orjson.OPT_SORT_KEYS))
    fingerprint = digest.hexdigest()
    if _SERVED.get(name) == fingerprint:
        return  # a status write or a neighbour's event: nothing to rebuild
    new_rows = rows(crd, names)
    _forget(name)
    versions = {v.get("name"): v for v in (crd.get("spec") or {}).get("versions") or []}
    for row in new_rows:
        v = versions[row.version]
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        info = VersionInfo(
            crd=name,
            version=row.version,
            storage_version=row.storage_version,
            schema=copy.deepcopy(schema) if isinstance(schema, dict) else None,
            columns=tuple(v.get("additionalPrinterColumns") or DEFAULT_COLUMNS),
            scale=(v.get("subresources") or {}).get("scale"),
            status="status" in (v.get("subresources") or {}),
            warning=deprecation_warning(crd, v, names.get("kind", "")),
        )
        _VERSIONS[(row.group, row.version, row.plural)] = info
        api_schema.register_custom((row.group, row.version, row.kind), info.schema)
        tables.set_custom_printer(row.group, row.version, row.kind, printer(info.columns))
    resources.register(name, new_rows, fingerprint)
    _SERVED[name] = fingerprint


def deprecation_warning(crd: dict[str, Any], version: dict[str, Any], kind: str) -> str:
    """``example.com/v1beta1 Widget is deprecated; use example.com/v1 Widget``, or the
    version's own ``deprecationWarning``; "" for a version that is not deprecated."""
    if not version.get("deprecated"):
        return ""
    if version.get("deprecationWarning"):
        return str(version["deprecationWarning"])
    group = (crd.get("spec") or {}).get("group", "")
    name = str(version.get("name", ""))
    text = f"{group}/{name} {kind} is deprecated"
    newer = [
        str(v.get("name"))
        for v in (crd.get("spec") or {}).get("versions") or []
        if v.get("served")
        and not v.get("deprecated")
        and version_priority(str(v.get("name"))) < version_priority(name)
    ]
    if newer:
        text += f"; use {group}/{min(newer, key=version_priority)} {kind}"
    return text


def unserve(name: str) -> None:
    _forget(name)
    resources.unregister(name)


def _forget(name: str) -> None:
    _SERVED.pop(name, None)
    for key, info in list(_VERSIONS.items()):
        if info.crd == name:
            del _VERSIONS[key]
    for row in [r for r in resources.dynamic() if r.crd == name]:
        api_schema.register_custom((row.group, row.version, row.kind), None)
        tables.set_custom_printer(row.group, row.version, row.kind, None)


def version_info(res: Resource) -> VersionInfo | None:
    """The served-version facts of a custom resource row, or None for built-in kinds."""
    if not res.crd:
        return None
    return _VERSIONS.get((res.group, res.version, res.plural))
