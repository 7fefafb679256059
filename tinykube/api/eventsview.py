"""events.k8s.io/v1 Events are a second view of the core/v1 Events.

Kubernetes stores one kind of Event; ``events.k8s.io/v1`` renames fields
(``involvedObject`` → ``regarding``, ``message`` → ``note``, the legacy
timestamps and counters get a ``deprecated`` prefix). Both groups read and
write the same objects, so the conversion is a pure rename in both directions.
"""

from __future__ import annotations

from typing import Any

# core/v1 field → events.k8s.io/v1 field (fields with the same name are not listed)
RENAMES = {
    "involvedObject": "regarding",
    "message": "note",
    "reportingComponent": "reportingController",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
}
BACK = {v: k for k, v in RENAMES.items()}
API_VERSION = "events.k8s.io/v1"


def _rename(obj: dict[str, Any], table: dict[str, str], api_version: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        out[table.get(key, key)] = value
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def to_events_v1(core: dict[str, Any]) -> dict[str, Any]:
    """A stored core/v1 Event as events.k8s.io/v1 shows it."""
    out = _rename(core, RENAMES, API_VERSION)
    if out.get("deprecatedSource") == {}:
        out.pop("deprecatedSource")
    if not out.get("deprecatedCount"):
        out.pop("deprecatedCount", None)
    return out


def to_core(event: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event as core/v1 stores it."""
    return _rename(event, BACK, "v1")
