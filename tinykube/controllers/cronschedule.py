"""Cron schedules as the CronJob controller evaluates them (robfig/cron's standard parser).

``spec.schedule`` is five fields (minute, hour, day of month, month, day of
week) with ``*``, ``?``, lists, ranges, steps and month/weekday names, or a
descriptor: ``@yearly``/``@annually``, ``@monthly``, ``@weekly``,
``@daily``/``@midnight``, ``@hourly`` and ``@every <duration>``. As in cron,
when both day fields are restricted a day matches if *either* does.

``next_after(t)`` is the first activation strictly after ``t``, evaluated in
the CronJob's time zone (``spec.timeZone``, else UTC, which is what the
controller manager's local time is in a container). The API server has
already validated the text (``api.validation.cron``), so parsing here assumes
a well-formed schedule and raises ValueError otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NAMES = [
    {},
    {},
    {},
    {
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
]
_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
SEARCH_LIMIT = timedelta(days=366 * 5)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: either field sets or a constant delay (``@every``)."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    day_star: bool = True
    weekday_star: bool = True
    every: float = 0.0

    def next_after(self, moment: datetime, zone: tzinfo = UTC) -> datetime | None:
        """The first activation strictly after ``moment`` (None if none within five years)."""
        if self.every:
            delay = max(1.0, float(int(self.every)))
            return moment.replace(microsecond=0) + timedelta(seconds=delay)
        local = moment.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = local + SEARCH_LIMIT
        while local < limit:
            if local.month not in self.months:
                local = _first_of_next_month(local)
            elif not self._day_matches(local):
                local = (local + timedelta(days=1)).replace(hour=0, minute=0)
            elif local.hour not in self.hours:
                local = (local + timedelta(hours=1)).replace(minute=0)
            elif local.minute not in self.minutes:
                local += timedelta(minutes=1)
            else:
                return local.astimezone(UTC)
        return None

    def _day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.days
        dow = (moment.isoweekday() % 7) in self.weekdays
        if self.day_star or self.weekday_star:
            return dom and dow
        return dom or dow


def _first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0)


def parse(text: str) -> Schedule:
    spec = text.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        spec = spec.partition(" ")[2].strip()
    if spec.startswith("@every "):
        return Schedule(every=parse_duration(spec.removeprefix("@every ").strip()))
    spec = MACROS.get(spec, spec)
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    sets = [
        _field(f, lo, hi, names) for f, (lo, hi), names in zip(fields, _BOUNDS, _NAMES, strict=True)
    ]
    return Schedule(
        minutes=sets[0],
        hours=sets[1],
        days=sets[2],
        months=sets[3],
        weekdays=frozenset(d % 7 for d in sets[4]),
        day_star=fields[2] in ("*", "?"),
        weekday_star=fields[4] in ("*", "?"),
    )


def parse_duration(text: str) -> float:
    """A Go duration (``1h30m``, ``90s``) in seconds."""
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r}")
    return total


def _field(text: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        expr, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if expr in ("*", "?"):
            start, end = lo, hi
        elif "-" in expr:
            a, b = expr.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(expr, names)
            end = hi if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int]) -> int:
    lowered = text.lower()
    return names[lowered] if lowered in names else int(text)
