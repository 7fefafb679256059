"""The StatefulSet controller: informers, handlers and the per-key sync.

Per key: claim the Pods and ControllerRevisions, find the update revision
(``controllers.history``) and the current one (``status.currentRevision``),
take the next step of ``control.plan`` (create claims and Pods from the right
revision's template, delete), trim history and write status
(``control.statefulset_status``). A Pod's ``controller-revision-hash`` label
holds the *name* of its revision; ``currentRevision``/``updateRevision`` name
the old and new ones until the rollout completes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api.selectors import SelectorError, label_selector_as_selector
from tinykube.controllers import history
from tinykube.controllers.podutil import controller_ref, meta
from tinykube.controllers.refmanager import claim, new_controller_ref
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue
from tinykube.controllers.statefulset.control import (
    Step,
    partition_of,
    plan,
    statefulset_status,
    update_strategy,
)
from tinykube.controllers.statefulset.identity import (
    claim_name,
    claim_owner_refs,
    new_claims,
    new_pod,
    ordinal_of,
    pod_revision,
    replicas_of,
    start_ordinal,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class StatefulSetController(Controller[str]):
    """Creates, orders and rolls the Pods of each StatefulSet."""

    name = "statefulset-controller"
    default_workers = 5
    workers_flag = "concurrent-statefulset-syncs"

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.recorder = ctx.recorder(self.name)
        self.sets = self.informer("apps/v1", "statefulsets")
        self.pods = self.informer("v1", "pods")
        self.revisions = self.informer("apps/v1", "controllerrevisions")
        self.claims = self.informer("v1", "persistentvolumeclaims")
        self.sets.add_handler(
            on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n), on_delete=self.enqueue
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=lambda _o, n: self._pod_changed(n),
            on_delete=self._pod_changed,
        )

    def _pod_changed(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "StatefulSet":
            self.queue.add(f"{meta(pod).get('namespace')}/{ref.get('name')}")

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.sets.get(key)
        if cached is None:
            return None
        sts = copy.deepcopy(cached)
        try:
            selector = label_selector_as_selector((sts.get("spec") or {}).get("selector"))
        except SelectorError as exc:
            log.warning("controller=%s key=%s invalid selector: %s", self.name, key, exc)
            return None
        namespace = meta(sts).get("namespace", "")
        ref = new_controller_ref(sts, "apps/v1", "StatefulSet")
        revisions = await claim(
            self.client,
            "apps/v1",
            "controllerrevisions",
            sts,
            ref,
            selector,
            self.revisions.list(namespace),
        )
        pods = await claim(self.client, "v1", "pods", sts, ref, selector, self.pods.list(namespace))
        try:
            update_rev, old = await history.construct_history(
                self.client, sts, "StatefulSet", revisions
            )
        except history.HashCollision:
            await history.bump_collision_count(self.client, "apps/v1", "statefulsets", sts)
            raise
        current_rev = self._current_revision(sts, update_rev, old)
        if not meta(sts).get("deletionTimestamp"):
            await self._retain_claims(sts, pods)
            await self._apply(
                sts, plan(sts, pods, meta(update_rev)["name"], self.now()), current_rev, update_rev
            )
        live = {pod_revision(p) for p in pods} | {
            meta(current_rev)["name"],
            meta(update_rev)["name"],
        }
        await history.cleanup_history(self.client, sts, old, lambda rev: meta(rev)["name"] in live)
        return await self._write_status(
            sts, pods, meta(current_rev)["name"], meta(update_rev)["name"]
        )

    async def _retain_claims(self, sts: Obj, pods: list[Obj]) -> None:
        """Point each claim's ownerReferences where the retention policy says, before any
        Pod of a scaled-down ordinal is deleted (so its claims go with it)."""
        namespace = meta(sts).get("namespace", "")
        start, count = start_ordinal(sts), replicas_of(sts)
        for pod in pods:
            ordinal = ordinal_of(sts, pod)
            if ordinal is None:
                continue
            for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
                pvc = self.claims.get_by_name(namespace, claim_name(template, sts, ordinal))
                scaled_down = not start <= ordinal < start + count
                refs = None if pvc is None else claim_owner_refs(pvc, sts, pod, scaled_down)
                if pvc is not None and refs is not None:
                    body = {
                        "metadata": {
                            "ownerReferences": refs,
                            "resourceVersion": meta(pvc).get("resourceVersion"),
                        }
                    }
                    await self.client.patch(
                        "v1", "persistentvolumeclaims", meta(pvc)["name"], body, namespace
                    )

    def _current_revision(self, sts: Obj, update_rev: Obj, old: list[Obj]) -> Obj:
        name = (sts.get("status") or {}).get("currentRevision")
        return next((r for r in [update_rev, *old] if meta(r).get("name") == name), update_rev)

    async def _apply(self, sts: Obj, step: Step, current_rev: Obj, update_rev: Obj) -> None:
        for pod in step.delete:
            await self._delete(sts, pod)
        for ordinal in step.create:
            revision = self._revision_for(sts, ordinal, current_rev, update_rev)
            await self._create(sts, ordinal, revision)

    def _revision_for(self, sts: Obj, ordinal: int, current_rev: Obj, update_rev: Obj) -> Obj:
        """Below the partition (or before a rollout reaches it) new Pods keep the current revision."""
        if update_strategy(sts) == "RollingUpdate" and ordinal < start_ordinal(sts) + partition_of(
            sts
        ):
            return current_rev
        return update_rev

    async def _create(self, sts: Obj, ordinal: int, revision: Obj) -> None:
        namespace = meta(sts).get("namespace", "")
        template_owner = _apply_revision(sts, revision)
        body = new_pod(sts, template_owner, meta(revision)["name"], ordinal)
        for pvc in new_claims(sts, ordinal):
            if self.claims.get_by_name(namespace, pvc["metadata"]["name"]) is None:
                await self._create_claim(sts, pvc, body["metadata"]["name"])
        try:
            await self.client.create("v1", "pods", body, namespace)
        except errors.AlreadyExists:
            return  # the cache was behind
        except errors.APIError as exc:
            message = f"create Pod {body['metadata']['name']} in StatefulSet {meta(sts)['name']} failed error: {exc.message}"
            self.recorder.event(sts, "Warning", "FailedCreate", message)
            raise
        message = (
            f"create Pod {body['metadata']['name']} in StatefulSet {meta(sts)['name']} successful"
        )
        self.recorder.event(sts, "Normal", "SuccessfulCreate", message)

    async def _create_claim(self, sts: Obj, pvc: Obj, pod_name: str) -> None:
        """One claim of a new Pod, announced as upstream ``recordClaimEvent`` does."""
        refs = claim_owner_refs(pvc, sts, None, scaled_down=False)
        if refs:
            pvc["metadata"]["ownerReferences"] = refs
        name, namespace = pvc["metadata"]["name"], meta(sts).get("namespace", "")
        what = f"Claim {name} Pod {pod_name} in StatefulSet {meta(sts)['name']}"
        try:
            await self.client.create("v1", "persistentvolumeclaims", pvc, namespace)
        except errors.AlreadyExists:
            return  # a stale cache
        except errors.APIError as exc:
            message = f"create Claim {name} for Pod {pod_name} in StatefulSet {meta(sts)['name']} failed error: {exc.message}"
            self.recorder.event(sts, "Warning", "FailedCreate", message)
            raise
        self.recorder.event(sts, "Normal", "SuccessfulCreate", f"create {what} success")

    async def _delete(self, sts: Obj, pod: Obj) -> None:
        name = meta(pod)["name"]
        try:
            await self.client.delete("v1", "pods", name, meta(pod).get("namespace", ""))
        except errors.NotFound:
            return
        message = f"delete Pod {name} in StatefulSet {meta(sts)['name']} successful"
        self.recorder.event(sts, "Normal", "SuccessfulDelete", message)

    async def _write_status(
        self, sts: Obj, pods: list[Obj], current: str, update: str
    ) -> Requeue | None:
        status = statefulset_status(sts, pods, current, update, self.now())
        status["observedGeneration"] = meta(sts).get("generation") or 0
        if status != (sts.get("status") or {}):
            try:
                await self.client.update_status(
                    "apps/v1", "statefulsets", {**sts, "status": status}
                )
            except errors.Conflict:
                # Our previous status write is not in the cache yet: retry on the stored object.
                m = meta(sts)
                fresh = await self.client.get(
                    "apps/v1", "statefulsets", m["name"], m.get("namespace", "")
                )
                await self.client.update_status(
                    "apps/v1", "statefulsets", {**fresh, "status": status}
                )
        if status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            return Requeue(after=float((sts.get("spec") or {}).get("minReadySeconds") or 1))
        return None


def _apply_revision(sts: Obj, revision: Obj) -> Obj:
    """``sts`` with the template stored in ``revision`` (what an older Pod should look like)."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return {**sts, "spec": {**(sts.get("spec") or {}), "template": template}}
