"""The Events a kubelet records about its Node, and its handling of a deleted Node."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.kubelet import lease, nodeevents, nodesync
from tinykube.kubelet.kubelet import Kubelet, KubeletConfig

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def conditions(**statuses: str) -> list[Obj]:
    return [{"type": kind, "status": status} for kind, status in statuses.items()]


HEALTHY = conditions(
    MemoryPressure="False", DiskPressure="False", PIDPressure="False", Ready="True"
)


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param(
            [],
            HEALTHY,
            [
                "NodeHasSufficientMemory",
                "NodeHasNoDiskPressure",
                "NodeHasSufficientPID",
                "NodeReady",
            ],
            id="registration-records-all-four",
        ),
        pytest.param(HEALTHY, HEALTHY, [], id="nothing-changed"),
        pytest.param(
            conditions(MemoryPressure="False", Ready="Unknown"),
            conditions(MemoryPressure="False", Ready="True"),
            ["NodeReady"],
            id="back-from-unknown",
        ),
        pytest.param(
            conditions(Ready="True"), conditions(Ready="False"), ["NodeNotReady"], id="not-ready"
        ),
        pytest.param(
            conditions(MemoryPressure="False", DiskPressure="False", PIDPressure="False"),
            conditions(MemoryPressure="True", DiskPressure="True", PIDPressure="True"),
            ["NodeHasInsufficientMemory", "NodeHasDiskPressure", "NodeHasInsufficientPID"],
            id="pressure",
        ),
    ],
)
def test_condition_events(old: list[Obj], new: list[Obj], want: list[str]) -> None:
    assert nodeevents.condition_events(old, new) == want


def test_schedulable_watch_reports_each_change_once() -> None:
    watch = nodeevents.SchedulableWatch()
    assert watch.observe({"spec": {}}) is None
    assert watch.observe({"spec": {"unschedulable": True}}) == "NodeNotSchedulable"
    assert watch.observe({"spec": {"unschedulable": True}}) is None
    assert watch.observe({"spec": {}}) == "NodeSchedulable"


def test_a_kubelet_started_on_a_cordoned_node_says_so() -> None:
    assert nodeevents.SchedulableWatch().observe({"spec": {"unschedulable": True}}) == (
        "NodeNotSchedulable"
    )


# ---- the kubelet's status pass --------------------------------------------------------


class FakeNodes:
    """A client holding one Node; records status patches."""

    def __init__(self, node: Obj | None) -> None:
        self.node = node
        self.created: list[Obj] = []
        self.patched: list[Obj] = []

    async def get(self, version: str, resource: str, name: str, namespace: str = "") -> Obj:
        if self.node is None:
            raise errors.NotFound(f'nodes "{name}" not found')
        return copy.deepcopy(self.node)

    async def create(self, version: str, resource: str, obj: Obj, namespace: str = "") -> Obj:
        self.created.append(obj)
        self.node = copy.deepcopy(obj)
        return obj

    async def patch_status(self, version: str, resource: str, name: str, patch: Obj) -> Obj:
        if self.node is None:
            raise errors.NotFound(f'nodes "{name}" not found')
        self.patched.append(patch)
        self.node["status"] = patch["status"]
        return copy.deepcopy(self.node)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Obj, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append((obj, type_, reason, message))


def node_sync(tmp_path: Path, client: FakeNodes) -> tuple[nodesync.NodeSync, Recorder]:
    config = KubeletConfig(node_name="n1", root_dir=tmp_path, runtime="simulated")
    kl = Kubelet(config, client)  # type: ignore[arg-type]
    recorder = Recorder()
    kl.recorder = recorder  # type: ignore[assignment]
    return nodesync.NodeSync(kl), recorder


def reasons(recorder: Recorder) -> list[str]:
    return [reason for _, _, reason, _ in recorder.events]


def test_startup_events_after_registration(tmp_path: Path) -> None:
    client = FakeNodes(None)
    sync, recorder = node_sync(tmp_path, client)
    node = asyncio.run(sync.register())
    sync.record_startup_events(node)
    assert reasons(recorder) == [
        "Starting",
        "NodeHasSufficientMemory",
        "NodeHasNoDiskPressure",
        "NodeHasSufficientPID",
        "NodeReady",
        "NodeAllocatableEnforced",
    ]
    ref, type_, _, message = recorder.events[1]
    assert ref == {"kind": "Node", "metadata": {"name": "n1", "uid": "n1"}}
    assert type_ == "Normal"
    assert message == "Node n1 status is now: NodeHasSufficientMemory"
    assert recorder.events[0][3] == "Starting kubelet."
    assert recorder.events[-1][3] == "Updated Node Allocatable limit across pods"


def test_status_pass_records_cordon_and_uncordon(tmp_path: Path) -> None:
    client = FakeNodes(None)
    sync, recorder = node_sync(tmp_path, client)

    async def passes() -> None:
        await sync.register()
        assert client.node is not None
        await sync.sync_status(0.0)
        client.node["spec"]["unschedulable"] = True
        await sync.sync_status(0.0)
        await sync.sync_status(0.0)
        del client.node["spec"]["unschedulable"]
        await sync.sync_status(0.0)

    asyncio.run(passes())
    assert reasons(recorder) == ["NodeNotSchedulable", "NodeSchedulable"]
    assert recorder.events[0][3] == "Node n1 status is now: NodeNotSchedulable"


def test_status_pass_records_ready_again_after_the_controller_set_unknown(tmp_path: Path) -> None:
    client = FakeNodes(None)
    sync, recorder = node_sync(tmp_path, client)

    async def passes() -> None:
        await sync.register()
        assert client.node is not None
        for c in client.node["status"]["conditions"]:
            if c["type"] == "Ready":
                c["status"] = "Unknown"
        await sync.sync_status(0.0)

    asyncio.run(passes())
    assert reasons(recorder) == ["NodeReady"]
    ready = [c for c in client.patched[-1]["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"


def test_a_deleted_node_is_not_registered_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream registers once per start: the status loop keeps failing instead."""
    monkeypatch.setattr(nodesync, "STATUS_INTERVAL", 0.01)
    client = FakeNodes(None)
    sync, _ = node_sync(tmp_path, client)

    async def delete_then_run_the_loop() -> None:
        await sync.register()
        client.node = None
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sync.status_loop(), 0.3)

    asyncio.run(delete_then_run_the_loop())
    assert client.node is None
    assert len(client.created) == 1
    assert sync.kubelet.node is None  # so no mirror pod is made with a dangling owner


class LeaseClient:
    """No Lease yet; the Node is there or (deleted) not."""

    def __init__(self, node: Obj | None) -> None:
        self.node = node
        self.created: list[Obj] = []

    async def get(self, version: str, resource: str, name: str, namespace: str = "") -> Obj:
        if resource == "nodes" and self.node is not None:
            return self.node
        raise errors.NotFound(f'{resource} "{name}" not found')

    async def create(self, version: str, resource: str, obj: Obj, namespace: str = "") -> Obj:
        self.created.append(obj)
        return obj


@pytest.mark.parametrize(
    ("present", "owners"),
    [
        pytest.param(True, [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u2"}]),
        pytest.param(False, None, id="node-deleted"),
    ],
)
def test_a_new_lease_is_owned_by_the_node_as_it_is_now(present: bool, owners: Any) -> None:
    registered = {"metadata": {"name": "n1", "uid": "u1"}}
    current = {"metadata": {"name": "n1", "uid": "u2"}} if present else None
    client = LeaseClient(current)
    asyncio.run(lease.LeaseRenewer(client, registered).renew())
    [created] = client.created
    assert created["metadata"].get("ownerReferences") == owners
