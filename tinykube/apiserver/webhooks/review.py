"""AdmissionReview documents: the request a webhook gets, the answer it gives.

Building the request and checking the response are pure, as upstream's
``webhook/request/admissionreview.go`` keeps them; the texts of the errors
are upstream's, because users search for them. Two kinds of failure leave a
webhook call, and they are treated differently by the dispatcher:

* ``CallingError``: the webhook could not be asked or gave an unusable answer.
  failurePolicy decides: Ignore goes on, Fail answers 500 with
  ``Internal error occurred: failed calling webhook "<name>": <reason>``.
* an ``APIError``: the webhook refused (``denied``), or the request cannot be
  sent to it at all (a dry run it does not support). failurePolicy does not
  apply.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import orjson

from tinykube.api import errors
from tinykube.apiserver.webhooks.matching import Attributes, Invocation
from tinykube.patch import jsonpatch

REVIEW_GROUP = "admission.k8s.io"
SUPPORTED_VERSIONS = ("v1", "v1beta1")
NO_KNOWN_VERSION = "webhook does not accept known AdmissionReview versions"
SIDE_EFFECTS_NIL = "Webhook SideEffects is nil"
OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class CallingError(Exception):
    """Upstream's ErrCallingWebhook: the webhook's failurePolicy decides what it means."""

    def __init__(self, webhook: str, reason: str) -> None:
        super().__init__(f'failed calling webhook "{webhook}": {reason}')
        self.webhook = webhook
        self.reason = reason

    def as_api_error(self) -> errors.InternalError:
        text = str(self)
        return errors.InternalError(
            f"Internal error occurred: {text}", causes=[errors.Cause("", text)]
        )


def review_version(webhook: str, accepted: Any) -> str:
    """The first AdmissionReview version the webhook lists that we can send."""
    for version in accepted or []:
        if version in SUPPORTED_VERSIONS:
            return str(version)
    raise CallingError(webhook, f"could not create admission objects: {NO_KNOWN_VERSION}")


def user_info(user: Any) -> dict[str, Any]:
    if user is None:
        return {}
    out: dict[str, Any] = {"username": user.username}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _gvr(group: str, version: str, resource: str) -> dict[str, str]:
    return {"group": group, "version": version, "resource": resource}


def _as_version(obj: dict[str, Any] | None, api_version: str) -> dict[str, Any] | None:
    """An equivalent version is told about the object in its own apiVersion."""
    if obj is None or obj.get("apiVersion") == api_version:
        return obj
    return {**obj, "apiVersion": api_version}


def build_request(
    attrs: Attributes, invocation: Invocation, version: str, uid: str | None = None
) -> dict[str, Any]:
    """The AdmissionReview body posted to the webhook."""
    res, asked = invocation.resource, attrs.resource
    if attrs.object_kind is not None:  # a Scale or a CONNECT's options: no conversion
        kind = requested = _gvk(*attrs.object_kind)
        obj, old = attrs.obj, attrs.old
    else:
        kind = _gvk(res.group, res.version, res.kind)
        requested = _gvk(asked.group, asked.version, asked.kind)
        obj = _as_version(attrs.obj, res.api_version)
        old = _as_version(attrs.old, res.api_version)
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": kind,
        "resource": _gvr(res.group, res.version, res.plural),
        "requestKind": requested,
        "requestResource": _gvr(asked.group, asked.version, asked.plural),
        "name": attrs.name,
        "operation": attrs.operation,
        "userInfo": user_info(attrs.user),
        "object": obj,
        "oldObject": old,
        "dryRun": attrs.dry_run,
        "options": attrs.options,
    }
    if attrs.subresource:
        request["subResource"] = attrs.subresource
        request["requestSubResource"] = attrs.subresource
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    return {
        "kind": "AdmissionReview",
        "apiVersion": f"{REVIEW_GROUP}/{version}",
        "request": request,
    }


def options_for(operation: str, opts: Any) -> dict[str, Any] | None:
    """The operation's options object, as upstream passes Create/Update/DeleteOptions."""
    kind = OPTIONS_KIND.get(operation)
    if kind is None:
        return None
    out: dict[str, Any] = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if getattr(opts, "dry_run", False):
        out["dryRun"] = ["All"]
    if operation == "DELETE":
        if getattr(opts, "grace_period", None) is not None:
            out["gracePeriodSeconds"] = opts.grace_period
        if getattr(opts, "propagation", ""):
            out["propagationPolicy"] = opts.propagation
    elif getattr(opts, "field_manager", ""):
        out["fieldManager"] = opts.field_manager
    return out


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("true", "1")


