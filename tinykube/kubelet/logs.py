"""Reading CRI log files the way ``kubectl logs`` asks for them.

Each record is ``<RFC3339Nano> <stream> <F|P> <text>``. The options are
upstream's ``PodLogOptions``: ``sinceSeconds``/``sinceTime`` drop older
records, ``tailLines`` keeps the last lines, ``timestamps`` prefixes each
line with its time (Go's RFC3339Nano: trailing zeros of the fraction
trimmed), ``limitBytes`` cuts the output. Pure functions; the server does
the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class Record:
    timestamp: str
    stream: str
    partial: bool
    text: bytes

    @property
    def when(self) -> datetime:
        return parse_time(self.timestamp)


@dataclass
class LogOptions:
    tail_lines: int | None = None
    since: datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    stream: str = "All"


def parse_time(text: str) -> datetime:
    """RFC3339 with up to nanoseconds (Python keeps microseconds)."""
    text = text.rstrip("Z")
    main, _, frac = text.partition(".")
    frac = (frac + "000000")[:6]
    return datetime.strptime(f"{main}.{frac}", "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def go_rfc3339_nano(timestamp: str) -> str:
    """``2026-01-02T03:04:05.120000000Z`` -> ``2026-01-02T03:04:05.12Z``."""
    main, dot, frac = timestamp.rstrip("Z").partition(".")
    frac = frac.rstrip("0")
    return f"{main}.{frac}Z" if dot and frac else f"{main}Z"


def parse_records(data: bytes) -> tuple[list[Record], int]:
    """Complete records in ``data`` and how many bytes they used."""
    records = []
    used = 0
    while (end := data.find(b"\n", used)) >= 0:
        line = data[used:end]
        used = end + 1
        parts = line.split(b" ", 3)
        if len(parts) < 4:
            continue
        ts, stream, tag, text = parts
        records.append(Record(ts.decode(), stream.decode(), tag == b"P", text))
    return records, used


def select(records: list[Record], options: LogOptions) -> list[Record]:
    out = records
    if options.stream in ("Stdout", "Stderr"):
        out = [r for r in out if r.stream == options.stream.lower()]
    if options.since is not None:
        since = options.since
        out = [r for r in out if r.when >= since]
    if options.tail_lines is not None:
        out = _tail(out, options.tail_lines)
    return out


def _tail(records: list[Record], n: int) -> list[Record]:
    if n <= 0:
        return []
    # A line is one or more partial records ending with a full one.
    lines = 0
    for i in range(len(records) - 1, -1, -1):
        if not records[i].partial:
            lines += 1
            if lines > n:
                return records[i + 1 :]
    return records


def render(records: list[Record], options: LogOptions) -> bytes:
    out = bytearray()
    at_line_start = True
    for record in records:
        if options.timestamps and at_line_start:
            out += go_rfc3339_nano(record.timestamp).encode() + b" "
        out += record.text
        if not record.partial:
            out += b"\n"
        at_line_start = not record.partial
    return bytes(out)


def since_from(since_seconds: str | None, since_time: str | None, now: datetime) -> datetime | None:
    if since_seconds:
        from datetime import timedelta

        return now - timedelta(seconds=int(since_seconds))
    if since_time:
        return parse_time(since_time)
    return None
