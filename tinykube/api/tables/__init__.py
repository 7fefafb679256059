"""Server-side printing: the ``meta.k8s.io/v1 Table`` columns and cells of every kind.

``kubectl get`` asks the API server for a Table and prints it as it arrives,
so the columns, their order and every cell string must be what
kube-apiserver's built-in printers produce. Each group's printers live in a
module of this package and are collected into one table keyed by
``(group, kind)``; a kind without a printer gets upstream's default table
(``Name`` and ``Created At``). events.k8s.io Events share the core Event
printer, as upstream converts them to the same internal type first.

The API server builds the Table around these pieces (metadata, row objects,
``includeObject``); this package knows nothing about HTTP.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tinykube.api import duration
from tinykube.api.resources import Resource
from tinykube.api.tables import (
    admissionregistration,
    apps,
    autoscaling,
    batch,
    cluster,
    core,
    events,
    networking,
    pods,
    storage,
)
from tinykube.api.tables._common import Column, Obj, Printer, dig, name_of

__all__ = [
    "Column",
    "Printer",
    "column_definitions",
    "has_printer",
    "printer_for",
    "row_cells",
    "row_conditions",
    "set_custom_printer",
]

_DEFAULT = Printer(
    (
        Column("Name", "string", "The object's name, unique within its namespace.", format="name"),
        Column("Created At", "date", "When the object was created (RFC 3339)."),
    ),
    lambda obj, now: [name_of(obj), _created_at(obj)],
)

_PRINTERS: dict[tuple[str, str], Printer] = {}
for _module in (
    pods,
    core,
    events,
    storage,
    apps,
    batch,
    networking,
    cluster,
    autoscaling,
    admissionregistration,
):
    _PRINTERS.update(_module.PRINTERS)


def _created_at(obj: Obj) -> str:
    stamp = dig(obj, "metadata", "creationTimestamp")
    try:
        moment = duration.parse_time(stamp)
    except ValueError:
        return str(stamp)
    # A zero time prints as Go's zero time, as the default table renders it.
    return duration.format_time(moment) if moment else "0001-01-01T00:00:00Z"


# Printers of custom kinds, per version: each CRD version has its own printer columns.
_CUSTOM: dict[tuple[str, str, str], Printer] = {}


def set_custom_printer(group: str, version: str, kind: str, printer: Printer | None) -> None:
    """Install (or, with None, remove) the printer of a custom kind's version."""
    if printer is None:
        _CUSTOM.pop((group, version, kind), None)
    else:
        _CUSTOM[(group, version, kind)] = printer


def printer_for(res: Resource) -> Printer:
    """The printer of ``res``'s kind, or the default Name / Created At table."""
    if res.crd:
        return _CUSTOM.get((res.group, res.version, res.kind), _DEFAULT)
    return _PRINTERS.get((res.group, res.kind), _DEFAULT)


def has_printer(res: Resource) -> bool:
    """Whether upstream has a dedicated printer for the kind (else the default table)."""
    return (res.group, res.kind) in _PRINTERS


def column_definitions(res: Resource) -> list[dict[str, Any]]:
    """The Table's ``columnDefinitions``, each with name, type, format, description, priority."""
    return [c.definition() for c in printer_for(res).columns]


def row_cells(res: Resource, obj: Obj, now: datetime) -> list[Any]:
    """All cells of ``obj``'s row (wide ones included), computed at ``now``."""
    return printer_for(res).cells(obj, now)


def row_conditions(res: Resource, obj: Obj) -> list[dict[str, Any]] | None:
    """The row's ``conditions`` (``Completed`` for finished Pods), or None."""
    conditions = printer_for(res).conditions
    return conditions(obj) if conditions is not None else None
