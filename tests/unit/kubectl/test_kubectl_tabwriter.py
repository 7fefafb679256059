"""Go tabwriter alignment, as kubectl's tables and describe output depend on it."""

from __future__ import annotations

import pytest

from tinykube.kubectl.printers import render
from tinykube.kubectl.tabwriter import align

pytestmark = pytest.mark.unit


def test_get_table_pads_with_three_spaces_and_min_width_six() -> None:
    lines = [["NAME", "READY", "AGE"], ["web", "1/1", "5m"], ["a-much-longer-name", "0/1", "10s"]]
    assert render(lines) == (
        "NAME                 READY   AGE\n"
        "web                  1/1     5m\n"
        "a-much-longer-name   0/1     10s\n"
    )


def test_short_columns_are_at_least_min_width() -> None:
    assert render([["A", "B"], ["x", "y"]]) == "A     B\nx     y\n"


def test_last_cell_is_never_padded() -> None:
    assert align("a\tb\n", 0, 2) == "a  b\n"


def test_line_without_tab_ends_the_column_block() -> None:
    text = "Name:\tweb\nLonger Label:\tx\nSection:\n  Inner:\ty\n"
    assert align(text, 0, 2) == ("Name:          web\nLonger Label:  x\nSection:\n  Inner:  y\n")


def test_empty_first_cell_continues_a_multiline_value() -> None:
    text = "Labels:\ta=b\n\tc=d\nStatus:\tRunning\n"
    assert align(text, 0, 2) == "Labels:  a=b\n         c=d\nStatus:  Running\n"


def test_remembered_widths_never_shrink() -> None:
    widths: list[int] = []
    first = render([["NAME", "STATUS"], ["a-long-name", "Running"]], widths)
    second = render([["b", "Pending"]], widths)
    assert first.splitlines()[1].index("Running") == second.index("Pending")
