"""Subresources other than ``/status``: scale, binding, eviction, token, finalize, log.

``/status`` reuses the update and patch handlers (the registry keeps the
spec); the rest are small views or actions on their parent object:

- ``/scale`` shows and changes ``spec.replicas`` as an ``autoscaling/v1`` Scale;
- ``pods/binding`` assigns a node (the scheduler's only write to a pod spec);
- ``pods/eviction`` deletes a pod unless its PodDisruptionBudget forbids it, and records
  the disruption it spends in the budget's ``status.disruptedPods``;
- ``serviceaccounts/token`` issues a bound token (TokenRequest);
- ``namespaces/finalize`` edits ``spec.finalizers`` so deletion can finish;
- ``pods/ephemeralcontainers`` shows a Pod and takes a Pod (whole, or as a
  patch) of which only ``spec.ephemeralContainers`` is kept (``ephemeral.py``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
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
from tinykube.apiserver.webhooks import connecting
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
#
# As upstream's EvictionREST (pkg/registry/core/pod/storage/eviction.go): a pod
# that is finished, pending or already terminating is deleted without asking any
# budget. Otherwise the one PodDisruptionBudget covering it (two or more is a
# 500) must allow a disruption: the check, the decrement and the pod's entry in
# status.disruptedPods are one compare-and-swap on the budget, so two evictions
# cannot spend the same disruption, and the disruption controller does not count
# the pod as healthy while its deletion is on the way. A pod that is not Ready is
# not charged for when the budget's unhealthyPodEvictionPolicy is AlwaysAllow,
# or (IfHealthyBudget, the default) while the budget is met; that delete is
# pinned to the resourceVersion the decision saw, so a pod turning Ready in
# between is not deleted unpaid. Before any delete (not in a dry run) the pod
# gets the DisruptionTarget condition, so its controller and ``kubectl describe``
# can tell an eviction from a crash; the disruption controller resets the
# condition if the pod is not deleted after all.

EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource "
    "does not support."
)
MAX_DISRUPTED_PODS = 2000  # upstream MaxDisruptedPodSize
EVICTION_RETRIES = 20
DISRUPTION_TARGET = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "EvictionByEvictionAPI",
    "message": "Eviction API: evicting",
}


async def eviction(
    request: web.Request, ctx: ServerContext, res: Resource, info: RequestInfo
) -> web.Response:
    body = common.decode_object(await common.read_body(request), common.media_type(request))
    if (body.get("metadata") or {}).get("name", "") != info.name:
        raise errors.BadRequest("name in URL does not match name in Eviction object")
    await connecting.admit_eviction(request, ctx.registry.hooks.webhooks, res, info, body)
    opts = _eviction_delete_options(request, body)
    # The server's own status write (upstream's eviction writes the store directly): no webhooks.
    mark = dataclasses.replace(
        resource.write_options(request, "status"), dry_run=False, admit=False
    )
    pinned_by_client = bool(opts.resource_version)
    for _attempt in range(EVICTION_RETRIES):
        pod = await ctx.registry.get(res, info.namespace, info.name)
        if not _can_ignore_budget(pod):
            break
        # Only a finished or terminating pod is past racing a PDB; a pending one may
        # become Ready, so its delete is pinned to the version just read.
        ignore_opts = opts
        if not pinned_by_client and _should_enforce_version(pod):
            ignore_opts = dataclasses.replace(opts, resource_version=_rv(pod))
        try:
            await _mark_and_delete(ctx, res, info, ignore_opts, mark, _can_ignore_budget)
        except errors.Conflict:
            if pinned_by_client:
                raise
            continue
        return _success()
    else:
        raise errors.conflict(res.plural, res.group, info.name)
    budgets = await _budgets_for(ctx, pod)
    if len(budgets) > 1:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": MULTIPLE_BUDGETS, "code": 500}  # fmt: skip
        return common.json_response(status, 500)
    pin = False
    if budgets:
        if _unhealthy_evictable(pod, budgets[0]):
            pin = True
        else:
            await _charge_disruption_budget(ctx, pod, budgets[0], opts.dry_run)
    delete_opts = dataclasses.replace(opts, resource_version=_rv(pod)) if pin else opts
    try:
        await _mark_and_delete(ctx, res, info, delete_opts, mark, _still_unready if pin else None)
    except errors.Conflict:
        if pin and not pinned_by_client:
            raise _still_processing(budgets[0]["metadata"]["name"]) from None
        raise
    return _success()


async def _mark_and_delete(
    ctx: ServerContext,
    res: Resource,
    info: RequestInfo,
    opts: resource.DeleteOptions,
    write: WriteOptions,
    still: Callable[[dict[str, Any]], bool] | None,
) -> None:
    """Set DisruptionTarget, then delete under the same preconditions (upstream addConditionAndDeletePod).

    Upstream moves a resourceVersion precondition on to the version its own
    condition write produced. Here the pod is read again instead, and ``still``
    re-checks that the pod is in the state the decision was made for: a write
    by anyone else in between is then either harmless or a Conflict.
    """
    if not opts.dry_run:

        def mark(pod: dict[str, Any]) -> dict[str, Any]:
            meta = pod["metadata"]
            if opts.uid and opts.uid != meta.get("uid"):
                raise errors.conflict(
                    "Pod", "", info.name,
                    f"the UID in the precondition ({opts.uid}) does not match the UID in record "
                    f"({meta.get('uid')}). The object might have been deleted and then recreated",
                )  # fmt: skip
            if opts.resource_version and opts.resource_version != meta.get("resourceVersion"):
                raise errors.conflict(
                    "Pod", "", info.name,
                    f"the ResourceVersion in the precondition ({opts.resource_version}) does not "
                    f"match the ResourceVersion in record ({meta.get('resourceVersion')}). "
                    "The object might have been modified",
                )  # fmt: skip
            _update_pod_condition(pod, DISRUPTION_TARGET)
            return pod

        await ctx.registry.update(res, info.namespace, info.name, mark, write)
        if opts.resource_version:
            current = await ctx.registry.get(res, info.namespace, info.name)
            if still is not None and not still(current):
                raise errors.conflict(res.plural, res.group, info.name)
            opts = dataclasses.replace(opts, resource_version=_rv(current))
    await ctx.registry.delete(res, info.namespace, info.name, opts)


def _update_pod_condition(pod: dict[str, Any], wanted: dict[str, str]) -> None:
    """podutil.UpdatePodCondition: the transition time moves only when the status does."""
    conds = pod.setdefault("status", {}).setdefault("conditions", [])
    old = next((c for c in conds if c.get("type") == wanted["type"]), None)
    since = now_rfc3339()
    if old is not None and old.get("status") == wanted["status"]:
        since = old.get("lastTransitionTime") or since
    new = {"type": wanted["type"], "status": wanted["status"], "lastProbeTime": None,
           "lastTransitionTime": since, "reason": wanted["reason"], "message": wanted["message"]}  # fmt: skip
    if old is None:
        conds.append(new)
    else:
        conds[conds.index(old)] = new


def _eviction_delete_options(request: web.Request, body: dict[str, Any]) -> resource.DeleteOptions:
    opts_doc = body.get("deleteOptions") or {}
    asked, in_body = request.query.getall("dryRun", []), opts_doc.get("dryRun") or []
    if asked and in_body and sorted(asked) != sorted(in_body):
        raise errors.BadRequest(
            "Non-matching dry-run options in request and content: "
            f"[{' '.join(asked)}] and [{' '.join(in_body)}]"
        )
    return resource.DeleteOptions(
        grace_period=opts_doc.get("gracePeriodSeconds"),
        propagation=opts_doc.get("propagationPolicy") or "",
        uid=(opts_doc.get("preconditions") or {}).get("uid") or "",
        resource_version=(opts_doc.get("preconditions") or {}).get("resourceVersion") or "",
        dry_run="All" in (in_body or asked),
    )


def _rv(pod: dict[str, Any]) -> str:
    return str(pod["metadata"].get("resourceVersion", ""))


def _can_ignore_budget(pod: dict[str, Any]) -> bool:
    """Finished, pending or terminating pods have nothing left for a budget to protect."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(
        pod["metadata"].get("deletionTimestamp")
    )


