"""The pod worker driven against the simulated runtime and a host that records calls.

Like sample-controller's fixture, the fake host records what the worker asked
of the API (status writes, the final delete) so each test asserts on those
calls. The simulated runtime starts no process, so these stay unit tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tinykube.kubelet import envvars
from tinykube.kubelet.backoff import CrashLoopBackOff
from tinykube.kubelet.podworkers import PodWorker
from tinykube.kubelet.runtime.interface import RuntimeOptions
from tinykube.kubelet.runtime.simulated import SimulatedRuntime
from tinykube.kubelet.volumes import VolumeManager

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


class FakeHost:
    def __init__(self, root: Path) -> None:
        self.runtime = SimulatedRuntime(
            RuntimeOptions(node_name="n1", root_dir=root, pod_cidr="10.244.9.0/24")
        )
        self.volumes = VolumeManager(None, root, {})
        self.backoff = CrashLoopBackOff()
        self.node_name = "n1"
        self.node_ip = "127.0.0.1"
        self.privileged = False
        self.simulated_run_seconds = 0.0
        self.root = root
        self.statuses: list[Obj] = []
        self.deleted: list[str] = []
        self.events: list[tuple[str, str]] = []

    def event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append((reason, message))

    async def admit(self, pod: Obj) -> None:
        return None

    async def write_status(self, pod: Obj, status: Obj) -> bool:
        self.statuses.append(status)
        return True

    async def delete_pod(self, pod: Obj) -> None:
        self.deleted.append(pod["metadata"]["uid"])

    async def env_sources(self, pod: Obj, container: Obj) -> envvars.EnvSources:
        return envvars.EnvSources()

    def log_path(self, pod: Obj, container: str, attempt: int) -> Path:
        return self.root / "logs" / container / f"{attempt}.log"

    async def pod_dns(self, pod: Obj) -> tuple[str, str]:
        return "", ""


def make_pod(restart_policy: str = "Always", inits: int = 0) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-1"},
        "spec": {
            "restartPolicy": restart_policy,
            "initContainers": [{"name": f"init{i}", "image": "busybox"} for i in range(inits)],
            "containers": [{"name": "app", "image": "nginx"}],
        },
        "status": {"phase": "Pending"},
    }


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path)


def conditions(status: Obj) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


async def test_a_pod_becomes_running_and_ready(host: FakeHost) -> None:
    worker = PodWorker(host, make_pod())  # type: ignore[arg-type]
    await worker.sync()
    status = host.statuses[-1]
    assert status["phase"] == "Running"
    assert status["podIP"].startswith("10.244.9.")
    assert conditions(status)["Ready"] == "True"
    cs = status["containerStatuses"][0]
    assert cs["containerID"].startswith("simulated://")
    assert [r for r, _ in host.events] == ["Pulled", "Created", "Started"]


async def test_unchanged_status_is_not_written_again(host: FakeHost) -> None:
    worker = PodWorker(host, make_pod())  # type: ignore[arg-type]
    await worker.sync()
    await worker.sync()
    assert len(host.statuses) == 1


async def test_init_containers_run_in_order_before_the_app(host: FakeHost) -> None:
    worker = PodWorker(host, make_pod(inits=2))  # type: ignore[arg-type]
    await worker.sync()
    first = host.statuses[-1]
    assert first["phase"] == "Pending"
    assert first["initContainerStatuses"][1]["state"]["waiting"]["reason"] == "ContainerCreating"
    assert first["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert {c["type"]: c.get("reason") for c in first["conditions"]}["Initialized"] == (
        "ContainersNotInitialized"
    )
    for _ in range(3):
        await worker.sync()
    last = host.statuses[-1]
    assert last["phase"] == "Running"
    started = [m for r, m in host.events if r == "Started"]
    assert started == [
        "Started container init0",
        "Started container init1",
        "Started container app",
    ]


async def test_a_finite_pod_succeeds_and_stays_succeeded(host: FakeHost) -> None:
    worker = PodWorker(host, make_pod("Never"))  # type: ignore[arg-type]
    await worker.sync()
    await worker.sync()
    status = host.statuses[-1]
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert conditions(status)["Ready"] == "False"
    writes = len(host.statuses)
    await worker.sync()
    assert len(host.statuses) == writes


async def test_deleting_stops_everything_and_deletes_with_the_uid(host: FakeHost) -> None:
    pod = make_pod()
    worker = PodWorker(host, pod)  # type: ignore[arg-type]
    await worker.sync()
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now"}}
    worker.update(deleting)
    assert await worker.sync() is True
    assert host.deleted == ["uid-1"]
    assert ("Killing", "Stopping container app") in host.events
    assert await host.runtime.list_pod_sandboxes() == []


async def test_a_pod_gone_from_the_api_is_not_deleted_again(host: FakeHost) -> None:
    worker = PodWorker(host, make_pod())  # type: ignore[arg-type]
    await worker.sync()
    worker.mark_gone()
    assert await worker.sync() is True
    assert host.deleted == []
