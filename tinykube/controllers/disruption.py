"""The disruption controller: the status of every PodDisruptionBudget.

A PodDisruptionBudget only protects anything once its status says how many
disruptions it can take: the ``pods/eviction`` subresource refuses (429) while
``status.observedGeneration`` lags ``metadata.generation`` or
``status.disruptionsAllowed`` is 0, and that is what makes ``kubectl drain``
wait. This controller computes that status, as upstream's
``pkg/controller/disruption`` does:

    PDB events ──────────────► key ─┐
    Pod events ──► matching PDBs' keys ─┴─► queue ──► reconcile(key)
                                                        │ pods = PDB's selector in its namespace
                                                        │ expectedPods, desiredHealthy
                                                        │ disruptedPods (drop expired or gone)
                                                        │ currentHealthy, disruptionsAllowed
                                                        └ write status (+ DisruptionAllowed condition)

How many pods are *expected* depends on the budget's form. ``minAvailable``
as an integer needs no controller: expected is the number of matching pods
and desired is the integer. A percentage ``minAvailable`` or any
``maxUnavailable`` is a fraction of a scale, so each pod's controller is
found through its ownerReference (a ReplicaSet owned by a Deployment counts as
the Deployment; a bare ReplicaSet, a ReplicationController, a StatefulSet, or
any kind with a ``/scale`` subresource counts as itself) and their replicas
are summed. Pods without a controller are left out of that sum with an
``UnmanagedPods`` warning; a controller that cannot be found fails the sync,
and then the fail-safe writes ``disruptionsAllowed: 0`` with the condition
reason ``SyncFailed`` so that no eviction is approved on a guess.

``disruptedPods`` is written by the eviction subresource in the same update
that spends a disruption: pod name -> when. Such a pod no longer counts as
healthy even before its deletion is seen; an entry whose pod is gone or
already terminating is dropped, and one whose pod is still not being deleted
after ``DELETION_TIMEOUT`` is dropped with a ``NotDeleted`` event. The key is
looked at again when the earliest entry would expire.

The arithmetic lives in ``disruptionutil``; this module finds the pods and
their controllers and writes what it computes.

The eviction subresource also marks the pod it evicts with the condition
``DisruptionTarget=True``. A pod that still is not being deleted two minutes
later (a failed delete, a finalizer) has the condition set back to False, as
upstream's second queue does; here those pods share the one queue under keys
prefixed ``pod:`` (no namespace name contains a colon).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api import resources as table
from tinykube.api.duration import format_time
from tinykube.api.selectors import SelectorError
from tinykube.client.informers import key_of
from tinykube.controllers.disruptionutil import (
    DISRUPTION_TARGET,
    SyncError,
    budget_status,
    budgets_for_pod,
    count_healthy,
    expected_and_desired,
    fail_safe_status,
    live_disruptions,
    selector_of,
    stale_disruption_wait,
    uses_scale,
)
from tinykube.controllers.podutil import controller_ref, meta
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "disruption-controller"  # upstream --controllers name; alias "disruption"
API = "policy/v1"
POD_KEY = "pod:"  # prefixes the pod keys in the queue; PDB keys are plain ns/name
UNMANAGED_PODS_MESSAGE = (
    "Pods selected by this PodDisruptionBudget (selector: %s) were found to be unmanaged. "
    "As a result, the status of the PDB cannot be calculated correctly, which may result in "
    'undefined behavior. To account for these pods please set ".spec.minAvailable" field of '
    "the PDB to an integer value."
)


@dataclass(frozen=True)
class ControllerScale:
    uid: str
    replicas: int


class DisruptionController(Controller[str]):
    """Keeps each PodDisruptionBudget's status equal to what its pods allow."""

    name = NAME

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.recorder = ctx.recorder("controllermanager")
        self.pdbs = self.informer(API, "poddisruptionbudgets")
        self.pods = self.informer("v1", "pods")
        self.rcs = self.informer("v1", "replicationcontrollers")
        self.rss = self.informer("apps/v1", "replicasets")
        self.deployments = self.informer("apps/v1", "deployments")
        self.statefulsets = self.informer("apps/v1", "statefulsets")
        self.pdbs.add_handler(
            on_add=self.enqueue,
            on_update=lambda _old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )

    # ---- event handlers: only compute keys ----

    def _pod_changed(self, pod: Obj) -> None:
        self._check_stale_disruption(pod)
        matched = budgets_for_pod(self.pdbs.list(meta(pod).get("namespace", "")), pod)
        if len(matched) > 1:
            first = min(meta(p).get("name", "") for p in matched)
            message = (
                f'Pod "{meta(pod).get("namespace")}"/"{meta(pod).get("name")}" matches multiple '
                f'PodDisruptionBudgets.  Chose "{first}" arbitrarily.'
            )
            self.recorder.event(pod, "Warning", "MultiplePodDisruptionBudgets", message)
        for pdb in matched:
            self.enqueue(pdb)

    def _check_stale_disruption(self, pod: Obj) -> None:
        wait = stale_disruption_wait(pod, self.now())
        if wait is not None:
            self.queue.add_after(POD_KEY + key_of(pod), wait)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        # A relabelled pod may have left a budget as well as joined one.
        if meta(old).get("labels") != meta(new).get("labels"):
            for pdb in budgets_for_pod(self.pdbs.list(meta(old).get("namespace", "")), old):
                self.enqueue(pdb)
        self._pod_changed(new)

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Requeue | None:
        if key.startswith(POD_KEY):
            return await self._reset_stale_disruption(key.removeprefix(POD_KEY))
        pdb = self.pdbs.get(key)
        if pdb is None:
            return None  # deleted: nothing to keep up to date
        try:
            return await self._sync(pdb)
        except errors.Conflict:
            raise  # a stale cache: retried with backoff, no fail-safe write
        except (SyncError, errors.APIError) as exc:
            log.warning("controller=%s pdb=%s sync failed: %s", self.name, key, exc)
            await self._write(pdb, fail_safe_status(pdb, str(exc), format_time(self.now())))
            return None

    async def _sync(self, pdb: Obj) -> Requeue | None:
        pods = self._pods_for(pdb)
        if not pods:
            self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found")
        expected, desired = await self._expected_and_desired(pdb, pods)
        now = self.now()
        recorded = (pdb.get("status") or {}).get("disruptedPods")
        disrupted, recheck, expired = live_disruptions(pods, recorded, now)
        for pod in expired:
            log.info("controller=%s pod=%s was evicted but not deleted", self.name, key_of(pod))
            ns = meta(pdb).get("namespace")
            # Upstream prints the namespace twice here; the PDB's name is the useful half.
            message = (
                f"Pod was expected by PDB {ns}/{meta(pdb).get('name')} to be deleted but it wasn't"
            )
            self.recorder.event(pod, "Warning", "NotDeleted", message)
        current = count_healthy(pods, disrupted, now)
        status = budget_status(pdb, current, desired, expected, disrupted, format_time(now))
        if status is not None:
            await self._write(pdb, status)
        if recheck is not None:
            return Requeue(after=max(0.0, (recheck - now).total_seconds()) + 1.0)
        return None

    async def _reset_stale_disruption(self, key: str) -> Requeue | None:
        pod = self.pods.get(key)
        wait = None if pod is None else stale_disruption_wait(pod, self.now())
        if pod is None or wait is None:
            return None
        if wait > 0:
            return Requeue(after=wait)
        conditions = [c for c in (pod.get("status") or {}).get("conditions") or []]
        reset = {"type": DISRUPTION_TARGET, "status": "False", "lastProbeTime": None,
                 "lastTransitionTime": format_time(self.now())}  # fmt: skip
        conditions = [reset if c.get("type") == DISRUPTION_TARGET else c for c in conditions]
        status = {**(pod.get("status") or {}), "conditions": conditions}
        await self.client.update_status("v1", "pods", {**pod, "status": status})
        log.info("controller=%s pod=%s reset stale DisruptionTarget condition", self.name, key)
        return None

    def _pods_for(self, pdb: Obj) -> list[Obj]:
        try:
            selector = selector_of(pdb)
        except SelectorError as exc:
            self.recorder.event(pdb, "Warning", "NoPods", f"Failed to get pods: {exc}")
            raise SyncError(str(exc)) from None
        pods = self.pods.list(meta(pdb).get("namespace", ""))
        return [p for p in pods if selector.matches(meta(p).get("labels"))]

    async def _expected_and_desired(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int]:
        spec = pdb.get("spec") or {}
        scale = 0
        try:
            if uses_scale(spec):
                scale = await self._expected_scale(pdb, pods)
            return expected_and_desired(spec, len(pods), scale)
        except (SyncError, errors.APIError) as exc:
            message = f"Failed to calculate the number of expected pods: {exc}"
            self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed", message)
            raise

    async def _expected_scale(self, pdb: Obj, pods: list[Obj]) -> int:
        """The summed replicas of the controllers of ``pods``, each controller counted once."""
        scales: dict[str, int] = {}
        unmanaged = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(meta(pod).get("name", ""))
                continue
            if ref.get("uid") in scales:
                continue
            found = await self._find_controller(ref, meta(pod).get("namespace", ""))
            if found is None:
                raise SyncError(f'found no controllers for pod "{meta(pod).get("name", "")}"')
            scales[found.uid] = found.replicas
        if unmanaged:
            selector = (pdb.get("spec") or {}).get("selector")
            self.recorder.event(
                pdb, "Warning", "UnmanagedPods", UNMANAGED_PODS_MESSAGE % _go_selector(selector)
            )
        return sum(scales.values())

    async def _find_controller(self, ref: Obj, namespace: str) -> ControllerScale | None:
        """Upstream's finders in order: RC, Deployment via RS, RS, StatefulSet, any /scale."""
        kind, group = ref.get("kind", ""), table.split_api_version(ref.get("apiVersion", ""))[0]
        name, uid = ref.get("name", ""), ref.get("uid", "")
        if kind == "ReplicationController" and group == "":
            found = _scale_of(self.rcs.get_by_name(namespace, name), uid)
            return found or await self._find_by_scale(ref, namespace)
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = self.rss.get_by_name(namespace, name)
            if rs is None or meta(rs).get("uid") != uid:
                return await self._find_by_scale(ref, namespace)
            owner = controller_ref(rs)
            if owner is None or owner.get("kind") != "Deployment":
                return _scale_of(rs, uid)
            owner_group = table.split_api_version(owner.get("apiVersion", ""))[0]
            if owner_group not in ("apps", "extensions"):
                return await self._find_by_scale(ref, namespace)
            deployment = self.deployments.get_by_name(namespace, owner.get("name", ""))
            found = _scale_of(deployment, owner.get("uid", ""))
            return found or await self._find_by_scale(ref, namespace)
        if kind == "StatefulSet" and group == "apps":
            found = _scale_of(self.statefulsets.get_by_name(namespace, name), uid)
            return found or await self._find_by_scale(ref, namespace)
        return await self._find_by_scale(ref, namespace)

    async def _find_by_scale(self, ref: Obj, namespace: str) -> ControllerScale | None:
        """The owner's ``/scale`` subresource; an owner without one is an error, a missing one None."""
        api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
        plural, served = await self._rest_mapping(api_version, kind)
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        path = f"{base}/namespaces/{namespace}/{plural}/{ref.get('name', '')}/scale"
        try:
            scale = await self.client.request("GET", path)
        except errors.NotFound:
            if f"{plural}/scale" not in served:
                group = table.split_api_version(api_version)[0]
                resource = f"{plural}.{group}" if group else plural
                raise SyncError(f"{resource} does not implement the scale subresource") from None
            return None
        if meta(scale).get("uid") != ref.get("uid"):
            return None
        return ControllerScale(
            ref.get("uid", ""), int((scale.get("spec") or {}).get("replicas") or 0)
        )

    async def _rest_mapping(self, api_version: str, kind: str) -> tuple[str, set[str]]:
        """(the plural serving ``kind``, the scale subresources its group version serves)."""
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        try:
            listed = await self.client.request("GET", base)
        except errors.NotFound:
            listed = {}
        entries = listed.get("resources") or []
        served = {
            e.get("name", "")
            for e in entries
            if e.get("name", "").endswith("/scale") and e.get("kind") == "Scale"
        }
        for entry in entries:
            if entry.get("kind") == kind and "/" not in entry.get("name", ""):
                return entry["name"], served
        raise SyncError(f'no matches for kind "{kind}" in version "{api_version}"')

    async def _write(self, pdb: Obj, status: Obj) -> None:
        if status == (pdb.get("status") or {}):
            return
        await self.client.update_status(API, "poddisruptionbudgets", {**pdb, "status": status})


def _scale_of(obj: Obj | None, uid: str) -> ControllerScale | None:
    if obj is None or meta(obj).get("uid") != uid:
        return None
    replicas = (obj.get("spec") or {}).get("replicas")
    return ControllerScale(uid, 1 if replicas is None else int(replicas))


def _go_selector(selector: Obj | None) -> str:
    """How Go's %v prints a *LabelSelector, for the UnmanagedPods message."""
    if selector is None:
        return "nil"
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def new(ctx: ControllerContext) -> DisruptionController:
    return DisruptionController(ctx)
