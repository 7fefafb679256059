"""The event recorder: Events shaped as upstream posts them, repeats aggregated by PATCH,
a vanished Event posted afresh, and recording that never blocks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.client.clock import settle
from tinykube.client.events import QUEUE_SIZE, EventRecorder

pytestmark = pytest.mark.unit


class FakeEvents:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.missing = False

    async def create(self, api_version: str, resource: str, obj: dict, ns: str) -> dict:
        self.calls.append(("create", obj))
        return obj

    async def patch(self, api_version: str, resource: str, name: str, patch: Any, ns: str) -> dict:
        self.calls.append(("patch", (ns, name, patch)))
        if self.missing:
            raise errors.NotFound(f'events "{name}" not found')
        return {"metadata": {"name": name, "namespace": ns}, **patch}


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "team", "uid": "u-1", "resourceVersion": "9"},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u-n"}}


async def test_first_event_is_created_as_upstream_shapes_it() -> None:
    fake = FakeEvents()
    rec = EventRecorder(fake, "replicaset-controller")  # type: ignore[arg-type]
    await rec.emit(POD, "Normal", "SuccessfulCreate", "Created pod: web-1")
    ((verb, event),) = fake.calls
    assert verb == "create"
    assert event["metadata"]["namespace"] == "team"
    assert event["metadata"]["name"].startswith("web-1.")
    assert event["involvedObject"] == {
        "kind": "Pod",
        "namespace": "team",
        "name": "web-1",
        "uid": "u-1",
        "apiVersion": "v1",
        "resourceVersion": "9",
    }
    assert event["reason"] == "SuccessfulCreate" and event["type"] == "Normal"
    assert event["count"] == 1 and event["source"] == {"component": "replicaset-controller"}
    assert event["firstTimestamp"] == event["lastTimestamp"]


async def test_repeats_patch_count_and_last_timestamp() -> None:
    fake = FakeEvents()
    rec = EventRecorder(fake, "c")  # type: ignore[arg-type]
    first = await rec.emit(POD, "Warning", "FailedCreate", "quota")
    await rec.emit(POD, "Warning", "FailedCreate", "quota")
    await rec.emit(POD, "Warning", "FailedCreate", "quota")
    patches = [args for verb, args in fake.calls if verb == "patch"]
    assert [p[2]["count"] for p in patches] == [2, 3]
    assert all(p[1] == first["metadata"]["name"] for p in patches)
    assert all("lastTimestamp" in p[2] for p in patches)
    await rec.emit(POD, "Warning", "FailedCreate", "another message")
    assert fake.calls[-1][0] == "create"  # a different message is a different event


async def test_vanished_event_is_posted_again() -> None:
    fake = FakeEvents()
    rec = EventRecorder(fake, "c")  # type: ignore[arg-type]
    await rec.emit(POD, "Normal", "R", "m")
    fake.missing = True
    await rec.emit(POD, "Normal", "R", "m")
    assert [verb for verb, _ in fake.calls] == ["create", "patch", "create"]


async def test_cluster_scoped_objects_get_events_in_default() -> None:
    fake = FakeEvents()
    rec = EventRecorder(fake, "node-controller")  # type: ignore[arg-type]
    await rec.emit(NODE, "Normal", "NodeNotReady", "Node n1 status is now: NodeNotReady")
    assert fake.calls[0][1]["metadata"]["namespace"] == "default"


async def test_record_never_blocks_and_run_posts() -> None:
    fake = FakeEvents()
    rec = EventRecorder(fake, "c")  # type: ignore[arg-type]
    for i in range(QUEUE_SIZE + 10):  # the overflow is dropped, not awaited
        rec.event(POD, "Normal", "R", f"m{i}")
    task = asyncio.create_task(rec.run())
    await settle(QUEUE_SIZE * 2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(fake.calls) == QUEUE_SIZE
