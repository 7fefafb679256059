"""Ephemeral containers: debugging containers added to a running pod.

``kubectl debug`` adds an entry to ``spec.ephemeralContainers`` through the
``pods/ephemeralcontainers`` subresource; the pod worker sees the new spec and
calls ``start_new`` on its next sync. Each entry is started once, in the pod's
sandbox (its network, IPC and UTS namespaces, like any container), and never
restarted: once it exited, it stays exited (upstream's ``computePodActions``
starts only ephemeral containers that have no status). With a
``targetContainerName`` the runtime puts it into that container's PID
namespace, so ``ps`` there shows the target's processes.

Their statuses go to ``status.ephemeralContainerStatuses`` and never count
towards the pod's phase or readiness (``ready`` is always false). They are
stopped with the pod, as the worker stops everything in ``container_ids``.

A kubelet that restarts does not run again the ephemeral containers the pod's
status already shows a container id for: their old status is kept, except
that one still running is then reported terminated (``ContainerStatusUnknown``),
since the process runtime's containers do not outlive its kubelet.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tinykube.kubelet import containers, envvars, status, volumes
from tinykube.kubelet.runtime.interface import ContainerConfig

if TYPE_CHECKING:
    from tinykube.kubelet.podworkers import PodWorker

Obj = dict[str, Any]
WARNING = "Warning"


def specs(pod: Obj) -> list[Obj]:
    return list((pod.get("spec") or {}).get("ephemeralContainers") or [])


def ensure_views(worker: PodWorker) -> None:
    """A view per ephemeral container; ones a previous kubelet ran keep their status."""
    old = {
        cs.get("name"): cs
        for cs in (worker.pod.get("status") or {}).get("ephemeralContainerStatuses") or []
    }
    for c in specs(worker.pod):
        name = c["name"]
        if name in worker.views or name in worker.ephemeral_done:
            continue
        if (old.get(name) or {}).get("containerID"):
            worker.ephemeral_done[name] = _no_longer_running(old[name])
            continue
        worker.views[name] = status.ContainerView(
            name, c.get("image", ""), worker.host.runtime.name
        )


def _no_longer_running(cs: Obj) -> Obj:
    """A previous kubelet's container is gone with that kubelet's runtime: one that
    was still running is reported as upstream reports a container it cannot find."""
    state = cs.get("state") or {}
    if "terminated" in state:
        return cs
    was = "Running" if "running" in state else "Waiting"
    terminated = {
        "exitCode": 137,
        "reason": "ContainerStatusUnknown",
        "message": f"The container could not be located when the pod was terminated.  "
        f"The container used to be {was}",
    }
    return {**cs, "state": {"terminated": terminated}, "ready": False}


async def start_new(worker: PodWorker) -> None:
    """Start every ephemeral container that was never started; a failed start
    (image, config) is retried as any container's is, an exit never is."""
    for c in specs(worker.pod):
        view = worker.views.get(c["name"])
        if view is not None and view.current is None:
            await start(worker, c)


async def start(worker: PodWorker, c: Obj) -> None:
    """``containers.start`` for an ephemeral container: no probes, hooks or
    resources to honour, and the target's PID namespace when one is named."""
    name = c["name"]
    if worker.retry_at.get(name, 0.0) > time.time():
        return
    host, pod = worker.host, worker.pod
    image = await containers._pull(worker, c)
    if image is None:
        return
    try:
        env_pod = containers.pod_for_env(worker)
        env = envvars.resolve_env(env_pod, c, await host.env_sources(env_pod, c))
        mounts = volumes.container_mounts(c, worker.volume_paths or {}, dict(env))
    except (envvars.EnvError, volumes.VolumeError) as exc:
        host.event(pod, WARNING, "Failed", f"Error: {exc}")
        containers._wait(worker, name, envvars.CONFIG_ERROR, str(exc))
        return
    config = ContainerConfig(
        name=name,
        image=c.get("image", ""),
        command=[envvars.expand(a, dict(env)) for a in c.get("command") or []],
        args=[envvars.expand(a, dict(env)) for a in c.get("args") or []],
        env=env,
        working_dir=c.get("workingDir", ""),
        mounts=mounts,
        log_path=host.log_path(pod, name, 0),
        tty=bool(c.get("tty")),
        stdin=bool(c.get("stdin")),
        run_as_user=containers._security(pod, c, "runAsUser"),
        run_as_group=containers._security(pod, c, "runAsGroup"),
        target_container_id=worker.container_ids.get(c.get("targetContainerName") or "", ""),
    )
    await containers._create_and_start(worker, c, config, image)


def statuses(worker: PodWorker) -> list[Obj]:
    """``ephemeralContainerStatuses``, in spec order; ready is always false."""
    out = []
    for c in specs(worker.pod):
        name = c["name"]
        if name in worker.ephemeral_done:
            out.append(worker.ephemeral_done[name])
            continue
        view = worker.views.get(name)
        if view is None:
            continue
        view.ready = False
        cs = status.container_status(view)
        cs.pop("started", None)  # upstream leaves it unset for ephemeral containers
        out.append(cs)
    return out
