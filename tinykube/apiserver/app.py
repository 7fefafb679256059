"""The kube-apiserver HTTP application: routing, authentication, errors.

Every request passes two middlewares: one turns any ``APIError`` (or an
unexpected exception) into a ``Status`` response, the other authenticates
(x509 client certificate or bearer token; anonymous requests get 401, except
the health and version endpoints that Kubernetes also serves to anyone), then
applies ``Impersonate-*`` headers and authorizes (``authz``: 403 unless RBAC
or the Node authorizer allows the request).
Resource paths are parsed once into a ``RequestInfo`` and dispatched by verb.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tinykube import __version__
from tinykube.api import errors
from tinykube.api import resources as resource_table
from tinykube.api.resources import Resource, is_stored, lookup
from tinykube.apiserver import (
    crd,
    discovery,
    kubeletproxy,
    metrics,
    openapi,
    openapiv2pb,
    resourceproxy,
)
from tinykube.apiserver.authz import impersonation
from tinykube.apiserver.handlers import common, resource, reviews, subresources, watch
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.requestinfo import RequestInfo, parse_resource_path
from tinykube.apiserver.webhooks import connecting

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
KUBE_VERSION = "v1.34.2"
NOT_FOUND = "the server could not find the requested resource"
VERB_OF_METHOD = {
    "GET": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
Verb = Callable[[web.Request, ServerContext, Resource, RequestInfo], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.APIError as err:
        return common.error_response(err)
    except web.HTTPException:
        raise
    except (ConnectionResetError, TimeoutError) as exc:
        log.debug("component=apiserver request aborted path=%s err=%s", request.path, exc)
        raise
    except Exception as exc:
        log.exception("component=apiserver internal error path=%s", request.path)
        return common.error_response(errors.InternalError(f"Internal error occurred: {exc}"))


REQUEST_INFO = "request_info"
_UNPARSED = object()


def _always(_user: Any, _attrs: Any) -> bool:
    return True


def auth_middleware(ctx: ServerContext) -> Any:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if ctx.authenticator is not None:
            user = ctx.authenticator.authenticate(request)
            public = request.path.startswith(PUBLIC_PATHS)
            if user is None and not public:
                return common.json_response(errors.Unauthorized("Unauthorized").status(), 401)
            authorizer = ctx.authorizer
            if user is not None and impersonation.wanted(request):
                may = authorizer.allows if authorizer is not None else _always
                user = impersonation.impersonate(request, user, may)
            if user is not None and authorizer is not None and not public:
                info = parse_resource_path(request.path)
                request[REQUEST_INFO] = info  # parsed once: ``resources`` routes with it too
                authorizer.check(user, request.method, request.path, info, request.query)
            request["user"] = user
        return await handler(request)

    return authenticate


# ---- non-resource endpoints --------------------------------------------


async def version(request: web.Request) -> web.Response:
    major, minor = KUBE_VERSION[1:].split(".")[:2]
    return common.json_response(
        {
            "major": major,
            "minor": minor,
            "gitVersion": f"{KUBE_VERSION}+tinykube.{__version__}",
            "gitCommit": "tinykube",
            "gitTreeState": "clean",
            "buildDate": "2026-11-25T00:00:00Z",
            "goVersion": "python",
            "compiler": "cpython",
            "platform": "linux/amd64",
        }
    )


async def health(request: web.Request) -> web.Response:
    ctx: ServerContext = request.app["ctx"]
    if not ctx.cache.ready.is_set():
        return web.Response(text="[-]watch-cache not ready\nhealthz check failed", status=500)
    if request.query.get("verbose") is not None:
        return web.Response(
            text="[+]ping ok\n[+]etcd ok\n[+]watch-cache ok\nhealthz check passed\n"
        )
    return web.Response(text="ok")


def _discovery_response(request: web.Request, body: bytes, content_type: str) -> web.Response:
    tag = discovery.etag(body)
    headers = {"ETag": tag, "Vary": "Accept", "Cache-Control": "public"}
    if request.headers.get("If-None-Match") == tag:
        return web.Response(status=304, headers=headers)
    resp = web.Response(body=body, headers=headers)
    resp.headers["Content-Type"] = content_type
    return resp


async def api_root(request: web.Request) -> web.Response:
    agg = discovery.wants_aggregated(request.headers.get("Accept", ""))
    if agg:
        content_type = discovery.AGGREGATED if agg == "v2" else discovery.AGGREGATED_BETA
        return _discovery_response(request, discovery.aggregated(True, agg), content_type)
    ctx: ServerContext = request.app["ctx"]
    host = request.host or f"{ctx.config.bind_address}:{ctx.config.port}"
    return common.json_response(discovery.api_versions(host))


async def apis_root(request: web.Request) -> web.Response:
    agg = discovery.wants_aggregated(request.headers.get("Accept", ""))
    if agg:
        content_type = discovery.AGGREGATED if agg == "v2" else discovery.AGGREGATED_BETA
        return _discovery_response(request, discovery.aggregated(False, agg), content_type)
    return web.Response(body=discovery.api_group_list(), content_type="application/json")


async def core_v1(request: web.Request) -> web.Response:
    return web.Response(body=discovery.resource_list("", "v1"), content_type="application/json")


async def api_group(request: web.Request) -> web.Response:
    group = discovery.api_group(request.match_info["group"])
    if group is None:
        raise errors.NotFound(NOT_FOUND)
    return common.json_response(group)


async def group_version(request: web.Request) -> web.Response:
    g, v = request.match_info["group"], request.match_info["version"]
    if discovery.api_group(g) is None or v not in [
        e["version"]
        for e in discovery.api_group(g)["versions"]  # type: ignore[index]
    ]:
        raise errors.NotFound(NOT_FOUND)
    return web.Response(body=discovery.resource_list(g, v), content_type="application/json")


async def openapi_v3_index(request: web.Request) -> web.Response:
    return common.json_response(openapi.v3_index())


async def openapi_v3_doc(request: web.Request) -> web.Response:
    path = request.match_info["path"]
    doc = openapi.v3_document(path)
    if doc is None:
        raise errors.NotFound(NOT_FOUND)
    headers = {"Cache-Control": "no-cache, private"}
    if request.query.get("hash") == openapi.v3_hash(path):
        headers = {"Cache-Control": "public, immutable", "Expires": "Thu, 25 Nov 2027 00:00:00 GMT"}
    return web.Response(
        body=_cached_json(("v3", path), doc), headers=headers, content_type="application/json"
    )


async def openapi_v2(request: web.Request) -> web.Response:
    """JSON, or gnostic's protobuf for the clients that ask for it (kubectl up to 1.26)."""
    accept = request.headers.get("Accept", "")
    wanted = next((t for t in openapiv2pb.CONTENT_TYPES if t in accept), "")
    if wanted and "application/json" not in accept:
        key = ("v2", "protobuf")
        if key not in _DOCUMENT_CACHE:
            _DOCUMENT_CACHE[key] = openapiv2pb.encode_document(openapi.v2_document())
        # Answered with the dotted name whichever was asked: Go's mime parser rejects the "@".
        content_type = openapiv2pb.CONTENT_TYPES[1]
        return web.Response(body=_DOCUMENT_CACHE[key], headers={"Content-Type": content_type})
    if "protobuf" in accept and "application/json" not in accept:
        raise errors.NotAcceptable("only application/json is served for /openapi/v2")
    return web.Response(
        body=_cached_json(("v2", ""), openapi.v2_document()), content_type="application/json"
    )


