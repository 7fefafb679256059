"""Storage object in-use protection: a claim in use, or a bound volume, is not deleted yet.

The StorageObjectInUseProtection admission plugin gives every new PVC the
finalizer ``kubernetes.io/pvc-protection`` and every new PV
``kubernetes.io/pv-protection``. Deleting one then only marks it
(``Terminating`` in ``kubectl get``); these two controllers (upstream's
``pkg/controller/volume/pvcprotection`` and ``pvprotection``) remove the
finalizer once the object is no longer used:

- a claim is in use while any pod scheduled to a node names it in a
  ``persistentVolumeClaim`` volume, whatever that pod's phase (a Completed
  pod still holds its claim, as upstream), or while a running pod's
  ``ephemeral`` volume is backed by it. Before letting go, the pods are
  listed live from the API server, not only from the cache, since a pod
  created a moment ago would otherwise lose its data;
- a volume is in use while its phase is Bound.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import errors
from tinykube.controllers import pvmatch
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

Obj = dict[str, Any]

PVC_NAME = "persistentvolumeclaim-protection-controller"  # alias "pvc-protection"
PV_NAME = "persistentvolume-protection-controller"  # alias "pv-protection"
PVC_FINALIZER = "kubernetes.io/pvc-protection"
PV_FINALIZER = "kubernetes.io/pv-protection"
TERMINAL = ("Succeeded", "Failed")


def _deleting_with(obj: Obj, finalizer: str) -> bool:
    meta = obj.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or [])


def pod_uses_claim(pod: Obj, claim_name: str) -> bool:
    """Does ``pod`` keep the claim ``claim_name`` (of its namespace) in use?"""
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        return False  # not scheduled: the kubelet will refuse a deleting claim anyway
    pod_name = (pod.get("metadata") or {}).get("name", "")
    shut_down = (pod.get("status") or {}).get("phase") in TERMINAL
    for volume in spec.get("volumes") or []:
        source = volume.get("persistentVolumeClaim")
        if source and source.get("claimName") == claim_name:
            return True
        ephemeral_claim = f"{pod_name}-{volume.get('name', '')}"
        if volume.get("ephemeral") and not shut_down and ephemeral_claim == claim_name:
            return True
    return False


async def _drop_finalizer(ctrl: Controller[str], resource: str, obj: Obj, finalizer: str) -> None:
    meta = obj["metadata"]
    remaining = [f for f in meta.get("finalizers") or [] if f != finalizer]
    fresh = {**obj, "metadata": {**meta, "finalizers": remaining}}
    try:
        await ctrl.client.update("v1", resource, fresh)
    except errors.NotFound:
        return


class PVCProtectionController(Controller[str]):
    """Releases a deleted claim's finalizer once no pod uses it."""

    name = PVC_NAME

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.claims = self.informer("v1", "persistentvolumeclaims")
        self.pods = self.informer("v1", "pods")
        self.claims.add_handler(on_add=self._claim, on_update=lambda _o, n: self._claim(n))
        self.pods.add_handler(
            on_add=self._pod, on_update=lambda _o, n: self._pod(n), on_delete=self._pod
        )

    def _claim(self, pvc: Obj) -> None:
        if _deleting_with(pvc, PVC_FINALIZER):
            self.enqueue(pvc)

    def _pod(self, pod: Obj) -> None:
        namespace = (pod.get("metadata") or {}).get("namespace", "")
        for name in pvmatch.pod_claim_names(pod):
            pvc = self.claims.get(f"{namespace}/{name}")
            if pvc is not None:
                self._claim(pvc)

    async def reconcile(self, key: str) -> Requeue | None:
        pvc = self.claims.get(key)
        if pvc is None or not _deleting_with(pvc, PVC_FINALIZER):
            return None
        namespace, _, name = key.rpartition("/")
        if any(pod_uses_claim(p, name) for p in self.pods.list() if _in(p, namespace)):
            return None
        live = await self.client.list("v1", "pods", namespace)
        if any(pod_uses_claim(p, name) for p in live.get("items") or []):
            return None
        await _drop_finalizer(self, "persistentvolumeclaims", pvc, PVC_FINALIZER)
        return None


def _in(pod: Obj, namespace: str) -> bool:
    return (pod.get("metadata") or {}).get("namespace") == namespace


class PVProtectionController(Controller[str]):
    """Releases a deleted volume's finalizer once it is no longer Bound."""

    name = PV_NAME

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.volumes = self.informer("v1", "persistentvolumes")
        self.volumes.add_handler(on_add=self._volume, on_update=lambda _o, n: self._volume(n))

    def _volume(self, pv: Obj) -> None:
        if _deleting_with(pv, PV_FINALIZER):
            self.enqueue(pv)

    async def reconcile(self, key: str) -> Requeue | None:
        pv = self.volumes.get(key)
        if pv is None or not _deleting_with(pv, PV_FINALIZER):
            return None
        if (pv.get("status") or {}).get("phase") == "Bound":
            return None
        await _drop_finalizer(self, "persistentvolumes", pv, PV_FINALIZER)
        return None


def new_pvc_protection(ctx: ControllerContext) -> PVCProtectionController:
    return PVCProtectionController(ctx)


def new_pv_protection(ctx: ControllerContext) -> PVProtectionController:
    return PVProtectionController(ctx)
