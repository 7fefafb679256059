"""kube-scheduler: the loop that gives every pending pod a node.

Data flow::

    pods/nodes informers ──► handlers ──► Cache (nodes, bound + assumed pods)
    PVC/PV/StorageClass informers ──► StorageObjects (VolumeBinding reads them;
                                      their events requeue pods it rejected)
                                 │
                                 └──► SchedulingQueue (active / backoff / unschedulable)
                                               │ pop
                                               ▼
              schedule_one (sync): Framework.pre_filter/filter/score on the Cache
                   │ fits                                     │ no node fits
                   ▼                                          ▼
       assume in Cache, bind task ──POST pods/x/binding   PostFilter (preemption),
                   │ ok: Scheduled event                  FailedScheduling event,
                   │ error: forget, back off              PodScheduled=False, requeue

Binding runs as tasks in the scheduler's TaskGroup while the loop goes on to
the next pod; the assumed pod keeps its resources counted until the informer
confirms the binding. Only pods whose ``spec.schedulerName`` names one of the
configured profiles, without ``spec.nodeName``, without scheduling gates and
not being deleted, are queued; bound pods (any scheduler's) feed the cache.
Everything the user should see is an event or a pod condition, worded as
kube-scheduler words it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import time
from collections import deque
from typing import Any

import aiohttp

from tinykube.api import errors
from tinykube.client.clock import REAL_CLOCK, Clock
from tinykube.client.informers import InformerFactory, key_of
from tinykube.client.rest import Client
from tinykube.scheduler.cache import Cache, is_terminal, pod_key
from tinykube.scheduler.config import SchedulerConfig
from tinykube.scheduler.framework import CycleState, FitError, PodInfo, PostFilterResult
from tinykube.scheduler.queue import QueuedPod, SchedulingQueue
from tinykube.scheduler.recorder import Recorder
from tinykube.scheduler.runtime import Framework
from tinykube.scheduler.schedule_one import Algorithm
from tinykube.scheduler.spreading import OwnerSelectors

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CONTROLLER = "default-scheduler"
NO_NODES = "no nodes available to schedule pods"
PREEMPTION_REASON = "PreemptionByScheduler"
PREEMPTION_MESSAGE = "preempting to accommodate a higher priority pod"
BIND_CONCURRENCY = 64  # binding requests in flight at once
MAX_PENDING_BINDS = 512  # pods assumed but not yet bound, before the loop waits
LATENCY_SAMPLES = 100_000
# Which failed plugins an event can help (upstream's queueing hints, coarsely).
POD_ADD_HELPS = {"InterPodAffinity", "PodTopologySpread"}
VOLUME_EVENT_HELPS = {"VolumeBinding"}


class StorageObjects:
    """The framework's ``VolumeObjects``: claims, volumes and classes from informers."""

    def __init__(self, factory: InformerFactory) -> None:
        self.claims = factory.get("v1", "persistentvolumeclaims")
        self.volumes = factory.get("v1", "persistentvolumes")
        self.classes = factory.get("storage.k8s.io/v1", "storageclasses")
        self.informers = {
            "PersistentVolumeClaim": self.claims,
            "PersistentVolume": self.volumes,
            "StorageClass": self.classes,
        }

    def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.get(f"{namespace}/{name}")

    def persistent_volume(self, name: str) -> Obj | None:
        return self.volumes.get(name)

    def persistent_volumes(self) -> list[Obj]:
        return self.volumes.list()

    def storage_class(self, name: str) -> Obj | None:
        return self.classes.get(name)


def assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def profile_of(pod: Obj) -> str:
    """The profile that schedules ``pod``: its schedulerName (defaulted by the API server)."""
    return str((pod.get("spec") or {}).get("schedulerName") or CONTROLLER)


