"""Starting one container of a pod, its lifecycle hooks, and its probe tasks.

``start`` is upstream's ``startContainer``: make sure the image is there
(``Pulled`` event; ``ErrImagePull`` then ``ImagePullBackOff`` when it is
not), resolve the environment (``CreateContainerConfigError`` when a
ConfigMap or Secret is missing), build the mounts, create (``Created``) and
start (``Started``) the container, then run the ``postStart`` hook and start
its probes. A container whose start failed is retried on a later sync, no
sooner than ``RETRY_SECONDS`` later.

``ProbeSet`` owns the probe tasks of one pod (in the worker's TaskGroup) and
turns their results into ``started``/``ready`` and into kill requests the
worker acts on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from tinykube.api import quantity
from tinykube.kubelet import envvars, probes, volumes
from tinykube.kubelet.runtime.interface import (
    ContainerConfig,
    ImagePullError,
    Resources,
    RuntimeError_,
)

if TYPE_CHECKING:
    from tinykube.kubelet.podworkers import PodWorker

log = logging.getLogger(__name__)

Obj = dict[str, Any]

RETRY_SECONDS = 10.0
NORMAL, WARNING = "Normal", "Warning"


def resources_of(container: Obj) -> Resources:
    limits = (container.get("resources") or {}).get("limits") or {}
    out = Resources()
    if "memory" in limits:
        out.memory_bytes = quantity.parse(limits["memory"]).value()
    if "cpu" in limits:
        out.cpu_millis = quantity.parse(limits["cpu"]).milli_value()
    return out


def spec_hash(container: Obj) -> str:
    """What identifies a container's definition: a change means a restart (upstream's hash)."""
    return hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()


def _security(pod: Obj, container: Obj, field: str) -> int | None:
    """A securityContext field: the container's, else the pod's."""
    own = (container.get("securityContext") or {}).get(field)
    if own is not None:
        return int(own)
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get(field)
    return None if value is None else int(value)


def pod_for_env(worker: PodWorker) -> Obj:
    """The pod as the downward API sees it: with the IPs this kubelet assigned."""
    pod = dict(worker.pod)
    st = dict(pod.get("status") or {})
    node_ip = worker.host.node_ip
    st.update(hostIP=node_ip, hostIPs=[{"ip": node_ip}])
    if worker.pod_ip:
        st.update(podIP=worker.pod_ip, podIPs=[{"ip": worker.pod_ip}])
    pod["status"] = st
    return pod


def _wait(worker: PodWorker, name: str, reason: str, message: str) -> None:
    view = worker.views[name]
    view.waiting_reason = reason
    view.waiting_message = message
    worker.retry_at[name] = time.time() + RETRY_SECONDS


async def start(worker: PodWorker, c: Obj, restart: bool = False) -> None:
    """Start (or restart) container ``c`` of the worker's pod."""
    name = c["name"]
    if worker.retry_at.get(name, 0.0) > time.time():
        return
    host, pod = worker.host, worker.pod
    image = await _pull(worker, c)
    if image is None:
        return
    try:
        env_pod = pod_for_env(worker)
        env = envvars.resolve_env(env_pod, c, await host.env_sources(env_pod, c))
        mounts = volumes.container_mounts(c, worker.volume_paths or {}, dict(env))
    except (envvars.EnvError, volumes.VolumeError) as exc:
        host.event(pod, WARNING, "Failed", f"Error: {exc}")
        _wait(worker, name, envvars.CONFIG_ERROR, str(exc))
        return
    view = worker.views[name]
    if restart and view.current is not None:
        await _retire(worker, name)
    attempt = view.restart_count
    config = ContainerConfig(
        name=name,
        image=c.get("image", ""),
        command=[envvars.expand(a, dict(env)) for a in c.get("command") or []],
        args=[envvars.expand(a, dict(env)) for a in c.get("args") or []],
        env=env,
        working_dir=c.get("workingDir", ""),
        mounts=mounts,
        log_path=host.log_path(pod, name, attempt),
        resources=resources_of(c),
        attempt=attempt,
        tty=bool(c.get("tty")),
        stdin=bool(c.get("stdin")),
        init=any(i["name"] == name for i in worker.spec.get("initContainers") or []),
        run_as_user=_security(worker.pod, c, "runAsUser"),
        run_as_group=_security(worker.pod, c, "runAsGroup"),
    )
    await _create_and_start(worker, c, config, image)


