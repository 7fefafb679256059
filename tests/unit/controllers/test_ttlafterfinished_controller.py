"""When a finished Job's TTL runs out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from workload_builders import NOW, ago

from tinykube.controllers.ttlafterfinished import expires_at

pytestmark = pytest.mark.unit


def a_job(ttl: int | None, condition: str | None, finished_ago: float = 10) -> dict:
    job: dict = {"metadata": {"name": "j"}, "spec": {}, "status": {}}
    if ttl is not None:
        job["spec"]["ttlSecondsAfterFinished"] = ttl
    if condition:
        job["status"]["conditions"] = [
            {"type": condition, "status": "True", "lastTransitionTime": ago(finished_ago)}
        ]
    return job


@pytest.mark.parametrize(
    ("job", "due"),
    [
        (a_job(30, "Complete"), NOW + timedelta(seconds=20)),
        (a_job(0, "Failed"), NOW - timedelta(seconds=10)),
        (a_job(None, "Complete"), None),
        (a_job(30, None), None),
        (a_job(30, "SuccessCriteriaMet"), None),
    ],
)
def test_expires_at(job: dict, due: object) -> None:
    assert expires_at(job) == due
