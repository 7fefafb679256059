"""The Pod printer: READY, STATUS, RESTARTS as ``kubectl get pods`` shows them.

STATUS is not a stored field but a summary the printer derives, and users
compare it character for character with real clusters, so the walk below
follows upstream's order exactly: the phase (or ``status.reason``) first, then
``SchedulingGated``, then the first init container that has not finished
(``Init:1/3``, ``Init:CrashLoopBackOff``, ``Init:ExitCode:1``), then the
regular containers from last to first (the first one listed wins), and
finally ``Terminating``/``Unknown`` for pods being deleted.

Sidecars (init containers with ``restartPolicy: Always``) count towards READY
and RESTARTS like regular containers once they have started. RESTARTS shows
``3 (5m ago)`` when the kubelet recorded when the last restart ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tinykube.api import duration
from tinykube.api.tables._common import (
    AGE,
    NAME,
    NONE,
    Cells,
    Obj,
    Printer,
    age_of,
    col,
    dig,
    name_of,
)

_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_FAILED = [
    {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
]


@dataclass
class _Tally:
    """What the container walk accumulates."""

    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: datetime | None = None
    sidecar_restarts: int = 0
    sidecar_last_restart: datetime | None = None
    initializing: bool = False
    init_specs: dict[str, Obj] = field(default_factory=dict)


def _later(current: datetime | None, status: Obj) -> datetime | None:
    """The later of ``current`` and the container's last termination time."""
    try:
        finished = duration.parse_time(dig(status, "lastState", "terminated", "finishedAt"))
    except ValueError:
        return current
    if finished is None or (current is not None and finished <= current):
        return current
    return finished


def _restartable(spec: Obj | None) -> bool:
    return spec is not None and spec.get("restartPolicy") == "Always"


def _exit_text(prefix: str, terminated: Obj) -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _walk_init(pod: Obj, tally: _Tally) -> None:
    statuses = dig(pod, "status", "initContainerStatuses", default=[])
    total = len(tally.init_specs)
    for index, status in enumerate(statuses):
        restarts = int(status.get("restartCount") or 0)
        tally.restarts += restarts
        tally.last_restart = _later(tally.last_restart, status)
        sidecar = _restartable(tally.init_specs.get(status.get("name", "")))
        if sidecar:
            tally.sidecar_restarts += restarts
            tally.sidecar_last_restart = _later(tally.sidecar_last_restart, status)
        terminated = dig(status, "state", "terminated")
        waiting_reason = dig(status, "state", "waiting", "reason", default="")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and status.get("started"):
            tally.ready += 1 if status.get("ready") else 0
            continue
        if terminated is not None:
            tally.reason = _exit_text("Init:", terminated)
        elif waiting_reason and waiting_reason != "PodInitializing":
            tally.reason = "Init:" + waiting_reason
        else:
            tally.reason = f"Init:{index}/{total}"
        tally.initializing = True
        return


def _walk_containers(pod: Obj, tally: _Tally) -> None:
    # Only sidecar restarts carry over once the pod has initialized.
    tally.restarts = tally.sidecar_restarts
    tally.last_restart = tally.sidecar_last_restart
    has_running = False
    for status in reversed(dig(pod, "status", "containerStatuses", default=[])):
        tally.restarts += int(status.get("restartCount") or 0)
        tally.last_restart = _later(tally.last_restart, status)
        waiting_reason = dig(status, "state", "waiting", "reason", default="")
        terminated = dig(status, "state", "terminated")
        if waiting_reason:
            tally.reason = waiting_reason
        elif terminated is not None:
            tally.reason = _exit_text("", terminated)
        elif status.get("ready") and dig(status, "state", "running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        ready = _condition_true(pod, "Ready")
        tally.reason = "Running" if ready else "NotReady"


def _condition_true(pod: Obj, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in dig(pod, "status", "conditions", default=[])
    )


def _initial_reason(pod: Obj) -> str:
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    return reason


def pod_status(pod: Obj) -> _Tally:
    """Run upstream's status walk; the result carries STATUS, READY and RESTARTS facts."""
    specs = {c.get("name", ""): c for c in dig(pod, "spec", "initContainers", default=[])}
    tally = _Tally(reason=_initial_reason(pod), init_specs=specs)
    _walk_init(pod, tally)
    if not tally.initializing or _condition_true(pod, "Initialized"):
        _walk_containers(pod, tally)
    if dig(pod, "metadata", "deletionTimestamp"):
        phase = dig(pod, "status", "phase", default="")
        if dig(pod, "status", "reason") == "NodeLost":
            tally.reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            tally.reason = "Terminating"
    return tally


def _restarts_text(tally: _Tally, now: datetime) -> str:
    if tally.restarts and tally.last_restart is not None:
        since = (now - tally.last_restart).total_seconds()
        return f"{tally.restarts} ({duration.human_duration(since)} ago)"
    return str(tally.restarts)


def _total_containers(pod: Obj) -> int:
    regular = len(dig(pod, "spec", "containers", default=[]))
    sidecars = sum(1 for c in dig(pod, "spec", "initContainers", default=[]) if _restartable(c))
    return regular + sidecars


def _pod_ip(pod: Obj) -> str:
    ip = dig(pod, "status", "podIPs", 0, "ip") or dig(pod, "status", "podIP")
    return str(ip) if ip else NONE


def _readiness_gates(pod: Obj) -> str:
    gates = dig(pod, "spec", "readinessGates", default=[])
    if not gates:
        return NONE
    conditions = dig(pod, "status", "conditions", default=[])
    passed = 0
    for gate in gates:
        for cond in conditions:
            if cond.get("type") == gate.get("conditionType"):
                passed += cond.get("status") == "True"
                break
    return f"{passed}/{len(gates)}"


def pod_cells(pod: Obj, now: datetime) -> Cells:
    tally = pod_status(pod)
    return [
        name_of(pod),
        f"{tally.ready}/{_total_containers(pod)}",
        tally.reason,
        _restarts_text(tally, now),
        age_of(pod, now),
        _pod_ip(pod),
        dig(pod, "spec", "nodeName") or NONE,
        dig(pod, "status", "nominatedNodeName") or NONE,
        _readiness_gates(pod),
    ]


def pod_conditions(pod: Obj) -> list[dict[str, Any]] | None:
    """A ``Completed`` row condition for pods that have finished, as upstream adds."""
    phase = dig(pod, "status", "phase")
    if phase == "Succeeded":
        return [dict(c) for c in _SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _FAILED]
    return None


POD = Printer(
    (
        NAME,
        col("Ready", "Ready containers out of all containers (sidecars included)."),
        col("Status", "A summary of the pod's phase and its containers' states."),
        col("Restarts", "Container restarts, and how long ago the last one ended."),
        AGE,
        col("IP", "The pod's primary IP address.", priority=1),
        col("Node", "The node the pod is bound to.", priority=1),
        col("Nominated Node", "The node preemption reserved for the pod.", priority=1),
        col("Readiness Gates", "Readiness gates that pass, out of all of them.", priority=1),
    ),
    pod_cells,
    pod_conditions,
)

PRINTERS = {("", "Pod"): POD}