async def _retire(worker: PodWorker, name: str) -> None:
    """The exited container becomes ``lastState``; the one before it is removed."""
    view = worker.views[name]
    old_previous, view.previous = view.previous, view.current
    view.current = None
    view.restart_count += 1
    cid = worker.container_ids.pop(name, "")
    worker.probes.stop(cid)
    if old_previous is not None:
        with contextlib.suppress(RuntimeError_):
            await worker.host.runtime.remove_container(old_previous.id)


async def _pull(worker: PodWorker, c: Obj) -> Any:
    host, pod, name = worker.host, worker.pod, c["name"]
    image_name = c.get("image", "")
    view = worker.views[name]
    always = c.get("imagePullPolicy") == "Always"
    if always:
        host.event(pod, NORMAL, "Pulling", f'Pulling image "{image_name}"')
    started = time.monotonic()
    try:
        # Args alone are a command too: a host-filesystem image has no entrypoint, like
        # busybox's, so `kubectl run x --image=busybox -- sleep 1` runs `sleep 1`.
        runnable = bool(c.get("command") or c.get("args"))
        image = await host.runtime.pull_image(image_name, has_command=runnable)
    except ImagePullError as exc:
        if view.waiting_reason in ("ErrImagePull", "ImagePullBackOff"):
            host.event(pod, NORMAL, "BackOff", f'Back-off pulling image "{image_name}"')
            _wait(worker, name, "ImagePullBackOff", f'Back-off pulling image "{image_name}": {exc}')
        else:
            host.event(pod, WARNING, "Failed", f'Failed to pull image "{image_name}": {exc}')
            host.event(pod, WARNING, "Failed", "Error: ErrImagePull")
            _wait(worker, name, "ErrImagePull", str(exc))
        return None
    if always:
        took = f"{time.monotonic() - started:.3f}s"
        message = (
            f'Successfully pulled image "{image_name}" in {took} ({took} including waiting). '
            f"Image size: {image.size_bytes} bytes."
        )
    else:
        message = f'Container image "{image_name}" already present on machine'
    host.event(pod, NORMAL, "Pulled", message)
    return image


async def _create_and_start(worker: PodWorker, c: Obj, config: ContainerConfig, image: Any) -> None:
    host, pod, name = worker.host, worker.pod, c["name"]
    runtime = host.runtime
    try:
        cid = await runtime.create_container(worker.sandbox_id, config, image)
    except RuntimeError_ as exc:
        host.event(pod, WARNING, "Failed", f"Error: {exc}")
        _wait(worker, name, exc.reason, str(exc))
        return
    host.event(pod, NORMAL, "Created", f"Created container: {name}")
    worker.container_ids[name] = cid
    try:
        await runtime.start_container(cid)
    except (RuntimeError_, OSError) as exc:
        host.event(pod, WARNING, "Failed", f"Error: failed to start container: {exc}")
        worker.views[name].current = await runtime.container_status(cid)
        _wait(worker, name, "RunContainerError", str(exc))
        return
    host.event(pod, NORMAL, "Started", f"Started container {name}")
    view = worker.views[name]
    view.waiting_reason = view.waiting_message = ""
    view.image = c.get("image", "")
    worker.spec_hashes[name] = spec_hash(c)
    view.current = await runtime.container_status(cid)
    worker.retry_at.pop(name, None)
    worker.probes.start_for(c, cid, view.current.started_at)
    post_start = (c.get("lifecycle") or {}).get("postStart")
    if post_start and not await run_hook(worker, c, cid, post_start, probes.Timing().period):
        host.event(pod, WARNING, "FailedPostStartHook", f"PostStartHook failed for {name}")
        await runtime.stop_container(cid, 0)


