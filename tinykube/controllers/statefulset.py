"""The StatefulSet controller: Pods with a stable name, ordinal, hostname and storage.

Pod ``<set>-<i>`` for every ordinal ``i`` in ``[start, start + replicas)``,
with hostname ``<set>-<i>`` under the governing Service (``subdomain``), the
labels ``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index``,
and a PersistentVolumeClaim ``<claim>-<set>-<i>`` per volumeClaimTemplate that
outlives the Pod. Upstream's ``stateful_set_control.go`` is followed step by
step, one step per sync:

1. Pods that failed or succeeded are deleted (and recreated next);
2. a missing Pod is created (claims first); with ``OrderedReady`` the sync
   stops there until that Pod is Running and Ready, so ordinal ``i+1`` never
   starts before ``i`` is up; ``Parallel`` creates them all at once;
3. Pods above the replica count are deleted, highest ordinal first, one at a
   time for ``OrderedReady``;
4. RollingUpdate: the highest-ordinal Pod at or above ``partition`` that runs
   an old revision is deleted (recreated at the new revision by step 2),
   once every Pod is healthy. ``OnDelete`` waits for users to delete Pods.

Revisions are ControllerRevisions (``controllers.history``); a Pod's
``controller-revision-hash`` label holds the *name* of its revision, and
``status.currentRevision``/``updateRevision`` name the old and new ones until
the rollout completes.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api.selectors import SelectorError, label_selector_as_selector
from tinykube.controllers import history
from tinykube.controllers.podutil import controller_ref, is_pod_available, is_pod_ready, meta
from tinykube.controllers.refmanager import claim, new_controller_ref
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "statefulset-controller"  # upstream --controllers name; alias "statefulset"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = history.HASH_LABEL


# ---- pure decisions ----------------------------------------------------------------------


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replicas_of(sts: Obj) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """The ordinal in ``<set>-<i>``, or None for a Pod that is not named like ours."""
    match = re.fullmatch(rf"{re.escape(meta(sts)['name'])}-(\d+)", meta(pod).get("name", ""))
    return int(match.group(1)) if match else None


def pod_revision(pod: Obj) -> str:
    return (meta(pod).get("labels") or {}).get(REVISION_LABEL, "")


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod)


def is_terminating(pod: Obj) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def is_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{meta(template)['name']}-{meta(sts)['name']}-{ordinal}"


def new_claims(sts: Obj, ordinal: int) -> list[Obj]:
    """The PersistentVolumeClaims of one ordinal, from the volumeClaimTemplates."""
    selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claims = []
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        labels = {**(meta(template).get("labels") or {}), **selector_labels}
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": claim_name(template, sts, ordinal),
                    "namespace": meta(sts).get("namespace"),
                    "labels": labels,
                },
                "spec": copy.deepcopy(template.get("spec") or {}),
            }
        )
    return claims


def new_pod(sts: Obj, revision_sts: Obj, revision_name: str, ordinal: int) -> Obj:
    """Pod ``<set>-<ordinal>`` from ``revision_sts``'s template, with identity and storage."""
    template = (revision_sts.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    name = f"{meta(sts)['name']}-{ordinal}"
    labels = {
        **(tmeta.get("labels") or {}),
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
        REVISION_LABEL: revision_name,
    }
    spec = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = name
    if (sts.get("spec") or {}).get("serviceName"):
        spec["subdomain"] = sts["spec"]["serviceName"]
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in _claim_names(sts)]
    for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        claim_ref = {"claimName": claim_name(tmpl, sts, ordinal)}
        volumes.append({"name": meta(tmpl)["name"], "persistentVolumeClaim": claim_ref})
    if volumes:
        spec["volumes"] = volumes
    pod_meta: Obj = {
        "name": name,
        "namespace": meta(sts).get("namespace"),
        "labels": labels,
        "ownerReferences": [new_controller_ref(sts, "apps/v1", "StatefulSet")],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = copy.deepcopy(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _claim_names(sts: Obj) -> set[str]:
    return {
        meta(t).get("name", "") for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    }


def partition_of(sts: Obj) -> int:
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)


def update_strategy(sts: Obj) -> str:
    return ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")


def is_monotonic(sts: Obj) -> bool:
    return (sts.get("spec") or {}).get("podManagementPolicy", "OrderedReady") != "Parallel"


@dataclass
class Step:
    """What one sync does: Pods to create (by ordinal) and Pods to delete."""

    create: list[int] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def plan(sts: Obj, pods: list[Obj], update_revision: str, now: datetime) -> Step:
    """The next step of upstream updateStatefulSet (see the module docstring)."""
    wanted, condemned = _by_ordinal(sts, pods)
    step = Step()
    if _fill(sts, wanted, step, now) or _shrink(sts, condemned, step):
        return step  # OrderedReady: one thing at a time
    if step.create or step.delete or update_strategy(sts) != "RollingUpdate":
        return step
    _roll(sts, wanted, update_revision, step)
    return step


def _by_ordinal(sts: Obj, pods: list[Obj]) -> tuple[dict[int, Obj], list[Obj]]:
    """(Pods by ordinal within the replica range, Pods above or below it)."""
    start, count = start_ordinal(sts), replicas_of(sts)
    wanted: dict[int, Obj] = {}
    condemned: list[Obj] = []
    for pod in pods:
        ordinal = ordinal_of(sts, pod)
        if ordinal is not None and start <= ordinal < start + count:
            wanted[ordinal] = pod
        elif ordinal is not None:
            condemned.append(pod)
    return wanted, condemned


def _fill(sts: Obj, wanted: dict[int, Obj], step: Step, now: datetime) -> bool:
    """Steps 1-2: replace finished Pods, create missing ones; True means stop here."""
    monotonic = is_monotonic(sts)
    min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
    for ordinal in range(start_ordinal(sts), start_ordinal(sts) + replicas_of(sts)):
        pod = wanted.get(ordinal)
        if pod is None:
            step.create.append(ordinal)
        elif is_finished(pod) and not is_terminating(pod):
            step.delete.append(pod)  # replaced on a later sync, once it is gone
        elif _healthy(pod, min_ready, now):
            continue
        if monotonic:
            return True  # OrderedReady: wait for this ordinal before the next
    return False


def _healthy(pod: Obj, min_ready: int, now: datetime) -> bool:
    return (
        not is_terminating(pod)
        and is_running_and_ready(pod)
        and is_pod_available(pod, min_ready, now)
    )


def _shrink(sts: Obj, condemned: list[Obj], step: Step) -> bool:
    """Step 3: delete Pods above the replica count, highest ordinal first."""
    monotonic = is_monotonic(sts)
    for pod in sorted(condemned, key=lambda p: -(ordinal_of(sts, p) or 0)):
        if not is_terminating(pod):
            step.delete.append(pod)
        if monotonic:
            return True
    return False


def _roll(sts: Obj, wanted: dict[int, Obj], update_revision: str, step: Step) -> None:
    """Step 4: delete the highest old-revision Pod at or above the partition."""
    start, count = start_ordinal(sts), replicas_of(sts)
    for ordinal in range(start + count - 1, start + max(partition_of(sts), 0) - 1, -1):
        pod = wanted[ordinal]
        if pod_revision(pod) != update_revision and not is_terminating(pod):
            step.delete.append(pod)
            return
        if not (is_running_and_ready(pod) and not is_terminating(pod)):
            return


def statefulset_status(sts: Obj, pods: list[Obj], current: str, update: str, now: datetime) -> Obj:
    """Counts by readiness and revision; the rollout completes when all run ``update``."""
    min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
    live = [p for p in pods if ordinal_of(sts, p) is not None and not is_terminating(p)]
    status: Obj = {
        "replicas": len(live),
        "readyReplicas": sum(is_running_and_ready(p) for p in live),
        "availableReplicas": sum(
            is_running_and_ready(p) and is_pod_available(p, min_ready, now) for p in live
        ),
        "currentReplicas": sum(pod_revision(p) == current for p in live),
        "updatedReplicas": sum(pod_revision(p) == update for p in live),
        "currentRevision": current,
        "updateRevision": update,
    }
    done = (
        status["updatedReplicas"]
        == status["replicas"]
        == status["readyReplicas"]
        == replicas_of(sts)
    )
    if update_strategy(sts) == "RollingUpdate" and done:
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = update
    old = sts.get("status") or {}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    return {k: v for k, v in status.items() if v or k == "replicas"}


# ---- the controller ---------------------------------------------------------------------------


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
        for body in new_claims(sts, ordinal):
            if self.claims.get_by_name(namespace, body["metadata"]["name"]) is None:
                with contextlib.suppress(errors.AlreadyExists):  # a stale cache
                    await self.client.create("v1", "persistentvolumeclaims", body, namespace)
        template_owner = _apply_revision(sts, revision)
        body = new_pod(sts, template_owner, meta(revision)["name"], ordinal)
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


def new(ctx: ControllerContext) -> StatefulSetController:
    """The factory the controller manager calls for ``--controllers=statefulset-controller``."""
    return StatefulSetController(ctx)
