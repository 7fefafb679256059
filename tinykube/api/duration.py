"""Human-readable durations and the RFC 3339 timestamps they are measured from.

kubectl prints the AGE column (and RESTARTS' "(5m ago)", a Job's DURATION,
an Event's LAST SEEN) exactly as the server put it in the Table cell, so the
server has to round durations the way apimachinery's ``HumanDuration`` does:
about two significant figures, switching units at fixed boundaries (2 minutes,
10 minutes, 3 hours, 8 hours, 48 hours, 8 days, 2 years, 8 years).
``short_human_duration`` is apimachinery's one-unit ``ShortHumanDuration``;
the built-in printers do not use it, but describe-style output does.

Durations are computed on whole nanoseconds and truncated toward zero, as Go's
``time.Duration`` arithmetic does; a timestamp a little in the future (clock
skew under two seconds) reads ``0s`` rather than ``<invalid>``.

Timestamps on the wire are ``metav1.Time`` (RFC 3339, UTC, whole seconds,
``Z``) or ``metav1.MicroTime`` (six fractional digits); the helpers here write
both and read anything RFC 3339.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

UNKNOWN = "<unknown>"
INVALID = "<invalid>"

_NS_PER_S = 1_000_000_000
_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_YEAR = 365 * _DAY
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def _whole_seconds(seconds: float) -> int:
    """Seconds truncated toward zero, via nanoseconds as Go's Duration does."""
    nanos = round(seconds * _NS_PER_S)
    return -(-nanos // _NS_PER_S) if nanos < 0 else nanos // _NS_PER_S


def human_duration(seconds: float) -> str:
    """apimachinery ``HumanDuration``: ``59s``, ``5m7s``, ``179m``, ``3h4m``, ``47h``, ``3d4h``, ``400d``, ``2y3d``, ``9y``."""
    secs = _whole_seconds(seconds)
    if secs < -1:
        return INVALID
    if secs < 0:
        return "0s"
    if secs < 2 * _MINUTE:
        return f"{secs}s"
    minutes = secs // _MINUTE
    if minutes < 10:
        rest = secs % _MINUTE
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 3 * 60:
        return f"{minutes}m"
    return _hours_and_up(secs // _HOUR, minutes)


def _hours_and_up(hours: int, minutes: int) -> str:
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def short_human_duration(seconds: float) -> str:
    """apimachinery ``ShortHumanDuration``: a single unit, ``45s``, ``3m``, ``5h``, ``12d``, ``2y``."""
    secs = _whole_seconds(seconds)
    if secs < -1:
        return INVALID
    if secs < 0:
        return "0s"
    if secs < _MINUTE:
        return f"{secs}s"
    if secs < _HOUR:
        return f"{secs // _MINUTE}m"
    if secs < _DAY:
        return f"{secs // _HOUR}h"
    if secs < _YEAR:
        return f"{secs // _DAY}d"
    return f"{secs // _YEAR}y"


def parse_time(value: str | None) -> datetime | None:
    """Read an RFC 3339 timestamp (``Z`` or an offset, any fraction); None or "" gives None.

    Raises ValueError on text that is not a timestamp.
    """
    if not value:
        return None
    match = _RFC3339.match(value.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    day, clock, fraction, zone = match.groups()
    # Go writes up to nine fractional digits; Python reads at most six.
    micros = (fraction or "")[1:7].ljust(6, "0")
    offset = "+00:00" if zone in ("Z", "z") else zone
    parsed = datetime.fromisoformat(f"{day}T{clock}.{micros}{offset}")
    return parsed.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """``metav1.Time`` on the wire: UTC, whole seconds, ``Z``."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: datetime) -> str:
    """``metav1.MicroTime`` on the wire: UTC, six fractional digits, ``Z``."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_rfc3339() -> str:
    """The current time as a ``metav1.Time`` string."""
    return format_time(datetime.now(UTC))


def now_micro() -> str:
    """The current time as a ``metav1.MicroTime`` string."""
    return format_micro_time(datetime.now(UTC))


def since(timestamp: str | None, now: datetime) -> float | None:
    """Seconds from ``timestamp`` to ``now``; None when the timestamp is missing or unreadable."""
    try:
        moment = parse_time(timestamp)
    except ValueError:
        return None
    if moment is None:
        return None
    return (_utc(now) - moment).total_seconds()


def age(timestamp: str | None, now: datetime) -> str:
    """The AGE of a timestamp as the printers show it; ``<unknown>`` when there is none."""
    elapsed = since(timestamp, now)
    if elapsed is None:
        return UNKNOWN
    return human_duration(elapsed)


def between(start: str | None, end: str | None) -> str:
    """HumanDuration of ``end - start`` (a Job's DURATION once it has finished)."""
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return UNKNOWN
    return human_duration((finish - begin).total_seconds())


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
