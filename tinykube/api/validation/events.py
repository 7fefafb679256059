"""Event validation for both views: core/v1 Events and events.k8s.io/v1 Events.

Kubernetes stores one Event type and validates the internal object, so error
paths use the core field names (``involvedObject.namespace``) whichever API
the client wrote to; only the reporting controller's name follows the request
(``reportingComponent`` for core/v1, ``reportingController`` for
events.k8s.io). Legacy Events (no ``eventTime``) get the lenient checks; new
style Events must say who reported what (``reportingController``,
``reportingInstance``, ``action``, ``reason``), and events.k8s.io requires
``eventTime`` and a Normal or Warning ``type``.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, invalid, required
from tinykube.api.eventsview import to_core
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict

LENGTH_LIMIT = 128
NOTE_LENGTH_LIMIT = 1024
EVENT_TYPES = ("Normal", "Warning")


def validate_core_event(obj: dict[str, Any]) -> list[FieldError]:
    return _legacy(obj, "reportingComponent")


def validate_events_event(obj: dict[str, Any]) -> list[FieldError]:
    """An events.k8s.io/v1 Event, checked in its core shape."""
    core = to_core(obj)
    errs: list[FieldError] = []
    if not core.get("eventTime"):
        errs.append(required("eventTime"))
    kind = core.get("type")
    if kind not in EVENT_TYPES:
        errs.append(invalid("type", "", f"has invalid value: {kind or ''}"))
    return errs + _legacy(core, "reportingController")


def _legacy(event: dict[str, Any], controller_field: str) -> list[FieldError]:
    namespace = as_dict(event.get("metadata")).get("namespace") or ""
    involved = as_dict(event.get("involvedObject")).get("namespace") or ""
    mismatch = invalid("involvedObject.namespace", involved, "does not match event.namespace")
    errs: list[FieldError] = []
    if not event.get("eventTime"):
        if (not involved and namespace not in ("", "default")) or (
            involved and involved != namespace
        ):
            errs.append(mismatch)
    else:
        if not involved and namespace not in ("default", "kube-system"):
            errs.append(mismatch)
        errs += _reporting(event, controller_field)
    errs += [invalid("namespace", namespace, m) for m in names.is_dns1123_subdomain(namespace)]
    return errs


def _reporting(event: dict[str, Any], controller_field: str) -> list[FieldError]:
    """New-style Events say who reported them and what happened."""
    errs: list[FieldError] = []
    controller = event.get("reportingComponent") or ""
    if not controller:
        errs.append(required(controller_field))
    errs += [invalid(controller_field, controller, m) for m in names.is_qualified_name(controller)]
    for field in ("reportingInstance", "action", "reason"):
        value = event.get(field) or ""
        if not value:
            errs.append(required(field))
        elif len(value) > LENGTH_LIMIT:
            errs.append(invalid(field, "", f"can have at most {LENGTH_LIMIT} characters"))
    if len(event.get("message") or "") > NOTE_LENGTH_LIMIT:
        errs.append(invalid("message", "", f"can have at most {NOTE_LENGTH_LIMIT} characters"))
    return errs


VALIDATORS = {"Event": (validate_events_event, None)}
