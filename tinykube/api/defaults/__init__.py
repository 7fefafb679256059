"""Server-side defaulting: fill in what Kubernetes fills in before validation.

``apply_defaults(res, obj)`` mutates an API object (a dict exactly as JSON)
the way upstream's generated ``SetObjectDefaults_<Kind>`` functions plus the
create-time strategy tweaks do, so that what clients read back matches a real
cluster field for field. ``initial_status(res, obj)`` gives a new object the
status it starts with. Both look the kind up in one table keyed by
(group, kind); one module per API group holds the functions.

The registry calls ``apply_defaults`` on create and on update (upstream
defaults on every decode), so every defaulter only fills what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinykube.api.defaults import (
    admissionregistration,
    apps,
    autoscaling,
    batch,
    core,
    discovery,
    networking,
    policy,
    rbac,
    scheduling,
    storage,
)
from tinykube.api.defaults.status import STATUS_BUILDERS
from tinykube.api.resources import Resource

__all__ = ["DEFAULTERS", "apply_defaults", "initial_status"]

Defaulter = Callable[[dict[str, Any]], None]


def _group(group: str, table: dict[str, Defaulter]) -> dict[tuple[str, str], Defaulter]:
    return {(group, kind): fn for kind, fn in table.items()}


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    **_group("", core.DEFAULTERS),
    **_group("apps", apps.DEFAULTERS),
    **_group("batch", batch.DEFAULTERS),
    **_group("policy", policy.DEFAULTERS),
    **_group("scheduling.k8s.io", scheduling.DEFAULTERS),
    **_group("rbac.authorization.k8s.io", rbac.DEFAULTERS),
    **_group("discovery.k8s.io", discovery.DEFAULTERS),
    **_group("storage.k8s.io", storage.DEFAULTERS),
    **_group("networking.k8s.io", networking.DEFAULTERS),
    **_group("autoscaling", autoscaling.DEFAULTERS),
    **_group("admissionregistration.k8s.io", admissionregistration.DEFAULTERS),
}


def apply_defaults(res: Resource, obj: dict[str, Any]) -> None:
    """Fill in Kubernetes' defaults for ``obj`` of resource ``res``, in place."""
    defaulter = DEFAULTERS.get((res.group, res.kind))
    if defaulter is None:
        return
    try:
        defaulter(obj)
    except (AttributeError, TypeError, ValueError, KeyError):
        # A field of the wrong JSON type: defaulting is best effort and
        # validation answers 400 for the malformed object.
        return


def initial_status(res: Resource, obj: dict[str, Any]) -> None:
    """Set ``obj["status"]`` to what a new object of this kind starts with.

    Kinds with a status subresource start with at least ``{}``, as upstream's
    empty status struct serialises; others are left alone, and so are custom
    objects, whose status is whatever their controller writes.
    """
    if res.crd:
        return
    builder = STATUS_BUILDERS.get((res.group, res.kind))
    status: dict[str, Any] = {}
    if builder is not None:
        try:
            status = builder(obj)
        except (AttributeError, TypeError, ValueError, KeyError):
            status = {}
    if builder is not None or res.has_status:
        obj["status"] = status
