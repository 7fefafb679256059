"""The DefaultIngressClass admission plugin: an Ingress without a class gets the default.

On create, an Ingress that names no class (no ``spec.ingressClassName`` and no
legacy ``kubernetes.io/ingress.class`` annotation) gets the IngressClass
annotated ``ingressclass.kubernetes.io/is-default-class: "true"``; with
several, the newest, then the first by name, as upstream chooses since 1.28
(the same rule as StorageClasses). Without a default it stays classless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinykube.apiserver.admission.storageclass import default_class

Obj = dict[str, Any]
ListIngressClasses = Callable[[], list[Obj]]

LEGACY_CLASS = "kubernetes.io/ingress.class"
DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


def admit_ingress(ingress: Obj, list_classes: ListIngressClasses) -> None:
    spec = ingress.setdefault("spec", {})
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if spec.get("ingressClassName") is not None or LEGACY_CLASS in annotations:
        return
    default = default_class(list_classes(), (DEFAULT_ANNOTATION,))
    if default is not None:
        spec["ingressClassName"] = default["metadata"]["name"]
