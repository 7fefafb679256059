"""Request-only resources: access reviews, token reviews and self-subject reviews.

They are POSTed, answered, and never stored. Access reviews ask the same
authorizer every request passes (``authz``): ``SelfSubjectAccessReview`` for
the caller (after impersonation, so ``kubectl auth can-i --as`` asks about the
impersonated user), ``SubjectAccessReview`` and the namespaced
``LocalSubjectAccessReview`` for the user named in the spec, and
``SelfSubjectRulesReview`` lists the caller's rules in a namespace
(``kubectl auth can-i --list``). With authorization off every review is
allowed, which is then what the server does.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tinykube.api import errors
from tinykube.api.resources import Resource
from tinykube.apiserver import componentstatus
from tinykube.apiserver.authz.attributes import Attributes
from tinykube.apiserver.handlers import common, resource
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.requestinfo import RequestInfo

ALLOW_ALL_REASON = "authorization is off (--authorization-mode=AlwaysAllow)"


def _user_info(request: web.Request) -> dict[str, Any]:
    user = request.get("user")
    if user is None:
        return {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
    info: dict[str, Any] = {"username": user.username, "groups": list(user.groups)}
    if getattr(user, "uid", ""):
        info["uid"] = user.uid
    if getattr(user, "extra", None):
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


async def review(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    if request.method != "POST":
        raise errors.MethodNotAllowed(
            f'{request.method.lower()} is not supported on resources of kind "{res.qualified}"'
        )
    body = common.decode_object(await common.read_body(request), common.media_type(request))
    out = copy.deepcopy(body)
    out["kind"] = res.kind
    out["apiVersion"] = res.api_version
    out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    if res.plural in (
        "selfsubjectaccessreviews",
        "subjectaccessreviews",
        "localsubjectaccessreviews",
    ):
        out["status"] = _access_review(request, ctx, res, info, body)
    elif res.plural == "selfsubjectrulesreviews":
        out["status"] = _rules_review(request, ctx, body)
    elif res.plural == "selfsubjectreviews":
        out["status"] = {"userInfo": _user_info(request)}
    elif res.plural == "tokenreviews":
        out["status"] = await _token_review(ctx, body)
    else:
        raise errors.MethodNotAllowed(
            f'create is not supported on resources of kind "{res.qualified}"'
        )
    return common.json_response(out, 201)


def _subject(
    request: web.Request, res: Resource, spec: dict[str, Any]
) -> tuple[str, tuple[str, ...]]:
    if res.plural.startswith("self"):
        user = request.get("user")
        if user is None:
            return "system:anonymous", ("system:unauthenticated",)
        return user.username, tuple(user.groups)
    if not spec.get("user") and not spec.get("groups"):
        raise errors.Invalid(
            f'{res.kind}.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
            "at least one of user or group must be specified",
            kind=res.kind,
            group=res.group,
        )
    return spec.get("user", ""), tuple(spec.get("groups") or ())


def _access_review(
    request: web.Request,
    ctx: ServerContext,
    res: Resource,
    info: RequestInfo,
    body: dict[str, Any],
) -> dict[str, Any]:
    spec = body.get("spec") or {}
    resource_attrs = spec.get("resourceAttributes")
    url_attrs = spec.get("nonResourceAttributes")
    if bool(resource_attrs) == bool(url_attrs):
        raise errors.Invalid(
            f'{res.kind}.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
            'Invalid value: "null": exactly one of nonResourceAttributes or '
            "resourceAttributes must be specified",
            kind=res.kind,
            group=res.group,
        )
    if resource_attrs:
        namespace = resource_attrs.get("namespace", "")
        if res.plural == "localsubjectaccessreviews":
            if namespace and namespace != info.namespace:
                raise errors.BadRequest(
                    f"spec.resourceAttributes.namespace must match namespace: {info.namespace}"
                )
            namespace = info.namespace
        attrs = Attributes(
            verb=resource_attrs.get("verb", ""),
            group=resource_attrs.get("group", ""),
            resource=resource_attrs.get("resource", ""),
            subresource=resource_attrs.get("subresource", ""),
            namespace=namespace,
            name=resource_attrs.get("name", ""),
        )
    else:
        attrs = Attributes(
            verb=url_attrs.get("verb", ""), path=url_attrs.get("path", ""), resource_request=False
        )
    username, groups = _subject(request, res, spec)
    if ctx.authorizer is None:
        return {"allowed": True, "reason": ALLOW_ALL_REASON}
    allowed, reason = ctx.authorizer.authorize(username, groups, attrs)
    return {"allowed": True, "reason": reason} if allowed else {"allowed": False}


def _rules_review(request: web.Request, ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    if ctx.authorizer is None:
        return {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    user = request.get("user")
    namespace = (body.get("spec") or {}).get("namespace", "")
    rules = ctx.authorizer.rules(user.username, tuple(user.groups), namespace)
    resource_rules = []
    url_rules = []
    for rule in rules:
        if rule.get("nonResourceURLs"):
            url_rules.append({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]})
        else:
            out = {
                k: rule[k]
                for k in ("verbs", "apiGroups", "resources", "resourceNames")
                if k in rule
            }
            resource_rules.append(out)
    return {"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": False}


async def _token_review(ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    token = (body.get("spec") or {}).get("token", "")
    authn = ctx.authenticator
    user = authn.authenticate_token(token) if authn is not None and token else None
    if user is None:
        return {"authenticated": False, "user": {}, "error": "invalid bearer token"}
    return {
        "authenticated": True,
        "user": {"username": user.username, "uid": user.uid, "groups": list(user.groups)},
        "audiences": (body.get("spec") or {}).get("audiences") or [],
    }


async def component_statuses(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    """GET and LIST of the deprecated ComponentStatus: probed on each request (see
    ``apiserver/componentstatus.py``), as objects or as kubectl's Table."""
    if info.name and info.name not in componentstatus.NAMES:
        # Upstream answers a plain error here, which becomes a 500, not a NotFound.
        text = f"Component not found: {info.name}"
        raise errors.InternalError(
            f"Internal error occurred: {text}", causes=[errors.Cause("", text)]
        )
    names = (info.name,) if info.name else componentstatus.NAMES
    items = await componentstatus.statuses(ctx.config.data_dir, ctx.registry.store, names)
    out = common.negotiate(request)
    if info.name:
        body = common.render_object(res, items[0], out)
    else:
        # Selectors are applied after probing, as upstream does; no item has labels.
        match = resource.build_match(request, res)
        items = [i for i in items if match is None or match(i)]
        body = common.render_list(res, items, out, ctx.cache.revision)
        body["metadata"] = {}  # nothing is stored: no resourceVersion, as upstream
    headers = dict(common.warning_headers([componentstatus.DEPRECATION]))
    return common.json_response(body, headers=headers)
