"""The REST verbs on resources: get, list, create, update, patch, delete,
deletecollection. Watch and the subresources have modules of their own.

Each handler parses the request into registry calls and renders the answer;
the semantics live in ``registry.generic``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tinykube.api import errors, fields, fieldselectors, selectors
from tinykube.api import schema as api_schema
from tinykube.api.duration import now_rfc3339
from tinykube.api.resources import Resource
from tinykube.apiserver.handlers import common
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.registry.generic import DeleteOptions, WriteOptions
from tinykube.apiserver.registry.hooks import ignored_paths
from tinykube.apiserver.requestinfo import RequestInfo
from tinykube.patch import jsonpatch, mergepatch, strategic
from tinykube.patch.managedfields import manager_from_user_agent
from tinykube.patch.ssa import server_side_apply

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_PATCH)
UNSUPPORTED_PATCH = (
    "the body of the request was in an unknown format - accepted media types include: "
    + ", ".join(PATCH_TYPES)
)
UNSUPPORTED_CUSTOM_PATCH = (
    "the body of the request was in an unknown format - accepted media types include: "
    + ", ".join((JSON_PATCH, MERGE_PATCH, APPLY_PATCH))
)
# Kinds that a PUT may create, as upstream's AllowCreateOnUpdate says.
CREATE_ON_UPDATE = frozenset(
    {
        "endpoints",
        "events",
        "leases",
        "limitranges",
        "roles",
        "rolebindings",
        "clusterroles",
        "clusterrolebindings",
        "endpointslices",
    }
)
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


def build_match(request: web.Request, res: Resource) -> Callable[[dict[str, Any]], bool] | None:
    """The label and field selectors of a list or watch, as one predicate."""
    label_s = request.query.get("labelSelector", "")
    field_s = request.query.get("fieldSelector", "")
    label = selectors.parse(label_s) if label_s else None
    field = fieldselectors.parse(field_s, res) if field_s else None
    if label is None and field is None:
        return None

    def match(obj: dict[str, Any]) -> bool:
        if label is not None and not label.matches((obj.get("metadata") or {}).get("labels")):
            return False
        return field is None or field.matches(obj)

    return match


def write_options(request: web.Request, subresource: str = "") -> WriteOptions:
    dry = request.query.getall("dryRun", [])
    for value in dry:
        if value != "All":
            raise errors.BadRequest(f'Invalid dry run value: "{value}"')
    manager = request.query.get("fieldManager", "")
    if len(manager) > 128:
        raise errors.BadRequest("fieldManager: Too long: must have at most 128 bytes")
    if not manager:
        manager = manager_from_user_agent(request.headers.get("User-Agent", ""))
    return WriteOptions(
        dry_run=bool(dry),
        field_manager=manager,
        subresource=subresource,
        user=request.get("user"),
        admit=True,
    )


def check_identity(res: Resource, obj: dict[str, Any], namespace: str, sub_kind: str = "") -> None:
    """apiVersion/kind must name this endpoint's kind; namespace must match the URL."""
    kind = sub_kind or res.kind
    if obj.get("kind") and obj["kind"] != kind:
        raise errors.BadRequest(
            f"the kind of the object ({obj['kind']}) does not match the expected kind ({kind})"
        )
    api_version = obj.get("apiVersion")
    if api_version and api_version != res.api_version and not sub_kind:
        raise errors.BadRequest(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({res.api_version})"
        )
    obj["kind"] = kind
    if not sub_kind:
        obj["apiVersion"] = res.api_version
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise errors.BadRequest("metadata must be an object")
    ns_in_body = meta.get("namespace")
    if res.namespaced and ns_in_body and namespace and ns_in_body != namespace:
        raise errors.BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def validate_fields(
    request: web.Request,
    res: Resource,
    obj: dict[str, Any],
    body: bytes | None,
    opts: WriteOptions,
) -> None:
    """Unknown and duplicate fields: dropped, warned about or rejected (fieldValidation)."""
    mode = request.query.get("fieldValidation", "") or "Warn"
    if mode not in FIELD_VALIDATION:
        raise errors.BadRequest(
            f"fieldValidation must be one of Ignore, Warn, or Strict, got {mode}"
        )
    node = api_schema.for_kind(res.group, res.version, res.kind)
    duplicates: list[str] = []
    if body is not None and mode != "Ignore" and "fieldValidation" in request.query:
        duplicates = fields.find_duplicates(body)
    unknown = fields.prune_unknown(obj, node) if node is not None else []
    problems = fields.problems(unknown, duplicates)
    if not problems or mode == "Ignore":
        return
    if mode == "Strict":
        raise errors.BadRequest(fields.strict_error_message(res.kind, res.version, problems))
    opts.warnings.extend(fields.warning_text(p) for p in problems)


def respond(
    request: web.Request,
    res: Resource,
    obj: dict[str, Any],
    status: int,
    opts: WriteOptions | None = None,
) -> web.Response:
    out = common.negotiate(request)
    resp = common.json_response(common.render_object(res, obj, out), status)
    if opts is not None:
        for name, value in common.warning_headers(opts.warnings):
            resp.headers.add(name, value)
    return resp


