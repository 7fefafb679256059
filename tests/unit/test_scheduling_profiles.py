"""What a scheduling profile writes in its own name, as upstream's per-profile framework does.

`kubectl describe pod` shows ``reportingController`` in its From column; a
pod placed by a second profile (``schedulerName: my-scheduler``) must say
my-scheduler there, and one that names no scheduler says default-scheduler.
Preemption victims carry a DisruptionTarget condition naming the preemptor's
scheduler before they are deleted.
"""

from __future__ import annotations

from typing import Any

import pytest
from builders import MakePod

from tinykube.scheduler.framework import PodInfo, PostFilterResult
from tinykube.scheduler.recorder import Recorder
from tinykube.scheduler.scheduler import Scheduler, profile_of

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


class Preempting:
    """Records the writes preemption makes to the API, in order."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Any]] = []

    async def patch_status(
        self, api_version: str, resource: str, name: str, body: Any, namespace: str = "", **kw: Any
    ) -> dict:
        self.writes.append(("patch_status", name, body))
        return {}

    async def delete(
        self, api_version: str, resource: str, name: str, namespace: str = "", **kw: Any
    ) -> dict:
        self.writes.append(("delete", name, None))
        return {}


async def test_victims_are_marked_a_disruption_target_by_the_preemptors_profile() -> None:
    client = Preempting()
    scheduler = Scheduler(client)  # type: ignore[arg-type]
    victim = MakePod().name("low").node("n1").obj()
    victim["metadata"]["uid"] = "uid-low"
    preemptor = MakePod().name("vip").obj()
    preemptor["spec"]["schedulerName"] = "my-scheduler"
    await scheduler._preempt(preemptor, PostFilterResult("n1", [PodInfo(victim)]))
    assert [(verb, name) for verb, name, _ in client.writes] == [
        ("patch_status", "low"),
        ("delete", "low"),
    ]
    body = client.writes[0][2]
    assert body["metadata"] == {"uid": "uid-low"}
    [condition] = body["status"]["conditions"]
    assert {k: v for k, v in condition.items() if k != "lastTransitionTime"} == {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": "my-scheduler: preempting to accommodate a higher priority pod",
    }
