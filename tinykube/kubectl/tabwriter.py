"""Go's ``text/tabwriter``, the aligner behind every kubectl table.

kubectl writes rows as tab-terminated cells and lets tabwriter pad them;
describe does the same with different settings. Matching its output byte for
byte means following its rules, not just "pad every column":

* a column's width is decided per *block*: a run of consecutive lines that all
  have a tab-terminated cell in that column; a line with fewer cells ends the
  block, and the next block may be narrower;
* the last cell of a line (not tab-terminated) is never padded;
* width = max(minwidth, longest cell + padding), counting characters (runes).

``format`` mirrors tabwriter's recursive column walk.
"""

from __future__ import annotations


class TabWriter:
    """Collect text, then ``render`` it aligned. ``get``: (6, 3); describe: (0, 2)."""

    def __init__(self, minwidth: int = 6, padding: int = 3) -> None:
        self.minwidth = minwidth
        self.padding = padding
        self._text: list[str] = []

    def write(self, text: str) -> None:
        self._text.append(text)

    def render(self) -> str:
        return align("".join(self._text), self.minwidth, self.padding)


def align(text: str, minwidth: int = 6, padding: int = 3, remember: list[int] | None = None) -> str:
    """Align tab-separated ``text`` as Go's tabwriter (pad char ' ', no flags) would.

    ``remember`` carries column widths across calls, as kubectl's fork of
    tabwriter does for ``get -w`` (RememberWidths): a column never shrinks.
    """
    if not text:
        return ""
    trailing = not text.endswith("\n")
    raw = text.split("\n")
    if not trailing:
        raw = raw[:-1]
    lines = [line.split("\t") for line in raw]
    out: list[str] = []
    _format(lines, 0, len(lines), [], (minwidth, padding, remember), out)
    result = "\n".join(out)
    return result if trailing else result + "\n"


def _format(
    lines: list[list[str]],
    start: int,
    end: int,
    widths: list[int],
    settings: tuple[int, int, list[int] | None],
    out: list[str],
) -> None:
    minwidth, padding, remember = settings
    column = len(widths)
    line0 = start
    this = start
    while this < end:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        _write(lines, line0, this, widths, out)
        line0 = this
        width = minwidth
        while this < end and column < len(lines[this]) - 1:
            width = max(width, len(lines[this][column]) + padding)
            this += 1
        if remember is not None:
            if column < len(remember):
                width = max(width, remember[column])
                remember[column] = width
            else:
                remember.append(width)
        _format(lines, line0, this, [*widths, width], settings, out)
        line0 = this
    _write(lines, line0, end, widths, out)


def _write(lines: list[list[str]], start: int, end: int, widths: list[int], out: list[str]) -> None:
    for cells in lines[start:end]:
        parts = []
        for j, cell in enumerate(cells):
            if j < len(widths) and j < len(cells) - 1:
                parts.append(cell.ljust(widths[j]))
            else:
                parts.append(cell)
        out.append("".join(parts))
