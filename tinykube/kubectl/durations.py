"""Go ``time.ParseDuration`` for flags such as ``--timeout=30s`` and ``--since=5m``."""

from __future__ import annotations

import re

from tinykube.kubectl.errors import CommandError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1h30m``, ``500ms``, ``0``); bare integers are seconds."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0
    if text.isdigit():
        return float(text)
    pos, total = 0, 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    while pos < len(body):
        m = _PART.match(body, pos)
        if not m:
            raise CommandError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total