async def run_hook(worker: PodWorker, c: Obj, cid: str, hook: Obj, limit: float) -> bool:
    """A lifecycle hook (exec, httpGet or sleep); True when it succeeded."""
    if "sleep" in hook:
        await asyncio.sleep(min(limit, float((hook["sleep"] or {}).get("seconds", 0))))
        return True
    outcome = await probes.run_probe(
        {**hook, "timeoutSeconds": max(1, int(limit))},
        worker.host.runtime,
        cid,
        c,
        worker.pod_ip,
    )
    if not outcome.ok:
        log.info("pod=%s container=%s hook failed: %s", worker.key, c["name"], outcome.message)
    return outcome.ok


PROBE_FIELDS = (
    (probes.Kind.STARTUP, "startupProbe"),
    (probes.Kind.LIVENESS, "livenessProbe"),
    (probes.Kind.READINESS, "readinessProbe"),
)


class ProbeSet:
    """The probe tasks of one pod and what their results mean."""

    def __init__(self, worker: PodWorker) -> None:
        self.worker = worker
        self.group: asyncio.TaskGroup | None = None
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._results: dict[tuple[str, probes.Kind], bool] = {}
        self._kills: list[tuple[str, str]] = []

    def _spec(self, name: str) -> Obj:
        spec = self.worker.spec
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            if c["name"] == name:
                return dict(c)
        return {}

    def start_for(self, c: Obj, cid: str, started_at: float) -> None:
        if self.group is None:
            return
        for kind, field in PROBE_FIELDS:
            probe = c.get(field)
            if not probe:
                continue
            worker = probes.ProbeWorker(
                kind,
                probe,
                self.worker.host.runtime,
                c,
                cid,
                started_at,
                pod_ip=lambda: self.worker.pod_ip,
                gate=lambda kind=kind, cid=cid: (
                    kind == probes.Kind.STARTUP or self.started(c["name"], cid)
                ),
                on_result=lambda k, ok, out, cid=cid, name=c["name"]: self._on_result(
                    cid, name, k, ok, out
                ),
                on_failure=lambda k, msg: self.worker.host.event(
                    self.worker.pod, WARNING, "Unhealthy", f"{k} probe failed: {msg}"
                ),
            )
            task = self.group.create_task(worker.run(), name=f"probe {kind} {cid[:12]}")
            self._tasks.setdefault(cid, []).append(task)

    def _on_result(
        self, cid: str, name: str, kind: probes.Kind, ok: bool, failed_out: bool
    ) -> None:
        before = self._results.get((cid, kind))
        self._results[(cid, kind)] = ok
        if failed_out and kind in (probes.Kind.LIVENESS, probes.Kind.STARTUP):
            self._kills.append((name, str(kind)))
        if before != ok or failed_out:
            self.worker.wake.set()

    def started(self, name: str, cid: str) -> bool:
        if self._spec(name).get("startupProbe"):
            return self._results.get((cid, probes.Kind.STARTUP), False)
        return True

    def ready(self, name: str, cid: str) -> bool:
        if self._spec(name).get("readinessProbe"):
            return self._results.get((cid, probes.Kind.READINESS), False)
        return True

    def take_kills(self) -> list[tuple[str, str]]:
        kills, self._kills = self._kills, []
        return kills

    def kill_grace(self, name: str, kind: str) -> float:
        field = "livenessProbe" if kind == str(probes.Kind.LIVENESS) else "startupProbe"
        probe = self._spec(name).get(field) or {}
        if probe.get("terminationGracePeriodSeconds") is not None:
            return float(probe["terminationGracePeriodSeconds"])
        from tinykube.kubelet.podworkers import grace_period

        return float(grace_period(self.worker.pod))

    def stop(self, cid: str) -> None:
        for task in self._tasks.pop(cid, []):
            task.cancel()
        for key in [k for k in self._results if k[0] == cid]:
            del self._results[key]

    def stop_all(self) -> None:
        for cid in list(self._tasks):
            self.stop(cid)
