"""Shared pieces of the Table printers: column and printer records, small cell helpers.

A printer is a tuple of columns plus a function from (object, now) to cells.
Cells are produced for every column, wide ones included, because the API
server always renders wide and kubectl hides priority-1 columns itself.
``now`` is passed in rather than read from the clock so that tests (and a
watch that renders many rows) see one consistent instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tinykube.api import duration, selectors

Obj = Mapping[str, Any]
Cells = list[Any]
NONE = "<none>"
UNSET = "<unset>"


@dataclass(frozen=True)
class Column:
    """A ``metav1.TableColumnDefinition``; priority 1 means "only with -o wide"."""

    name: str
    type: str
    description: str
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    """The columns of one kind and the function that fills a row's cells."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, datetime], Cells]
    conditions: Callable[[Obj], list[dict[str, str]] | None] | None = None


NAME = Column("Name", "string", "The object's name, unique within its namespace.", format="name")
AGE = Column("Age", "string", "How long ago the object was created.")
CONTAINERS = Column("Containers", "string", "Names of the containers in the pod template.", 1)
IMAGES = Column("Images", "string", "Images of the containers in the pod template.", 1)
SELECTOR = Column("Selector", "string", "The label selector that picks the managed pods.", 1)


def col(name: str, description: str, type_: str = "string", priority: int = 0) -> Column:
    return Column(name, type_, description, priority)


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """``obj[p0][p1]...`` through dicts and lists, or ``default`` when any step is missing."""
    cur = obj
    for step in path:
        if isinstance(step, int):
            if not isinstance(cur, list) or not -len(cur) <= step < len(cur):
                return default
            cur = cur[step]
        elif isinstance(cur, Mapping):
            cur = cur.get(step)
        else:
            return default
        if cur is None:
            return default
    return cur


def name_of(obj: Obj) -> str:
    return str(dig(obj, "metadata", "name", default=""))


def age_of(obj: Obj, now: datetime) -> str:
    """The AGE cell: HumanDuration since creationTimestamp."""
    return duration.age(dig(obj, "metadata", "creationTimestamp"), now)


def deleting(obj: Obj) -> bool:
    return bool(dig(obj, "metadata", "deletionTimestamp"))


def count(value: Any) -> int:
    """An int32 status counter; absent counts as 0."""
    return int(value or 0)


def container_cells(containers: Iterable[Obj] | None) -> tuple[str, str]:
    """The CONTAINERS and IMAGES cells: names and images, comma-joined in order."""
    items = list(containers or [])
    names = ",".join(str(c.get("name", "")) for c in items)
    images = ",".join(str(c.get("image", "")) for c in items)
    return names, images


def template_containers(obj: Obj, *template_path: str) -> tuple[str, str]:
    return container_cells(dig(obj, *template_path, "spec", "containers"))


def label_selector_text(sel: Obj | None) -> str:
    """metav1.FormatLabelSelector (``<none>`` when empty or missing)."""
    return selectors.to_string(sel)


def labels_text(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels (``<none>`` when empty)."""
    return selectors.format_labels(labels)


def bool_text(value: Any) -> str:
    """printBoolPtr: ``True``/``False``, ``<unset>`` for a missing pointer."""
    if value is None:
        return UNSET
    return "True" if value else "False"


def first_true(conditions: Iterable[Obj] | None, kind: str) -> bool:
    """Whether the first condition of type ``kind`` has status True."""
    for cond in conditions or []:
        if cond.get("type") == kind:
            return cond.get("status") == "True"
    return False


def more_list(items: list[str], total: int, limit: int, empty: str) -> str:
    """``a,b,c + N more...`` once ``total`` passes ``limit``; ``empty`` when nothing."""
    text = ",".join(items[:limit])
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty
