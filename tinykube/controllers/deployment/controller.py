"""The Deployment controller: informers, event handlers and the per-key dispatch.

A Deployment is reconciled through ReplicaSets it owns, never through Pods
directly. ``reconcile`` reads the Deployment and claims its ReplicaSets (adopt
matching orphans, release ones that stopped matching), then dispatches as
upstream's ``syncDeployment`` does, one step per sync:

    being deleted ──► status only
    paused ─────────► sync (scale, clean up, status)       sync.py
    rollback asked ─► rollback                              rollback.py
    replicas changed► sync (proportional scaling)           sync.py
    Recreate ───────► rollout_recreate                      recreate.py
    RollingUpdate ──► rollout_rolling                       rolling.py
                                                            progress.py: status, conditions

ReplicaSet events wake the owning Deployment (or, for an orphan, every
Deployment whose selector matches); Pod deletions wake it too, which the
Recreate strategy waits for. Nothing here writes Pods: the ReplicaSet
controller does.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from tinykube.api.selectors import Selector, SelectorError, label_selector_as_selector
from tinykube.controllers.deployment import progress, recreate, rollback, rolling, sync, util
from tinykube.controllers.deployment.util import Obj, meta, spec, status
from tinykube.controllers.podutil import controller_ref
from tinykube.controllers.refmanager import claim, new_controller_ref
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

SELECTING_ALL = "SelectingAll"


class DeploymentController(Controller[str]):
    """Rolls each Deployment's Pods forward through ReplicaSets, one step per sync."""

    name = "deployment-controller"
    default_workers = 5
    workers_flag = "concurrent-deployment-syncs"

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.recorder = ctx.recorder(self.name)
        self.deployments = self.informer("apps/v1", "deployments")
        self.sets = self.informer("apps/v1", "replicasets")
        self.pods = self.informer("v1", "pods")
        self.deployments.add_handler(
            on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n), on_delete=self.enqueue
        )
        self.sets.add_handler(
            on_add=self._set_added, on_update=self._set_updated, on_delete=self._set_deleted
        )
        self.pods.add_handler(on_delete=self._pod_deleted)

    # ---- event handlers ----

    def _owner_of(self, obj: Obj) -> Obj | None:
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get_by_name(meta(obj).get("namespace", ""), ref.get("name", ""))
        return d if d is not None and meta(d).get("uid") == ref.get("uid") else None

    def _matching(self, rs: Obj) -> list[Obj]:
        found = []
        for d in self.deployments.list(meta(rs).get("namespace", "")):
            try:
                selector = label_selector_as_selector(spec(d).get("selector"))
            except SelectorError:
                continue
            if not selector.empty and selector.matches(meta(rs).get("labels")):
                found.append(d)
        return found

    def _set_added(self, rs: Obj) -> None:
        owner = self._owner_of(rs)
        if owner is not None:
            self.enqueue(owner)
        elif controller_ref(rs) is None:
            for d in self._matching(rs):
                self.enqueue(d)

    def _set_updated(self, old: Obj, cur: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return
        old_ref, cur_ref = controller_ref(old), controller_ref(cur)
        ref_changed = (old_ref or {}).get("uid") != (cur_ref or {}).get("uid")
        if ref_changed and (previous := self._owner_of(old)) is not None:
            self.enqueue(previous)
        if cur_ref is not None:
            if (owner := self._owner_of(cur)) is not None:
                self.enqueue(owner)
            return
        if ref_changed or meta(old).get("labels") != meta(cur).get("labels"):
            for d in self._matching(cur):
                self.enqueue(d)

    def _set_deleted(self, rs: Obj) -> None:
        if (owner := self._owner_of(rs)) is not None:
            self.enqueue(owner)

    def _pod_deleted(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.sets.get_by_name(meta(pod).get("namespace", ""), ref.get("name", ""))
        if rs is not None and (owner := self._owner_of(rs)) is not None:
            self.enqueue(owner)

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.deployments.get(key)
        if cached is None:
            return None  # deleted; the garbage collector removes its ReplicaSets
        d = copy.deepcopy(cached)  # the sync steps update this copy as they write
        if spec(d).get("selector") == {}:
            await self._selecting_all(d)
            return None
        try:
            selector = label_selector_as_selector(spec(d).get("selector"))
        except SelectorError as exc:
            log.warning("controller=%s key=%s invalid selector: %s", self.name, key, exc)
            return None
        sets = await self._claim_replica_sets(d, selector)
        if meta(d).get("deletionTimestamp"):
            new_rs, old = await sync.get_all_replica_sets(self, d, sets, create=False)
            await sync.sync_deployment_status(self, [*old, *_some(new_rs)], new_rs, d)
            return None
        await self._check_paused_conditions(d)
        return await self._dispatch(d, sets, selector)

    async def _dispatch(self, d: Obj, sets: list[Obj], selector: Selector) -> Requeue | None:
        if spec(d).get("paused"):
            await sync.sync(self, d, sets)
            return None
        if rollback.rollback_to(d) is not None:
            await rollback.rollback(self, d, sets)
            return None
        if sync.is_scaling_event(d, sets):
            await sync.sync(self, d, sets)
            return None
        if not util.is_rolling(d):
            pods = self._pods_by_replica_set(d, sets, selector)
            return await recreate.rollout_recreate(self, d, sets, pods)
        return await rolling.rollout_rolling(self, d, sets)

    async def _claim_replica_sets(self, d: Obj, selector: Selector) -> list[Obj]:
        candidates = self.sets.list(meta(d).get("namespace", ""))
        ref = new_controller_ref(d, "apps/v1", "Deployment")
        return await claim(self.client, "apps/v1", "replicasets", d, ref, selector, candidates)

    def _pods_by_replica_set(
        self, d: Obj, sets: list[Obj], selector: Selector
    ) -> dict[str, list[Obj]]:
        by_uid: dict[str, list[Obj]] = {meta(rs).get("uid", ""): [] for rs in sets}
        for pod in self.pods.list(meta(d).get("namespace", "")):
            ref = controller_ref(pod)
            if (
                ref is not None
                and ref.get("uid") in by_uid
                and selector.matches(meta(pod).get("labels"))
            ):
                by_uid[ref["uid"]].append(pod)
        return by_uid

    async def _selecting_all(self, d: Obj) -> None:
        message = "This deployment is selecting all pods. A non-empty selector is required."
        self.recorder.event(d, "Warning", SELECTING_ALL, message)
        generation = int(meta(d).get("generation") or 0)
        if int(status(d).get("observedGeneration") or 0) < generation:
            d.setdefault("status", {})["observedGeneration"] = generation
            await sync.write_status(self, d)

    async def _check_paused_conditions(self, d: Obj) -> None:
        """Mark a pause or resume on the Progressing condition (upstream checkPausedConditions)."""
        cond = progress.paused_condition_change(d, self.now())
        if cond is None:
            return
        progress.set_condition(d.setdefault("status", {}), cond)
        await sync.write_status(self, d)


def _some(rs: Obj | None) -> list[Obj]:
    return [rs] if rs is not None else []
