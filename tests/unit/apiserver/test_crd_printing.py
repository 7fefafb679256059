"""Table rows of custom objects: JSON paths and typed cells of additionalPrinterColumns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tinykube.apiserver.crd.definition import DEFAULT_COLUMNS
from tinykube.apiserver.crd.printing import cell, find, printer

NOW = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
OBJ: dict[str, Any] = {
    "metadata": {
        "name": "w",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "labels": {"app.kubernetes.io/name": "web"},
    },
    "spec": {"replicas": 3, "ports": [{"name": "http", "port": 80}, {"name": "s", "port": 443}]},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Synced", "status": "False"},
        ]
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.replicas", [3]),
        (".spec.ports[1].port", [443]),
        (".spec.ports[-1].name", ["s"]),
        (".spec.ports[*].port", [80, 443]),
        ('.status.conditions[?(@.type=="Synced")].status', ["False"]),
        (".status.conditions[?(@.type=='Ready')].status", ["True"]),
        ("{.metadata.name}", ["w"]),
        (r".metadata.labels.app\.kubernetes\.io/name", ["web"]),
        (".spec.missing", []),
        (".spec.ports[9]", []),
        ("not a path", []),
    ],
)
def test_find(path: str, expected: list[Any]) -> None:
    assert find(OBJ, path) == expected


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("integer", 3, 3),
        ("integer", 3.0, 3),
        ("integer", "3", None),
        ("number", 1.5, 1.5),
        ("boolean", True, True),
        ("boolean", "true", None),
        ("string", "x", "x"),
        ("string", {"a": 1}, '{"a":1}'),
        ("date", "2026-01-01T00:00:00Z", "10m"),
        ("date", "yesterday", None),
    ],
)
def test_cells_are_typed_by_the_column(type_: str, value: Any, expected: Any) -> None:
    assert cell(type_, value, NOW) == expected


def test_printer_columns_and_row() -> None:
    columns = (
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nope", "priority": 1},
    )
    p = printer(columns)
    assert [(c.name, c.priority) for c in p.columns] == [
        ("Name", 0),
        ("Replicas", 0),
        ("Ready", 0),
        ("Missing", 1),
    ]
    assert p.columns[0].format == "name"
    assert p.cells(OBJ, NOW) == ["w", 3, "True", None]


def test_a_crd_without_columns_prints_name_and_age() -> None:
    p = printer(DEFAULT_COLUMNS)
    assert [c.name for c in p.columns] == ["Name", "Age"]
    assert p.cells(OBJ, NOW) == ["w", "10m"]
