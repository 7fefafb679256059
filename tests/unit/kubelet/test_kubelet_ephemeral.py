"""Ephemeral containers in the pod worker: started once, never restarted, reported
apart from the app containers, stopped with the pod."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_kubelet_podworker import FakeHost, make_pod

from tinykube.kubelet.podworkers import PodWorker

pytestmark = pytest.mark.unit

DEBUGGER = {"name": "debugger", "image": "busybox", "targetContainerName": "app"}


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path)


def with_debugger(pod: dict) -> dict:
    pod = {**pod, "spec": {**pod["spec"], "ephemeralContainers": [dict(DEBUGGER)]}}
    return pod


async def running_worker(host: FakeHost) -> PodWorker:
    worker = PodWorker(host, make_pod())  # type: ignore[arg-type]
    await worker.sync()
    worker.update(with_debugger(worker.pod))
    await worker.sync()
    return worker


async def test_an_added_ephemeral_container_is_started_and_reported(host: FakeHost) -> None:
    worker = await running_worker(host)
    status = host.statuses[-1]
    (cs,) = status["ephemeralContainerStatuses"]
    assert cs["name"] == "debugger" and cs["image"] == "busybox"
    assert "running" in cs["state"]
    assert cs["ready"] is False and cs["restartCount"] == 0
    assert cs["containerID"].startswith("simulated://")
    assert "started" not in cs
    assert [c["name"] for c in status["containerStatuses"]] == ["app"]
    assert status["phase"] == "Running"
    assert "Started container debugger" in [m for _, m in host.events]
    assert "debugger" in worker.container_ids


async def test_the_target_is_handed_to_the_runtime(host: FakeHost) -> None:
    worker = await running_worker(host)
    created = await host.runtime.list_containers(worker.sandbox_id)
    assert {c.name for c in created} == {"app", "debugger"}


async def test_an_exited_ephemeral_container_is_never_restarted(host: FakeHost) -> None:
    worker = await running_worker(host)
    await host.runtime.stop_container(worker.container_ids["debugger"], 0)
    for _ in range(3):
        await worker.sync()
    (cs,) = host.statuses[-1]["ephemeralContainerStatuses"]
    assert "terminated" in cs["state"] and cs["restartCount"] == 0
    started = [m for _, m in host.events if m == "Started container debugger"]
    assert len(started) == 1
    assert host.statuses[-1]["phase"] == "Running"  # the pod does not care


async def test_it_is_stopped_with_the_pod(host: FakeHost) -> None:
    worker = await running_worker(host)
    worker.mark_gone()
    await worker.sync()
    assert "Stopping container debugger" in [m for _, m in host.events]
    assert await host.runtime.list_containers() == []


async def test_one_a_previous_kubelet_ran_is_not_run_again(host: FakeHost) -> None:
    pod = with_debugger(make_pod())
    old = {
        "name": "debugger",
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": "busybox",
        "imageID": "",
        "containerID": "simulated://gone",
    }
    pod["status"] = {"phase": "Running", "ephemeralContainerStatuses": [old]}
    worker = PodWorker(host, pod)  # type: ignore[arg-type]
    await worker.sync()
    assert host.statuses[-1]["ephemeralContainerStatuses"] == [old]
    assert "Started container debugger" not in [m for _, m in host.events]


async def test_one_running_under_a_previous_kubelet_is_reported_gone(host: FakeHost) -> None:
    pod = with_debugger(make_pod())
    old = {
        "name": "debugger",
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": "busybox",
        "imageID": "",
        "containerID": "simulated://gone",
    }
    pod["status"] = {"phase": "Running", "ephemeralContainerStatuses": [old]}
    worker = PodWorker(host, pod)  # type: ignore[arg-type]
    await worker.sync()
    (cs,) = host.statuses[-1]["ephemeralContainerStatuses"]
    assert cs["state"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert cs["state"]["terminated"]["exitCode"] == 137
    assert cs["containerID"] == "simulated://gone"
    assert "Started container debugger" not in [m for _, m in host.events]