_DOCUMENT_CACHE: dict[tuple[str, str], bytes] = {}
resource_table.add_listener(_DOCUMENT_CACHE.clear)  # custom resources change the documents


def _cached_json(key: tuple[str, str], doc: Any) -> bytes:
    import orjson

    if key not in _DOCUMENT_CACHE:
        _DOCUMENT_CACHE[key] = orjson.dumps(doc)
    return _DOCUMENT_CACHE[key]


# ---- resources ----------------------------------------------------------

STATUS_VERBS: dict[str, Verb] = {
    "GET": resource.get,
    "PUT": resource.update,
    "PATCH": resource.patch,
}
SUBRESOURCES: dict[str, Verb] = {
    "scale": subresources.scale,
    "binding": subresources.binding,
    "eviction": subresources.eviction,
    "token": subresources.token,
    "finalize": subresources.finalize,
    "ephemeralcontainers": subresources.ephemeral_containers,
    "log": subresources.log,
    "exec": subresources.exec_,
    "attach": subresources.exec_,
    "portforward": kubeletproxy.portforward,
    "proxy": resourceproxy.serve,
}


def route(request: web.Request, res: Resource, info: RequestInfo) -> Verb:
    """Pick the handler for a resource request, or raise 404/405 as Kubernetes does."""
    method = request.method
    if not is_stored(res):
        if res.plural == "componentstatuses":
            return reviews.component_statuses
        if res.plural == "bindings":
            return subresources.binding
        if res.group == "metrics.k8s.io":
            return metrics.serve
        return reviews.review
    if info.subresource:
        sub = res.subresource(info.subresource)
        if sub is None:
            raise errors.NotFound(NOT_FOUND)
        verb = VERB_OF_METHOD.get(method, "")
        if verb not in sub.verbs:
            raise _not_allowed(method, res, info)
        if info.subresource in ("status", "approval"):
            return STATUS_VERBS[method]
        handler = SUBRESOURCES.get(info.subresource)
        if handler is None:
            raise errors.NotFound(NOT_FOUND)
        return handler
    watching = info.watch_prefix or common.flag(request, "watch")
    if info.name:
        table: dict[str, Verb] = {
            "GET": watch.watch if watching else resource.get,
            "PUT": resource.update,
            "PATCH": resource.patch,
            "DELETE": resource.delete,
        }
    else:
        table = {
            "GET": watch.watch if watching else resource.list_,
            "POST": resource.create,
            "DELETE": resource.delete_collection,
        }
        if method == "POST" and res.namespaced and not info.namespace:
            raise _not_allowed(method, res, info)
    handler = table.get(method)
    if handler is None:
        raise _not_allowed(method, res, info)
    return handler


