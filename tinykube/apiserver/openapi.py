"""The OpenAPI documents: ``/openapi/v3``, ``/openapi/v3/<gv>`` and ``/openapi/v2``.

kubectl reads them for three things (api-compat §2.3): whether a kind's PATCH
operation accepts ``fieldValidation`` (if not, ``create -f``/``apply`` fall back
to client-side validation and fail without a protobuf v2 document), the patch
metadata that drives client-side ``apply``, and the type tree ``kubectl
explain`` prints. The documents are built here from two tables: the resource
table (which paths and verbs exist) and the generated component schemas
(``api.schemagen``), plus the schemas of served custom resources. Every
document is built once, on first request, and served from memory until a
CRD is served or withdrawn (the resource table tells ``_forget``).

Only pure builders live here; ``apiserver.app`` wires the routes, answers
``?hash=`` with immutable caching, and serializes.

Operations follow upstream's shape where clients look: one PATCH per item
path carrying ``x-kubernetes-group-version-kind`` (a single GVK) and
``x-kubernetes-action``, inline ``fieldValidation``/``dryRun``/
``fieldManager`` query parameters, and the four patch content types.
Subresources that stream or upgrade (exec, attach, portforward, proxy) are
left out; they carry no schema a client reads.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from tinykube.api import resources, schemagen
from tinykube.api import schema as api_schema
from tinykube.api.resources import Resource, Subresource
from tinykube.api.schema import REF_PREFIX

Schema = dict[str, Any]

V2_REF_PREFIX = "#/definitions/"
STATUS = schemagen.META + ".Status"
DELETE_OPTIONS = schemagen.META + ".DeleteOptions"
PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
RESPONSE_CONTENT_TYPES = ("application/json", "application/yaml")
# Subresources served through a connection upgrade or a proxy: no schema to publish.
_STREAMING = frozenset({"attach", "exec", "portforward", "proxy"})

_STRING, _INTEGER, _BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_LIST_PARAMS = (
    ("allowWatchBookmarks", _BOOLEAN),
    ("continue", _STRING),
    ("fieldSelector", _STRING),
    ("labelSelector", _STRING),
    ("limit", _INTEGER),
    ("resourceVersion", _STRING),
    ("resourceVersionMatch", _STRING),
    ("sendInitialEvents", _BOOLEAN),
    ("timeoutSeconds", _INTEGER),
    ("watch", _BOOLEAN),
)
_WRITE_PARAMS = (("dryRun", _STRING), ("fieldManager", _STRING), ("fieldValidation", _STRING))
_DELETE_PARAMS = (
    ("dryRun", _STRING),
    ("gracePeriodSeconds", _INTEGER),
    ("orphanDependents", _BOOLEAN),
    ("propagationPolicy", _STRING),
)


# --- names -------------------------------------------------------------------------------


def gv_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/apps/v1``: the key of the v3 index, without a leading slash."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_paths() -> list[str]:
    """Every group version with a v3 document, core first, in group priority order."""
    return [gv_path(g, v) for g, v in resources.group_versions()]


def _split_gv_path(path: str) -> tuple[str, str] | None:
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis":
        return parts[1], parts[2]
    return None


def _camel_group(group: str) -> str:
    """``Core``, ``Apps``, ``RbacAuthorization``: the group part of upstream operation ids."""
    if not group:
        return "Core"
    return "".join(part.capitalize() for part in group.removesuffix(".k8s.io").split("."))


def _tag(group: str, version: str) -> str:
    camel = _camel_group(group)
    return f"{camel[:1].lower()}{camel[1:]}_{version}"


# --- operations --------------------------------------------------------------------------


def _param(name: str, schema: Schema, where: str = "query") -> Schema:
    if where == "path":
        return {"name": name, "in": where, "required": True, "schema": dict(schema)}
    return {"name": name, "in": where, "schema": {**schema, "uniqueItems": True}}


def _json_content(ref: str, types: tuple[str, ...] = RESPONSE_CONTENT_TYPES) -> Schema:
    return {t: {"schema": {"$ref": REF_PREFIX + ref}} for t in types}


def _responses(ref: str, codes: tuple[str, ...]) -> Schema:
    phrases = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: Schema = {
        code: {"description": phrases[code], "content": _json_content(ref)} for code in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation(
    op_id: str, action: str, gvk: tuple[str, str, str], tag: str, params: list[Schema]
) -> Schema:
    group, version, kind = gvk
    return {
        "operationId": op_id,
        "tags": [tag],
        "parameters": params,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    }


class _GroupVersion:
    """Builds the paths of one group version and remembers the schemas they use."""

    def __init__(self, group: str, version: str) -> None:
        self.group, self.version = group, version
        self.prefix = "/" + gv_path(group, version)
        self.camel = _camel_group(group) + version.capitalize()
        self.tag = _tag(group, version)
        self.roots = schemagen.kind_roots()
        self.custom_defs: dict[str, Schema] = {}
        self.used: set[str] = {STATUS, DELETE_OPTIONS}
        self.paths: dict[str, Schema] = {}

    def root(self, group: str, version: str, kind: str) -> str | None:
        name = self.roots.get((group, version, kind))
        if name is not None:
            self.used.add(name)
        return name

    def add_resource(self, res: Resource) -> None:
        ns = "/namespaces/{namespace}" if res.namespaced else ""
        scope = "Namespaced" if res.namespaced else ""
        collection = f"{self.prefix}{ns}/{res.plural}"
        self._collection(res, collection, scope)
        self._item(res, f"{collection}/{{name}}", scope)
        if res.namespaced and "list" in res.verbs:
            self._all_namespaces(res)
        for sub in res.subresources:
            if sub.name not in _STREAMING:
                self._subresource(res, sub, f"{collection}/{{name}}/{sub.name}", scope)

    def _path_params(self, path: str) -> list[Schema]:
        names = [n for n in ("name", "namespace") if "{" + n + "}" in path]
        return [_param(n, _STRING, "path") for n in names] + [_param("pretty", _STRING)]

    def _collection(self, res: Resource, path: str, scope: str) -> None:
        gvk = (res.group, res.version, res.kind)
        kind = self.root(*gvk)
        list_kind = self.root(res.group, res.version, res.list_kind)
        ops: Schema = {}
        base = f"{self.camel}{scope}{res.kind}"
        if "list" in res.verbs and list_kind:
            ops["get"] = self._list_op(f"list{base}", gvk, list_kind)
        if "create" in res.verbs and kind:
            ops["post"] = self._write_op(f"create{base}", "post", gvk, kind, ("200", "201", "202"))
        if "deletecollection" in res.verbs:
            op_id = f"delete{self.camel}Collection{scope}{res.kind}"
            ops["delete"] = self._delete_op(
                op_id, "deletecollection", gvk, STATUS, list_params=True
            )
        if ops:
            self.paths[path] = {"parameters": self._path_params(path), **ops}

    def _item(self, res: Resource, path: str, scope: str) -> None:
        gvk = (res.group, res.version, res.kind)
        kind = self.root(*gvk)
        if kind is None:
            return
        base = f"{self.camel}{scope}{res.kind}"
        ops: Schema = {}
        if "get" in res.verbs:
            ops["get"] = self._read_op(f"read{base}", gvk, kind)
        if "update" in res.verbs:
            ops["put"] = self._write_op(f"replace{base}", "put", gvk, kind, ("200", "201"))
        if "patch" in res.verbs:
            ops["patch"] = self._patch_op(f"patch{base}", gvk, kind)
        if "delete" in res.verbs:
            ops["delete"] = self._delete_op(f"delete{base}", "delete", gvk, kind)
        if ops:
            self.paths[path] = {"parameters": self._path_params(path), **ops}

    def _all_namespaces(self, res: Resource) -> None:
        gvk = (res.group, res.version, res.kind)
        list_kind = self.root(res.group, res.version, res.list_kind)
        if list_kind is None:
            return
        path = f"{self.prefix}/{res.plural}"
        op = self._list_op(f"list{self.camel}{res.kind}ForAllNamespaces", gvk, list_kind)
        self.paths[path] = {"parameters": self._path_params(path), "get": op}

    def _subresource(self, res: Resource, sub: Subresource, path: str, scope: str) -> None:
        gvk = (sub.group or res.group, sub.version or res.version, sub.kind)
        kind = self.root(*gvk)
        if kind is None:
            return
        base = f"{self.camel}{scope}{res.kind}{sub.name.capitalize()}"
        ops: Schema = {}
        if "get" in sub.verbs:
            ops["get"] = self._read_op(f"read{base}", gvk, kind)
            if sub.name == "log":  # plain text, not the Pod
                ops["get"]["responses"]["200"]["content"] = {"text/plain": {"schema": _STRING}}
        if "create" in sub.verbs:
            ops["post"] = self._write_op(f"create{base}", "post", gvk, kind, ("200", "201", "202"))
        if "update" in sub.verbs:
            ops["put"] = self._write_op(f"replace{base}", "put", gvk, kind, ("200", "201"))
        if "patch" in sub.verbs:
            ops["patch"] = self._patch_op(f"patch{base}", gvk, kind)
        if ops:
            self.paths[path] = {"parameters": self._path_params(path), **ops}

    # --- one operation per verb ------------------------------------------------------

    def _list_op(self, op_id: str, gvk: tuple[str, str, str], list_kind: str) -> Schema:
        params = [_param(n, s) for n, s in _LIST_PARAMS]
        op = _operation(op_id, "list", gvk, self.tag, params)
        op["responses"] = _responses(list_kind, ("200",))
        return op

    def _read_op(self, op_id: str, gvk: tuple[str, str, str], kind: str) -> Schema:
        op = _operation(op_id, "get", gvk, self.tag, [])
        op["responses"] = _responses(kind, ("200",))
        return op

    def _write_op(
        self, op_id: str, action: str, gvk: tuple[str, str, str], kind: str, codes: tuple[str, ...]
    ) -> Schema:
        op = _operation(op_id, action, gvk, self.tag, [_param(n, s) for n, s in _WRITE_PARAMS])
        op["requestBody"] = {"content": _json_content(kind, ("*/*",)), "required": True}
        op["responses"] = _responses(kind, codes)
        return op

    def _patch_op(self, op_id: str, gvk: tuple[str, str, str], kind: str) -> Schema:
        params = [_param(n, s) for n, s in (*_WRITE_PARAMS, ("force", _BOOLEAN))]
        op = _operation(op_id, "patch", gvk, self.tag, params)
        self.used.add(schemagen.PATCH)
        op["requestBody"] = {
            "content": _json_content(schemagen.PATCH, PATCH_CONTENT_TYPES),
            "required": True,
        }
        op["responses"] = _responses(kind, ("200", "201"))
        return op

    def _delete_op(
        self,
        op_id: str,
        action: str,
        gvk: tuple[str, str, str],
        kind: str,
        list_params: bool = False,
    ) -> Schema:
        params = [_param(n, s) for n, s in _DELETE_PARAMS]
        if list_params:
            params += [_param(n, s) for n, s in _LIST_PARAMS if n != "watch"]
        op = _operation(op_id, action, gvk, self.tag, params)
        op["requestBody"] = {"content": _json_content(DELETE_OPTIONS, ("*/*",))}
        op["responses"] = _responses(kind, ("200", "202"))
        return op


# --- documents ---------------------------------------------------------------------------


def _closure(names: set[str], defs: dict[str, Schema]) -> dict[str, Schema]:
    """The named definitions plus every definition they reference, sorted by name."""
    seen: set[str] = set()
    pending = [n for n in names if n in defs]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(r for r in _refs(defs[name]) if r in defs and r not in seen)
    return {name: defs[name] for name in sorted(seen)}


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        found = [ref[len(REF_PREFIX) :]] if isinstance(ref, str) else []
        return found + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def _reversed_group(group: str) -> str:
    """``com.example``: the prefix upstream gives a custom kind's definition names."""
    return ".".join(reversed(group.split(".")))


