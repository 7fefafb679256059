"""Table rows of custom objects, from the CRD version's ``additionalPrinterColumns``.

Upstream's table convertor for custom resources prints a Name column, then
one column per printer column; a CRD that declares none gets a single
``Age`` column over ``.metadata.creationTimestamp``. Each cell is the first
result of the column's JSON path, typed by the column: integers and numbers
stay numbers, a ``date`` becomes an age (``5m``), a value of the wrong type
or a path that finds nothing is an empty cell (kubectl shows ``<none>``).

The JSON paths are the simple ones CRDs use (``.spec.replicas``,
``.status.conditions[?(@.type=="Ready")].status``, ``.items[0]``,
``.items[*].name``); a path this evaluator cannot read finds nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from tinykube.api import duration
from tinykube.api.tables._common import Column, Obj, Printer, name_of

NAME_COLUMN = Column(
    "Name",
    "string",
    "Name must be unique within a namespace; it is the object's identifier.",
    format="name",
)
_STEP = re.compile(
    r"""\.(?P<field>(?:\\.|[A-Za-z0-9_\-$/])+)"""
    r"""|\[(?P<index>-?\d+|\*)\]"""
    r"""|\[['"](?P<quoted>[^'"]+)['"]\]"""
    r"""|\[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\)\]"""
)


def parse_path(path: str) -> list[tuple[str, Any]] | None:
    """``.a.b[0]`` → steps, or None when the path is not in the supported subset."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            return None
        if m.group("field") is not None:
            steps.append(("field", m.group("field").replace("\\.", ".")))
        elif m.group("quoted") is not None:
            steps.append(("field", m.group("quoted")))
        elif m.group("index") is not None:
            idx = m.group("index")
            steps.append(("all", None) if idx == "*" else ("index", int(idx)))
        else:
            raw = m.group("fval")
            value: Any = raw[1:-1] if raw[:1] in "\"'" else _literal(raw)
            steps.append(("filter", (m.group("fpath").split("."), m.group("op"), value)))
        pos = m.end()
    return steps


def _literal(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def find(obj: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches in ``obj``, in document order."""
    steps = parse_path(path)
    if steps is None:
        return []
    current = [obj]
    for kind, arg in steps:
        current = [v for c in current for v in _step(c, kind, arg)]
    return current


def _step(value: Any, kind: str, arg: Any) -> list[Any]:
    if kind == "field":
        return [value[arg]] if isinstance(value, dict) and arg in value else []
    if not isinstance(value, list):
        return list(value.values()) if kind == "all" and isinstance(value, dict) else []
    if kind == "all":
        return list(value)
    if kind == "index":
        return [value[arg]] if -len(value) <= arg < len(value) else []
    fpath, op, want = arg
    out = []
    for item in value:
        got: Any = item
        for part in fpath:
            got = got.get(part) if isinstance(got, dict) else None
        if (got == want) == (op == "=="):
            out.append(item)
    return out


def cell(type_: str, value: Any, now: datetime) -> Any:
    """A column's cell for one JSON value, as upstream's cellForJSONValue types it."""
    if value is None:
        return None
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, float) else None
    if type_ == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if not isinstance(value, str):
            return None
        try:
            return duration.age(value, now) if duration.parse_time(value) else None
        except ValueError:
            return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def column(spec: dict[str, Any]) -> Column:
    return Column(
        str(spec.get("name", "")),
        str(spec.get("type", "string")),
        str(spec.get("description", "")),
        int(spec.get("priority") or 0),
        str(spec.get("format", "")),
    )


def printer(columns: tuple[dict[str, Any], ...]) -> Printer:
    """The Table printer of one CRD version."""
    specs = [(str(c.get("type", "string")), str(c.get("jsonPath", ""))) for c in columns]

    def cells(obj: Obj, now: datetime) -> list[Any]:
        row: list[Any] = [name_of(obj)]
        for type_, path in specs:
            found = find(obj, path)
            row.append(cell(type_, found[0], now) if found else None)
        return row

    return Printer((NAME_COLUMN, *(column(c) for c in columns)), cells)
