"""The ReplicaSet controller: keep ``spec.replicas`` live Pods matching the selector.

One implementation serves ReplicaSets (apps/v1) and ReplicationControllers
(v1), as upstream's ``pkg/controller/replicaset`` serves both: the two kinds
differ only in their API coordinates and in how the selector is written (a
LabelSelector versus a plain label map), which :class:`Kind` captures.

Data flow, as in ``replica_set.go``:

    ReplicaSet events ──► key ─┐
    Pod events ──► owner's key ─┴─► queue ──► reconcile(key)
                                                 │ claim Pods (adopt orphans, release strays)
                                                 │ create / delete the difference
                                                 └ write status

Writes run ahead of the cache: Pods this controller created are not in the
informer yet when the next sync runs. ``Expectations`` records what is in
flight and the sync does not create or delete while any of it is unseen, so
it never over-creates. Creation goes in slow-start batches (1, 2, 4, ...):
when every create fails (a quota, an admission webhook) the controller finds
out after one request instead of five hundred.

The decisions (status, batch sizes, the Pod body) are pure functions in
``replicasetutil``, and which Pods to delete in ``podutil``, so unit tests
call them with dicts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from tinykube.api import errors
from tinykube.api.selectors import Selector, SelectorError
from tinykube.client.informers import key_of
from tinykube.controllers.expectations import Expectations
from tinykube.controllers.podutil import (
    controller_ref,
    is_pod_active,
    meta,
    pod_key,
    pods_to_delete,
)
from tinykube.controllers.refmanager import claim, new_controller_ref
from tinykube.controllers.replicasetutil import (
    FAILED_CREATE,
    FAILED_DELETE,
    REPLICA_SET,
    REPLICATION_CONTROLLER,
    Kind,
    availability_requeue,
    pod_from_template,
    replica_set_status,
    replicas_of,
    slow_start_batches,
    status_needs_update,
)
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "replicaset-controller"  # upstream --controllers name; alias "replicaset"
# At most this many creations or deletions per sync (upstream BurstReplicas).
BURST_REPLICAS = 500
SUCCESSFUL_CREATE = "SuccessfulCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"

__all__ = [
    "NAME",
    "REPLICATION_CONTROLLER",
    "REPLICA_SET",
    "Kind",
    "ReplicaSetController",
    "availability_requeue",
    "new",
    "pod_from_template",
    "replica_set_status",
    "slow_start_batches",
    "status_needs_update",
]


# ---- the controller ----------------------------------------------------------------


class ReplicaSetController(Controller[str]):
    """Keeps the live Pods owned by each ReplicaSet equal in number to spec.replicas."""

    name = "replicaset-controller"
    kind: ClassVar[Kind] = REPLICA_SET
    default_workers = 5
    workers_flag = "concurrent-replicaset-syncs"

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.recorder = ctx.recorder(self.name)
        self.expectations = Expectations(ctx.clock)
        self.sets = self.informer(self.kind.api_version, self.kind.resource)
        self.pods = self.informer("v1", "pods")
        self.sets.add_handler(
            on_add=self.enqueue,
            on_update=lambda _old, new: self.enqueue(new),
            on_delete=self._set_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # ---- event handlers: only compute keys ----

    def _set_deleted(self, rs: Obj) -> None:
        self.expectations.delete(key_of(rs))
        self.enqueue(rs)

    def _owner_of(self, pod: Obj, ref: Obj | None) -> Obj | None:
        """The cached set a controller ref points at, if it is one of ours and still the same."""
        if ref is None or ref.get("kind") != self.kind.kind:
            return None
        owner = self.sets.get_by_name(meta(pod).get("namespace", ""), ref.get("name", ""))
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            return None
        return owner

    def _matching_sets(self, pod: Obj) -> list[Obj]:
        found = []
        for rs in self.sets.list(meta(pod).get("namespace", "")):
            try:
                selector = self.kind.selector(rs)
            except SelectorError:
                continue
            if not selector.empty and selector.matches(meta(pod).get("labels")):
                found.append(rs)
        return found

    def _pod_added(self, pod: Obj) -> None:
        if meta(pod).get("deletionTimestamp"):
            # Restarted controller meeting a Pod already being deleted: count it gone.
            self._pod_deleted(pod)
            return
        owner = self._owner_of(pod, controller_ref(pod))
        if owner is not None:
            self.expectations.creation_observed(key_of(owner))
            self.enqueue(owner)
        elif controller_ref(pod) is None:
            for rs in self._matching_sets(pod):
                self.enqueue(rs)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return  # a resync: the set informer's own events cover it
        labels_changed = meta(old).get("labels") != meta(cur).get("labels")
        if meta(cur).get("deletionTimestamp"):
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_ref, cur_ref = controller_ref(old), controller_ref(cur)
        ref_changed = (old_ref or {}).get("uid") != (cur_ref or {}).get("uid")
        if ref_changed and (previous := self._owner_of(old, old_ref)) is not None:
            self.enqueue(previous)
        if cur_ref is not None:
            if (owner := self._owner_of(cur, cur_ref)) is not None:
                self.enqueue(owner)
            return
        if labels_changed or ref_changed:
            for rs in self._matching_sets(cur):
                self.enqueue(rs)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._owner_of(pod, controller_ref(pod))
        if owner is not None:
            self.expectations.deletion_observed(key_of(owner), pod_key(pod))
            self.enqueue(owner)

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Requeue | None:
        rs = self.sets.get(key)
        if rs is None:
            self.expectations.delete(key)
            return None  # gone; the garbage collector deletes its Pods
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.kind.selector(rs)
        except SelectorError as exc:
            log.warning("controller=%s key=%s invalid selector: %s", self.name, key, exc)
            return None
        pods = await self._claim_pods(rs, selector)
        failure: errors.APIError | None = None
        if needs_sync and not meta(rs).get("deletionTimestamp"):
            try:
                await self._manage_replicas(rs, pods)
            except errors.APIError as exc:
                failure = exc  # still write status (ReplicaFailure), then retry
        now = self.now()
        status = replica_set_status(rs, pods, failure.message if failure else None, now)
        await self._update_status(rs, status)
        if failure is not None:
            raise failure
        wait = availability_requeue(rs, pods, now)
        return Requeue(after=wait + 0.05) if wait is not None else None

    async def _claim_pods(self, rs: Obj, selector: Selector) -> list[Obj]:
        namespace = meta(rs).get("namespace", "")
        candidates = [p for p in self.pods.list(namespace) if is_pod_active(p)]
        ref = new_controller_ref(rs, self.kind.api_version, self.kind.kind)
        return await claim(self.client, "v1", "pods", rs, ref, selector, candidates)

    async def _manage_replicas(self, rs: Obj, pods: list[Obj]) -> None:
        diff = len(pods) - replicas_of(rs)
        if diff < 0:
            await self._create_pods(rs, min(-diff, BURST_REPLICAS))
        elif diff > 0:
            await self._delete_pods(rs, pods, min(diff, BURST_REPLICAS))

    async def _create_pods(self, rs: Obj, count: int) -> None:
        key = key_of(rs)
        self.expectations.expect_creations(key, count)
        body = pod_from_template(rs, self.kind)
        created = 0
        failure: BaseException | None = None
        for size in slow_start_batches(count):
            results = await asyncio.gather(
                *(self._create_pod(rs, body) for _ in range(size)), return_exceptions=True
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            created += size - len(failures)
            if failures:
                failure = failures[0]
                break
        # Pods never created will never be observed: stop expecting them.
        for _ in range(count - created):
            self.expectations.creation_observed(key)
        if failure is not None:
            raise failure

    async def _create_pod(self, rs: Obj, body: Obj) -> None:
        namespace = meta(rs).get("namespace", "")
        try:
            pod = await self.client.create("v1", "pods", body, namespace)
        except errors.Forbidden as exc:
            if _namespace_terminating(exc):
                return  # the namespace is going away; creating nothing is right
            self.recorder.event(rs, "Warning", FAILED_CREATE, f"Error creating: {exc.message}")
            raise
        except errors.APIError as exc:
            self.recorder.event(rs, "Warning", FAILED_CREATE, f"Error creating: {exc.message}")
            raise
        name = meta(pod).get("name")
        self.recorder.event(rs, "Normal", SUCCESSFUL_CREATE, f"Created pod: {name}")

    async def _delete_pods(self, rs: Obj, pods: list[Obj], count: int) -> None:
        key = key_of(rs)
        victims = pods_to_delete(pods, self._related_pods(rs), count, self.now())
        self.expectations.expect_deletions(key, [pod_key(p) for p in victims])
        results = await asyncio.gather(
            *(self._delete_pod(rs, p) for p in victims), return_exceptions=True
        )
        failure: BaseException | None = None
        for pod, result in zip(victims, results, strict=True):
            if isinstance(result, BaseException):
                self.expectations.deletion_observed(key, pod_key(pod))
                if not isinstance(result, errors.NotFound):
                    failure = failure or result
        if failure is not None:
            raise failure

    async def _delete_pod(self, rs: Obj, pod: Obj) -> None:
        m = meta(pod)
        try:
            await self.client.delete("v1", "pods", m["name"], m.get("namespace", ""))
        except errors.NotFound:
            raise
        except errors.APIError as exc:
            self.recorder.event(rs, "Warning", FAILED_DELETE, f"Error deleting: {exc.message}")
            raise
        self.recorder.event(rs, "Normal", SUCCESSFUL_DELETE, f"Deleted pod: {m['name']}")

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every set sharing ``rs``'s controller (the Deployment's whole family)."""
        ref = controller_ref(rs)
        namespace = meta(rs).get("namespace", "")
        family = [rs]
        if ref is not None:
            family = [
                s
                for s in self.sets.list(namespace)
                if (controller_ref(s) or {}).get("uid") == ref.get("uid")
            ]
        seen: dict[str, Obj] = {}
        for member in family:
            try:
                selector = self.kind.selector(member)
            except SelectorError:
                continue
            for pod in self.pods.list(namespace):
                if selector.matches(meta(pod).get("labels")):
                    seen.setdefault(meta(pod).get("uid", ""), pod)
        return list(seen.values())

    async def _update_status(self, rs: Obj, status: Obj) -> Obj:
        if not status_needs_update(rs, status):
            return rs
        status["observedGeneration"] = meta(rs).get("generation") or 0
        body = {**rs, "status": status}
        try:
            return await self.client.update_status(self.kind.api_version, self.kind.resource, body)
        except errors.Conflict:
            # The cache was stale; retry once on the stored object, as upstream does.
            m = meta(rs)
            fresh = await self.client.get(
                self.kind.api_version, self.kind.resource, m["name"], m.get("namespace", "")
            )
            fresh["status"] = status
            return await self.client.update_status(self.kind.api_version, self.kind.resource, fresh)


def _namespace_terminating(exc: errors.APIError) -> bool:
    return any(c.reason == "NamespaceTerminating" for c in exc.causes)


def new(ctx: ControllerContext) -> ReplicaSetController:
    """The factory the controller manager calls for ``--controllers=replicaset-controller``."""
    return ReplicaSetController(ctx)
