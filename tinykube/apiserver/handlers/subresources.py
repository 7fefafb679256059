"""Subresources other than ``/status``: scale, binding, eviction, token, finalize, log.

``/status`` reuses the update and patch handlers (the registry keeps the
spec); the rest are small views or actions on their parent object:

- ``/scale`` shows and changes ``spec.replicas`` as an ``autoscaling/v1`` Scale;
- ``pods/binding`` assigns a node (the scheduler's only write to a pod spec);
- ``pods/eviction`` deletes a pod unless a PodDisruptionBudget forbids it;
- ``serviceaccounts/token`` issues a bound token (TokenRequest);
- ``namespaces/finalize`` edits ``spec.finalizers`` so deletion can finish;
- ``pods/ephemeralcontainers`` shows a Pod and takes a Pod (whole, or as a
  patch) of which only ``spec.ephemeralContainers`` is kept (``ephemeral.py``).
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tinykube.api import errors, selectors
from tinykube.api.duration import now_rfc3339
from tinykube.api.resources import Resource, lookup
from tinykube.apiserver.crd import scale as crd_scale
from tinykube.apiserver.handlers import common, resource
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.handlers.ephemeral import ephemeral_containers
from tinykube.apiserver.registry.generic import WriteOptions
from tinykube.apiserver.requestinfo import RequestInfo
from tinykube.patch import mergepatch, strategic

__all__ = [
    "binding",
    "ephemeral_containers",
    "eviction",
    "exec_",
    "finalize",
    "log",
    "scale",
    "token",
]

PDBS = lookup("policy", "v1", "poddisruptionbudgets")
TOKEN_MIN_SECONDS = 600


def _success(code: int = 201) -> web.Response:
    return common.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code},
        code,
    )


# ---- scale ---------------------------------------------------------------


def scale_of(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    if res.crd:
        return crd_scale.scale_of(res, obj)
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    if res.plural == "replicationcontrollers":
        selector = ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items()))
    else:
        selector = str(selectors.label_selector_as_selector(sel)) if sel else ""
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": selector},
    }


async def scale(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    if request.method == "GET":
        obj = await ctx.registry.get(res, info.namespace, info.name)
        return common.json_response(scale_of(res, obj))
    body = await common.read_body(request)
    content_type = common.media_type(request)
    doc = common.decode_body(body, content_type)
    opts = resource.write_options(request, "scale")
    asked: dict[str, str] = {}

    def mutate(old: dict[str, Any]) -> dict[str, Any]:
        current = scale_of(res, old)
        if request.method == "PUT":
            new_scale = doc
        elif content_type == resource.MERGE_PATCH:
            new_scale = mergepatch.apply(current, doc)
        elif content_type == resource.STRATEGIC_PATCH:
            new_scale = strategic.apply(current, doc, None)
        else:
            new_scale = resource.apply_patch(content_type, current, doc, res)
        if not isinstance(new_scale, dict):
            raise errors.BadRequest("the body must be a Scale object")
        asked["rv"] = (new_scale.get("metadata") or {}).get("resourceVersion", "")
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid_object(
                "Scale",
                "autoscaling",
                info.name,
                [errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
            )
        if res.crd:
            crd_scale.set_replicas(res, old, replicas)
        else:
            old.setdefault("spec", {})["replicas"] = replicas
        return old

    def precondition(_new: dict[str, Any]) -> str:
        rv = asked.get("rv", "")
        return rv if request.method == "PUT" or rv else ""

    obj, _ = await ctx.registry.update(
        res, info.namespace, info.name, mutate, opts, precondition_rv=precondition
    )
    return common.json_response(scale_of(res, obj))


# ---- pods/binding --------------------------------------------------------


async def binding(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    body = common.decode_object(await common.read_body(request), common.media_type(request))
    name = info.name or (body.get("metadata") or {}).get("name", "")
    node = (body.get("target") or {}).get("name", "")
    if not node:
        raise errors.invalid_object("Binding", "", name, [errors.required("target.name")])
    pods = lookup("", "v1", "pods")
    assert pods is not None

    def mutate(pod: dict[str, Any]) -> dict[str, Any]:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            raise errors.conflict(
                "pods/binding",
                "",
                name,
                f"pod {name} is being deleted, cannot be assigned to a host",
            )
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict(
                "pods/binding",
                "",
                name,
                f'pod {name} is already assigned to node "{current}"',
            )
        pod["spec"]["nodeName"] = node
        _set_condition(pod, "PodScheduled", "True")
        return pod

    opts = resource.write_options(request, "binding")
    await ctx.registry.update(pods, info.namespace, name, mutate, opts)
    return _success()


def _set_condition(pod: dict[str, Any], kind: str, status: str) -> None:
    now = now_rfc3339()
    conds = pod.setdefault("status", {}).setdefault("conditions", [])
    for cond in conds:
        if cond.get("type") == kind:
            if cond.get("status") != status:
                cond.update(status=status, lastTransitionTime=now)
            cond.pop("reason", None)
            cond.pop("message", None)
            return
    conds.append({"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": now})


# ---- pods/eviction -------------------------------------------------------


async def eviction(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    body = common.decode_object(await common.read_body(request), common.media_type(request))
    pod = await ctx.registry.get(res, info.namespace, info.name)
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed", "Pending") and not pod["metadata"].get(
        "deletionTimestamp"
    ):
        await _charge_disruption_budget(ctx, pod)
    opts_doc = body.get("deleteOptions") or {}
    opts = resource.DeleteOptions(
        grace_period=opts_doc.get("gracePeriodSeconds"),
        propagation=opts_doc.get("propagationPolicy") or "",
        uid=(opts_doc.get("preconditions") or {}).get("uid") or "",
        resource_version=(opts_doc.get("preconditions") or {}).get("resourceVersion") or "",
        dry_run="All" in (opts_doc.get("dryRun") or request.query.getall("dryRun", [])),
    )
    await ctx.registry.delete(res, info.namespace, info.name, opts)
    return _success()


async def _charge_disruption_budget(ctx: ServerContext, pod: dict[str, Any]) -> None:
    """Take one allowed disruption from every PDB covering the pod, or refuse (429)."""
    assert PDBS is not None
    labels = pod["metadata"].get("labels") or {}
    ns = pod["metadata"]["namespace"]
    result = await ctx.registry.list(PDBS, ns)
    for pdb in result.items:
        sel = (pdb.get("spec") or {}).get("selector")
        if sel is None or not selectors.from_label_selector(sel).matches(labels):
            continue
        status = pdb.get("status") or {}
        if (
            status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1)
            or int(status.get("disruptionsAllowed", 0)) <= 0
        ):
            raise errors.TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                causes=[
                    errors.Cause(
                        "DisruptionBudget",
                        f"The disruption budget {pdb['metadata']['name']} needs "
                        f"{status.get('desiredHealthy', 0)} healthy pods and has "
                        f"{status.get('currentHealthy', 0)} currently",
                    )
                ],
                retry_after=None,
            )

        def take(obj: dict[str, Any]) -> dict[str, Any]:
            st = obj.setdefault("status", {})
            st["disruptionsAllowed"] = max(0, int(st.get("disruptionsAllowed", 0)) - 1)
            return obj

        await ctx.registry.update(
            PDBS,
            ns,
            pdb["metadata"]["name"],
            take,
            WriteOptions(field_manager="kube-apiserver", subresource="status"),
        )


# ---- serviceaccounts/token ----------------------------------------------


async def token(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    from tinykube.apiserver import tokens

    body = common.decode_object(await common.read_body(request), common.media_type(request))
    sa = await ctx.registry.get(res, info.namespace, info.name)
    spec = body.get("spec") or {}
    seconds = int(spec.get("expirationSeconds") or 3600)
    if seconds < TOKEN_MIN_SECONDS:
        raise errors.invalid_object(
            "TokenRequest",
            "authentication.k8s.io",
            info.name,
            [
                errors.invalid(
                    "spec.expirationSeconds",
                    seconds,
                    "may not specify a duration less than 10 minutes",
                )
            ],
        )
    bound = spec.get("boundObjectRef")
    token_str, expires = tokens.issue_service_account_token(
        ctx.pki,
        namespace=info.namespace,
        name=info.name,
        uid=sa["metadata"]["uid"],
        audiences=spec.get("audiences") or None,
        expiration_seconds=seconds,
        bound_object=bound,
    )
    out = copy.deepcopy(body)
    out.update(kind="TokenRequest", apiVersion="authentication.k8s.io/v1")
    meta = out.setdefault("metadata", {})
    meta.update(
        name=info.name,
        namespace=info.namespace,
        creationTimestamp=now_rfc3339(),
    )
    out_spec = out.setdefault("spec", {})
    out_spec["expirationSeconds"] = seconds
    out_spec.setdefault(
        "audiences", spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"]
    )
    out_spec.setdefault("boundObjectRef", None)
    out["status"] = {"token": token_str, "expirationTimestamp": expires}
    return common.json_response(out, 201)


# ---- namespaces/finalize -------------------------------------------------


async def finalize(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    body = common.decode_object(await common.read_body(request), common.media_type(request))
    finalizers = (body.get("spec") or {}).get("finalizers") or []

    def mutate(ns: dict[str, Any]) -> dict[str, Any]:
        ns.setdefault("spec", {})["finalizers"] = finalizers
        if not finalizers:
            ns["spec"].pop("finalizers")
        return ns

    opts = resource.write_options(request, "finalize")
    obj, _ = await ctx.registry.update(res, "", info.name, mutate, opts)
    return common.json_response(obj)


# ---- pods/log ------------------------------------------------------------


async def log(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.StreamResponse:
    from tinykube.apiserver import kubeletproxy

    pod = await ctx.registry.get(res, info.namespace, info.name)
    return await kubeletproxy.pod_log(request, ctx, pod)


async def exec_(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.StreamResponse:
    from tinykube.apiserver import kubeletproxy

    pod = await ctx.registry.get(res, info.namespace, info.name)
    return await kubeletproxy.pod_stream(request, ctx, pod, info.subresource)