def _custom_definitions(res: Resource) -> dict[str, Schema]:
    """The definitions of a custom kind and its list, from the CRD version's schema."""
    node = api_schema.for_kind(res.group, res.version, res.kind)
    base = f"{_reversed_group(res.group)}.{res.version}."
    gvk = {"group": res.group, "version": res.version}
    kind_schema: Schema = (
        dict(node.raw)
        if node is not None
        else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    kind_schema["x-kubernetes-group-version-kind"] = [{**gvk, "kind": res.kind}]
    list_schema: Schema = {
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": _STRING,
            "items": {"type": "array", "items": {"$ref": REF_PREFIX + base + res.kind}},
            "kind": _STRING,
            "metadata": {"$ref": REF_PREFIX + schemagen.META + ".ListMeta"},
        },
        "x-kubernetes-group-version-kind": [{**gvk, "kind": res.list_kind}],
    }
    return {base + res.kind: kind_schema, base + res.list_kind: list_schema}


def _build_gv(group: str, version: str) -> _GroupVersion:
    builder = _GroupVersion(group, version)
    for res in resources.resources_in(group, version):
        if res.crd:
            defs = _custom_definitions(res)
            builder.custom_defs.update(defs)
            names = iter(defs)
            builder.roots = {
                **builder.roots,
                (group, version, res.kind): next(names),
                (group, version, res.list_kind): next(names),
            }
        builder.add_resource(res)
    builder.root(group, version, "WatchEvent")
    return builder


