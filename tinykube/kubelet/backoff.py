"""The CrashLoopBackOff delay, per pod container, as upstream's ``flowcontrol.Backoff``.

A container that exits is restarted at once the first time; each later exit
doubles the wait (10 s, 20 s, 40 s ... capped at 5 min), measured from the
moment it finished. An entry untouched for twice the cap (10 min of a
container running happily) is forgotten, so the next crash starts at 10 s
again. Time is passed in, so tests need no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL = 10.0
CAP = 300.0


@dataclass
class _Entry:
    delay: float
    last_update: float


class CrashLoopBackOff:
    def __init__(self, initial: float = INITIAL, cap: float = CAP) -> None:
        self.initial = initial
        self.cap = cap
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.last_update > 2 * self.cap

    def remaining(self, key: str, finished_at: float, now: float) -> float:
        """Seconds still to wait before restarting (0: restart now)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            return 0.0
        return max(0.0, finished_at + entry.delay - now)

    def next(self, key: str, now: float) -> float:
        """Record a restart; returns the delay that applies to the next exit."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            entry = _Entry(self.initial, now)
        else:
            entry = _Entry(min(self.cap, entry.delay * 2), now)
        self._entries[key] = entry
        return entry.delay

    def current(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
