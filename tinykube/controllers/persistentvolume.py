"""The PersistentVolume controller: bind claims to volumes, provision, reclaim.

Upstream's ``pkg/controller/volume/persistentvolume`` (the
``persistentvolume-binder-controller``) in the shape of every tinykube
controller: informers on PVs, PVCs and StorageClasses put keys on one queue
(``("claim", ns/name)`` or ``("volume", name)``), and each key is reconciled
from the caches, idempotently.

**A claim** that is not bound yet binds to the volume ``pvmatch.best_match``
picks. Binding is four writes in upstream's order, each safe to repeat:
the PV's ``claimRef`` (+ ``bound-by-controller``), the PV's phase Bound, the
claim's ``volumeName`` (+ ``bind-completed``/``bound-by-controller``), the
claim's status (Bound, capacity and access modes of the volume). A crash
between two writes leaves a state the next sync recognises and finishes.
With no volume, a claim whose class names a provisioner this manager runs
(``tinykube.io/hostpath``) gets one made (``ProvisioningSucceeded``); one
with no class gets ``FailedBinding`` and waits, as upstream words it.
A bound claim whose volume disappeared is Lost. A claim whose class binds
WaitForFirstConsumer waits (event ``WaitForFirstConsumer``) until a pod using
it is scheduled, then binds or provisions like any other.

**A volume** with no ``claimRef`` is Available; one whose claim is gone
(checked against the API server, not just the cache, before acting) is
Released, then reclaimed: Retain keeps it Released for an administrator;
Delete removes it, with its directory when this manager provisioned it, or
marks it Failed when no plugin here can delete it.

Claims without ``storageClassName`` get the default class from admission;
one created before any default class existed gets it here once one does
(upstream's retroactive default assignment).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api.duration import format_time
from tinykube.controllers import pvmatch
from tinykube.controllers.hostpathprovisioner import (
    DEFAULT_DIR,
    FLAG,
    HostPathProvisioner,
    ProvisionerError,
)
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]

NAME = "persistentvolume-binder-controller"  # alias "persistentvolume-binder"
COMPONENT = "persistentvolume-controller"
STORAGE = "storage.k8s.io/v1"
NORMAL, WARNING = "Normal", "Warning"

NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
WAIT_FOR_CONSUMER = "waiting for first consumer to be created before binding"
EXTERNAL = (
    "Waiting for a volume to be created either by the external provisioner '%s' or manually "
    "by the system administrator. If volume creation is delayed, please verify that the "
    "provisioner is running and correctly registered."
)
PROVISIONED = "Successfully provisioned volume %s using %s"
CLAIM_LOST = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
CLAIM_MISBOUND = "Two claims are bound to the same volume, this one is bound incorrectly"
NO_DELETER = (
    'error getting deleter volume plugin for volume "%s": no deletable volume plugin matched'
)
NO_RECYCLER = "No recycler plugin found for the volume!"


def _now() -> str:
    return format_time(datetime.now(UTC))


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def _typed(obj: Obj, kind: str) -> Obj:
    return {**obj, "apiVersion": "v1", "kind": kind}


class PersistentVolumeController(Controller[Key]):
    """Binds, provisions and reclaims (see the module docstring)."""

    name = NAME

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.provisioners = {
            HostPathProvisioner.name: HostPathProvisioner(ctx.options.get(FLAG) or DEFAULT_DIR)
        }
        self.volumes = self.informer("v1", "persistentvolumes")
        self.claims = self.informer("v1", "persistentvolumeclaims")
        self.classes = self.informer(STORAGE, "storageclasses")
        self.pods = self.informer("v1", "pods")
        self.volumes.add_handler(
            on_add=self._volume_changed,
            on_update=lambda _o, n: self._volume_changed(n),
            on_delete=self._volume_changed,
        )
        self.claims.add_handler(
            on_add=self._claim_changed,
            on_update=lambda _o, n: self._claim_changed(n),
            on_delete=self._claim_deleted,
        )
        self.classes.add_handler(
            on_add=self._class_changed, on_update=lambda _o, n: self._class_changed(n)
        )
        self.pods.add_handler(
            on_add=self._pod_changed, on_update=lambda _o, n: self._pod_changed(n)
        )

    # ---- informer handlers ----

    def _volume_changed(self, pv: Obj) -> None:
        self.queue.add(("volume", pv["metadata"]["name"]))
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(("claim", f"{ref.get('namespace', '')}/{ref.get('name', '')}"))
        else:
            # A volume became free: any waiting claim may fit it now.
            self._enqueue_pending_claims()

    def _claim_changed(self, pvc: Obj) -> None:
        self.queue.add(("claim", pvmatch.claim_key(pvc)))

    def _claim_deleted(self, pvc: Obj) -> None:
        volume = (pvc.get("spec") or {}).get("volumeName")
        if volume:
            self.queue.add(("volume", volume))
        for pv in self.volumes.list():
            if pvmatch.ref_names(pv, pvc):
                self.queue.add(("volume", pv["metadata"]["name"]))

    def _pod_changed(self, pod: Obj) -> None:
        # A scheduled pod is the "first consumer" its WaitForFirstConsumer claims wait for.
        if (pod.get("spec") or {}).get("nodeName"):
            namespace = (pod.get("metadata") or {}).get("namespace", "")
            for name in pvmatch.pod_claim_names(pod):
                key = f"{namespace}/{name}"
                claim = self.claims.get(key)
                if claim is not None and not (claim.get("spec") or {}).get("volumeName"):
                    self.queue.add(("claim", key))

    def _class_changed(self, _sc: Obj) -> None:
        self._enqueue_pending_claims()

    def _enqueue_pending_claims(self) -> None:
        for pvc in self.claims.list():
            if not (pvc.get("spec") or {}).get("volumeName"):
                self.queue.add(("claim", pvmatch.claim_key(pvc)))

    async def reconcile(self, key: Key) -> Requeue | None:
        kind, name = key
        if kind == "claim":
            pvc = self.claims.get(name)
            if pvc is not None:
                await self.sync_claim(pvc)
        else:
            pv = self.volumes.get(name)
            if pv is not None:
                await self.sync_volume(pv)
        return None

    # ---- claims ----

    async def sync_claim(self, pvc: Obj) -> None:
        if pvc["metadata"].get("deletionTimestamp"):
            return
        if pvmatch.annotations(pvc).get(pvmatch.ANN_BIND_COMPLETED):
            await self._sync_bound_claim(pvc)
        else:
            await self._sync_unbound_claim(pvc)

    async def _sync_unbound_claim(self, pvc: Obj) -> None:
        wanted = (pvc.get("spec") or {}).get("volumeName")
        if wanted:
            await self._sync_prebound_claim(pvc, wanted)
            return
        class_name = pvmatch.storage_class_of(pvc)
        if await self._waiting_for_consumer(pvc, class_name):
            return
        pv = pvmatch.best_match(pvc, self.volumes.list())
        if pv is not None:
            await self.bind(pv, pvc)
            return
        if await self._assign_default_class(pvc):
            return
        if not class_name:
            await self._set_claim_phase(pvc, "Pending")
            self.recorder.event(
                _typed(pvc, "PersistentVolumeClaim"), NORMAL, "FailedBinding", NO_CLASS
            )
            return
        await self._set_claim_phase(pvc, "Pending")
        await self._provision(pvc, class_name)

    async def _sync_prebound_claim(self, pvc: Obj, volume_name: str) -> None:
        pv = self.volumes.get(volume_name)
        if pv is None:
            # The user named a volume that does not exist (yet): wait for it.
            await self._set_claim_phase(pvc, "Pending")
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref and not pvmatch.ref_names(pv, pvc):
            await self._set_claim_phase(pvc, "Pending")
            self.recorder.event(
                _typed(pvc, "PersistentVolumeClaim"),
                WARNING,
                "FailedBinding",
                f'volume "{volume_name}" already bound to a different claim.',
            )
            return
        why = pvmatch.mismatch(pv, pvc)
        if why:
            await self._set_claim_phase(pvc, "Pending")
            self.recorder.event(
                _typed(pvc, "PersistentVolumeClaim"),
                WARNING,
                "VolumeMismatch",
                f'Cannot bind to requested volume "{volume_name}": {why}',
            )
            return
        await self.bind(pv, pvc)

    async def _sync_bound_claim(self, pvc: Obj) -> None:
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        pv = self.volumes.get(volume_name) if volume_name else None
        if pv is None:
            if _phase(pvc) != "Lost":
                await self._set_claim_phase(pvc, "Lost")
                self.recorder.event(
                    _typed(pvc, "PersistentVolumeClaim"), WARNING, "ClaimLost", CLAIM_LOST
                )
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref or pvmatch.ref_names(pv, pvc):
            await self.bind(pv, pvc)  # finish (or confirm) the binding
            return
        if _phase(pvc) != "Lost":
            await self._set_claim_phase(pvc, "Lost")
            self.recorder.event(
                _typed(pvc, "PersistentVolumeClaim"), WARNING, "ClaimMisbound", CLAIM_MISBOUND
            )

    async def _waiting_for_consumer(self, pvc: Obj, class_name: str) -> bool:
        """Hold a WaitForFirstConsumer claim until a pod using it is scheduled.

        Upstream the scheduler names the node in ``volume.kubernetes.io/selected-node``
        while binding the pod; here the scheduler's filters stay pure, so the
        binder reads it from the first scheduled pod that uses the claim. All
        nodes share one host, so the volume then serves that pod wherever it runs.
        """
        sc = self.classes.get(class_name) if class_name else None
        if sc is None or sc.get("volumeBindingMode") != "WaitForFirstConsumer":
            return False
        if pvmatch.annotations(pvc).get(pvmatch.ANN_SELECTED_NODE):
            return False
        node = self._consumer_node(pvc)
        if not node:
            await self._set_claim_phase(pvc, "Pending")
            self.recorder.event(
                _typed(pvc, "PersistentVolumeClaim"),
                NORMAL,
                "WaitForFirstConsumer",
                WAIT_FOR_CONSUMER,
            )
            return True
        annotations = {**pvmatch.annotations(pvc), pvmatch.ANN_SELECTED_NODE: node}
        fresh = {**pvc, "metadata": {**pvc["metadata"], "annotations": annotations}}
        await self.client.update("v1", "persistentvolumeclaims", fresh)
        return True  # the update brings the claim back with its node chosen

    def _consumer_node(self, pvc: Obj) -> str:
        namespace, name = pvc["metadata"].get("namespace", ""), pvc["metadata"].get("name", "")
        for pod in self.pods.list():
            meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
            if meta.get("namespace") != namespace or not spec.get("nodeName"):
                continue
            if name in pvmatch.pod_claim_names(pod):
                return str(spec["nodeName"])
        return ""

    async def _assign_default_class(self, pvc: Obj) -> bool:
        """A claim that predates every default class gets the default once there is one."""
        spec = pvc.get("spec") or {}
        if spec.get("storageClassName") is not None or pvmatch.BETA_CLASS in pvmatch.annotations(
            pvc
        ):
            return False
        default = pvmatch.default_class(self.classes.list())
        if default is None:
            return False
        fresh = {**pvc, "spec": {**spec, "storageClassName": default["metadata"]["name"]}}
        with contextlib.suppress(errors.NotFound):
            await self.client.update("v1", "persistentvolumeclaims", fresh)
        return True

    async def _provision(self, pvc: Obj, class_name: str) -> None:
        sc = self.classes.get(class_name)
        typed = _typed(pvc, "PersistentVolumeClaim")
        if sc is None:
            self.recorder.event(
                typed,
                WARNING,
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found',
            )
            return
        provisioner_name = sc.get("provisioner", "")
        pvc = await self._set_provisioner_annotations(pvc, provisioner_name)
        provisioner = self.provisioners.get(provisioner_name)
        if provisioner is None:
            self.recorder.event(typed, NORMAL, "ExternalProvisioning", EXTERNAL % provisioner_name)
            return
        volume_name = f"pvc-{pvc['metadata'].get('uid', '')}"
        if self.volumes.get(volume_name) is not None:
            return  # provisioned already; binding follows from the volume's event
        try:
            volume = await provisioner.provision(pvc, sc)
        except ProvisionerError as exc:
            self.recorder.event(typed, WARNING, "ProvisioningFailed", str(exc))
            raise
        try:
            await self.client.create("v1", "persistentvolumes", volume)
        except errors.AlreadyExists:
            return
        log.info("controller=%s claim=%s provisioned %s", NAME, pvmatch.claim_key(pvc), volume_name)
        self.recorder.event(
            typed, NORMAL, "ProvisioningSucceeded", PROVISIONED % (volume_name, provisioner_name)
        )

    async def _set_provisioner_annotations(self, pvc: Obj, provisioner: str) -> Obj:
        current = pvmatch.annotations(pvc)
        wanted = {
            pvmatch.ANN_STORAGE_PROVISIONER: provisioner,
            pvmatch.ANN_BETA_STORAGE_PROVISIONER: provisioner,
        }
        if all(current.get(k) == v for k, v in wanted.items()):
            return pvc
        fresh = {**pvc, "metadata": {**pvc["metadata"], "annotations": {**current, **wanted}}}
        updated: Obj = await self.client.update("v1", "persistentvolumeclaims", fresh)
        return updated

    # ---- binding ----

    async def bind(self, pv: Obj, pvc: Obj) -> None:
        """Bind ``pv`` and ``pvc`` to each other; every step is skipped when already done."""
        pv = await self._bind_volume_to_claim(pv, pvc)
        if _phase(pv) != "Bound":
            pv = await self._set_volume_phase(pv, "Bound")
        pvc = await self._bind_claim_to_volume(pvc, pv)
        status = pvc.get("status") or {}
        wanted = {
            "phase": "Bound",
            "accessModes": list((pv.get("spec") or {}).get("accessModes") or []),
            "capacity": dict((pv.get("spec") or {}).get("capacity") or {}),
        }
        if any(status.get(k) != v for k, v in wanted.items()):
            await self.client.update_status(
                "v1", "persistentvolumeclaims", {**pvc, "status": {**status, **wanted}}
            )
            log.debug(
                "controller=%s claim=%s bound to %s",
                NAME,
                pvmatch.claim_key(pvc),
                pv["metadata"]["name"],
            )

    async def _bind_volume_to_claim(self, pv: Obj, pvc: Obj) -> Obj:
        spec = pv.get("spec") or {}
        ref = spec.get("claimRef") or {}
        uid = pvc["metadata"].get("uid")
        if ref.get("uid") == uid and ref.get("namespace") == pvc["metadata"].get("namespace"):
            return pv
        annotations = dict(pvmatch.annotations(pv))
        if not ref:
            annotations[pvmatch.ANN_BOUND_BY_CONTROLLER] = "yes"
        fresh = {
            **pv,
            "metadata": {**pv["metadata"], "annotations": annotations},
            "spec": {**spec, "claimRef": pvmatch.claim_ref(pvc)},
        }
        updated: Obj = await self.client.update("v1", "persistentvolumes", fresh)
        return updated

    async def _bind_claim_to_volume(self, pvc: Obj, pv: Obj) -> Obj:
        spec = pvc.get("spec") or {}
        annotations = dict(pvmatch.annotations(pvc))
        volume_name = pv["metadata"]["name"]
        changed = False
        if spec.get("volumeName") != volume_name:
            spec = {**spec, "volumeName": volume_name}
            annotations[pvmatch.ANN_BOUND_BY_CONTROLLER] = "yes"
            changed = True
        if annotations.get(pvmatch.ANN_BIND_COMPLETED) != "yes":
            annotations[pvmatch.ANN_BIND_COMPLETED] = "yes"
            changed = True
        if not changed:
            return pvc
        fresh = {**pvc, "metadata": {**pvc["metadata"], "annotations": annotations}, "spec": spec}
        updated: Obj = await self.client.update("v1", "persistentvolumeclaims", fresh)
        return updated

    async def _set_claim_phase(self, pvc: Obj, phase: str) -> None:
        status = pvc.get("status") or {}
        if status.get("phase") == phase:
            return
        if phase == "Lost":
            status = {k: v for k, v in status.items() if k not in ("capacity", "accessModes")}
        await self.client.update_status(
            "v1", "persistentvolumeclaims", {**pvc, "status": {**status, "phase": phase}}
        )

    async def _set_volume_phase(self, pv: Obj, phase: str, message: str = "") -> Obj:
        status = dict(pv.get("status") or {})
        if status.get("phase") == phase and status.get("message", "") == message:
            return pv
        if status.get("phase") != phase:
            status["lastPhaseTransitionTime"] = _now()
        status["phase"] = phase
        if message:
            status["message"] = message
        else:
            status.pop("message", None)
        status.pop("reason", None)
        updated: Obj = await self.client.update_status(
            "v1", "persistentvolumes", {**pv, "status": status}
        )
        return updated

    # ---- volumes ----

    async def sync_volume(self, pv: Obj) -> None:
        # A volume being deleted is still synced: its phase leaving Bound is what
        # lets pv-protection release it.
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:
            await self._set_volume_phase(pv, "Available")
            return
        if not ref.get("uid"):
            # Pre-bound by a user to a claim that has not been bound yet.
            await self._set_volume_phase(pv, "Available")
            return
        pvc = await self._claim_of(ref)
        if pvc is None:
            await self._release(pv)
            return
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        if not volume_name:
            self.queue.add(("claim", pvmatch.claim_key(pvc)))  # binding still in progress
        elif volume_name == pv["metadata"]["name"]:
            await self._set_volume_phase(pv, "Bound")
        elif pvmatch.annotations(pv).get(pvmatch.ANN_BOUND_BY_CONTROLLER):
            await self._unbind(pv)  # the claim went to another volume: free this one

    async def _claim_of(self, ref: Obj) -> Obj | None:
        """The claim ``ref`` names, if it still exists with that uid (live, not cached)."""
        key = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
        pvc = self.claims.get(key)
        if pvc is None or pvc["metadata"].get("uid") != ref.get("uid"):
            try:
                pvc = await self.client.get(
                    "v1", "persistentvolumeclaims", ref.get("name", ""), ref.get("namespace", "")
                )
            except errors.NotFound:
                return None
        return pvc if pvc["metadata"].get("uid") == ref.get("uid") else None

    async def _unbind(self, pv: Obj) -> None:
        annotations = {
            k: v for k, v in pvmatch.annotations(pv).items() if k != pvmatch.ANN_BOUND_BY_CONTROLLER
        }
        spec = {k: v for k, v in (pv.get("spec") or {}).items() if k != "claimRef"}
        fresh = {**pv, "metadata": {**pv["metadata"], "annotations": annotations}, "spec": spec}
        updated = await self.client.update("v1", "persistentvolumes", fresh)
        await self._set_volume_phase(updated, "Available")

    async def _release(self, pv: Obj) -> None:
        if _phase(pv) not in ("Released", "Failed"):
            pv = await self._set_volume_phase(pv, "Released")
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain" or _phase(pv) == "Failed":
            return
        typed = _typed(pv, "PersistentVolume")
        if policy == "Recycle":
            await self._set_volume_phase(pv, "Failed", NO_RECYCLER)
            self.recorder.event(typed, WARNING, "VolumeFailedRecycle", NO_RECYCLER)
            return
        provisioner = next((p for p in self.provisioners.values() if p.owns(pv)), None)
        name = pv["metadata"]["name"]
        if provisioner is None:
            await self._set_volume_phase(pv, "Failed", NO_DELETER % name)
            self.recorder.event(typed, WARNING, "VolumeFailedDelete", NO_DELETER % name)
            return
        try:
            await provisioner.delete(pv)
        except ProvisionerError as exc:
            self.recorder.event(typed, WARNING, "VolumeFailedDelete", str(exc))
            raise
        try:
            await self.client.delete(
                "v1",
                "persistentvolumes",
                name,
                preconditions={"uid": pv["metadata"].get("uid", "")},
            )
        except errors.NotFound:
            return
        log.info("controller=%s volume=%s deleted (reclaim policy Delete)", NAME, name)


def new(ctx: ControllerContext) -> PersistentVolumeController:
    """The factory for ``--controllers=persistentvolume-binder-controller``."""
    return PersistentVolumeController(ctx)
