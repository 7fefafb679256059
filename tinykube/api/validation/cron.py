"""Cron schedules as CronJobs accept them: five fields or an ``@`` descriptor.

Upstream parses ``spec.schedule`` with robfig/cron's standard parser and puts
the parser's error text into the field error, so the messages below follow
that parser (``expected exactly 5 fields, found 1: [bad]``). Month and
weekday names (``jan``, ``mon``), ``?``, ranges, lists and steps are
accepted; ``TZ=`` prefixes are rejected by the caller.
"""

from __future__ import annotations

import re

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# (minimum, maximum, names) per field: minute, hour, day of month, month, day of week.
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FIELDS = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (
        1,
        12,
        {m: i + 1 for i, m in enumerate(MONTHS)},
    ),
    (0, 6, {d: i for i, d in enumerate(WEEKDAYS)}),
)
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def schedule_errors(schedule: str) -> list[str]:
    """Why ``schedule`` is not a valid standard cron spec (empty when it is)."""
    spec = schedule.strip()
    if not spec:
        return ["empty spec string"]
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        spec = spec.partition(" ")[2].strip()
    if spec.startswith("@"):
        return _descriptor(spec)
    fields = spec.split()
    if len(fields) != 5:
        shown = "[" + " ".join(fields) + "]"
        return [f"expected exactly 5 fields, found {len(fields)}: {shown}"]
    for text, (lo, hi, names) in zip(fields, FIELDS, strict=True):
        error = _field(text, lo, hi, names)
        if error:
            return [error]
    return []


def _descriptor(spec: str) -> list[str]:
    if spec in DESCRIPTORS:
        return []
    if spec.startswith("@every "):
        duration = spec.removeprefix("@every ").strip()
        if _DURATION.match(duration):
            return []
        return [f'failed to parse duration {spec}: time: invalid duration "{duration}"']
    return [f"unrecognized descriptor: {spec}"]


def _field(text: str, lo: int, hi: int, names: dict[str, int]) -> str:
    for expr in text.split(","):
        error = _range(expr, lo, hi, names)
        if error:
            return error
    return ""


def _range(expr: str, lo: int, hi: int, names: dict[str, int]) -> str:
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    low_and_high = range_and_step[0].split("-")
    if len(low_and_high) > 2:
        return f"too many hyphens: {expr}"
    if low_and_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start, error = _value(low_and_high[0], names)
        if error:
            return error
        end = start
        if len(low_and_high) == 2:
            end, error = _value(low_and_high[1], names)
            if error:
                return error
    if len(range_and_step) == 2:
        step, error = _number(range_and_step[1])
        if error:
            return error
        if step <= 0:
            return f"step of range should be a positive number: {expr}"
        if len(low_and_high) == 1 and low_and_high[0] not in ("*", "?"):
            end = hi
    if start < lo:
        return f"beginning of range ({start}) below minimum ({lo}): {expr}"
    if end > hi:
        return f"end of range ({end}) above maximum ({hi}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    return ""


def _value(text: str, names: dict[str, int]) -> tuple[int, str]:
    if text.lower() in names:
        return names[text.lower()], ""
    return _number(text)


def _number(text: str) -> tuple[int, str]:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return 0, f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
    value = int(text)
    if value < 0:
        return 0, f"negative number ({value}) not allowed: {text}"
    return value, ""
