"""The Kubernetes Status error tree.

Every failure the API server reports is a ``metav1.Status`` object; kubectl and
client-go build their messages from its ``reason``, ``message``, ``code`` and
``details``, so the classes here render exactly the shapes Kubernetes sends.
The client turns Status responses back into the same classes, so a controller
catches ``NotFound`` whether it came from a local check or over HTTP.

    APIError (reason, code)
     ├── BadRequest            400
     ├── Unauthorized          401
     ├── Forbidden             403
     ├── NotFound              404
     ├── MethodNotAllowed      405
     ├── NotAcceptable         406
     ├── AlreadyExists         409
     ├── Conflict              409
     ├── Gone                  410
     │    └── Expired          410 (too old resource version, stale continue)
     ├── RequestEntityTooLarge 413
     ├── UnsupportedMediaType  415
     ├── Invalid               422 (carries field causes)
     ├── TooManyRequests       429
     ├── InternalError         500
     ├── ServiceUnavailable    503
     └── Timeout               504

``details.kind`` is the plural resource for NotFound, AlreadyExists, Conflict
and Forbidden, but the Kind for Invalid: kubectl prints ``The Pod "x" is
invalid`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson as _json


@dataclass(frozen=True)
class Cause:
    """One field problem: ``reason`` is e.g. FieldValueRequired, ``field`` a dotted path."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


class APIError(Exception):
    """Base of the tree: knows its HTTP code and how to render a Status dict."""

    reason = "Unknown"
    code = 500

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        group: str = "",
        kind: str = "",
        uid: str = "",
        causes: list[Cause] | None = None,
        retry_after: int | None = None,
        reason: str | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.uid = uid
        self.causes = causes or []
        self.retry_after = retry_after
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code

    def status(self) -> dict[str, Any]:
        """The ``metav1.Status`` body for this error."""
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.uid:
            details["uid"] = self.uid
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            out["reason"] = self.reason
        if details:
            out["details"] = details
        out["code"] = self.code
        return out

    @classmethod
    def from_status(cls, body: dict[str, Any], http_code: int) -> APIError:
        """Rebuild the matching error class from a Status body (used by the client)."""
        reason = body.get("reason") or ""
        code = int(body.get("code") or http_code)
        klass = _BY_REASON.get(reason)
        if klass is None:
            klass = _BY_CODE.get(code, APIError)
        details = body.get("details") or {}
        causes = [
            Cause(c.get("reason", ""), c.get("message", ""), c.get("field", ""))
            for c in details.get("causes") or []
        ]
        return klass(
            body.get("message", ""),
            name=details.get("name", ""),
            group=details.get("group", ""),
            kind=details.get("kind", ""),
            uid=details.get("uid", ""),
            causes=causes,
            retry_after=details.get("retryAfterSeconds"),
            reason=reason or None,
            code=code,
        )


class BadRequest(APIError):
    reason = "BadRequest"
    code = 400


class Unauthorized(APIError):
    reason = "Unauthorized"
    code = 401


class Forbidden(APIError):
    reason = "Forbidden"
    code = 403


class NotFound(APIError):
    reason = "NotFound"
    code = 404


class MethodNotAllowed(APIError):
    reason = "MethodNotAllowed"
    code = 405


class NotAcceptable(APIError):
    reason = "NotAcceptable"
    code = 406


class AlreadyExists(APIError):
    reason = "AlreadyExists"
    code = 409


class Conflict(APIError):
    reason = "Conflict"
    code = 409


class Gone(APIError):
    reason = "Gone"
    code = 410


class Expired(Gone):
    reason = "Expired"


class RequestEntityTooLarge(APIError):
    reason = "RequestEntityTooLarge"
    code = 413


class UnsupportedMediaType(APIError):
    reason = "UnsupportedMediaType"
    code = 415


class Invalid(APIError):
    reason = "Invalid"
    code = 422


class TooManyRequests(APIError):
    reason = "TooManyRequests"
    code = 429


