"""Human tables from server Tables, and YAML/JSON rendered the way Go renders them."""

from __future__ import annotations

import pytest

from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.output import custom_columns, parse_output

pytestmark = pytest.mark.unit

TABLE = {
    "kind": "Table",
    "columnDefinitions": [
        {"name": "Name", "type": "string", "format": "name", "priority": 0},
        {"name": "Ready", "type": "string", "format": "", "priority": 0},
        {"name": "Restarts", "type": "integer", "format": "", "priority": 0},
        {"name": "IP", "type": "string", "format": "", "priority": 1},
    ],
    "rows": [
        {
            "cells": ["web", "1/1", 0, "10.0.0.1"],
            "object": {
                "metadata": {"name": "web", "namespace": "prod", "labels": {"b": "2", "app": "web"}}
            },
        },
        {
            "cells": ["db", "0/1", 3, "<none>"],
            "object": {"metadata": {"name": "db", "namespace": "dev"}},
        },
    ],
}


def _render(**kw: object) -> str:
    return printers.render(printers.table_lines(TABLE, **kw))  # type: ignore[arg-type]


def test_headers_upper_cased_and_wide_columns_hidden() -> None:
    assert _render() == "NAME   READY   RESTARTS\nweb    1/1     0\ndb     0/1     3\n"


def test_wide_shows_priority_columns() -> None:
    assert _render(wide=True).splitlines()[0] == "NAME   READY   RESTARTS   IP"


def test_all_namespaces_prepends_namespace() -> None:
    assert _render(namespace_column=True).splitlines()[:2] == [
        "NAMESPACE   NAME   READY   RESTARTS",
        "prod        web    1/1     0",
    ]


def test_kind_prefix_label_columns_and_show_labels() -> None:
    out = _render(
        kind_prefix="pod", label_columns=["app.kubernetes.io/app", "app"], show_labels=True
    )
    assert out.splitlines() == [
        "NAME      READY   RESTARTS   APP   APP   LABELS",
        "pod/web   1/1     0                web   app=web,b=2",
        "pod/db    0/1     3                      <none>",
    ]


def test_no_headers() -> None:
    assert _render(headers=False) == "web   1/1   0\ndb    0/1   3\n"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "<nil>"), (True, "true"), (3, "3"), (2.0, "2"), ("x", "x")],
)
def test_cells_print_like_go_fmt(value: object, text: str) -> None:
    assert printers.cell_text(value) == text


def test_yaml_quotes_like_go_yaml() -> None:
    doc = {
        "b": "1",
        "a": "yes",
        "c": "",
        "d": "y",
        "e": "plain",
        "f": "2026-01-01T00:00:00Z",
        "g": "x\ny\n",
    }
    assert printers.to_yaml(doc) == (
        'a: "yes"\nb: "1"\nc: ""\nd: "y"\ne: plain\nf: "2026-01-01T00:00:00Z"\ng: |\n  x\n  y\n'
    )


def test_yaml_lists_are_not_indented_and_not_aliased() -> None:
    shared = ["get"]
    assert printers.to_yaml({"r": [{"v": shared}, {"v": shared}]}) == (
        "r:\n- v:\n  - get\n- v:\n  - get\n"
    )


def test_json_is_sorted_indented_and_html_escaped() -> None:
    assert (
        printers.to_json({"b": "<&>", "a": []})
        == '{\n    "a": [],\n    "b": "\\u003c\\u0026\\u003e"\n}\n'
    )


def test_go_sprint_of_maps_and_lists() -> None:
    assert printers.go_sprint({"b": [1, "x"], "a": {"k": "v"}}) == "map[a:map[k:v] b:[1 x]]"


def test_custom_columns_print_none_for_missing_values() -> None:
    objs = [{"metadata": {"name": "a"}, "spec": {"n": 1}}, {"metadata": {"name": "bb"}}]
    assert (
        custom_columns("NAME:.metadata.name,N:.spec.n", objs)
        == "NAME   N\na      1\nbb     <none>\n"
    )


def test_unknown_output_format_lists_the_allowed_ones() -> None:
    with pytest.raises(
        CommandError, match='output format "bogus", allowed formats are: custom-columns'
    ):
        parse_output("bogus")
