"""The Job STATUS column for the interim conditions a Job passes through."""

from __future__ import annotations

import pytest

from tinykube.api.tables.batch import job_status

pytestmark = pytest.mark.unit


def with_conditions(*kinds: str) -> dict:
    return {"status": {"conditions": [{"type": k, "status": "True"} for k in kinds]}}


@pytest.mark.parametrize(
    ("kinds", "status"),
    [
        ((), "Running"),
        (("SuccessCriteriaMet",), "SuccessCriteriaMet"),
        (("SuccessCriteriaMet", "Complete"), "Complete"),
        (("FailureTarget",), "FailureTarget"),
        (("FailureTarget", "Failed"), "Failed"),
        (("Suspended",), "Suspended"),
    ],
)
def test_job_status(kinds: tuple[str, ...], status: str) -> None:
    assert job_status(with_conditions(*kinds)) == status