def _not_allowed(method: str, res: Resource, info: RequestInfo) -> errors.APIError:
    action = VERB_OF_METHOD.get(method, method.lower())
    return (
        errors.MethodNotAllowed(
            "the server does not allow this method on the requested resource",
            kind=res.plural,
            group=res.group,
            name=info.name,
        )
        if action
        else errors.MethodNotAllowed(NOT_FOUND)
    )


async def resources(request: web.Request) -> web.StreamResponse:
    ctx: ServerContext = request.app["ctx"]
    info = request.get(REQUEST_INFO, _UNPARSED)
    if info is _UNPARSED:
        info = parse_resource_path(request.path)
    if info is None:
        raise errors.NotFound(NOT_FOUND)
    res = lookup(info.group, info.version, info.resource)
    if res is None or (info.namespace and not res.namespaced):
        raise errors.NotFound(NOT_FOUND)
    handler = route(request, res, info)
    await connecting.admit(request, ctx.registry.hooks.webhooks, res, info)
    response = await handler(request, ctx, res, info)
    warning = crd.deprecation(res)
    if warning and not response.prepared:
        response.headers.add(*common.warning_headers([warning])[0])
    return response


def build_app(ctx: ServerContext) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, auth_middleware(ctx)],
        client_max_size=common.MAX_BODY + 1024,
    )
    app["ctx"] = ctx
    r = app.router
    r.add_get("/version", version)
    for path in PUBLIC_PATHS[:3]:
        r.add_get(path, health)
        r.add_get(path + "/{check:.*}", health)
    r.add_get("/api", api_root)
    r.add_get("/api/v1", core_v1)
    r.add_get("/apis", apis_root)
    r.add_get("/apis/{group}", api_group)
    r.add_get("/apis/{group}/{version}", group_version)
    r.add_get("/openapi/v3", openapi_v3_index)
    r.add_get("/openapi/v3/{path:.+}", openapi_v3_doc)
    r.add_get("/openapi/v2", openapi_v2)
    r.add_route("*", "/api/v1/{tail:.+}", resources)
    r.add_route("*", "/apis/{group}/{version}/{tail:.+}", resources)
    return app
