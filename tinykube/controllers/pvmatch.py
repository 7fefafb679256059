"""Which PersistentVolume a claim may bind to: the PV controller's pure decisions.

Upstream's ``pkg/controller/volume/persistentvolume`` keeps these in
``index.go`` and ``util``: a claim binds to the *smallest* Available volume
that satisfies it, where satisfying means

- capacity at least the claim's ``resources.requests.storage``;
- the volume's access modes include every mode the claim asks for;
- the same storage class (the old beta annotation wins over the field, and a
  claim with class ``""`` matches only volumes with no class);
- the claim's ``selector`` matches the volume's labels;
- the same ``volumeMode`` (``Filesystem`` when unset);
- the volume is not being deleted.

A volume whose ``claimRef`` names this claim (pre-bound by a user, or
provisioned for it) is taken first whatever its size; one whose ``claimRef``
names another claim is never taken. Functions here are pure over API dicts,
so the binder's choices are table-tested without a server.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import quantity, selectors

Obj = dict[str, Any]

BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def annotations(obj: Obj) -> dict[str, str]:
    return _meta(obj).get("annotations") or {}


def storage_class_of(obj: Obj) -> str:
    """A PV's or PVC's class name: the beta annotation, else the field, else ``""``."""
    beta = annotations(obj).get(BETA_CLASS)
    if beta is not None:
        return str(beta)
    return str(_spec(obj).get("storageClassName") or "")


def requested(pvc: Obj) -> quantity.Quantity:
    storage = ((_spec(pvc).get("resources") or {}).get("requests") or {}).get("storage", "0")
    return quantity.parse(storage)


def capacity(pv: Obj) -> quantity.Quantity:
    return quantity.parse((_spec(pv).get("capacity") or {}).get("storage", "0"))


def volume_mode(obj: Obj) -> str:
    return str(_spec(obj).get("volumeMode") or "Filesystem")


def claim_key(pvc: Obj) -> str:
    return f"{_meta(pvc).get('namespace', '')}/{_meta(pvc).get('name', '')}"


def claim_ref(pvc: Obj) -> Obj:
    """The ObjectReference a bound volume keeps in ``spec.claimRef``."""
    meta = _meta(pvc)
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": "v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }


def ref_names(pv: Obj, pvc: Obj) -> bool:
    """Does the volume's claimRef name this claim (by namespace/name, and uid if set)?"""
    ref = _spec(pv).get("claimRef")
    if not ref:
        return False
    meta = _meta(pvc)
    if ref.get("namespace") != meta.get("namespace") or ref.get("name") != meta.get("name"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def mismatch(pv: Obj, pvc: Obj) -> str:
    """Why ``pv`` cannot serve ``pvc`` (``""`` when it can), in upstream's words."""
    if storage_class_of(pv) != storage_class_of(pvc):
        return "storageClassName does not match"
    if volume_mode(pv) != volume_mode(pvc):
        return "incompatible volumeMode"
    if not set(_spec(pvc).get("accessModes") or []) <= set(_spec(pv).get("accessModes") or []):
        return "incompatible accessMode"
    if capacity(pv) < requested(pvc):
        return "requested PV is too small"
    return ""


def selector_matches(pv: Obj, pvc: Obj) -> bool:
    selector = _spec(pvc).get("selector")
    if not selector:
        return True
    return selectors.label_selector_as_selector(selector).matches(_meta(pv).get("labels") or {})


def best_match(pvc: Obj, volumes: list[Obj]) -> Obj | None:
    """The volume ``pvc`` should bind to, or None (see the module docstring)."""
    smallest: Obj | None = None
    for pv in sorted(volumes, key=lambda v: _meta(v).get("name", "")):
        if _meta(pv).get("deletionTimestamp"):
            continue
        ref = _spec(pv).get("claimRef")
        if ref and not ref_names(pv, pvc):
            continue
        if mismatch(pv, pvc):
            continue
        if ref:
            # Pre-bound to this claim: size and selector are the user's business.
            return pv
        if (pv.get("status") or {}).get("phase") not in (None, "", "Available", "Pending"):
            continue
        if not selector_matches(pv, pvc):
            continue
        if smallest is None or capacity(pv) < capacity(smallest):
            smallest = pv
    return smallest


def is_default_class(sc: Obj) -> bool:
    return any(annotations(sc).get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)


def default_class(classes: list[Obj]) -> Obj | None:
    """The default StorageClass: the newest marked one, then by name (upstream's rule)."""
    marked = [sc for sc in classes if is_default_class(sc)]
    if not marked:
        return None
    marked.sort(key=lambda sc: _meta(sc).get("name", ""))
    marked.sort(key=lambda sc: _meta(sc).get("creationTimestamp", ""), reverse=True)
    return marked[0]


def pod_claim_names(pod: Obj) -> list[str]:
    """The claims a pod uses (an ``ephemeral`` volume's claim is ``<pod>-<volume>``)."""
    names = []
    for volume in _spec(pod).get("volumes") or []:
        if volume.get("persistentVolumeClaim"):
            names.append(volume["persistentVolumeClaim"].get("claimName", ""))
        elif volume.get("ephemeral"):
            names.append(f"{_meta(pod).get('name', '')}-{volume.get('name', '')}")
    return names