def _name(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _node_changed(old: Obj, new: Obj) -> bool:
    """Did anything the plugins read change (not just a heartbeat)?"""
    o_status, n_status = old.get("status") or {}, new.get("status") or {}
    return (
        old.get("spec") != new.get("spec")
        or (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels")
        or o_status.get("allocatable") != n_status.get("allocatable")
        or o_status.get("images") != n_status.get("images")
    )


class Scheduler:
    """Watches pods and nodes, and schedules; ``run`` until cancelled."""

    def __init__(
        self,
        client: Client,
        config: SchedulerConfig | None = None,
        *,
        factory: InformerFactory | None = None,
        clock: Clock = REAL_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.config = config or SchedulerConfig()
        self.clock = clock
        self.factory = factory or InformerFactory(client)
        self.cache = Cache(clock)
        self.queue = SchedulingQueue(clock)
        self.recorder = Recorder(client, CONTROLLER)
        self.algorithm = Algorithm(self.config.percentage_of_nodes_to_score, rng)
        self.nominated: dict[str, dict[str, PodInfo]] = {}
        self.scheduled = 0
        self.cycle_seconds = 0.0
        # Seconds from pop to a written binding, per bound pod (the attempt latency);
        # bounded so a long-running scheduler does not grow it without end.
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        # Seconds of each scheduling cycle (filter, score, select, assume), per pod.
        self.cycle_latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._bind_slots = asyncio.Semaphore(BIND_CONCURRENCY)
        self._pending_binds = asyncio.Semaphore(MAX_PENDING_BINDS)
        self._pods = self.factory.get("v1", "pods")
        self._nodes = self.factory.get("v1", "nodes")
        self._namespaces = self.factory.get("v1", "namespaces")
        self._pdbs = self.factory.get("policy/v1", "poddisruptionbudgets")
        self.storage = StorageObjects(self.factory)
        self.owners = OwnerSelectors(self.factory)
        self.frameworks = {
            p.scheduler_name: Framework(
                p,
                self.cache.snapshot,
                self._namespace_labels,
                self.owners.selector_for,
                self._nominated_on,
                lambda: bool(self.nominated),
                self._pdbs.list,
                self.storage,
            )
            for p in self.config.profiles
        }
        self._pods.add_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self._nodes.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        for kind, informer in self.storage.informers.items():
            informer.add_handler(
                lambda _obj, kind=kind: self._on_storage_change(f"{kind}Add"),
                lambda _old, _new, kind=kind: self._on_storage_change(f"{kind}Update"),
                lambda _obj, kind=kind: self._on_storage_change(f"{kind}Delete"),
            )

    # ---- plumbing for the framework handle ----

    def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        ns = self._namespaces.get(namespace)
        return None if ns is None else (ns.get("metadata") or {}).get("labels") or {}

    def _nominated_on(self, node: str) -> list[PodInfo]:
        pods = self.nominated.get(node)
        return list(pods.values()) if pods else []

    def _nominate(self, pod: Obj, node: str) -> None:
        self._clear_nomination(pod_key(pod))
        if node:
            self.nominated.setdefault(node, {})[pod_key(pod)] = PodInfo(pod)

    def _clear_nomination(self, key: str) -> None:
        for node, pods in list(self.nominated.items()):
            if pods.pop(key, None) is not None and not pods:
                del self.nominated[node]

    # ---- informer handlers: quick, synchronous, never raise ----

    def responsible(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (
            profile_of(pod) in self.frameworks
            and not spec.get("nodeName")
            and not spec.get("schedulingGates")
            and not (pod.get("metadata") or {}).get("deletionTimestamp")
            and not is_terminal(pod)
        )

    def _on_pod_add(self, pod: Obj) -> None:
        if assigned(pod):
            self.cache.add_pod(pod)
            self.queue.move_all("AssignedPodAdd", POD_ADD_HELPS)
        elif self.responsible(pod):
            nominated = (pod.get("status") or {}).get("nominatedNodeName")
            if nominated:
                self._nominate(pod, nominated)
            self.queue.add(pod)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if assigned(new):
            key = pod_key(new)
            if not assigned(old):
                self.queue.delete(new)
                self._clear_nomination(key)
            self.cache.update_pod(new)
            if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get(
                "labels"
            ) or is_terminal(new):
                self.queue.move_all(
                    "AssignedPodUpdate", POD_ADD_HELPS if not is_terminal(new) else None
                )
        elif self.responsible(new):
            if not self.cache.is_assumed(pod_key(new)):
                self.queue.update(new)
        else:
            self.queue.delete(new)

    def _on_pod_delete(self, pod: Obj) -> None:
        key = pod_key(pod)
        if assigned(pod):
            self.cache.remove_pod(pod)
            self.queue.move_all("AssignedPodDelete")
        else:
            self.queue.delete(pod)
        self._clear_nomination(key)

    def _on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all("NodeAdd")

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        if _node_changed(old, new):
            self.queue.move_all("NodeUpdate")

    def _on_node_delete(self, node: Obj) -> None:
        self.cache.remove_node(node)

    def _on_storage_change(self, event: str) -> None:
        # A claim bound, a volume made or a class added can only help VolumeBinding.
        self.queue.move_all(event, VOLUME_EVENT_HELPS)

    # ---- running ----

    async def run(self, run_informers: bool = True) -> None:
        """Schedule until cancelled. ``run_informers=False`` when the factory runs elsewhere."""
        async with asyncio.TaskGroup() as tg:
            if run_informers:
                tg.create_task(self.factory.run(), name="scheduler informers")
            await self.factory.wait_synced()
            # The synced caches are long-lived; move them out of the collector's
            # reach so full collections do not rescan them during scheduling.
            gc.freeze()
            log.info("component=scheduler caches synced nodes=%d", len(self.cache.snapshot()))
            tg.create_task(self.recorder.run(), name="scheduler events")
            tg.create_task(self._housekeeping(), name="scheduler housekeeping")
            await self._loop(tg)

    async def _housekeeping(self) -> None:
        ticks = 0
        while True:
            await self.clock.sleep(1.0)
            ticks += 1
            self.queue.flush_backoff()
            self.cache.cleanup_expired()
            if ticks % 30 == 0:
                self.queue.flush_unschedulable_leftover()

    async def _loop(self, tg: asyncio.TaskGroup) -> None:
        while True:
            # Back-pressure: with MAX_PENDING_BINDS pods assumed and not yet bound,
            # the loop waits; when the API server is the bottleneck, pods then wait
            # in the queue (where priority still orders them) instead of piling up
            # as assumptions. The slack lets cycles run in batches between I/O.
            await self._pending_binds.acquire()
            binding = False
            try:
                queued = await self.queue.pop()
                try:
                    binding = self.schedule_one(queued, tg)
                except Exception:
                    # A loop boundary: one broken pod must not stop scheduling.
                    log.exception("component=scheduler pod=%s scheduling failed", _name(queued.pod))
                    self.queue.add_unschedulable(queued, self.queue.scheduling_cycle, backoff=True)
            finally:
                if not binding:
                    self._pending_binds.release()
            # Let bindings, events and informer updates run between cycles.
            await asyncio.sleep(0)

    # ---- one pod ----

    def schedule_one(self, queued: QueuedPod, tg: asyncio.TaskGroup) -> bool:
        """One cycle; True when a binding task was started (it owns a pending slot)."""
        pod = self._pods.get(key_of(queued.pod)) or queued.pod
        if not self.responsible(pod) or self.cache.is_assumed(queued.key):
            self.queue.done(queued.key)
            return False
        queued.pod = pod
        fwk = self.frameworks[profile_of(pod)]
        cycle = self.queue.scheduling_cycle
        info = PodInfo(pod)
        state = CycleState()
        started = time.perf_counter()
        try:
            result = self.algorithm.schedule(fwk, state, info)
        except FitError as err:
            self._cycle_took(time.perf_counter() - started)
            self._fit_error(fwk, state, queued, info, err, cycle, tg)
            return False
        self._cycle_took(time.perf_counter() - started)
        self.cache.assume_pod(info, result.node)
        self._clear_nomination(queued.key)
        self.queue.done(queued.key)
        tg.create_task(self._bind(queued, info, result.node, cycle))
        return True

    def _cycle_took(self, seconds: float) -> None:
        self.cycle_seconds += seconds
        self.cycle_latencies.append(seconds)

    def _fit_error(
        self,
        fwk: Framework,
        state: CycleState,
        queued: QueuedPod,
        info: PodInfo,
        err: FitError,
        cycle: int,
        tg: asyncio.TaskGroup,
    ) -> None:
        result: PostFilterResult | None = None
        if err.num_all_nodes:
            status, result = fwk.run_post_filter(state, info, err.statuses)
            if not status.success:
                err.post_filter_msg = status.message
        queued.unschedulable_plugins = {s.plugin for s in err.statuses.values() if s.plugin}
        self.queue.add_unschedulable(queued, cycle)
        message = str(err) if err.num_all_nodes else NO_NODES
        nominated = None if result is None else result.nominated_node_name
        if result is not None and result.nominated_node_name:
            self._nominate(queued.pod, result.nominated_node_name)
            tg.create_task(self._preempt(queued.pod, result))
        log.debug("component=scheduler pod=%s unschedulable: %s", _name(queued.pod), message)
        self.recorder.event(
            queued.pod, "Warning", "FailedScheduling", "Scheduling", message, profile_of(queued.pod)
        )
        tg.create_task(self._set_unschedulable(queued.pod, "Unschedulable", message, nominated))

    # ---- API writes ----

    async def _bind(self, queued: QueuedPod, info: PodInfo, node: str, cycle: int) -> None:
        """Write the binding; the pending slot taken by the loop is given back however it ends."""
        try:
            async with self._bind_slots:
                await self._write_binding(queued, node, cycle)
        finally:
            self._pending_binds.release()

    async def _write_binding(self, queued: QueuedPod, node: str, cycle: int) -> None:
        pod = queued.pod
        meta = pod.get("metadata") or {}
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            await self.client.create_subresource(
                "v1", "pods", meta.get("name", ""), "binding", body, meta.get("namespace", "")
            )
        except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.cache.forget_pod(queued.key)
            self.queue.move_all("AssignedPodDelete")
            if isinstance(exc, errors.NotFound):
                return  # the pod is gone
            message = f'running Bind plugin "DefaultBinder": {exc}'
            log.info("component=scheduler pod=%s binding failed: %s", _name(pod), exc)
            self.queue.add_unschedulable(queued, cycle, backoff=True)
            self.recorder.event(
                pod, "Warning", "FailedScheduling", "Scheduling", message, profile_of(pod)
            )
            await self._set_unschedulable(pod, "SchedulerError", message, None)
            return
        self.cache.finish_binding(queued.key)
        self.scheduled += 1
        self.latencies.append(self.clock.now() - queued.popped)
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        self.recorder.event(
            pod,
            "Normal",
            "Scheduled",
            "Binding",
            f"Successfully assigned {ns}/{name} to {node}",
            profile_of(pod),
        )

    async def _set_unschedulable(
        self, pod: Obj, reason: str, message: str, nominated: str | None
    ) -> None:
        """PodScheduled=False with the reason and message; and the nomination, if any."""
        status = pod.get("status") or {}
        for cond in status.get("conditions") or []:
            if (
                cond.get("type") == "PodScheduled"
                and cond.get("status") == "False"
                and cond.get("reason") == reason
                and cond.get("message") == message
                and (nominated is None or status.get("nominatedNodeName", "") == nominated)
            ):
                return
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        patch: Obj = {"status": {"conditions": [condition]}}
        if nominated is not None:
            patch["status"]["nominatedNodeName"] = nominated or None
        meta = pod.get("metadata") or {}
        try:
            await self.client.patch_status(
                "v1",
                "pods",
                meta.get("name", ""),
                patch,
                meta.get("namespace", ""),
                patch_type="strategic",
            )
        except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("component=scheduler pod=%s status not updated: %s", _name(pod), exc)

    async def _preempt(self, pod: Obj, result: PostFilterResult) -> None:
        """Evict the victims preemption chose (upstream's prepareCandidate)."""
        meta = pod.get("metadata") or {}
        for victim in result.victims:
            note = f"Preempted by pod {meta.get('uid', '')} on node {result.nominated_node_name}"
            self.recorder.event(
                victim.pod, "Normal", "Preempted", "Preempting", note, profile_of(pod)
            )
            try:
                await self._mark_preempted(victim.pod, profile_of(pod))
                await self.client.delete("v1", "pods", victim.name, victim.namespace)
            except errors.NotFound:
                continue
            except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info(
                    "component=scheduler victim=%s/%s not deleted: %s",
                    victim.namespace,
                    victim.name,
                    exc,
                )
        # Lower-priority pods nominated to the same node lose their nomination.
        for other in self._nominated_on(result.nominated_node_name):
            if other.priority < PodInfo(pod).priority:
                self._clear_nomination(other.key)
                await self._clear_nominated_node_name(other.pod)

    async def _mark_preempted(self, victim: Obj, scheduler_name: str) -> None:
        """DisruptionTarget=True on a victim before its deletion, as upstream's prepareCandidate.

        A Job's podFailurePolicy (``onPodConditions: DisruptionTarget``) and
        `kubectl describe pod` can then tell preemption from a failure. The
        patch names the victim's uid: a new pod of the same name is left alone.
        """
        meta = victim.get("metadata") or {}
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": PREEMPTION_REASON,
            "message": f"{scheduler_name}: {PREEMPTION_MESSAGE}",
            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        patch = {"metadata": {"uid": meta.get("uid")}, "status": {"conditions": [condition]}}
        await self.client.patch_status(
            "v1",
            "pods",
            meta.get("name", ""),
            patch,
            meta.get("namespace", ""),
            patch_type="strategic",
        )

    async def _clear_nominated_node_name(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        with contextlib.suppress(errors.APIError, aiohttp.ClientError, OSError, TimeoutError):
            await self.client.patch_status(
                "v1",
                "pods",
                meta.get("name", ""),
                {"status": {"nominatedNodeName": None}},
                meta.get("namespace", ""),
            )
