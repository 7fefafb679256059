"""Request-only resources: access reviews, token reviews and self-subject reviews.

They are POSTed, answered, and never stored. Authorization is not enforced
yet (RBAC objects are stored; enforcement is a later issue), so every access
review answers "allowed", which is what the server actually does.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tinykube.api import errors
from tinykube.api.resources import Resource
from tinykube.apiserver.handlers import common
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.requestinfo import RequestInfo

ALLOW_ALL_REASON = "tinykube does not enforce authorization yet"


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
        out["status"] = {"allowed": True, "reason": ALLOW_ALL_REASON}
    elif res.plural == "selfsubjectrulesreviews":
        out["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif res.plural == "selfsubjectreviews":
        out["status"] = {"userInfo": _user_info(request)}
    elif res.plural == "tokenreviews":
        out["status"] = await _token_review(ctx, body)
    else:
        raise errors.MethodNotAllowed(
            f'create is not supported on resources of kind "{res.qualified}"'
        )
    return common.json_response(out, 201)


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
    # Only storage is probed from here; the deprecated API never covered more reliably.
    try:
        await ctx.registry.store.current_revision()
        cond = {"type": "Healthy", "status": "True", "message": "ok"}
    except Exception as exc:
        cond = {"type": "Healthy", "status": "False", "error": str(exc)}
    items = [
        {
            "kind": "ComponentStatus",
            "apiVersion": "v1",
            "metadata": {"name": "etcd-0", "creationTimestamp": None},
            "conditions": [cond],
        }
    ]
    items = [i for i in items if not info.name or i["metadata"]["name"] == info.name]
    if info.name:
        if not items:
            raise errors.not_found("componentstatuses", "", info.name)
        return common.json_response(items[0])
    return common.json_response(
        {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items}
    )
