"""One worker per pod: the loop that makes the runtime match the pod's spec.

The kubelet hands every update of a pod (from the API server's watch, or a
static manifest) to that pod's ``PodWorker``; the worker wakes, and one
``sync`` does, in upstream's order (``SyncPod``):

1. if the pod is being deleted (or is gone): ``terminate`` it: preStop hooks,
   SIGTERM, SIGKILL when the grace period ends, sandbox and volumes removed,
   then the final DELETE with ``gracePeriodSeconds: 0`` and the pod's uid as
   precondition, so a new pod of the same name is never touched;
   a new pod is first *admitted*: the kubelet checks that it fits this node
   next to the pods already admitted (``admission.py``); a refused pod gets a
   Warning Event and phase ``Failed`` and never runs;
2. volumes, then the sandbox (network, hostname, the pod-level cgroup with
   the pod's QoS class and limits: ``podresources.py``);
3. init containers one at a time, in order; then every app container;
   exited containers restart as ``restartPolicy`` says, after the
   CrashLoopBackOff delay (``backoff.py``); a failed liveness or startup probe
   kills the container so that it restarts; ephemeral containers are started
   once each and never restarted (``ephemeral.py``);
4. the status (``status.py``) is written through ``pods/status`` when it
   changed.

The worker also wakes once a second by itself (to notice exits and probe
results and back-off expiry): that poll is the price of a runtime interface
without events, and costs a few dict look-ups per pod. Container start-up
(image, env, mounts, create, start, hooks) lives in ``containers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from tinykube.kubelet import admission, containers, dns, ephemeral, podresources, status, volumes
from tinykube.kubelet.backoff import CrashLoopBackOff
from tinykube.kubelet.runtime.interface import (
    ContainerState,
    PodSandboxConfig,
    Runtime,
    RuntimeError_,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

POLL_SECONDS = 1.0
VOLUME_REFRESH_SECONDS = 60.0
DEFAULT_GRACE = 30
DEADLINE_REASON = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
# A container backing off is re-synced every second; its BackOff event is not.
BACKOFF_EVENT_SECONDS = 10.0
NORMAL, WARNING = "Normal", "Warning"


class PodHost(Protocol):
    """What a worker needs from its kubelet."""

    runtime: Runtime
    volumes: volumes.VolumeManager
    backoff: CrashLoopBackOff
    node_name: str
    node_ip: str
    privileged: bool
    simulated_run_seconds: float

    def event(self, pod: Obj, type_: str, reason: str, message: str) -> None: ...

    async def admit(self, pod: Obj) -> admission.Rejection | None:
        """None when the node takes the pod; the kubelet counts the pod as admitted."""
        ...

    async def write_status(self, pod: Obj, status: Obj) -> bool: ...

    async def delete_pod(self, pod: Obj) -> None: ...

    async def env_sources(self, pod: Obj, container: Obj) -> Any: ...

    def log_path(self, pod: Obj, container: str, attempt: int) -> Any: ...

    async def pod_dns(self, pod: Obj) -> tuple[str, str]:
        """The pod's resolv.conf contents and its DNS domain (for /etc/hosts)."""
        ...


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def grace_period(pod: Obj) -> int:
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return int(meta["deletionGracePeriodSeconds"])
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE if value is None else int(value)


def backoff_key(pod: Obj, name: str) -> str:
    return f"{pod['metadata']['uid']}/{name}"


