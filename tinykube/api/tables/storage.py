"""Printers for PersistentVolumes, PersistentVolumeClaims and StorageClasses.

ACCESS MODES abbreviate in a fixed order (RWO, ROX, RWX, RWOP) whatever order
the object lists them in. The storage class name prefers the old beta
annotation over ``storageClassName``, as upstream's helpers do. Quantities
are printed as stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tinykube.api.tables._common import (
    AGE,
    NAME,
    UNSET,
    Cells,
    Obj,
    Printer,
    age_of,
    col,
    deleting,
    dig,
    name_of,
)

_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
_DEFAULT_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: list[str] | None) -> str:
    have = set(modes or [])
    return ",".join(short for mode, short in _MODES if mode in have)


def _class_name(obj: Obj, spec_value: Any) -> str:
    annotations = dig(obj, "metadata", "annotations", default={})
    if _BETA_CLASS in annotations:
        return str(annotations[_BETA_CLASS])
    return str(spec_value or "")


def _phase(obj: Obj) -> str:
    return "Terminating" if deleting(obj) else str(dig(obj, "status", "phase", default=""))


def _pv_cells(pv: Obj, now: datetime) -> Cells:
    spec = pv.get("spec") or {}
    claim = spec.get("claimRef")
    return [
        name_of(pv),
        str(dig(spec, "capacity", "storage", default="0")),
        access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        _phase(pv),
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "",
        _class_name(pv, spec.get("storageClassName")),
        spec.get("volumeAttributesClassName") or UNSET,
        dig(pv, "status", "reason", default=""),
        age_of(pv, now),
        spec.get("volumeMode") or UNSET,
    ]


PERSISTENT_VOLUME = Printer(
    (
        NAME,
        col("Capacity", "The volume's storage size."),
        col("Access Modes", "How the volume may be mounted."),
        col("Reclaim Policy", "What happens to the volume when its claim goes away."),
        col("Status", "The volume's phase."),
        col("Claim", "The claim bound to the volume, as namespace/name."),
        col("StorageClass", "The volume's storage class."),
        col("VolumeAttributesClass", "The volume's attributes class."),
        col("Reason", "Why the volume is in its phase."),
        AGE,
        col("VolumeMode", "Filesystem or Block.", priority=1),
    ),
    _pv_cells,
)


def _pvc_cells(pvc: Obj, now: datetime) -> Cells:
    spec = pvc.get("spec") or {}
    bound = bool(spec.get("volumeName"))
    capacity = str(dig(pvc, "status", "capacity", "storage", default="0")) if bound else ""
    modes = access_modes(dig(pvc, "status", "accessModes")) if bound else ""
    return [
        name_of(pvc),
        _phase(pvc),
        spec.get("volumeName", ""),
        capacity,
        modes,
        _class_name(pvc, spec.get("storageClassName")),
        spec.get("volumeAttributesClassName") or UNSET,
        age_of(pvc, now),
        spec.get("volumeMode") or UNSET,
    ]


PERSISTENT_VOLUME_CLAIM = Printer(
    (
        NAME,
        col("Status", "The claim's phase."),
        col("Volume", "The volume bound to the claim."),
        col("Capacity", "The bound volume's size."),
        col("Access Modes", "How the bound volume may be mounted."),
        col("StorageClass", "The claim's storage class."),
        col("VolumeAttributesClass", "The claim's attributes class."),
        AGE,
        col("VolumeMode", "Filesystem or Block.", priority=1),
    ),
    _pvc_cells,
)


def _is_default(sc: Obj) -> bool:
    annotations = dig(sc, "metadata", "annotations", default={})
    return any(annotations.get(key) == "true" for key in _DEFAULT_CLASS)


def _storage_class_cells(sc: Obj, now: datetime) -> Cells:
    name = name_of(sc) + (" (default)" if _is_default(sc) else "")
    return [
        name,
        sc.get("provisioner", ""),
        sc.get("reclaimPolicy") or "Delete",
        sc.get("volumeBindingMode") or "Immediate",
        bool(sc.get("allowVolumeExpansion")),
        age_of(sc, now),
    ]


STORAGE_CLASS = Printer(
    (
        NAME,
        col("Provisioner", "The volume plugin that provisions volumes."),
        col("ReclaimPolicy", "Reclaim policy of provisioned volumes."),
        col("VolumeBindingMode", "When volumes are bound and provisioned."),
        col("AllowVolumeExpansion", "Whether claims may grow."),
        AGE,
    ),
    _storage_class_cells,
)

PRINTERS = {
    ("", "PersistentVolume"): PERSISTENT_VOLUME,
    ("", "PersistentVolumeClaim"): PERSISTENT_VOLUME_CLAIM,
    ("storage.k8s.io", "StorageClass"): STORAGE_CLASS,
}
