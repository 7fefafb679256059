"""``pods/<name>/ephemeralcontainers``: how debugging containers get into a Pod.

GET shows the Pod. PUT takes a whole Pod, PATCH a JSON, merge or strategic
merge patch of the stored Pod (kubectl debug sends a strategic merge patch);
either way the result goes through the ephemeral-containers strategy, which
keeps the stored Pod and takes only its ``spec.ephemeralContainers``, and then
through the registry's Pod update validation, which lets that list grow and
nothing else (``api/validation/podephemeral.py``). Mirror pods take none.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tinykube.api import errors
from tinykube.api.resources import Resource
from tinykube.api.validation.podephemeral import validate_static_pod
from tinykube.apiserver.handlers import common, resource
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.registry import strategy
from tinykube.apiserver.requestinfo import RequestInfo

EPHEMERAL_PATCH_TYPES = (resource.JSON_PATCH, resource.MERGE_PATCH, resource.STRATEGIC_PATCH)


async def ephemeral_containers(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    """The request's Pod (a PUT body, or a patch applied to the stored Pod) goes
    through the ephemeral-containers strategy; the registry then validates the
    result with the Pod update rules, which let the list grow and nothing else."""
    if request.method == "GET":
        return await resource.get(request, ctx, res, info)
    content_type = common.media_type(request)
    if request.method == "PATCH" and content_type not in EPHEMERAL_PATCH_TYPES:
        # Server-side apply is not taken here (kubectl never sends it to this endpoint).
        raise errors.UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(EPHEMERAL_PATCH_TYPES)
        )
    body = await common.read_body(request)
    doc = common.decode_body(body, content_type)
    opts = resource.write_options(request, "ephemeralcontainers")
    asked = {"rv": ""}

    def mutate(old: dict[str, Any]) -> dict[str, Any]:
        if request.method == "PUT":
            if not isinstance(doc, dict):
                raise errors.BadRequest("the body must be a Pod object")
            new = copy.deepcopy(doc)
            asked["rv"] = str((new.get("metadata") or {}).get("resourceVersion") or "")
        else:
            new = resource.apply_patch(content_type, old, doc, res)
            asked["rv"] = resource.patch_resource_version(content_type, doc)
        resource.check_identity(res, new, info.namespace)
        _check_decodable(new)
        problems = validate_static_pod(old)
        if problems:
            raise errors.invalid_object(res.kind, res.group, info.name, problems)
        strategy.prepare_for_ephemeral_containers_update(new, old)
        return new

    obj, _ = await ctx.registry.update(
        res, info.namespace, info.name, mutate, opts, precondition_rv=lambda _new: asked["rv"]
    )
    return resource.respond(request, res, obj, 200, opts)


def _check_decodable(pod: dict[str, Any]) -> None:
    """The 400 upstream's decoder gives a Pod whose spec or list has the wrong JSON type
    (the strategy reads both before validation would see them)."""
    spec = pod.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise _cannot_unmarshal(spec, "Pod.spec", "v1.PodSpec")
    listed = (spec or {}).get("ephemeralContainers")
    if listed is not None and not isinstance(listed, list):
        field = "Pod.spec.ephemeralContainers"
        raise _cannot_unmarshal(listed, field, "[]v1.EphemeralContainer")


def _cannot_unmarshal(value: Any, field: str, go_type: str) -> errors.BadRequest:
    json_type = {str: "string", bool: "bool", int: "number", float: "number", dict: "object"}
    kind = json_type.get(type(value), "array")
    return errors.BadRequest(
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal '
        f"{kind} into Go struct field {field} of type {go_type}"
    )
