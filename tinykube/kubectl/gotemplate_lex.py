"""Go ``text/template`` lexing for ``gotemplate``: text, actions and tokens.

A template is text with ``{{actions}}``. ``split`` cuts it into text and
action pieces, applying the trim markers (``{{- `` eats the whitespace
before, `` -}}`` the whitespace after) and dropping ``{{/* comments */}}``;
``tokens`` cuts one action into words, strings, parentheses, pipes, commas
and declaration operators, each with the byte offsets Go reports in errors.
"""

from __future__ import annotations

NAME = "output"
_SPACE = " \t\r\n"
Token = tuple[str, str, int, int]


class TemplateError(Exception):
    """A template Go's parser would reject; the message is Go's."""


def line_of(text: str, pos: int) -> int:
    return 1 + text.count("\n", 0, pos)


def split(template: str) -> list[tuple[str, int, str]]:
    """("text", pos, text) and ("action", pos, inside) pieces, trim markers applied."""
    pieces: list[tuple[str, int, str]] = []
    i = 0
    while True:
        start = template.find("{{", i)
        if start < 0:
            pieces.append(("text", i, template[i:]))
            return [p for p in pieces if p[0] != "text" or p[2]]
        text = template[i:start]
        inner = start + 2
        if template[inner : inner + 1] == "-" and template[inner + 1 : inner + 2] in tuple(_SPACE):
            text = text.rstrip(_SPACE)
            inner += 2
        pieces.append(("text", i, text))
        end, close = _action_end(template, inner)
        body = template[inner:end]
        right_trim = body.endswith("-") and body[-2:-1] in tuple(_SPACE)
        if right_trim:
            body = body[:-2]
        if not body.strip().startswith("/*"):
            pieces.append(("action", inner, body))
        elif not body.strip().endswith("*/"):
            raise TemplateError(f"template: {NAME}:{line_of(template, start)}: unclosed comment")
        i = close
        if right_trim:
            while i < len(template) and template[i] in _SPACE:
                i += 1


def _action_end(template: str, i: int) -> tuple[int, int]:
    """Where the action's text ends and where the text after ``}}`` starts."""
    quote = ""
    start = i
    while i < len(template):
        ch = template[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"`'":
            quote = ch
        elif template.startswith("}}", i):
            return i, i + 2
        elif ch == "\n" and not template[start:i].lstrip().startswith("/*"):
            break
        i += 1
    raise TemplateError(f"template: {NAME}:{line_of(template, start)}: unclosed action")


def tokens(body: str, base: int, template: str) -> list[Token]:
    """(type, text, offset, end offset) tokens of one action's inside."""
    out: list[Token] = []
    i = 0
    while i < len(body):
        ch = body[i]
        pos = base + i
        if ch in _SPACE:
            i += 1
        elif ch in "()|,":
            out.append((ch, ch, pos, pos + 1))
            i += 1
        elif body.startswith(":=", i):
            out.append((":=", ":=", pos, pos + 2))
            i += 2
        elif ch == "=":
            out.append(("=", "=", pos, pos + 1))
            i += 1
        elif ch == '"':
            j = i + 1
            while j < len(body) and body[j] != '"':
                j += 2 if body[j] == "\\" else 1
            if j >= len(body):
                raise TemplateError(
                    f"template: {NAME}:{line_of(template, pos)}: unterminated quoted string"
                )
            out.append(("string", unquote(body[i + 1 : j]), pos, base + j + 1))
            i = j + 1
        elif ch == "`":
            j = body.find("`", i + 1)
            if j < 0:
                raise TemplateError(
                    f"template: {NAME}:{line_of(template, pos)}: unterminated raw quoted string"
                )
            out.append(("string", body[i + 1 : j], pos, base + j + 1))
            i = j + 1
        else:
            j = i
            while (
                j < len(body) and body[j] not in _SPACE + "()|,=" and not body.startswith(":=", j)
            ):
                j += 1
            out.append(("word", body[i:j], pos, base + j))
            i = j
    return out


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def unquote(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            raise TemplateError(f"template: {NAME}:1: invalid syntax")
    return "".join(out)
