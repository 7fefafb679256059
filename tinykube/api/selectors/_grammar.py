"""The ``?labelSelector=`` grammar: a lexer and a one-token-lookahead parser.

The structure follows apimachinery's ``labels.Parse`` so that every error
names the same token and expects the same alternatives; in value position the
keywords ``in`` and ``notin`` are plain identifiers.
"""

from __future__ import annotations

from enum import Enum

from tinykube.api.selectors._model import (
    BINARY_OPERATORS,
    SET_OPERATORS,
    Operator,
    Requirement,
    Selector,
    new_requirement,
)
from tinykube.api.selectors._syntax import SelectorError, invalid_text, label_key_errors


class _Tok(Enum):
    ERROR = "error"
    END = "end"
    CLOSE = ")"
    COMMA = ","
    NOT = "!"
    DOUBLE_EQUALS = "=="
    EQUALS = "="
    GREATER = ">"
    IDENT = "identifier"
    IN = "in"
    LESS = "<"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    OPEN = "("


_LITERALS = {t.value: t for t in _Tok if t not in (_Tok.ERROR, _Tok.END, _Tok.IDENT)}
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")
_OP_OF_TOKEN = {
    _Tok.IN: Operator.IN,
    _Tok.NOT_IN: Operator.NOT_IN,
    _Tok.EQUALS: Operator.EQUALS,
    _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
    _Tok.GREATER: Operator.GREATER_THAN,
    _Tok.LESS: Operator.LESS_THAN,
}


def _lex(text: str) -> list[tuple[_Tok, str]]:
    """Split a selector into tokens; the list always ends with END."""
    items: list[tuple[_Tok, str]] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos] in _SPACE:
            pos += 1
        if pos >= size:
            items.append((_Tok.END, ""))
            return items
        if text[pos] in _SPECIAL:
            tok, lit, pos = _scan_symbol(text, pos)
        else:
            start = pos
            while pos < size and text[pos] not in _SPECIAL and text[pos] not in _SPACE:
                pos += 1
            lit = text[start:pos]
            tok = _LITERALS.get(lit, _Tok.IDENT)
        items.append((tok, lit))


def _scan_symbol(text: str, pos: int) -> tuple[_Tok, str, int]:
    """The longest operator starting at ``pos`` (``!=`` beats ``!``)."""
    best: tuple[_Tok, str, int] | None = None
    end = pos
    while end < len(text) and text[end] in _SPECIAL:
        candidate = text[pos : end + 1]
        if candidate in _LITERALS:
            best = (_LITERALS[candidate], candidate, end + 1)
        elif best is not None:
            break
        end += 1
    if best is None:
        return _Tok.ERROR, f"error expected: keyword found '{text[pos:end]}'", end
    return best


class _Parser:
    """Recursive descent over the token list, one token of lookahead."""

    def __init__(self, text: str) -> None:
        self._items = _lex(text)
        self._pos = 0

    def _peek(self, as_value: bool = True) -> tuple[_Tok, str]:
        return self._as(self._items[self._pos], as_value)

    def _take(self, as_value: bool = True) -> tuple[_Tok, str]:
        item = self._items[self._pos]
        self._pos += 1
        return self._as(item, as_value)

    @staticmethod
    def _as(item: tuple[_Tok, str], as_value: bool) -> tuple[_Tok, str]:
        # In value position the keywords "in"/"notin" are ordinary identifiers.
        tok, lit = item
        if as_value and tok in (_Tok.IN, _Tok.NOT_IN):
            return _Tok.IDENT, lit
        return tok, lit

    def parse(self) -> list[Requirement]:
        found: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok is _Tok.END:
                return found
            if tok not in (_Tok.IDENT, _Tok.NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                found.append(self._requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err}") from None
            tok, lit = self._take()
            if tok is _Tok.END:
                return found
            if tok is not _Tok.COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            nxt, nlit = self._peek()
            if nxt not in (_Tok.IDENT, _Tok.NOT):
                raise SelectorError(f"found '{nlit}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, op = self._key_and_inferred_operator()
        if op is not None:
            return new_requirement(key, op, [])
        op = self._operator()
        values = self._value_set() if op in SET_OPERATORS else self._exact_value()
        return new_requirement(key, op, sorted(values))

    def _key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        op: Operator | None = None
        tok, lit = self._take()
        if tok is _Tok.NOT:
            op = Operator.DOES_NOT_EXIST
            tok, lit = self._take()
        if tok is not _Tok.IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        problems = label_key_errors(lit)
        if problems:
            raise SelectorError(invalid_text("<nil>", lit, "; ".join(problems)))
        if op is None and self._peek()[0] in (_Tok.END, _Tok.COMMA):
            op = Operator.EXISTS
        return lit, op

    def _operator(self) -> Operator:
        tok, lit = self._take(as_value=False)
        if tok not in _OP_OF_TOKEN:
            raise SelectorError(f"found '{lit}', expected: {', '.join(BINARY_OPERATORS)}")
        return _OP_OF_TOKEN[tok]

    def _value_set(self) -> set[str]:
        tok, lit = self._take()
        if tok is not _Tok.OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok is _Tok.CLOSE:  # "()" is the set holding the empty string
            self._take()
            return {""}
        if tok not in (_Tok.IDENT, _Tok.COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self._identifiers()
        if self._take()[0] is not _Tok.CLOSE:
            raise SelectorError(f"found '{lit}', expected: ')'")
        return values

    def _identifiers(self) -> set[str]:
        """A comma list where a missing item between commas is the empty string."""
        values: set[str] = set()
        while True:
            tok, lit = self._take()
            if tok is _Tok.IDENT:
                values.add(lit)
                nxt, nlit = self._peek()
                if nxt is _Tok.CLOSE:
                    return values
                if nxt is not _Tok.COMMA:
                    raise SelectorError(f"found '{nlit}', expected: ',' or ')'")
            elif tok is _Tok.COMMA:
                if not values:
                    values.add("")
                nxt = self._peek()[0]
                if nxt in (_Tok.CLOSE, _Tok.COMMA):
                    values.add("")
                if nxt is _Tok.CLOSE:
                    return values
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_Tok.END, _Tok.COMMA):
            return {""}
        tok, lit = self._take()
        if tok is _Tok.IDENT:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_requirements(text: str) -> Selector:
    """Parse a selector string; raises :class:`SelectorError` with upstream's message."""
    found = _Parser(text).parse()
    return Selector(tuple(sorted(found, key=lambda r: r.key)))