@cache
def v3_document(gv_path: str) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document of one group version (``api/v1``, ``apis/apps/v1``).

    None when no such group version is served. The result is shared: do not modify it.
    """
    gv = _split_gv_path(gv_path)
    if gv is None or gv not in resources.group_versions():
        return None
    builder = _build_gv(*gv)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": dict(sorted(builder.paths.items())),
        "components": {
            "schemas": _closure(builder.used, {**schemagen.definitions(), **builder.custom_defs}),
            "securitySchemes": {
                "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
            },
        },
        "security": [{"BearerToken": []}],
    }


def canonical_json(doc: Any) -> bytes:
    """Deterministic bytes of a document: what the content hash is taken over."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@cache
def v3_hash(gv_path: str) -> str:
    """Upper-case hex SHA-512 of the document, as upstream puts in ``?hash=``; "" if unknown."""
    doc = v3_document(gv_path)
    if doc is None:
        return ""
    return hashlib.sha512(canonical_json(doc)).hexdigest().upper()


@cache
def v3_index() -> dict[str, Any]:
    """``GET /openapi/v3``: each group version and the hashed URL of its document."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={v3_hash(path)}"}
            for path in openapi_paths()
        }
    }


def _forget() -> None:
    """Custom resources came or went: every cached document is stale."""
    for fn in (v3_document, v3_hash, v3_index, v2_document):
        fn.cache_clear()


resources.add_listener(_forget)


# --- Swagger 2.0 -------------------------------------------------------------------------


def _to_v2(value: Any) -> Any:
    """Rewrite a v3 schema tree in Swagger 2.0 terms: ``$ref`` instead of ``allOf``."""
    if isinstance(value, list):
        return [_to_v2(v) for v in value]
    if not isinstance(value, dict):
        return value
    all_of = value.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        value = {**{k: v for k, v in value.items() if k != "allOf"}, "$ref": all_of[0]["$ref"]}
    out = {k: _to_v2(v) for k, v in value.items()}
    if isinstance(out.get("$ref"), str):
        out["$ref"] = V2_REF_PREFIX + out["$ref"].removeprefix(REF_PREFIX)
    return out


def _v2_definitions() -> dict[str, Schema]:
    """The definitions in v2 terms; v2 has no ``oneOf``, so the scalars say ``string``."""
    defs = {name: _to_v2(schema) for name, schema in schemagen.definitions().items()}
    defs[schemagen.QUANTITY] = {"type": "string"}
    defs[schemagen.INT_OR_STRING] = {
        "type": "string",
        "format": "int-or-string",
        "x-kubernetes-int-or-string": True,
    }
    return defs


def _v2_operation(op: Schema) -> Schema:
    """A v3 operation as a Swagger 2.0 one: body parameter, consumes/produces."""
    out = {k: v for k, v in op.items() if k not in ("requestBody", "responses")}
    params = [{k: v for k, v in p.items() if k != "schema"} | p["schema"] for p in op["parameters"]]
    body = op.get("requestBody")
    if body is not None:
        content = body["content"]
        schema = next(iter(content.values()))["schema"]
        params.append({"name": "body", "in": "body", "required": True, "schema": _to_v2(schema)})
        out["consumes"] = list(content)
    out["parameters"] = params
    out["produces"] = list(RESPONSE_CONTENT_TYPES)
    out["responses"] = {
        code: {"description": r["description"]}
        | (
            {"schema": _to_v2(next(iter(r["content"].values()))["schema"])}
            if "content" in r
            else {}
        )
        for code, r in op["responses"].items()
    }
    return out


@cache
def v2_document() -> dict[str, Any]:
    """``GET /openapi/v2`` as JSON: every path of every group version, all definitions."""
    paths: dict[str, Schema] = {}
    definitions = _v2_definitions()
    for path in openapi_paths():
        doc = v3_document(path)
        assert doc is not None
        for name, schema in doc["components"]["schemas"].items():
            definitions.setdefault(name, _to_v2(schema))
        for url, item in doc["paths"].items():
            v2_item = {k: _v2_operation(v) for k, v in item.items() if k != "parameters"}
            shared = [
                {k: v for k, v in p.items() if k != "schema"} | p["schema"]
                for p in item["parameters"]
            ]
            paths[url] = {"parameters": shared, **v2_item}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
        },
        "security": [{"BearerToken": []}],
    }
