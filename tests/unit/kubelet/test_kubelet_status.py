"""Pod status computation: container states, phase and conditions, as upstream computes them."""

from __future__ import annotations

import pytest

from tinykube.kubelet import status
from tinykube.kubelet.runtime.interface import ContainerState, ContainerStatus

pytestmark = pytest.mark.unit

T0 = 1_700_000_000.0


def runtime_status(state: ContainerState, exit_code: int = 0, reason: str = "") -> ContainerStatus:
    return ContainerStatus(
        id="abc",
        sandbox_id="s",
        name="c",
        attempt=0,
        state=state,
        image_id="sha256:1",
        started_at=T0,
        finished_at=T0 + 5 if state == ContainerState.EXITED else 0.0,
        exit_code=exit_code,
        reason=reason or ("Completed" if exit_code == 0 else "Error"),
    )


def view(state: ContainerState | None, exit_code: int = 0, **kw: object) -> status.ContainerView:
    v = status.ContainerView("c", "busybox")
    if state is not None:
        v.current = runtime_status(state, exit_code)
    for key, value in kw.items():
        setattr(v, key, value)
    return v


def test_running_container_status() -> None:
    cs = status.container_status(view(ContainerState.RUNNING, ready=True, started=True))
    assert cs["state"] == {"running": {"startedAt": "2023-11-14T22:13:20Z"}}
    assert cs["ready"] is True and cs["started"] is True
    assert cs["containerID"] == "process://abc"
    assert cs["lastState"] == {}


def test_crash_loop_shows_waiting_with_last_terminated() -> None:
    cs = status.container_status(
        view(ContainerState.EXITED, 2, waiting_reason="CrashLoopBackOff", restart_count=3)
    )
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 2
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["restartCount"] == 3
    assert cs["ready"] is False


def test_not_started_container_is_container_creating() -> None:
    cs = status.container_status(view(None))
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert "containerID" not in cs


def statuses(*states: tuple[str, int | None]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for kind, code in states:
        if kind == "running":
            out.append({"name": "c", "state": {"running": {}}})
        elif kind == "terminated":
            out.append({"name": "c", "state": {"terminated": {"exitCode": code}}})
        else:
            out.append({"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}})
    return out


@pytest.mark.parametrize(
    ("policy", "states", "phase"),
    [
        ("Always", [("running", None)], "Running"),
        ("Always", [("waiting", None)], "Pending"),
        ("Always", [("terminated", 1)], "Running"),
        ("OnFailure", [("terminated", 0)], "Succeeded"),
        ("OnFailure", [("terminated", 1)], "Running"),
        ("Never", [("terminated", 0), ("terminated", 0)], "Succeeded"),
        ("Never", [("terminated", 0), ("terminated", 1)], "Failed"),
        ("Never", [("terminated", 0), ("running", None)], "Running"),
    ],
    ids=lambda v: str(v),
)
def test_pod_phase(policy: str, states: list[tuple[str, int | None]], phase: str) -> None:
    assert status.pod_phase({"restartPolicy": policy}, [], statuses(*states)) == phase


def test_pending_until_init_containers_succeed() -> None:
    spec = {"restartPolicy": "Always", "initContainers": [{"name": "i"}]}
    init = [{"name": "i", "state": {"running": {}}}]
    assert status.pod_phase(spec, init, statuses(("waiting", None))) == "Pending"


def test_failed_init_container_fails_a_never_pod() -> None:
    spec = {"restartPolicy": "Never", "initContainers": [{"name": "i"}]}
    init = [{"name": "i", "state": {"terminated": {"exitCode": 1}}}]
    assert status.pod_phase(spec, init, statuses(("waiting", None))) == "Failed"


def test_conditions_name_unready_containers() -> None:
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    sts = [{"name": "a", "ready": True}, {"name": "b", "ready": False}]
    conds = {c["type"]: c for c in status.pod_conditions(spec, "Running", [], sts, True)}
    assert conds["Ready"]["status"] == "False"
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [b]"
    assert conds["Initialized"]["status"] == "True"
    assert conds["PodReadyToStartContainers"]["status"] == "True"


def test_succeeded_pod_is_not_ready_with_pod_completed() -> None:
    conds = {c["type"]: c for c in status.pod_conditions({}, "Succeeded", [], [], True)}
    assert conds["Ready"]["reason"] == "PodCompleted"


def test_transition_time_kept_while_status_holds() -> None:
    old = [{"type": "Ready", "status": "True", "lastTransitionTime": "old"}]
    same = status.merge_conditions(old, [{"type": "Ready", "status": "True"}], T0)
    flipped = status.merge_conditions(old, [{"type": "Ready", "status": "False"}], T0)
    assert same[0]["lastTransitionTime"] == "old"
    assert flipped[0]["lastTransitionTime"] == "2023-11-14T22:13:20Z"


def test_foreign_conditions_are_kept() -> None:
    old = [{"type": "DisruptionTarget", "status": "True"}]
    merged = status.merge_conditions(old, [{"type": "Ready", "status": "True"}], T0)
    assert [c["type"] for c in merged] == ["Ready", "DisruptionTarget"]


def test_pod_status_has_ips_and_keeps_a_terminal_phase() -> None:
    pod = {"metadata": {}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Failed"}}
    st = status.pod_status(
        pod,
        [],
        [view(ContainerState.RUNNING)],
        sandbox_ready=True,
        pod_ip="10.0.0.5",
        host_ip="127.0.0.1",
        start_time=T0,
        now=T0,
    )
    assert st["phase"] == "Failed"
    assert st["podIPs"] == [{"ip": "10.0.0.5"}]
    assert st["hostIPs"] == [{"ip": "127.0.0.1"}]