class PodWorker:
    """Owns one pod's sandbox, containers and probe tasks."""

    def __init__(self, host: PodHost, pod: Obj) -> None:
        self.host = host
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self.wake = asyncio.Event()
        self.gone = False
        self.finished = False
        self.sandbox_id = ""
        self.pod_ip = ""
        self.start_time = 0.0
        self.views: dict[str, status.ContainerView] = {}
        self.container_ids: dict[str, str] = {}
        self.retry_at: dict[str, float] = {}
        self.backoff_events: dict[str, float] = {}
        self.spec_hashes: dict[str, str] = {}
        # Ephemeral containers a previous kubelet ran: their last reported status.
        self.ephemeral_done: dict[str, Obj] = {}
        self.deadline_exceeded = False
        self.probes = containers.ProbeSet(self)
        self.volume_paths: dict[str, Any] | None = None
        self.volumes_at = 0.0
        self.last_status: Obj | None = None
        self.terminal = False
        if (pod.get("status") or {}).get("phase") in (status.SUCCEEDED, status.FAILED):
            # Finished before this kubelet saw it (e.g. across a restart): never rerun.
            self.terminal = True
            self.last_status = pod.get("status")
        # Admission happens once, at the first sync; a finished pod is never admitted
        # (nor counted against the node) again.
        self.admitted = False
        self.rejected: Obj | None = None

    # ---- the loop ----------------------------------------------------------------

    def update(self, pod: Obj) -> None:
        self.pod = pod
        self.wake.set()

    def mark_gone(self) -> None:
        self.gone = True
        self.wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self.probes.group = tg
            while True:
                try:
                    if await self.sync():
                        break
                except Exception:  # the loop boundary: log, retry on the next tick
                    log.exception("pod=%s sync failed", self.key)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await self.wake.wait()
                self.wake.clear()
            self.probes.stop_all()
        self.finished = True

    @property
    def key(self) -> str:
        meta = self.pod["metadata"]
        return f"{meta.get('namespace')}/{meta.get('name')}"

    @property
    def spec(self) -> Obj:
        return self.pod.get("spec") or {}

    async def sync(self) -> bool:
        """One pass; True when the pod is gone and the worker can stop."""
        if self.gone or self.pod["metadata"].get("deletionTimestamp"):
            await self.terminate()
            return True
        if self.terminal:
            return False
        if not self.admitted and self.rejected is None:
            await self._admit()
        if self.rejected is not None:
            if self.last_status != self.rejected and await self.host.write_status(
                self.pod, self.rejected
            ):
                self.last_status = self.rejected
            return False
        self._ensure_views()
        ephemeral.ensure_views(self)
        if self._past_deadline():
            await self._stop_for_deadline()
        elif await self._ensure_volumes() and await self._ensure_sandbox():
            await self._refresh_views()
            await self._handle_probe_kills()
            await self._converge()
            await ephemeral.start_new(self)
        written = await self.write_status()
        if written.get("phase") in (status.SUCCEEDED, status.FAILED):
            await self._finish()
        return False

    # ---- preparation -------------------------------------------------------------

    async def _admit(self) -> None:
        rejection = await self.host.admit(self.pod)
        if rejection is None:
            self.admitted = True
            return
        log.info("pod=%s rejected: %s %s", self.key, rejection.reason, rejection.message)
        self.host.event(self.pod, WARNING, rejection.reason, rejection.message)
        self.rejected = admission.rejected_status(
            self.pod, rejection, podresources.qos_class(self.pod), status.rfc3339(time.time())
        )

    def _ensure_views(self) -> None:
        runtime_name = self.host.runtime.name
        for c in (self.spec.get("initContainers") or []) + (self.spec.get("containers") or []):
            if c["name"] not in self.views:
                view = status.ContainerView(c["name"], c.get("image", ""), runtime_name)
                view.restart_count = _previous_restart_count(self.pod, c["name"])
                self.views[c["name"]] = view

    async def _ensure_volumes(self) -> bool:
        now = time.time()
        if self.volume_paths is not None and now - self.volumes_at < VOLUME_REFRESH_SECONDS:
            return True
        try:
            self.volume_paths = await self.host.volumes.setup(self.pod, self.host.privileged)
        except volumes.VolumeError as exc:
            if self.volume_paths is None:
                self.host.event(
                    self.pod, WARNING, "FailedMount", f"MountVolume.SetUp failed: {exc}"
                )
                return False
            log.info("pod=%s volume refresh failed: %s", self.key, exc)
        self.volumes_at = now
        return True

    async def _ensure_sandbox(self) -> bool:
        if self.sandbox_id:
            return True
        spec = self.spec
        meta = self.pod["metadata"]
        finite = spec.get("restartPolicy", "Always") != "Always"
        resolv, domain = await self.host.pod_dns(self.pod)
        config = PodSandboxConfig(
            uid=self.uid,
            namespace=meta.get("namespace", "default"),
            name=meta["name"],
            hostname=spec.get("hostname") or meta["name"],
            host_network=bool(spec.get("hostNetwork")),
            host_pid=bool(spec.get("hostPID")),
            host_ipc=bool(spec.get("hostIPC")),
            share_process_namespace=bool(spec.get("shareProcessNamespace")),
            resolv_conf=resolv,
            domain=domain,
            host_aliases=dns.host_aliases(self.pod),
            labels=dict(meta.get("labels") or {}),
            qos_class=podresources.qos_class(self.pod),
            resources=podresources.pod_limits(self.pod),
            simulated_run_seconds=self.host.simulated_run_seconds if finite else None,
        )
        try:
            self.sandbox_id = await self.host.runtime.run_pod_sandbox(config)
        except RuntimeError_ as exc:
            self.host.event(
                self.pod,
                WARNING,
                "FailedCreatePodSandBox",
                f"Failed to create pod sandbox: {exc}",
            )
            return False
        sandbox = await self.host.runtime.pod_sandbox_status(self.sandbox_id)
        self.pod_ip = sandbox.ip or self.host.node_ip
        self.start_time = self.start_time or time.time()
        return True

    async def _refresh_views(self) -> None:
        for name, cid in self.container_ids.items():
            with contextlib.suppress(RuntimeError_):
                self.views[name].current = await self.host.runtime.container_status(cid)

    # ---- containers ------------------------------------------------------------

    async def _converge(self) -> None:
        policy = self.spec.get("restartPolicy", "Always")
        for c in self.spec.get("initContainers") or []:
            current = self.views[c["name"]].current
            if current is None:
                await containers.start(self, c)
                return
            if current.state != ContainerState.EXITED:
                return
            if current.exit_code == 0:
                continue
            if policy != "Never":
                await self._restart(c)
            return
        for c in self.spec.get("containers") or []:
            current = self.views[c["name"]].current
            if current is not None and current.state == ContainerState.RUNNING:
                await self._restart_if_changed(c)
            elif current is None:
                await containers.start(self, c)
            elif current.state == ContainerState.EXITED and should_restart(
                policy, current.exit_code
            ):
                await self._restart(c)

    async def _restart_if_changed(self, c: Obj) -> None:
        """A running container whose definition changed (e.g. its image) is replaced."""
        name = c["name"]
        recorded = self.spec_hashes.get(name)
        if recorded is None or recorded == containers.spec_hash(c):
            return
        cid = self.container_ids[name]
        self.host.event(
            self.pod, NORMAL, "Killing", f"Container {name} definition changed, will be restarted"
        )
        self.probes.stop(cid)
        await self.host.runtime.stop_container(cid, grace_period(self.pod))
        self.views[name].current = await self.host.runtime.container_status(cid)
        await containers.start(self, c, restart=True)

    async def _restart(self, c: Obj) -> None:
        """Restart an exited container, unless it is still backing off."""
        view = self.views[c["name"]]
        assert view.current is not None
        key = backoff_key(self.pod, c["name"])
        now = time.time()
        if self.host.backoff.remaining(key, view.current.finished_at, now) > 0:
            meta = self.pod["metadata"]
            delay = self.host.backoff.current(key)
            view.waiting_reason = "CrashLoopBackOff"
            view.waiting_message = (
                f"back-off {_duration(delay)} restarting failed container={c['name']} "
                f"pod={meta['name']}_{meta.get('namespace')}({self.uid})"
            )
            if now - self.backoff_events.get(c["name"], 0.0) < BACKOFF_EVENT_SECONDS:
                return
            self.backoff_events[c["name"]] = now
            self.host.event(
                self.pod,
                WARNING,
                "BackOff",
                f"Back-off restarting failed container {c['name']} in pod "
                f"{meta['name']}_{meta.get('namespace')}({self.uid})",
            )
            return
        self.host.backoff.next(key, now)
        await containers.start(self, c, restart=True)

    async def _handle_probe_kills(self) -> None:
        for name, reason in self.probes.take_kills():
            cid = self.container_ids.get(name)
            view = self.views.get(name)
            if cid is None or view is None or view.current is None:
                continue
            if view.current.state != ContainerState.RUNNING:
                continue
            self.host.event(
                self.pod,
                NORMAL,
                "Killing",
                f"Container {name} failed {reason.lower()} probe, will be restarted",
            )
            self.probes.stop(cid)
            await self.host.runtime.stop_container(cid, self.probes.kill_grace(name, reason))
            self.views[name].current = await self.host.runtime.container_status(cid)

    # ---- status ----------------------------------------------------------------

    def _probe_flags(self) -> None:
        """``started``/``ready`` of each container, from its state and its probes."""
        for name, view in self.views.items():
            cid = self.container_ids.get(name, "")
            running = view.current is not None and view.current.state == ContainerState.RUNNING
            view.started = running and self.probes.started(name, cid)
            view.ready = view.started and self.probes.ready(name, cid)

    def compute_status(self) -> Obj:
        self._probe_flags()
        spec = self.spec
        pod = dict(self.pod)
        if self.last_status is not None:
            pod["status"] = self.last_status
        init_names = [c["name"] for c in spec.get("initContainers") or []]
        names = [c["name"] for c in spec.get("containers") or []]
        inits_pending = init_names and not all(
            (v := self.views[n].current) is not None
            and v.state == ContainerState.EXITED
            and v.exit_code == 0
            for n in init_names
        )
        for n in names:
            view = self.views[n]
            if view.current is None and inits_pending and not view.waiting_reason:
                view.waiting_reason = "PodInitializing"
        computed = status.pod_status(
            pod,
            [self.views[n] for n in init_names],
            [self.views[n] for n in names],
            sandbox_ready=bool(self.sandbox_id),
            pod_ip=self.pod_ip,
            host_ip=self.host.node_ip,
            start_time=self.start_time or time.time(),
            now=time.time(),
        )
        debugging = ephemeral.statuses(self)
        if debugging:
            computed["ephemeralContainerStatuses"] = debugging
        if self.deadline_exceeded:
            computed.update(phase=status.FAILED, reason=DEADLINE_REASON, message=DEADLINE_MESSAGE)
        return computed

    async def write_status(self) -> Obj:
        new = self.compute_status()
        if new != self.last_status and await self.host.write_status(self.pod, new):
            self.last_status = new
        return new

    # ---- endings ---------------------------------------------------------------

    def _past_deadline(self) -> bool:
        deadline = self.spec.get("activeDeadlineSeconds")
        if deadline is None or not self.start_time:
            return False
        return time.time() - self.start_time >= int(deadline)

    async def _stop_for_deadline(self) -> None:
        """``activeDeadlineSeconds`` passed: the pod fails, its containers are stopped."""
        if not self.deadline_exceeded:
            self.deadline_exceeded = True
            self.host.event(self.pod, NORMAL, DEADLINE_REASON, DEADLINE_MESSAGE)
        self.probes.stop_all()
        grace = grace_period(self.pod)
        running = [
            (name, cid)
            for name, cid in self.container_ids.items()
            if (v := self.views[name].current) is not None and v.state == ContainerState.RUNNING
        ]
        await asyncio.gather(*(self._kill(name, cid, grace) for name, cid in running))
        await self._refresh_views()

    async def _finish(self) -> None:
        """A pod in a terminal phase: stop what still runs, keep statuses and logs."""
        self.terminal = True
        self.probes.stop_all()
        if self.sandbox_id:
            with contextlib.suppress(RuntimeError_):
                await self.host.runtime.stop_pod_sandbox(self.sandbox_id)

    async def terminate(self) -> None:
        """Graceful termination, then the pod object's final deletion."""
        grace = grace_period(self.pod)
        self.probes.stop_all()
        running = [
            (name, cid)
            for name, cid in self.container_ids.items()
            if (v := self.views[name].current) is not None and v.state == ContainerState.RUNNING
        ]
        await asyncio.gather(*(self._kill(name, cid, grace) for name, cid in running))
        await self._refresh_views()
        if self.sandbox_id:
            with contextlib.suppress(RuntimeError_):
                await self.host.runtime.remove_pod_sandbox(self.sandbox_id)
            self.sandbox_id = ""
        await self.host.volumes.teardown(self.uid)
        self.host.backoff.forget_prefix(f"{self.uid}/")
        if not self.gone:
            if self.rejected is None:  # a refused pod keeps its Failed status
                with contextlib.suppress(Exception):
                    await self.write_status()
            await self.host.delete_pod(self.pod)
        log.info("pod=%s terminated", self.key)

    async def _kill(self, name: str, cid: str, grace: int) -> None:
        self.host.event(self.pod, NORMAL, "Killing", f"Stopping container {name}")
        started = time.monotonic()
        container = _container_spec(self.pod, name)
        pre_stop = ((container or {}).get("lifecycle") or {}).get("preStop")
        if pre_stop and grace > 0:
            await containers.run_hook(self, container or {}, cid, pre_stop, grace)
        remaining = max(0.0, grace - (time.monotonic() - started))
        with contextlib.suppress(RuntimeError_):
            await self.host.runtime.stop_container(cid, remaining)


def _container_spec(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if c["name"] == name:
            return dict(c)
    return None


def _previous_restart_count(pod: Obj, name: str) -> int:
    st = pod.get("status") or {}
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        if cs.get("name") == name and cs.get("containerID"):
            return int(cs.get("restartCount", 0)) + 1
    return 0


def _duration(seconds: float) -> str:
    """Go's Duration.String() for whole seconds: 10s, 1m20s, 5m0s."""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    return f"{total // 60}m{total % 60}s"
