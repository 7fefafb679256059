"""Job updates: the template is immutable, but a suspended Job that never started may still
change its scheduling directives, and may be resumed."""

from __future__ import annotations

import copy
from typing import Any

from tinykube.api.validation.batch import validate_job_update


def job(suspend: bool, started: bool = False, node_selector: dict | None = None) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    obj: dict[str, Any] = {
        "metadata": {"name": "j", "namespace": "default"},
        "spec": {
            "suspend": suspend,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_spec},
        },
        "status": {"startTime": "2026-01-01T00:00:00Z"} if started else {},
    }
    return obj


def messages(new: dict, old: dict) -> list[str]:
    return [str(e) for e in validate_job_update(new, old)]


def test_a_job_created_suspended_can_be_resumed() -> None:
    old = job(suspend=True)
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = False
    assert messages(new, old) == []


def test_resuming_with_a_new_node_selector_is_allowed_before_the_start() -> None:
    old = job(suspend=True)
    new = job(suspend=False, node_selector={"disk": "ssd"})
    assert messages(new, old) == []


def test_a_started_job_keeps_its_template() -> None:
    old = job(suspend=True, started=True)
    new = job(suspend=True, started=True, node_selector={"disk": "ssd"})
    assert any("spec.template" in m and "immutable" in m for m in messages(new, old))


def test_a_running_job_cannot_change_its_template_by_suspending() -> None:
    old = job(suspend=False)
    new = job(suspend=True, node_selector={"disk": "ssd"})
    assert any("spec.template" in m for m in messages(new, old))