def _should_enforce_version(pod: dict[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _still_unready(pod: dict[str, Any]) -> bool:
    return not _is_ready(pod)


def _is_ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _unhealthy_evictable(pod: dict[str, Any], pdb: dict[str, Any]) -> bool:
    """A pod that is not Ready costs the budget nothing under its unhealthyPodEvictionPolicy."""
    if _is_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    # IfHealthyBudget (also what an unset policy means): only while the budget is met.
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return int(status.get("currentHealthy") or 0) >= desired and desired > 0


async def _budgets_for(ctx: ServerContext, pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's namespace's budgets that select it: policy/v1, so an empty selector selects all."""
    assert PDBS is not None
    labels = pod["metadata"].get("labels") or {}
    result = await ctx.registry.list(PDBS, pod["metadata"]["namespace"])
    found = []
    for pdb in result.items:
        try:
            selector = selectors.label_selector_as_selector((pdb.get("spec") or {}).get("selector"))
        except selectors.SelectorError:
            continue  # an invalid selector matches no pod
        if selector.matches(labels):
            found.append(pdb)
    return found


def _still_processing(name: str) -> errors.TooManyRequests:
    return errors.TooManyRequests(
        EVICTION_REFUSED,
        causes=[
            errors.Cause(
                "DisruptionBudget",
                f"The disruption budget {name} is still being processed by the server.",
            )
        ],
        retry_after=10,
    )


async def _charge_disruption_budget(
    ctx: ServerContext, pod: dict[str, Any], pdb: dict[str, Any], dry_run: bool
) -> None:
    """Spend one of the budget's disruptions on ``pod``, or refuse (429, or 403 for a broken status).

    The check runs on the stored budget inside the update, so a retry after a
    concurrent write re-checks against what that write left.
    """
    assert PDBS is not None
    name = pdb["metadata"]["name"]

    def take(obj: dict[str, Any]) -> dict[str, Any]:
        status = obj.setdefault("status", {})
        allowed = int(status.get("disruptionsAllowed") or 0)
        if int(status.get("observedGeneration") or 0) < int(obj["metadata"].get("generation") or 0):
            raise _still_processing(name)
        if allowed < 0:
            raise errors.forbidden(
                "poddisruptionbudget", "policy", name, "pdb disruptions allowed is negative"
            )
        if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
            raise errors.forbidden(
                "poddisruptionbudget",
                "policy",
                name,
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            )
        if allowed == 0:
            raise errors.TooManyRequests(
                EVICTION_REFUSED,
                causes=[
                    errors.Cause(
                        "DisruptionBudget",
                        f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} "
                        f"healthy pods and has {status.get('currentHealthy', 0)} currently",
                    )
                ],
            )
        status["disruptionsAllowed"] = allowed - 1
        if allowed == 1:
            _insufficient_pods(status)
        disrupted = status.setdefault("disruptedPods", {})
        disrupted[pod["metadata"]["name"]] = now_rfc3339()
        return obj

    await ctx.registry.update(
        PDBS,
        pdb["metadata"]["namespace"],
        name,
        take,
        WriteOptions(dry_run=dry_run, field_manager="kube-apiserver", subresource="status"),
    )


def _insufficient_pods(status: dict[str, Any]) -> None:
    """The DisruptionAllowed condition once the last disruption is spent (as SetStatusCondition)."""
    wanted = {"status": "False", "reason": "InsufficientPods", "message": ""}
    generation = status.get("observedGeneration")
    conds = status.setdefault("conditions", [])
    cond = next((c for c in conds if c.get("type") == "DisruptionAllowed"), None)
    if cond is None:
        cond = {"type": "DisruptionAllowed", "status": "False", "lastTransitionTime": now_rfc3339()}
        conds.append(cond)
    elif cond.get("status") != "False":
        cond["lastTransitionTime"] = now_rfc3339()
    cond.update(wanted)
    if generation:
        cond["observedGeneration"] = generation


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
