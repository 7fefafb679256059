"""The StorageObjectInUseProtection admission plugin: finalizers on new PVCs and PVs.

Every PersistentVolumeClaim is created with ``kubernetes.io/pvc-protection``
and every PersistentVolume with ``kubernetes.io/pv-protection``, so deleting
one that a pod still uses (or a volume still bound) leaves it Terminating
until the protection controllers see it unused and remove the finalizer.
"""

from __future__ import annotations

from typing import Any

PVC_FINALIZER = "kubernetes.io/pvc-protection"
PV_FINALIZER = "kubernetes.io/pv-protection"


def admit(obj: dict[str, Any], finalizer: str) -> None:
    meta = obj.setdefault("metadata", {})
    finalizers = list(meta.get("finalizers") or [])
    if finalizer not in finalizers:
        meta["finalizers"] = [*finalizers, finalizer]