# ---- verbs ----------------------------------------------------------------


async def get(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    obj = await ctx.registry.get(res, info.namespace, info.name)
    return respond(request, res, obj, 200)


async def list_(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    out = common.negotiate(request)
    rv = request.query.get("resourceVersion", "")
    rv_match = request.query.get("resourceVersionMatch", "")
    token = request.query.get("continue", "")
    if rv_match and not rv:
        raise errors.Invalid(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
            "resourceVersion is provided"
        )
    if rv_match and token:
        raise errors.Invalid(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue "
            "is provided"
        )
    if rv_match not in ("", "Exact", "NotOlderThan"):
        raise errors.Invalid(
            f'resourceVersionMatch: Unsupported value: "{rv_match}": supported values: '
            '"Exact", "NotOlderThan"'
        )
    if request.query.get("sendInitialEvents"):
        raise errors.Invalid(
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"
        )
    result = await ctx.registry.list(
        res,
        info.namespace,
        match=build_match(request, res),
        limit=common.int_param(request, "limit") or 0,
        continue_token=token,
        resource_version=rv,
        exact=rv_match == "Exact",
    )
    converted = res.crd and res.storage_version != res.version
    if out.kind == "object" and res.group != "events.k8s.io" and not converted:
        raw = common.list_body(
            res,
            result.items,
            result.revision,
            ctx.cache.encode,
            result.continue_token,
            result.remaining,
        )
        return web.Response(body=raw, content_type=common.JSON)
    body = common.render_list(
        res, result.items, out, result.revision, result.continue_token, result.remaining
    )
    return common.json_response(body)


async def create(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    body = await common.read_body(request)
    obj = common.decode_object(body, common.media_type(request))
    check_identity(res, obj, info.namespace)
    opts = write_options(request)
    validate_fields(request, res, obj, body, opts)
    created = await ctx.registry.create(res, info.namespace, obj, opts)
    return respond(request, res, created, 201, opts)


async def update(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    body = await common.read_body(request)
    obj = common.decode_object(body, common.media_type(request))
    check_identity(res, obj, info.namespace)
    opts = write_options(request, info.subresource)
    validate_fields(request, res, obj, body, opts)
    create_missing = None
    if res.plural in CREATE_ON_UPDATE and not info.subresource:

        async def create_missing() -> dict[str, Any]:
            obj.setdefault("metadata", {})["name"] = info.name
            obj["metadata"].pop("resourceVersion", None)
            return await ctx.registry.create(res, info.namespace, obj, opts)

    body_rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    result, created = await ctx.registry.update(
        res,
        info.namespace,
        info.name,
        lambda _old: copy.deepcopy(obj),
        opts,
        create_missing=create_missing,
        precondition_rv=lambda _new: body_rv,
    )
    return respond(request, res, result, 201 if created else 200, opts)


def apply_patch(
    content_type: str, old: dict[str, Any], patch: Any, res: Resource
) -> dict[str, Any]:
    """Apply a JSON, merge or strategic patch to a copy of ``old``."""
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.BadRequest(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        new = jsonpatch.apply(old, patch)
    elif not isinstance(patch, dict):
        raise errors.BadRequest("patch body must be a JSON object")
    elif content_type == MERGE_PATCH:
        new = mergepatch.apply(old, patch)
    else:
        node = api_schema.for_kind(res.group, res.version, res.kind)
        new = strategic.apply(old, patch, node)
    if not isinstance(new, dict):
        raise errors.BadRequest("the patched object is not a JSON object")
    return new


async def patch(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    content_type = common.media_type(request)
    if content_type not in PATCH_TYPES:
        raise errors.UnsupportedMediaType(UNSUPPORTED_PATCH)
    if content_type == STRATEGIC_PATCH and res.crd:
        # Custom kinds carry no patch strategies, so upstream refuses strategic merge.
        raise errors.UnsupportedMediaType(UNSUPPORTED_CUSTOM_PATCH)
    body = await common.read_body(request)
    doc = common.decode_body(body, content_type)
    opts = write_options(request, info.subresource)
    if content_type == APPLY_PATCH:
        return await _server_side_apply(request, ctx, res, info, doc, opts)

    def mutate(old: dict[str, Any]) -> dict[str, Any]:
        new = apply_patch(content_type, old, doc, res)
        check_identity(res, new, info.namespace)
        validate_fields(request, res, new, None, opts)
        return new

    named_rv = patch_resource_version(content_type, doc)
    result, _ = await ctx.registry.update(
        res, info.namespace, info.name, mutate, opts, precondition_rv=lambda _new: named_rv
    )
    return respond(request, res, result, 200, opts)


def patch_resource_version(content_type: str, doc: Any) -> str:
    """The resourceVersion a patch itself names: only then is a stale object a 409.

    Otherwise the patch is applied again to the newer object, as upstream retries."""
    if content_type == JSON_PATCH and isinstance(doc, list):
        for op in doc:
            if (
                isinstance(op, dict)
                and op.get("path") == "/metadata/resourceVersion"
                and op.get("op") in ("add", "replace")
            ):
                return str(op.get("value") or "")
        return ""
    if isinstance(doc, dict):
        meta = doc.get("metadata")
        if isinstance(meta, dict) and meta.get("resourceVersion"):
            return str(meta["resourceVersion"])
    return ""


async def _server_side_apply(
    request: web.Request,
    ctx: ServerContext,
    res: Resource,
    info: RequestInfo,
    config: Any,
    opts: WriteOptions,
) -> web.Response:
    if not request.query.get("fieldManager"):
        raise errors.BadRequest(
            "PATCH requests with apply content type need to set a fieldManager: "
            "fieldManager is required for apply requests"
        )
    if not isinstance(config, dict):
        raise errors.BadRequest("the applied configuration must be an object")
    check_identity(res, config, info.namespace)
    cfg_name = (config.get("metadata") or {}).get("name")
    if cfg_name and cfg_name != info.name:
        raise errors.BadRequest(
            f"the name of the object ({cfg_name}) does not match the name on the URL ({info.name})"
        )
    config["metadata"]["name"] = info.name
    validate_fields(request, res, config, None, opts)
    opts.operation = "Apply"
    force = common.flag(request, "force")
    node = api_schema.for_kind(res.group, res.version, res.kind)

    def merge(live: dict[str, Any] | None) -> dict[str, Any]:
        return server_side_apply(
            live,
            config,
            manager=opts.field_manager,
            force=force,
            api_version=res.api_version,
            time=now_rfc3339(),
            schema=node,
            kind=res.kind,
            name=info.name,
            namespace=info.namespace,
            subresource=info.subresource,
            ignore_paths=ignored_paths(res, info.subresource),
        )

    async def create_missing() -> dict[str, Any]:
        new = merge(None)
        new.setdefault("metadata", {}).pop("resourceVersion", None)
        return await ctx.registry.create(res, info.namespace, new, opts)

    result, created = await ctx.registry.update(
        res,
        info.namespace,
        info.name,
        merge,
        opts,
        create_missing=create_missing,
        precondition_rv=lambda _new: (config.get("metadata") or {}).get("resourceVersion", ""),
    )
    return respond(request, res, result, 201 if created else 200, opts)


async def delete_options(request: web.Request) -> DeleteOptions:
    opts = DeleteOptions(user=request.get("user"), admit=True)
    body = await common.read_body(request)
    doc: dict[str, Any] = {}
    if body.strip():
        parsed = common.decode_body(body, common.media_type(request))
        if not isinstance(parsed, dict):
            raise errors.BadRequest("DeleteOptions must be an object")
        doc = parsed
    q = request.query
    grace = doc.get("gracePeriodSeconds", common.int_param(request, "gracePeriodSeconds"))
    if grace is not None:
        opts.grace_period = int(grace)
    opts.propagation = doc.get("propagationPolicy") or q.get("propagationPolicy", "")
    orphan = doc.get("orphanDependents")
    if orphan is None and "orphanDependents" in q:
        orphan = common.flag(request, "orphanDependents")
    if orphan is not None and not opts.propagation:
        opts.propagation = "Orphan" if orphan else "Background"
    if opts.propagation not in ("", "Orphan", "Background", "Foreground"):
        raise errors.Invalid(
            f'propagationPolicy: Unsupported value: "{opts.propagation}": supported values: '
            '"Foreground", "Background", "Orphan", "nil"'
        )
    pre = doc.get("preconditions") or {}
    opts.uid = pre.get("uid") or ""
    opts.resource_version = pre.get("resourceVersion") or ""
    dry = doc.get("dryRun") or q.getall("dryRun", [])
    opts.dry_run = "All" in dry
    return opts


def success_status(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta.get("name", ""),
            "group": res.group,
            "kind": res.plural,
            "uid": meta.get("uid", ""),
        },
    }


# Upstream registries that answer a finished DELETE with the object itself.
RETURNS_DELETED = frozenset(
    {"pods", "services", "namespaces", "nodes", "persistentvolumes", "persistentvolumeclaims"}
)


async def delete(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    opts = await delete_options(request)
    obj, gone = await ctx.registry.delete(res, info.namespace, info.name, opts)
    if gone and res.plural not in RETURNS_DELETED:
        return common.json_response(success_status(res, obj))
    return respond(request, res, obj, 200)


async def delete_collection(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    opts = await delete_options(request)
    result = await ctx.registry.list(res, info.namespace, match=build_match(request, res))
    deleted = []
    for obj in result.items:
        meta = obj["metadata"]
        try:
            gone, _ = await ctx.registry.delete(res, meta.get("namespace", ""), meta["name"], opts)
        except errors.NotFound:
            continue
        deleted.append(gone)
    body = common.render_list(res, deleted, common.Output(), ctx.cache.revision)
    return common.json_response(body)
