"""``-o yaml`` without importing PyYAML, for the objects that need none of its subtlety.

Importing PyYAML costs a ``get -o yaml`` more time than the rest of its
work. Most API objects are plain: ASCII keys and strings, numbers, booleans,
nulls, nested maps and lists, and multi-line strings such as the
last-applied annotation. For those this module writes exactly the bytes
``printers.to_yaml`` (PyYAML's block style, as go-yaml writes it) would:
sorted keys, two-space indentation, lists not indented under their key,
``{}``/``[]`` for empty ones, strings plain when YAML would read them back
as the same string, double-quoted when it would read another type, single-
quoted when a plain scalar cannot hold them (go-yaml's rules, from
``yamlresolve``), and ``|``/``|-`` literal blocks
for multi-line text.

Anything else (non-ASCII or control characters, tabs, keys longer than a
simple key may be, a line with spaces longer than the 80 columns where
go-yaml folds, literal blocks that would need an indentation or keep
indicator, floats) makes ``dump`` return None, and the caller uses PyYAML.
A unit test compares the two on generated documents.
"""

from __future__ import annotations

from tinykube.kubectl.yamlresolve import needs_quotes

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any

_LEADING_INDICATORS = "#,[]{}&*!|>'\"%@`"
_MAX_KEY = 120  # PyYAML writes longer keys as "? key"
WIDTH = 80  # printers.YAML_WIDTH: lines that could be folded go to PyYAML


class _Unsupported(Exception):
    pass


def dump(data: Any) -> str | None:
    """The YAML for a decoded JSON mapping, or None when PyYAML must write it."""
    if not isinstance(data, dict) or not data:
        return None
    out: list[str] = []
    try:
        _mapping(data, 0, out)
    except _Unsupported:
        return None
    return "".join(out)


def _mapping(value: dict[str, Any], indent: int, out: list[str], first_prefix: str = "") -> None:
    pad = " " * indent
    for i, key in enumerate(sorted(value)):
        if not isinstance(key, str) or len(key) > _MAX_KEY or "\n" in key:
            raise _Unsupported
        lead = first_prefix if i == 0 and first_prefix else pad
        head = f"{lead}{_scalar(key)}:"
        out.append(head)
        _value(value[key], indent, out, in_mapping=True, column=len(head))


def _sequence(value: list[Any], indent: int, out: list[str], first_prefix: str = "") -> None:
    pad = " " * indent
    for i, item in enumerate(value):
        lead = first_prefix if i == 0 and first_prefix else pad
        if isinstance(item, dict) and item:
            _mapping(item, indent + 2, out, first_prefix=f"{lead}- ")
        elif isinstance(item, list) and item:
            _sequence(item, indent + 2, out, first_prefix=f"{lead}- ")
        else:
            out.append(f"{lead}-")
            _value(item, indent, out, in_mapping=False, column=len(lead) + 1)


def _value(value: Any, indent: int, out: list[str], in_mapping: bool, column: int) -> None:
    """What follows ``key:`` or ``-`` (the ``column`` characters of the line so far)."""
    if isinstance(value, dict):
        if not value:
            out.append(" {}\n")
            return
        out.append("\n")
        _mapping(value, indent + 2, out)
    elif isinstance(value, list):
        if not value:
            out.append(" []\n")
            return
        out.append("\n")
        # Lists under a key are not indented further (PyYAML's indentless sequences).
        _sequence(value, indent if in_mapping else indent + 2, out)
    elif isinstance(value, str) and "\n" in value:
        out.append(" " + _literal(value, indent + 2))
    else:
        text = _scalar(value)
        if " " in text and column + 1 + len(text) > WIDTH:
            raise _Unsupported  # go-yaml would fold it onto more lines
        out.append(" " + text + "\n")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise _Unsupported  # floats and anything else: PyYAML's rules
    if not value.isascii() or not value.isprintable():
        raise _Unsupported
    if needs_quotes(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if _plain_ok(value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _plain_ok(text: str) -> bool:
    first = text[0]
    after_first = text[1:2]
    if first in _LEADING_INDICATORS or text[0] == " " or text[-1] == " ":
        return False
    if first in "?:-" and after_first in ("", " "):
        return False
    if text.startswith(("---", "...")):
        return False
    return not (": " in text or text.endswith(":") or " #" in text)


def _literal(text: str, indent: int) -> str:
    """A ``|`` block: only the shapes that need no indentation or keep indicator."""
    lines = text.split("\n")
    body = lines[:-1] if text.endswith("\n") else lines
    if text[0] in " \n" or text.endswith("\n\n") or text[-1] == " ":
        raise _Unsupported
    if any(not line.isascii() or not line.isprintable() or line.endswith(" ") for line in body):
        raise _Unsupported
    if any(line.startswith(" ") for line in body):
        raise _Unsupported  # leading spaces after a break: PyYAML may pick another style
    pad = " " * indent
    head = "|\n" if text.endswith("\n") else "|-\n"
    return head + "".join(f"{pad}{line}\n" if line else "\n" for line in body)
