"""Pod status as the kubelet computes it: container statuses, phase, conditions.

Pure functions over dicts, in the order upstream's ``generateAPIPodStatus``
works: each container's runtime history becomes a ``ContainerStatus``
(``state``/``lastState``/``ready``/``started``/``restartCount``), the phase
follows from those (``getPhase``), then the conditions (``Initialized``,
``ContainersReady``, ``Ready``, ``PodReadyToStartContainers``,
``PodScheduled``), each keeping its ``lastTransitionTime`` while its status
does not change. The pod worker feeds in ``ContainerView`` records built from
the runtime and the probe results, and writes the result via ``pods/status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tinykube.kubelet.runtime.interface import ContainerState, ContainerStatus

Obj = dict[str, Any]

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
CONDITION_TYPES = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerView:
    """What the kubelet knows about one container of a pod."""

    name: str
    image: str
    runtime_name: str = "process"
    current: ContainerStatus | None = None
    previous: ContainerStatus | None = None
    restart_count: int = 0
    waiting_reason: str = ""
    waiting_message: str = ""
    ready: bool = False
    started: bool = False


def _terminated(status: ContainerStatus, runtime_name: str) -> Obj:
    out: Obj = {
        "exitCode": status.exit_code,
        "reason": status.reason or ("Completed" if status.exit_code == 0 else "Error"),
        "startedAt": rfc3339(status.started_at) if status.started_at else None,
        "finishedAt": rfc3339(status.finished_at) if status.finished_at else None,
        "containerID": f"{runtime_name}://{status.id}",
    }
    if status.message:
        out["message"] = status.message
    return out


def container_status(view: ContainerView) -> Obj:
    """One entry of ``containerStatuses``/``initContainerStatuses``."""
    current = view.current
    state: Obj
    last: Obj = {}
    exited = current is not None and current.state == ContainerState.EXITED
    if view.waiting_reason and (current is None or exited):
        waiting: Obj = {"reason": view.waiting_reason}
        if view.waiting_message:
            waiting["message"] = view.waiting_message
        state = {"waiting": waiting}
        if current is not None:
            last = {"terminated": _terminated(current, view.runtime_name)}
    elif current is not None and current.state == ContainerState.RUNNING:
        state = {"running": {"startedAt": rfc3339(current.started_at)}}
    elif current is not None and exited:
        state = {"terminated": _terminated(current, view.runtime_name)}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    if not last and view.previous is not None:
        last = {"terminated": _terminated(view.previous, view.runtime_name)}
    out: Obj = {
        "name": view.name,
        "state": state,
        "lastState": last,
        "ready": view.ready and "running" in state,
        "restartCount": view.restart_count,
        "image": view.image,
        "imageID": current.image_id if current is not None else "",
        "started": view.started and "running" in state,
    }
    if current is not None:
        out["containerID"] = f"{view.runtime_name}://{current.id}"
    return out


def _counts(statuses: list[Obj]) -> dict[str, int]:
    counts = dict.fromkeys(("running", "waiting", "stopped", "succeeded", "failed"), 0)
    for cs in statuses:
        state = cs.get("state") or {}
        if "running" in state:
            counts["running"] += 1
        elif "terminated" in state:
            counts["stopped"] += 1
            key = "succeeded" if state["terminated"].get("exitCode") == 0 else "failed"
            counts[key] += 1
        elif (cs.get("lastState") or {}).get("terminated"):
            counts["stopped"] += 1
            code = cs["lastState"]["terminated"].get("exitCode")
            counts["succeeded" if code == 0 else "failed"] += 1
        else:
            counts["waiting"] += 1
    return counts


def init_done(init_statuses: list[Obj], n_init: int) -> bool:
    """Every init container ran to completion with exit code 0."""
    done = [
        cs
        for cs in init_statuses
        if ((cs.get("state") or {}).get("terminated") or {}).get("exitCode") == 0
    ]
    return len(done) == n_init


def init_failed(init_statuses: list[Obj]) -> bool:
    for cs in init_statuses:
        term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get(
            "terminated"
        )
        if term and term.get("exitCode") != 0:
            return True
    return False


def pod_phase(spec: Obj, init_statuses: list[Obj], statuses: list[Obj]) -> str:
    """Upstream ``getPhase``: the phase implied by the containers' states."""
    policy = spec.get("restartPolicy", "Always")
    n_init = len(spec.get("initContainers") or [])
    if n_init and not init_done(init_statuses, n_init):
        if policy == "Never" and init_failed(init_statuses):
            return FAILED
        return PENDING
    counts = _counts(statuses)
    if counts["waiting"]:
        return PENDING
    if counts["running"]:
        return RUNNING
    if counts["stopped"]:
        if policy == "Always":
            return RUNNING
        if policy == "OnFailure":
            return SUCCEEDED if counts["stopped"] == counts["succeeded"] else RUNNING
        return FAILED if counts["failed"] else SUCCEEDED
    return PENDING


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
    if not ok and reason:
        cond["reason"] = reason
    if not ok and message:
        cond["message"] = message
    return cond


