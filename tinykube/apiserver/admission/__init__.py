"""Admission: the built-in plugins that change or refuse an object before validation.

``admit(res, obj, old, lookup_priority_class=...)`` runs, in upstream's order,
the plugins that apply to ``res`` on create (``old is None``) or update. They
are pure functions over dicts; what they need from the cluster (a
PriorityClass by name, the StorageClasses) comes from callables the registry
passes in.

Plugins mutate ``obj`` in place. A problem with a field comes back as a
``FieldError`` (the registry reports them as 422 Invalid); a refusal that
upstream answers with another status (403 for an unknown PriorityClass)
raises the matching ``api.errors`` exception. NamespaceLifecycle is the
registry's own check and is not repeated here.

    plugin                     kinds       when
    LimitRanger                Pod         create
                               PVC         create, update
    ServiceAccount             Pod         create
    Priority                   Pod         create
    DefaultTolerationSeconds   Pod         create
    DefaultStorageClass        PVC         create
    DefaultIngressClass        Ingress     create
    StorageObjectInUseProtection  PVC, PV  create
    (Service strategy)         Service     create, update

ResourceQuota runs after validation and writes quota status, so it is not
here: the registry calls ``resourcequota`` itself.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError
from tinykube.api.resources import Resource
from tinykube.api.validation import malformed
from tinykube.apiserver.admission import (
    ingressclass,
    limitranger,
    priority,
    service,
    serviceaccount,
    storageclass,
    storageprotection,
    tolerations,
)
from tinykube.apiserver.admission.ingressclass import ListIngressClasses
from tinykube.apiserver.admission.limitranger import ListLimitRanges
from tinykube.apiserver.admission.priority import LookupPriorityClass
from tinykube.apiserver.admission.storageclass import ListStorageClasses

__all__ = [
    "ListIngressClasses",
    "ListLimitRanges",
    "ListStorageClasses",
    "LookupPriorityClass",
    "admit",
]


def _no_classes() -> list[dict[str, Any]]:
    return []


def _no_ranges(namespace: str) -> list[dict[str, Any]]:
    return []


def admit(
    res: Resource,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    *,
    lookup_priority_class: LookupPriorityClass,
    list_storage_classes: ListStorageClasses = _no_classes,
    list_limit_ranges: ListLimitRanges = _no_ranges,
    list_ingress_classes: ListIngressClasses = _no_classes,
) -> list[FieldError]:
    """Apply every admission plugin that concerns ``res``; returns field problems, if any."""
    if res.group == "networking.k8s.io" and res.kind == "Ingress" and old is None:
        try:
            ingressclass.admit_ingress(obj, list_ingress_classes)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise malformed(res, exc) from exc
        return []
    if res.group != "":
        return []
    try:
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        if res.kind == "Pod" and old is None:
            limitranger.admit_pod(obj, list_limit_ranges(namespace))
            serviceaccount.admit_pod(obj)
            priority.admit_pod(obj, lookup_priority_class)
            tolerations.admit_pod(obj)
        elif res.kind == "Service":
            service.admit_service(obj, old)
        elif res.kind == "PersistentVolumeClaim" and old is not None:
            if limitranger.resized(obj, old):  # not status writes, which cannot resize
                limitranger.admit_claim(obj, list_limit_ranges(namespace))
        elif res.kind == "PersistentVolumeClaim":
            limitranger.admit_claim(obj, list_limit_ranges(namespace))
            storageclass.admit_claim(obj, list_storage_classes)
            storageprotection.admit(obj, storageprotection.PVC_FINALIZER)
        elif res.kind == "PersistentVolume" and old is None:
            storageprotection.admit(obj, storageprotection.PV_FINALIZER)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise malformed(res, exc) from exc
    return []