def connect_options(kind: str, query: Any, path: str) -> dict[str, Any]:
    """The options object of a CONNECT (exec, attach, port-forward, proxy), from its query."""
    out: dict[str, Any] = {"kind": kind, "apiVersion": "v1"}
    if kind in ("PodExecOptions", "PodAttachOptions"):
        for name in ("stdin", "stdout", "stderr", "tty"):
            if _flag(query, name):
                out[name] = True
        if query.get("container"):
            out["container"] = query.get("container")
        if kind == "PodExecOptions":
            out["command"] = list(query.getall("command", []))
    elif kind == "PodPortForwardOptions":
        ports = [p for value in query.getall("ports", []) for p in str(value).split(",") if p]
        if ports:
            out["ports"] = [int(p) if p.isdigit() else p for p in ports]
    elif path:
        out["path"] = path
    return out


class Result:
    """What a verified response says: allowed or not, a patch, warnings."""

    def __init__(
        self,
        allowed: bool,
        status: dict[str, Any] | None,
        patch: bytes,
        patch_type: str,
        warnings: list[str],
    ) -> None:
        self.allowed = allowed
        self.status = status
        self.patch = patch
        self.patch_type = patch_type
        self.warnings = warnings


def verify_response(webhook: str, body: Any, uid: str, version: str, mutating: bool) -> Result:
    """Upstream's VerifyAdmissionResponse; a bad answer is a CallingError."""

    def invalid(why: str) -> CallingError:
        return CallingError(webhook, f"received invalid webhook response: {why}")

    if not isinstance(body, dict):
        raise invalid("the response is not a JSON object")
    response = body.get("response")
    if not isinstance(response, dict):
        raise invalid("webhook response was absent")
    if version == "v1":
        if response.get("uid") != uid:
            raise invalid(f'expected response.uid="{uid}", got "{response.get("uid") or ""}"')
        got = f"{body.get('apiVersion') or ''}, Kind={body.get('kind') or ''}"
        if body.get("apiVersion") != f"{REVIEW_GROUP}/v1" or body.get("kind") != "AdmissionReview":
            raise invalid(f"expected webhook response of {REVIEW_GROUP}/v1, Kind=AdmissionReview, got {got}")  # fmt: skip
    patch_type = str(response.get("patchType") or "")
    raw_patch = response.get("patch") or ""
    if patch_type and not mutating:
        raise invalid("validating webhook may not return response.patchType")
    if raw_patch and not mutating:
        raise invalid("validating webhook may not return response.patch")
    if raw_patch and not patch_type:
        raise invalid("webhook returned response.patch but not response.patchType")
    try:
        patch = base64.b64decode(str(raw_patch), validate=True) if raw_patch else b""
    except (binascii.Error, ValueError) as exc:
        raise invalid(f"illegal base64 data in response.patch: {exc}") from None
    status = response.get("status")
    warnings = [str(w) for w in response.get("warnings") or []]
    return Result(
        bool(response.get("allowed")),
        status if isinstance(status, dict) else None,
        patch,
        patch_type,
        warnings,
    )


def denied(webhook: str, status: dict[str, Any] | None) -> errors.APIError:
    """Upstream's ToStatusErr: the webhook's own Status, with who refused in front."""
    status = status or {}
    code = status.get("code") or 0
    code = int(code) if isinstance(code, int) and code >= 400 else 403
    prefix = f'admission webhook "{webhook}" denied the request'
    if status.get("message"):
        message = f"{prefix}: {status['message']}"
    elif status.get("reason"):
        message = f"{prefix}: {status['reason']}"
    else:
        message = f"{prefix} without explanation"
    details = status.get("details") if isinstance(status.get("details"), dict) else {}
    assert details is not None
    causes = [
        errors.Cause(str(c.get("reason", "")), str(c.get("message", "")), str(c.get("field", "")))
        for c in details.get("causes") or []
        if isinstance(c, dict)
    ]
    return errors.APIError(
        message,
        name=str(details.get("name", "")),
        group=str(details.get("group", "")),
        kind=str(details.get("kind", "")),
        uid=str(details.get("uid", "")),
        causes=causes,
        reason=str(status.get("reason") or ""),
        code=code,
    )


def dry_run_unsupported(webhook: str) -> errors.BadRequest:
    return errors.BadRequest(f'admission webhook "{webhook}" does not support dry run')


def apply_patch(webhook: str, result: Result, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The object after the webhook's patch, or None when it sent no operations."""
    if not result.patch:
        return None
    try:
        operations = orjson.loads(result.patch)
    except orjson.JSONDecodeError as exc:
        raise CallingError(
            webhook, f"received undecodable patch in webhook response: {exc}"
        ) from None
    if not isinstance(operations, list):
        raise CallingError(
            webhook,
            "received undecodable patch in webhook response: "
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        )
    if not operations:
        return None
    if result.patch_type != "JSONPatch":
        raise CallingError(webhook, f'unsupported patch type "{result.patch_type}"')
    try:
        patched = jsonpatch.apply(obj, operations)
    except errors.APIError as exc:
        cause = exc.__cause__ or exc
        raise errors.InternalError(
            f"Internal error occurred: {cause}", causes=[errors.Cause("", str(cause))]
        ) from None
    if not isinstance(patched, dict):
        raise errors.InternalError("Internal error occurred: the patched object is not an object")
    return patched