def pod_conditions(
    spec: Obj,
    phase: str,
    init_statuses: list[Obj],
    statuses: list[Obj],
    sandbox_ready: bool,
) -> list[Obj]:
    """The kubelet-owned conditions, without transition times (see ``merge_conditions``)."""
    n_init = len(spec.get("initContainers") or [])
    pending_init = [
        cs["name"]
        for cs in init_statuses
        if ((cs.get("state") or {}).get("terminated") or {}).get("exitCode") != 0
    ]
    initialized = init_done(init_statuses, n_init) or phase in (RUNNING, SUCCEEDED)
    unready = [cs["name"] for cs in statuses if not cs.get("ready")]
    names = [c["name"] for c in spec.get("containers") or []]
    unready += [n for n in names if n not in {cs["name"] for cs in statuses}]
    if phase == SUCCEEDED:
        ready = _condition("Ready", False, "PodCompleted")
        containers_ready = _condition("ContainersReady", False, "PodCompleted")
    elif phase == FAILED:
        ready = _condition("Ready", False, "PodFailed")
        containers_ready = _condition("ContainersReady", False, "PodFailed")
    else:
        message = f"containers with unready status: [{' '.join(unready)}]"
        ready = _condition("Ready", not unready, "ContainersNotReady", message)
        containers_ready = _condition("ContainersReady", not unready, "ContainersNotReady", message)
    init_message = f"containers with incomplete status: [{' '.join(pending_init)}]"
    return [
        _condition("PodReadyToStartContainers", sandbox_ready and phase not in (SUCCEEDED, FAILED)),
        _condition("Initialized", initialized, "ContainersNotInitialized", init_message),
        ready,
        containers_ready,
        _condition("PodScheduled", True),
    ]


def merge_conditions(old: list[Obj], new: list[Obj], now: float) -> list[Obj]:
    """Keep each condition's ``lastTransitionTime`` unless its status changed.

    Conditions the kubelet does not own (set by the scheduler or controllers,
    e.g. ``DisruptionTarget``) are kept as they are; ``PodScheduled`` keeps the
    scheduler's version when there is one.
    """
    by_type = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        previous = by_type.pop(cond["type"], None)
        if cond["type"] == "PodScheduled" and previous is not None:
            out.append(previous)
            continue
        if previous is not None and previous.get("status") == cond["status"]:
            cond["lastTransitionTime"] = previous.get("lastTransitionTime") or rfc3339(now)
        else:
            cond["lastTransitionTime"] = rfc3339(now)
        out.append(cond)
    out.extend(by_type.values())
    return out


def pod_status(
    pod: Obj,
    init_views: list[ContainerView],
    views: list[ContainerView],
    *,
    sandbox_ready: bool,
    pod_ip: str,
    host_ip: str,
    start_time: float,
    now: float,
) -> Obj:
    """The whole ``status`` the kubelet writes for ``pod``."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    init_statuses = [container_status(v) for v in init_views]
    statuses = [container_status(v) for v in views]
    phase = pod_phase(spec, init_statuses, statuses)
    if old.get("phase") in (SUCCEEDED, FAILED):
        phase = old["phase"]  # a terminal phase never changes
    conditions = merge_conditions(
        old.get("conditions") or [],
        pod_conditions(spec, phase, init_statuses, statuses, sandbox_ready),
        now,
    )
    status: Obj = {
        **{k: v for k, v in old.items() if k in ("qosClass", "nominatedNodeName")},
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": old.get("startTime") or rfc3339(start_time),
        "containerStatuses": statuses,
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return status
