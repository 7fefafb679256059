"""CronJob syncs against a recording client: which Jobs count as its active ones."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from unit.controllers.recording_client import RecordingClient, context
from unit.controllers.workload_builders import NOW, ago

from tinykube.api import errors
from tinykube.controllers.cronjob import CronJobController

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        self.seen.append((kind, reason, message))


class Stored(RecordingClient):
    """Answers GETs from what the API server would hold."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[tuple[str, str], Obj] = {}

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> Obj:
        if (resource, name) not in self.objects:
            raise errors.NotFound(f'{resource} "{name}" not found')
        return copy.deepcopy(self.objects[(resource, name)])


def a_cron_job(active: list[Obj] | None = None, **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": "tick",
            "namespace": "ns",
            "uid": "uid-tick",
            "resourceVersion": "1",
            "creationTimestamp": ago(600),
        },
        # once a year: nothing is due while the test runs
        "spec": {"schedule": "0 0 1 1 *", "jobTemplate": {"spec": {}}, **spec},
        "status": {"active": active} if active else {},
    }


def a_job(name: str, outcome: str | None = None, completed_ago: float = 30) -> Obj:
    status: Obj = {"startTime": ago(completed_ago + 5)}
    if outcome is not None:
        status["conditions"] = [{"type": outcome, "status": "True"}]
    if outcome == "Complete":
        status["completionTime"] = ago(completed_ago)
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick", "uid": "uid-tick"}
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "ownerReferences": [{**owner, "controller": True}],
        },
        "status": status,
    }


def ref(job: Obj) -> Obj:
    return {"kind": "Job", "name": job["metadata"]["name"], "uid": job["metadata"]["uid"]}


def setup(cj: Obj, jobs: list[Obj]) -> tuple[CronJobController, Stored, Events]:
    ctx, _, _ = context()
    client = Stored()
    ctx.client = client  # type: ignore[assignment]
    controller = CronJobController(ctx, now=lambda: NOW)
    events = Events()
    controller.recorder = events  # type: ignore[assignment]
    controller.cronjobs.replace([cj], "1")
    controller.jobs.replace(jobs, "1")
    client.objects[("cronjobs", "tick")] = cj
    for job in jobs:
        client.objects[("jobs", job["metadata"]["name"])] = job
    return controller, client, events


async def test_a_job_made_by_hand_is_not_counted_as_active() -> None:
    manual = a_job("manual")
    controller, client, events = setup(a_cron_job(), [manual])
    await controller.reconcile("ns/tick")
    assert client.verbs("update_status", "cronjobs") == []  # ACTIVE stays 0
    assert events.seen == [
        (
            "Warning",
            "UnexpectedJob",
            "Saw a job that the controller did not create or forgot: manual",
        )
    ]


async def test_a_job_made_by_hand_does_not_hold_back_a_forbid_schedule() -> None:
    cj = a_cron_job(concurrencyPolicy="Forbid", schedule="*/5 * * * *")
    controller, client, events = setup(cj, [a_job("manual")])
    await controller.reconcile("ns/tick")
    assert len(client.verbs("create", "jobs")) == 1
    assert "JobAlreadyActive" not in [reason for _, reason, _ in events.seen]


async def test_a_stale_cache_does_not_make_our_own_job_unexpected() -> None:
    job = a_job("tick-1")
    controller, client, events = setup(a_cron_job(), [job])
    client.objects[("cronjobs", "tick")] = a_cron_job(active=[ref(job)])  # written, not yet seen
    await controller.reconcile("ns/tick")
    assert events.seen == []
    assert [r["name"] for r in client.last_status["active"]] == ["tick-1"]


async def test_an_active_job_the_informer_has_not_seen_stays_active() -> None:
    job = a_job("tick-1")
    controller, client, events = setup(a_cron_job(active=[ref(job)]), [])
    client.objects[("jobs", "tick-1")] = job
    await controller.reconcile("ns/tick")
    assert events.seen == []
    assert client.verbs("update_status", "cronjobs") == []


async def test_any_succeeded_job_moves_last_successful_time() -> None:
    done = a_job("manual", "Complete", completed_ago=30)
    controller, client, events = setup(a_cron_job(), [done])
    await controller.reconcile("ns/tick")
    assert client.last_status["lastSuccessfulTime"] == ago(30)
    assert events.seen == []  # it never was in the active list
