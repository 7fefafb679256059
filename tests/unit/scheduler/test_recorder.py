"""Scheduler events: events.k8s.io/v1 shape, and repeats folded into an EventSeries."""

from __future__ import annotations

from typing import Any

import pytest
from builders import MakePod

from tinykube.api import errors
from tinykube.scheduler.recorder import Recorder

pytestmark = pytest.mark.unit


class FakeClient:
    """Records create/patch calls the way the REST client would make them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.gone = False

    async def create(self, api_version: str, resource: str, obj: dict, namespace: str = "") -> dict:
        self.calls.append(("create", f"{api_version}/{resource}", obj))
        return obj

    async def patch(
        self, api_version: str, resource: str, name: str, patch: Any, namespace: str = ""
    ) -> dict:
        if self.gone:
            raise errors.NotFound("gone")
        self.calls.append(("patch", name, patch))
        return {}


async def test_event_shape() -> None:
    client = FakeClient()
    recorder = Recorder(client, "default-scheduler", "default-scheduler-host")  # type: ignore[arg-type]
    pod = MakePod().name("web-1").obj()
    recorder.event(
        pod, "Normal", "Scheduled", "Binding", "Successfully assigned default/web-1 to n1"
    )
    await recorder.drain()
    [(verb, where, body)] = client.calls
    assert (verb, where) == ("create", "events.k8s.io/v1/events")
    assert body["reportingController"] == "default-scheduler"
    assert body["reportingInstance"] == "default-scheduler-host"
    assert body["action"] == "Binding"
    assert body["reason"] == "Scheduled"
    assert body["type"] == "Normal"
    assert body["note"] == "Successfully assigned default/web-1 to n1"
    assert body["regarding"]["kind"] == "Pod"
    assert body["regarding"]["name"] == "web-1"
    assert body["eventTime"].endswith("Z")


async def test_repeats_become_a_series() -> None:
    client = FakeClient()
    recorder = Recorder(client, "default-scheduler")  # type: ignore[arg-type]
    pod = MakePod().name("big").obj()
    for _ in range(3):
        recorder.event(pod, "Warning", "FailedScheduling", "Scheduling", "0/1 nodes are available")
    await recorder.drain()
    assert [c[0] for c in client.calls] == ["create", "patch", "patch"]
    assert client.calls[2][2]["series"]["count"] == 3


async def test_expired_event_is_posted_again() -> None:
    client = FakeClient()
    recorder = Recorder(client, "default-scheduler")  # type: ignore[arg-type]
    pod = MakePod().name("big").obj()
    recorder.event(pod, "Warning", "FailedScheduling", "Scheduling", "m")
    await recorder.drain()
    client.gone = True
    recorder.event(pod, "Warning", "FailedScheduling", "Scheduling", "m")
    await recorder.drain()
    assert [c[0] for c in client.calls] == ["create", "create"]
