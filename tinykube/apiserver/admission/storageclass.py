"""The DefaultStorageClass admission plugin: a claim without a class gets the default.

On create, a PersistentVolumeClaim that names no class at all (no
``spec.storageClassName`` and no ``volume.beta.kubernetes.io/storage-class``
annotation) gets the name of the cluster's default StorageClass, the one
annotated ``storageclass.kubernetes.io/is-default-class: "true"`` (or the
beta spelling). With several defaults, the newest wins, then the first by
name, as upstream has done since 1.28. ``storageClassName: ""`` is an
explicit "no class" and stays as it is; so does a claim when no default
exists (the PV controller assigns one later if a default appears).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
ListStorageClasses = Callable[[], list[Obj]]

BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def default_class(
    classes: list[Obj], keys: tuple[str, ...] = DEFAULT_CLASS_ANNOTATIONS
) -> Obj | None:
    """The class marked default by one of ``keys`` (IngressClasses use the same rule)."""
    marked = [
        sc
        for sc in classes
        if any(
            ((sc.get("metadata") or {}).get("annotations") or {}).get(key) == "true" for key in keys
        )
    ]
    if not marked:
        return None
    marked.sort(key=lambda sc: sc["metadata"].get("name", ""))
    marked.sort(key=lambda sc: sc["metadata"].get("creationTimestamp", ""), reverse=True)
    return marked[0]


def admit_claim(pvc: Obj, list_classes: ListStorageClasses) -> None:
    spec = pvc.setdefault("spec", {})
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    if spec.get("storageClassName") is not None or BETA_CLASS in annotations:
        return
    default = default_class(list_classes())
    if default is not None:
        spec["storageClassName"] = default["metadata"]["name"]
