"""HumanDuration at every unit boundary, and the RFC 3339 helpers around it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tinykube.api import duration

S, M, H, D = 1, 60, 3600, 86400
Y = 365 * D


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(-3, "<invalid>", id="future-3s"),
        pytest.param(-2, "<invalid>", id="future-2s"),
        pytest.param(-1.9, "0s", id="future-under-2s-is-skew"),
        pytest.param(-1, "0s", id="future-1s"),
        pytest.param(-0.5, "0s", id="future-half-second"),
        pytest.param(0, "0s", id="now"),
        pytest.param(0.999, "0s", id="under-a-second"),
        pytest.param(1, "1s", id="1s"),
        pytest.param(59, "59s", id="59s"),
        pytest.param(60, "60s", id="60s-still-seconds"),
        pytest.param(119, "119s", id="119s-last-seconds"),
        pytest.param(119.9, "119s", id="119.9s-truncates"),
        pytest.param(2 * M, "2m", id="2m"),
        pytest.param(2 * M + 1, "2m1s", id="2m1s"),
        pytest.param(5 * M + 7, "5m7s", id="5m7s"),
        pytest.param(10 * M - 1, "9m59s", id="9m59s-last-minute-seconds"),
        pytest.param(10 * M, "10m", id="10m"),
        pytest.param(10 * M + 59, "10m", id="10m59s-drops-seconds"),
        pytest.param(3 * H - 1, "179m", id="179m-last-minutes"),
        pytest.param(3 * H, "3h", id="3h"),
        pytest.param(3 * H + 4 * M, "3h4m", id="3h4m"),
        pytest.param(8 * H - 1, "7h59m", id="7h59m-last-hours-minutes"),
        pytest.param(8 * H, "8h", id="8h"),
        pytest.param(8 * H + 59 * M, "8h", id="8h59m-drops-minutes"),
        pytest.param(48 * H - 1, "47h", id="47h-last-hours"),
        pytest.param(48 * H, "2d", id="2d"),
        pytest.param(3 * D + 4 * H, "3d4h", id="3d4h"),
        pytest.param(8 * D - 1, "7d23h", id="7d23h-last-days-hours"),
        pytest.param(8 * D, "8d", id="8d"),
        pytest.param(400 * D, "400d", id="400d"),
        pytest.param(2 * Y - 1, "729d", id="729d-last-days"),
        pytest.param(2 * Y, "2y", id="2y"),
        pytest.param(2 * Y + 3 * D, "2y3d", id="2y3d"),
        pytest.param(8 * Y - 1, "7y364d", id="7y364d-last-years-days"),
        pytest.param(8 * Y, "8y", id="8y"),
        pytest.param(9 * Y + 100 * D, "9y", id="9y-drops-days"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert duration.human_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(-2, "<invalid>", id="future"),
        pytest.param(-1, "0s", id="skew"),
        pytest.param(59, "59s", id="59s"),
        pytest.param(60, "1m", id="1m"),
        pytest.param(H - 1, "59m", id="59m"),
        pytest.param(H, "1h", id="1h"),
        pytest.param(D - 1, "23h", id="23h"),
        pytest.param(D, "1d", id="1d"),
        pytest.param(Y - 1, "364d", id="364d"),
        pytest.param(2 * Y + 5 * D, "2y", id="2y"),
    ],
)
def test_short_human_duration(seconds: float, text: str) -> None:
    assert duration.short_human_duration(seconds) == text


NOW = datetime(2026, 7, 23, 7, 7, 48, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "text"),
    [
        pytest.param(None, "<unknown>", id="missing"),
        pytest.param("", "<unknown>", id="empty"),
        pytest.param("not a time", "<unknown>", id="garbage"),
        pytest.param("2026-07-23T07:02:41Z", "5m7s", id="five-minutes"),
        pytest.param("2026-07-23T07:07:50Z", "<invalid>", id="future"),
        pytest.param("2026-07-23T07:07:49Z", "0s", id="skew"),
        pytest.param("2026-07-23T09:07:48+02:00", "0s", id="offset"),
        pytest.param("2026-07-22T07:07:48.123456Z", "23h", id="micro-time"),
    ],
)
def test_age(stamp: str | None, text: str) -> None:
    assert duration.age(stamp, NOW) == text


def test_between() -> None:
    assert duration.between("2026-07-23T07:00:00Z", "2026-07-23T07:00:42Z") == "42s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-07-23T07:07:48Z", NOW, id="metav1-time"),
        pytest.param("2026-07-23T07:07:48.5Z", NOW + timedelta(milliseconds=500), id="fraction"),
        pytest.param(
            "2026-07-23T07:07:48.123456789Z", NOW + timedelta(microseconds=123456), id="nanos"
        ),
        pytest.param("2026-07-23T03:07:48-04:00", NOW, id="offset"),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert duration.parse_time(text) == expected


def test_parse_time_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        duration.parse_time("yesterday")


def test_formats() -> None:
    moment = NOW + timedelta(microseconds=42)
    assert duration.format_time(moment) == "2026-07-23T07:07:48Z"
    assert duration.format_micro_time(moment) == "2026-07-23T07:07:48.000042Z"


def test_now_helpers_have_wire_shapes() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", duration.now_rfc3339())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", duration.now_micro())
