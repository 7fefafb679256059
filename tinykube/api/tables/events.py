"""The Event printer, shared by core/v1 and events.k8s.io/v1 Events.

Both resources are views of one stored object; upstream converts either to
the same internal Event before printing. Here an events.k8s.io shaped dict
(``regarding``, ``note``, ``deprecated*``) is read through the core names.

LAST SEEN falls back from lastTimestamp to firstTimestamp to eventTime, and
an event series overrides it (and COUNT) with its last observation. Singleton
events from the new API have no count and print 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tinykube.api import duration
from tinykube.api.tables._common import Cells, Column, Obj, Printer, col, name_of

_NEW_NAMES = {
    "involvedObject": "regarding",
    "message": "note",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "source": "deprecatedSource",
}


def _field(ev: Obj, core_name: str) -> Any:
    value = ev.get(core_name)
    if value is None and core_name in _NEW_NAMES:
        value = ev.get(_NEW_NAMES[core_name])
    return value


def _seen(stamp: Any, now: datetime) -> str | None:
    """HumanDuration since ``stamp``, or None when the time is missing (zero)."""
    return duration.age(stamp, now) if stamp else None


def event_source(ev: Obj) -> str:
    source = _field(ev, "source") or {}
    component = source.get("component") or ev.get("reportingController") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _target(ref: Obj) -> str:
    kind = str(ref.get("kind", "")).lower()
    return f"{kind}/{ref['name']}" if ref.get("name") else kind


def _event_cells(ev: Obj, now: datetime) -> Cells:
    first = _seen(_field(ev, "firstTimestamp"), now) or duration.age(ev.get("eventTime"), now)
    last = _seen(_field(ev, "lastTimestamp"), now) or first
    total = int(_field(ev, "count") or 0)
    series = ev.get("series")
    if series:
        last = duration.age(series.get("lastObservedTime"), now)
        total = int(series.get("count") or 0)
    elif total == 0:
        total = 1
    ref = _field(ev, "involvedObject") or {}
    return [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        _target(ref),
        ref.get("fieldPath", ""),
        event_source(ev),
        str(_field(ev, "message") or "").strip(),
        first,
        total,
        name_of(ev),
    ]


EVENT = Printer(
    (
        col("Last Seen", "How long ago the event was last observed."),
        col("Type", "Normal or Warning."),
        col("Reason", "A short machine-readable cause."),
        col("Object", "The object the event is about, as kind/name."),
        col("Subobject", "The part of the object, such as a container.", priority=1),
        col("Source", "The component (and host) that reported it.", priority=1),
        col("Message", "What happened, for humans."),
        col("First Seen", "How long ago the event was first observed.", priority=1),
        col("Count", "How many times it was observed.", priority=1),
        Column("Name", "string", "The event object's name.", 1, "name"),
    ),
    _event_cells,
)

PRINTERS = {("", "Event"): EVENT, ("events.k8s.io", "Event"): EVENT}
