"""The log row: the one record both drivers keep per revision, and the events it implies.

In the manner of kine, every write appends one row whose id is the new global
revision. ``created`` marks the first row of a key's life, ``deleted`` a
tombstone (whose value is the last value the key had), and ``prev_revision``
points at the row this one superseded (0 for the first row of a key ever).
An Event is therefore a function of a row and the row it superseded:
``prev_revision`` is "enough to give Event.prev", so no copy of the old value
is stored. That previous row is never compacted away while the row pointing
at it is still above the horizon (see ``compact`` in the drivers), so replay
can always find it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinykube.store.interface import Event, EventType, KeyValue


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int  # the revision of this write
    name: str
    created: bool
    deleted: bool
    create_revision: int
    prev_revision: int
    value: bytes

    def key_value(self) -> KeyValue:
        return KeyValue(self.name, self.value, self.id, self.create_revision)


def event_of(row: LogRow, prev: KeyValue | None) -> Event:
    """The watch event a row stands for; ``prev`` is the superseded row's value."""
    if row.created:
        return Event(EventType.ADDED, row.key_value(), None)
    if row.deleted:
        return Event(EventType.DELETED, row.key_value(), prev)
    return Event(EventType.MODIFIED, row.key_value(), prev)
