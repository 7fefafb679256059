"""A scheduler's events name the profile that placed the pod, as upstream's per-profile recorders do.

`kubectl describe pod` shows ``reportingController`` in its From column; a
pod placed by a second profile (``schedulerName: my-scheduler``) must say
my-scheduler there, and one that names no scheduler says default-scheduler.
"""

from __future__ import annotations

from typing import Any

import pytest
from builders import MakePod

from tinykube.scheduler.recorder import Recorder
from tinykube.scheduler.scheduler import profile_of

pytestmark = pytest.mark.unit


class Posted:
    """Keeps the Events a recorder creates."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def create(self, api_version: str, resource: str, obj: dict, namespace: str = "") -> dict:
        self.bodies.append(obj)
        return obj


@pytest.mark.parametrize(
    ("scheduler_name", "profile"),
    [(None, "default-scheduler"), ("", "default-scheduler"), ("my-scheduler", "my-scheduler")],
    ids=["unset", "empty", "second-profile"],
)
def test_profile_of_a_pod(scheduler_name: str | None, profile: str) -> None:
    pod = MakePod().name("p").obj()
    if scheduler_name is not None:
        pod["spec"]["schedulerName"] = scheduler_name
    assert profile_of(pod) == profile


async def test_each_event_is_reported_by_the_profile_it_names() -> None:
    client = Posted()
    recorder = Recorder(client, "default-scheduler")  # type: ignore[arg-type]
    pod = MakePod().name("web").obj()
    note = "Successfully assigned default/web to n1"
    recorder.event(pod, "Normal", "Scheduled", "Binding", note, "my-scheduler")
    recorder.event(pod, "Normal", "Scheduled", "Binding", note)
    await recorder.drain()
    reported = [(b["reportingController"], b["reportingInstance"]) for b in client.bodies]
    assert [controller for controller, _ in reported] == ["my-scheduler", "default-scheduler"]
    assert reported[0][1].startswith("my-scheduler-")
    assert reported[1][1].startswith("default-scheduler-")