class InternalError(APIError):
    reason = "InternalError"
    code = 500


class ServiceUnavailable(APIError):
    reason = "ServiceUnavailable"
    code = 503


class Timeout(APIError):
    reason = "Timeout"
    code = 504


_ALL = [
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    AlreadyExists,
    Conflict,
    Gone,
    Expired,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    Invalid,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    Timeout,
]
_BY_REASON = {k.reason: k for k in _ALL}
_BY_CODE = {k.code: k for k in reversed(_ALL)}


# ---- constructors with Kubernetes' exact message formats -------------------


def qualified(resource: str, group: str) -> str:
    """``pods`` for the core group, ``deployments.apps`` otherwise."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> NotFound:
    return NotFound(
        f'{qualified(resource, group)} "{name}" not found',
        name=name,
        group=group,
        kind=resource,
    )


def already_exists(resource: str, group: str, name: str) -> AlreadyExists:
    return AlreadyExists(
        f'{qualified(resource, group)} "{name}" already exists',
        name=name,
        group=group,
        kind=resource,
    )


OBJECT_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def conflict(resource: str, group: str, name: str, detail: str = OBJECT_MODIFIED) -> Conflict:
    return Conflict(
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {detail}',
        name=name,
        group=group,
        kind=resource,
    )


def forbidden(resource: str, group: str, name: str, why: str) -> Forbidden:
    target = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
    return Forbidden(f"{target} is forbidden: {why}", name=name, group=group, kind=resource)


@dataclass(frozen=True)
class FieldError:
    """A validation problem at one field, rendered as Kubernetes renders it.

    ``type`` is one of the field.ErrorType strings ("Required value",
    "Invalid value", "Unsupported value", "Duplicate value", "Forbidden",
    "Too long", "Too many", "Not found", "Internal error").
    """

    field: str
    type: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    _REASONS = {
        "Required value": "FieldValueRequired",
        "Invalid value": "FieldValueInvalid",
        "Unsupported value": "FieldValueNotSupported",
        "Duplicate value": "FieldValueDuplicate",
        "Forbidden": "FieldValueForbidden",
        "Too long": "FieldValueTooLong",
        "Too many": "FieldValueTooMany",
        "Not found": "FieldValueNotFound",
        "Internal error": "InternalError",
    }

    def body(self) -> str:
        """The message without the field path: ``Invalid value: "Foo": detail``."""
        text = self.type
        if self.has_value:
            text += f": {render_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> Cause:
        return Cause(self._REASONS.get(self.type, "FieldValueInvalid"), self.body(), self.field)


def render_value(value: Any) -> str:
    """Bad values print as Go prints them: strings quoted, numbers and bools bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return _json.dumps(value).decode()


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(field, "Required value", detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field, "Invalid value", detail, value, True)


def not_supported(field: str, value: Any, valid: list[str]) -> FieldError:
    quoted = ", ".join(f'"{v}"' for v in valid)
    return FieldError(field, "Unsupported value", f"supported values: {quoted}", value, True)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field, "Duplicate value", "", value, True)


def field_forbidden(field: str, detail: str) -> FieldError:
    return FieldError(field, "Forbidden", detail)


def too_long(field: str, value: Any, limit: int) -> FieldError:
    return FieldError(field, "Too long", f"must have at most {limit} bytes", value, False)


def invalid_object(kind: str, group: str, name: str, errors: list[FieldError]) -> Invalid:
    """422 Invalid: ``Pod "x" is invalid: spec.containers[0].image: Required value``."""
    qualified_kind = f"{kind}.{group}" if group else kind
    if len(errors) == 1:
        summary = str(errors[0])
    else:
        summary = "[" + ", ".join(str(e) for e in errors) + "]"
    return Invalid(
        f'{qualified_kind} "{name}" is invalid: {summary}',
        name=name,
        group=group,
        kind=kind,
        causes=[e.cause() for e in errors],
    )
