"""The DaemonSet controller: one daemon Pod on every node that should run one.

Per key, as upstream's ``syncDaemonSet``:

    claim Pods and ControllerRevisions ─► current revision (hash)
    expectations pending? ─► status only
    manage: for each node, create the missing daemon Pod / delete extra,
            failed and misplaced ones                         (util.pods_should_be_on_node)
    RollingUpdate: replace old Pods within maxUnavailable/maxSurge  (update.rolling_update_plan)
    trim history, write status                                (util.daemon_status)

Node events wake every DaemonSet: a node added, relabelled, tainted or
cordoned can change where daemons belong. Pods are created with a required
node affinity for their node and left for the scheduler to bind, as upstream
does since the ScheduleDaemonSetPods change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api.selectors import Selector, SelectorError, label_selector_as_selector
from tinykube.client.informers import key_of
from tinykube.controllers import history
from tinykube.controllers.daemonset import update
from tinykube.controllers.daemonset.util import (
    HASH_LABEL,
    daemon_pod_template,
    daemon_status,
    pin_to_node,
    pods_should_be_on_node,
    target_node,
)
from tinykube.controllers.expectations import Expectations
from tinykube.controllers.podutil import controller_ref, meta, pod_key
from tinykube.controllers.refmanager import claim, new_controller_ref
from tinykube.controllers.replicasetutil import slow_start_batches
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BURST_REPLICAS = 250
FAILED_POD_BACKOFF = (1.0, 900.0)  # seconds: first delay, cap


class DaemonSetController(Controller[str]):
    """Keeps one daemon Pod per eligible node, and rolls them to new templates."""

    name = "daemonset-controller"
    default_workers = 2
    workers_flag = "concurrent-daemonset-syncs"

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.recorder = ctx.recorder(self.name)
        self.expectations = Expectations(ctx.clock)
        self._failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}
        self.sets = self.informer("apps/v1", "daemonsets")
        self.pods = self.informer("v1", "pods")
        self.nodes = self.informer("v1", "nodes")
        self.revisions = self.informer("apps/v1", "controllerrevisions")
        self.sets.add_handler(
            on_add=self.enqueue,
            on_update=lambda _o, n: self.enqueue(n),
            on_delete=self._set_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )
        self.nodes.add_handler(
            on_add=self._enqueue_all, on_update=self._node_updated, on_delete=self._enqueue_all
        )

    # ---- handlers ----

    def _set_deleted(self, ds: Obj) -> None:
        key = key_of(ds)
        self.expectations.delete(key)
        self._failed_backoff = {k: v for k, v in self._failed_backoff.items() if k[0] != key}
        self.enqueue(ds)

    def _enqueue_all(self, _obj: Obj) -> None:
        for ds in self.sets.list():
            self.enqueue(ds)

    def _node_updated(self, old: Obj, cur: Obj) -> None:
        relevant = (meta(old).get("labels"), old.get("spec"))
        if relevant != (meta(cur).get("labels"), cur.get("spec")):
            self._enqueue_all(cur)

    def _owner(self, pod: Obj) -> Obj | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        ds = self.sets.get_by_name(meta(pod).get("namespace", ""), ref.get("name", ""))
        return ds if ds is not None and meta(ds).get("uid") == ref.get("uid") else None

    def _pod_added(self, pod: Obj) -> None:
        if meta(pod).get("deletionTimestamp"):
            self._pod_deleted(pod)
        elif (ds := self._owner(pod)) is not None:
            self.expectations.creation_observed(key_of(ds))
            self.enqueue(ds)
        elif controller_ref(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return
        if meta(cur).get("deletionTimestamp"):
            self._pod_deleted(cur)
        elif (ds := self._owner(cur)) is not None:
            self.enqueue(ds)
        elif controller_ref(cur) is None:
            self._enqueue_matching(cur)

    def _pod_deleted(self, pod: Obj) -> None:
        if (ds := self._owner(pod)) is not None:
            self.expectations.deletion_observed(key_of(ds), pod_key(pod))
            self.enqueue(ds)

    def _enqueue_matching(self, pod: Obj) -> None:
        for ds in self.sets.list(meta(pod).get("namespace", "")):
            try:
                selector = label_selector_as_selector((ds.get("spec") or {}).get("selector"))
            except SelectorError:
                continue
            if not selector.empty and selector.matches(meta(pod).get("labels")):
                self.enqueue(ds)

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Requeue | None:
        ds = self.sets.get(key)
        if ds is None:
            self.expectations.delete(key)
            return None
        spec = ds.get("spec") or {}
        if spec.get("selector") == {} or meta(ds).get("deletionTimestamp"):
            return None
        try:
            selector = label_selector_as_selector(spec.get("selector"))
        except SelectorError as exc:
            log.warning("controller=%s key=%s invalid selector: %s", self.name, key, exc)
            return None
        revisions = await self._claim("controllerrevisions", self.revisions.list, ds, selector)
        try:
            current, old = await history.construct_history(self.client, ds, "DaemonSet", revisions)
        except history.HashCollision:
            await history.bump_collision_count(self.client, "apps/v1", "daemonsets", ds)
            raise
        hash_ = (meta(current).get("labels") or {}).get(HASH_LABEL, "")
        nodes = self.nodes.list()
        by_node = self._pods_by_node(await self._claim("pods", self.pods.list, ds, selector))
        backoff: float | None = None
        if self.expectations.satisfied(key):
            backoff = await self._manage(ds, nodes, by_node, hash_)
            if self.expectations.satisfied(key) and _rolling(ds):
                delete, create = update.rolling_update_plan(ds, nodes, by_node, hash_, self.now())
                await self._sync_nodes(ds, delete, create, hash_)
            live = {
                (meta(p).get("labels") or {}).get(HASH_LABEL) for ps in by_node.values() for p in ps
            }
            await history.cleanup_history(
                self.client, ds, old, lambda rev: _revision_hash(rev) in live
            )
        requeue = await self._update_status(ds, nodes, by_node, hash_)
        if backoff is not None and (requeue is None or backoff < requeue.after):
            return Requeue(after=backoff)
        return requeue

    async def _claim(
        self, resource: str, lister: Callable[..., list[Obj]], ds: Obj, selector: Selector
    ) -> list[Obj]:
        version = "v1" if resource == "pods" else "apps/v1"
        ref = new_controller_ref(ds, "apps/v1", "DaemonSet")
        candidates = lister(meta(ds).get("namespace", ""))
        return await claim(self.client, version, resource, ds, ref, selector, candidates)

    def _pods_by_node(self, pods: list[Obj]) -> dict[str, list[Obj]]:
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            terminal = (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")
            if terminal and meta(pod).get("deletionTimestamp"):
                continue
            by_node.setdefault(target_node(pod), []).append(pod)
        return by_node

    async def _manage(
        self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str
    ) -> float | None:
        """Create missing and delete extra daemon Pods; seconds to wait for a failed-Pod backoff."""
        create: list[str] = []
        delete: list[Obj] = []
        wait: float | None = None
        now = self.now()
        for node in nodes:
            name = meta(node).get("name", "")
            needs, extra = pods_should_be_on_node(node, by_node.get(name, []), ds, hash_, now)
            if needs:
                create.append(name)
            for pod in extra:
                if (pod.get("status") or {}).get("phase") == "Failed":
                    left = self._failed_pod_backoff(key_of(ds), name)
                    if left is not None:
                        wait = left if wait is None else min(wait, left)
                        continue
                delete.append(pod)
        known = {meta(n).get("name") for n in nodes}
        for name, pods in by_node.items():
            if name not in known:  # Pods pinned to nodes that no longer exist
                delete.extend(p for p in pods if not meta(p).get("deletionTimestamp"))
        await self._sync_nodes(ds, delete, create, hash_)
        return wait

    def _failed_pod_backoff(self, key: str, node: str) -> float | None:
        """None when a failed daemon Pod on ``node`` may be replaced now, else seconds to wait.

        A Pod that fails at once (the kubelet rejects it) would otherwise be
        deleted and recreated in a hot loop; upstream backs off per node, 1 s
        doubling to 15 min.
        """
        now = self.ctx.clock.now()
        delay, allowed_at = self._failed_backoff.get((key, node), (0.0, 0.0))
        if now < allowed_at:
            return allowed_at - now
        delay = min(max(delay * 2, FAILED_POD_BACKOFF[0]), FAILED_POD_BACKOFF[1])
        self._failed_backoff[(key, node)] = (delay, now + delay)
        return None

    async def _sync_nodes(self, ds: Obj, delete: list[Obj], create: list[str], hash_: str) -> None:
        if not delete and not create:
            return
        key = key_of(ds)
        create, delete = create[:BURST_REPLICAS], delete[:BURST_REPLICAS]
        self.expectations.expect_creations(key, len(create))
        self.expectations.expect_deletions(key, [pod_key(p) for p in delete])
        template = daemon_pod_template(ds, hash_)
        failures = await self._create_on(ds, template, create)
        results = await asyncio.gather(
            *(self._delete_pod(ds, p) for p in delete), return_exceptions=True
        )
        for pod, result in zip(delete, results, strict=True):
            if isinstance(result, BaseException):
                self.expectations.deletion_observed(key, pod_key(pod))
                if not isinstance(result, errors.NotFound):
                    failures.append(result)
        if failures:
            raise failures[0]

    async def _create_on(self, ds: Obj, template: Obj, nodes: list[str]) -> list[BaseException]:
        key = key_of(ds)
        created, index = 0, 0
        failures: list[BaseException] = []
        for size in slow_start_batches(len(nodes)):
            batch = nodes[index : index + size]
            index += size
            results = await asyncio.gather(
                *(self._create_pod(ds, template, n) for n in batch), return_exceptions=True
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            created += len(batch) - len(failures)
            if failures:
                break
        for _ in range(len(nodes) - created):
            self.expectations.creation_observed(key)
        return failures

    async def _create_pod(self, ds: Obj, template: Obj, node: str) -> None:
        tmeta = template.get("metadata") or {}
        spec = dict(template.get("spec") or {})
        spec["affinity"] = dict(spec.get("affinity") or {})
        pin_to_node(spec, node)
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{meta(ds)['name']}-",
                "labels": tmeta.get("labels") or {},
                "ownerReferences": [new_controller_ref(ds, "apps/v1", "DaemonSet")],
            },
            "spec": spec,
        }
        if tmeta.get("annotations"):
            body["metadata"]["annotations"] = tmeta["annotations"]
        try:
            pod = await self.client.create("v1", "pods", body, meta(ds).get("namespace", ""))
        except errors.APIError as exc:
            self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {exc.message}")
            raise
        self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {meta(pod)['name']}")

    async def _delete_pod(self, ds: Obj, pod: Obj) -> None:
        m = meta(pod)
        if (pod.get("status") or {}).get("phase") == "Failed":
            message = f"Found failed daemon pod {m['namespace']}/{m['name']} on node {target_node(pod)}, will try to kill it"
            self.recorder.event(ds, "Warning", "FailedDaemonPod", message)
        try:
            await self.client.delete("v1", "pods", m["name"], m.get("namespace", ""))
        except errors.NotFound:
            raise
        except errors.APIError as exc:
            self.recorder.event(ds, "Warning", "FailedDelete", f"Error deleting: {exc.message}")
            raise
        self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {m['name']}")

    async def _update_status(
        self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str
    ) -> Requeue | None:
        status = daemon_status(ds, nodes, by_node, hash_, self.now())
        status["observedGeneration"] = meta(ds).get("generation") or 0
        if status != (ds.get("status") or {}):
            try:
                await self.client.update_status("apps/v1", "daemonsets", {**ds, "status": status})
            except errors.Conflict:
                # Our previous status write is not in the cache yet: retry on the stored object.
                m = meta(ds)
                fresh = await self.client.get(
                    "apps/v1", "daemonsets", m["name"], m.get("namespace", "")
                )
                await self.client.update_status(
                    "apps/v1", "daemonsets", {**fresh, "status": status}
                )
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and status.get("numberReady") != status.get("numberAvailable", 0):
            return Requeue(after=float(min_ready))
        return None


def _rolling(ds: Obj) -> bool:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    return strategy.get("type", "RollingUpdate") == "RollingUpdate"


def _revision_hash(rev: Obj) -> str | None:
    return (meta(rev).get("labels") or {}).get(HASH_LABEL)
