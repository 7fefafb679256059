"""Cron schedules and CronJob decisions: next times (macros, @every, day-field OR, time
zones), missed runs, deadlines, Job names and history limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tinykube.controllers import cronjob, cronschedule

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 4, 10, 17, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("* * * * *", datetime(2026, 3, 4, 10, 18, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 3, 4, 10, 30, tzinfo=UTC)),
        ("0 9-17/4 * * *", datetime(2026, 3, 4, 13, 0, tzinfo=UTC)),
        ("@hourly", datetime(2026, 3, 4, 11, 0, tzinfo=UTC)),
        ("@daily", datetime(2026, 3, 5, 0, 0, tzinfo=UTC)),
        ("@weekly", datetime(2026, 3, 8, 0, 0, tzinfo=UTC)),
        ("@monthly", datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
        ("@yearly", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("30 8 * jan,jul mon", datetime(2026, 7, 6, 8, 30, tzinfo=UTC)),
        ("0 0 13 * fri", datetime(2026, 3, 6, 0, 0, tzinfo=UTC)),  # either day field matches
        ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_after(spec: str, expected: datetime) -> None:
    assert cronschedule.parse(spec).next_after(T0) == expected


def test_every_is_a_constant_delay() -> None:
    schedule = cronschedule.parse("@every 1h30m")
    assert schedule.next_after(T0) == T0 + timedelta(minutes=90)


def test_time_zone_shifts_the_schedule() -> None:
    schedule = cronschedule.parse("0 9 * * *")
    nine_in_tokyo = schedule.next_after(T0, ZoneInfo("Asia/Tokyo"))
    assert nine_in_tokyo == datetime(2026, 3, 5, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("1h30m", 5400), ("1.5m", 90), ("250ms", 0.25)]
)
def test_go_durations(text: str, seconds: float) -> None:
    assert cronschedule.parse_duration(text) == seconds


def cj(**spec: object) -> dict:
    return {
        "metadata": {
            "name": "tick",
            "namespace": "ns",
            "uid": "uid-tick",
            "creationTimestamp": "2026-03-04T10:00:00Z",
        },
        "spec": {"schedule": "*/5 * * * *", **spec},
        "status": {},
    }


def test_most_recent_unmet_time_and_missed_count() -> None:
    latest, missed = cronjob.unmet_schedule(cj(), T0, cronschedule.parse("*/5 * * * *"), UTC)
    assert latest == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    assert missed == 3  # 10:05, 10:10, 10:15


def test_last_schedule_time_is_not_repeated() -> None:
    the_cj = cj()
    the_cj["status"]["lastScheduleTime"] = "2026-03-04T10:15:00Z"
    assert cronjob.unmet_schedule(the_cj, T0, cronschedule.parse("*/5 * * * *"), UTC) == (None, 0)


def test_starting_deadline_drops_old_runs() -> None:
    latest, _ = cronjob.unmet_schedule(
        cj(startingDeadlineSeconds=60), T0, cronschedule.parse("*/5 * * * *"), UTC
    )
    assert latest is None  # 10:15 is 150 s ago, past the 60 s deadline


def test_job_from_template() -> None:
    the_cj = cj(jobTemplate={"metadata": {"labels": {"a": "b"}}, "spec": {"backoffLimit": 1}})
    scheduled = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    job = cronjob.job_from_template(the_cj, scheduled, UTC)
    assert job["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
    assert job["metadata"]["labels"] == {"a": "b"}
    assert job["metadata"]["annotations"] == {cronjob.SCHEDULED_TIMESTAMP: "2026-03-04T10:15:00Z"}
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"] == {"backoffLimit": 1}


def finished(name: str, outcome: str, start: str) -> dict:
    return {
        "metadata": {"name": name},
        "status": {"startTime": start, "conditions": [{"type": outcome, "status": "True"}]},
    }


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    jobs = [
        finished("ok1", "Complete", "2026-01-01T00:01:00Z"),
        finished("ok2", "Complete", "2026-01-01T00:02:00Z"),
        finished("ok3", "Complete", "2026-01-01T00:03:00Z"),
        finished("bad1", "Failed", "2026-01-01T00:04:00Z"),
        finished("bad2", "Failed", "2026-01-01T00:05:00Z"),
        {"metadata": {"name": "running"}, "status": {}},
    ]
    victims = cronjob.history_to_delete(cj(successfulJobsHistoryLimit=2), jobs)
    assert [j["metadata"]["name"] for j in victims] == ["ok1", "bad1"]
