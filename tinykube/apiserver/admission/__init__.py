"""Admission: the built-in plugins that change or refuse an object before validation.

``admit(res, obj, old, lookup_priority_class=...)`` runs, in upstream's order,
the plugins that apply to ``res`` on create (``old is None``) or update. They
are pure functions over dicts; the one thing they need from the cluster, a
PriorityClass by name, comes from a callable the registry passes in.

Plugins mutate ``obj`` in place. A problem with a field comes back as a
``FieldError`` (the registry reports them as 422 Invalid); a refusal that
upstream answers with another status (403 for an unknown PriorityClass)
raises the matching ``api.errors`` exception. NamespaceLifecycle is the
registry's own check and is not repeated here.

    plugin                     kinds       when
    ServiceAccount             Pod         create
    Priority                   Pod         create
    DefaultTolerationSeconds   Pod         create
    (Service strategy)         Service     create, update
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError
from tinykube.api.resources import Resource
from tinykube.api.validation import malformed
from tinykube.apiserver.admission import priority, service, serviceaccount, tolerations
from tinykube.apiserver.admission.priority import LookupPriorityClass

__all__ = ["LookupPriorityClass", "admit"]


def admit(
    res: Resource,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    *,
    lookup_priority_class: LookupPriorityClass,
) -> list[FieldError]:
    """Apply every admission plugin that concerns ``res``; returns field problems, if any."""
    if res.group != "":
        return []
    try:
        if res.kind == "Pod" and old is None:
            serviceaccount.admit_pod(obj)
            priority.admit_pod(obj, lookup_priority_class)
            tolerations.admit_pod(obj)
        elif res.kind == "Service":
            service.admit_service(obj, old)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise malformed(res, exc) from exc
    return []
