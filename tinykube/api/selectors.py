"""Label selectors: the ``?labelSelector=`` grammar, metav1.LabelSelector, and their text.

Three producers meet here. Clients send selector strings (``app=web,tier in
(a,b),!canary``) that the API server parses for list and watch; objects carry
``metav1.LabelSelector`` dicts (``matchLabels`` + ``matchExpressions``) that
controllers and the scheduler evaluate; and the Table printers render either
one back as text. All three end as the same :class:`Selector`, a sorted tuple
of :class:`Requirement` values ANDed together, so matching and printing never
disagree.

The parser follows apimachinery's ``labels.Parse`` token for token (a lexer,
then a recursive descent with one token of lookahead) because clients see its
error strings verbatim in ``400 BadRequest`` responses. Two semantics are easy
to mix up and are kept apart on purpose: a *missing* LabelSelector selects
nothing (``Selector.nothing()``), an *empty* one selects everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from tinykube.api import errors


class Operator(StrEnum):
    """selection.Operator; the values are upstream's spellings."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = "gt"
    LESS_THAN = "lt"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


# The order upstream lists operators in its "expected: ..." message.
_BINARY = ("in", "notin", "=", "==", "!=", "gt", "lt")
_SET_OPS = (Operator.IN, Operator.NOT_IN)
_EXACT_OPS = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS)
_NUMERIC_OPS = (Operator.GREATER_THAN, Operator.LESS_THAN)
_UNARY_OPS = (Operator.EXISTS, Operator.DOES_NOT_EXIST)

# ---- label key and value syntax (apimachinery validation/content) ----------

_KEY_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT = f"({_KEY_NAME_FMT})?"
_DNS_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_FMT = _DNS_LABEL_FMT + r"(\." + _DNS_LABEL_FMT + ")*"
_KEY_NAME_RE = re.compile(f"^{_KEY_NAME_FMT}$")
_VALUE_RE = re.compile(f"^{_VALUE_FMT}$")
_DNS_SUBDOMAIN_RE = re.compile(f"^{_DNS_SUBDOMAIN_FMT}$")

_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_MAX_NAME = 63
_MAX_SUBDOMAIN = 253


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Upstream joins examples as "'a', " + " or " + "'b', " (hence two spaces).
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def label_key_errors(key: str) -> list[str]:
    """Problems with a label key (``[prefix/]name``); empty when it is valid."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + _regex_error(_KEY_MSG, _KEY_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    problems: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        problems += _prefix_errors(parts[0])
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > _MAX_NAME:
        problems.append(f"name part must be no more than {_MAX_NAME} bytes")
    if not _KEY_NAME_RE.match(name):
        problems.append(
            "name part " + _regex_error(_KEY_MSG, _KEY_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return problems


def _prefix_errors(prefix: str) -> list[str]:
    if not prefix:
        return ["prefix part must be non-empty"]
    problems = []
    if len(prefix) > _MAX_SUBDOMAIN:
        problems.append(f"must be no more than {_MAX_SUBDOMAIN} bytes")
    if not _DNS_SUBDOMAIN_RE.match(prefix):
        problems.append(_regex_error(_SUBDOMAIN_MSG, _DNS_SUBDOMAIN_FMT, "example.com"))
    return ["prefix part " + p for p in problems]


def label_value_errors(value: str) -> list[str]:
    """Problems with a label value; empty when it is valid (the empty string is)."""
    problems = []
    if len(value) > _MAX_NAME:
        problems.append(f"must be no more than {_MAX_NAME} bytes")
    if not _VALUE_RE.match(value):
        problems.append(_regex_error(_VALUE_MSG, _VALUE_FMT, "MyValue", "my_value", "12345"))
    return problems


def _invalid(path: str, value: Any, detail: str) -> str:
    """A field.Error rendered as ``Error()`` renders it."""
    return f"{path}: Invalid value: {errors.render_value(value)}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """utilerrors.Aggregate text: one message bare, several bracketed, duplicates dropped."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class SelectorError(ValueError):
    """A selector that upstream would reject; ``str()`` is upstream's message."""


# ---- requirements and selectors ---------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term; values are kept sorted and unique."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels:
            # NotIn and != also select objects that lack the key.
            return op in (Operator.NOT_IN, Operator.NOT_EQUALS)
        value = labels[self.key]
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return value in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return value not in self.values
        return _compare(op, value, self.values)

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(sorted(self.values))
        if op in _SET_OPS:
            return f"{self.key} {op.value} ({joined})"
        sign = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{sign}{joined}"


def _compare(op: Operator, value: str, wanted: tuple[str, ...]) -> bool:
    if len(wanted) != 1:
        return False
    try:
        have, bound = int(value), int(wanted[0])
    except ValueError:
        return False
    return have > bound if op is Operator.GREATER_THAN else have < bound


def new_requirement(key: str, operator: Operator, values: Iterable[str]) -> Requirement:
    """labels.NewRequirement: check the key, the operator's arity and each value."""
    vals = list(values)
    problems: list[str] = []
    if label_key_errors(key):
        problems.append(_invalid("key", key, "; ".join(label_key_errors(key))))
    problems += _arity_problems(operator, vals)
    for i, value in enumerate(vals):
        found = label_value_errors(value)
        if found:
            problems.append(_invalid(f"values[{i}][{key}]", value, "; ".join(found)))
    if problems:
        raise SelectorError(_aggregate(problems))
    return Requirement(key, operator, tuple(sorted(set(vals))))


def _arity_problems(op: Operator, vals: list[str]) -> list[str]:
    shown = "[]string{" + ", ".join(errors.render_value(v) for v in vals) + "}"
    if op in _SET_OPS and not vals:
        return [
            f"values: Invalid value: {shown}: for 'in', 'notin' operators, values set can't be empty"
        ]
    if op in _EXACT_OPS and len(vals) != 1:
        return [
            f"values: Invalid value: {shown}: exact-match compatibility requires one single value"
        ]
    if op in _UNARY_OPS and vals:
        return [
            f"values: Invalid value: {shown}: values set must be empty for exists and does not exist"
        ]
    if op in _NUMERIC_OPS:
        out = []
        if len(vals) != 1:
            out.append(
                f"values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value is required"
            )
        for i, value in enumerate(vals):
            if not re.fullmatch(r"[+-]?\d+", value):
                out.append(
                    _invalid(
                        f"values[{i}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
        return out
    return []


@dataclass(frozen=True)
class Selector:
    """An AND of requirements, sorted by key; or the selector that matches nothing."""

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = False

    @classmethod
    def everything(cls) -> Selector:
        return cls()

    @classmethod
    def nothing(cls) -> Selector:
        """What a missing (nil) LabelSelector means: no object matches."""
        return cls(selects_nothing=True)

    @classmethod
    def from_set(cls, labels: Mapping[str, str] | None) -> Selector:
        """SelectorFromSet: exact matches on every pair; None or {} selects everything."""
        reqs = [Requirement(k, Operator.EQUALS, (v,)) for k, v in (labels or {}).items()]
        return cls(tuple(sorted(reqs, key=lambda r: r.key)))

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (matches every object)."""
        return not self.requirements and not self.selects_nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.selects_nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value the selector demands for ``key``, if it demands one."""
        for req in self.requirements:
            if req.key == key:
                exact = req.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                return req.values[0] if exact and len(req.values) == 1 else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


# ---- the string grammar -----------------------------------------------------


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
        values = self._value_set() if op in _SET_OPS else self._exact_value()
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
            raise SelectorError(_invalid("<nil>", lit, "; ".join(problems)))
        if op is None and self._peek()[0] in (_Tok.END, _Tok.COMMA):
            op = Operator.EXISTS
        return lit, op

    def _operator(self) -> Operator:
        tok, lit = self._take(as_value=False)
        if tok not in _OP_OF_TOKEN:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY)}")
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


def parse(text: str) -> Selector:
    """Parse ``?labelSelector=``; a bad selector is a ``400 BadRequest`` as upstream answers."""
    try:
        return parse_requirements(text)
    except SelectorError as err:
        raise errors.BadRequest(str(err)) from None


# ---- metav1.LabelSelector ---------------------------------------------------

_EXPRESSION_OPS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def label_selector_as_selector(sel: Mapping[str, Any] | None) -> Selector:
    """metav1.LabelSelectorAsSelector; raises :class:`SelectorError` on a bad selector.

    None selects nothing; ``{}`` (no matchLabels, no matchExpressions) selects everything.
    """
    if sel is None:
        return Selector.nothing()
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    reqs = [new_requirement(k, Operator.EQUALS, [v]) for k, v in sorted(match_labels.items())]
    for expr in expressions:
        op = _EXPRESSION_OPS.get(expr.get("operator", ""))
        if op is None:
            shown = errors.render_value(expr.get("operator", ""))
            raise SelectorError(f"{shown} is not a valid label selector operator")
        reqs.append(new_requirement(expr.get("key", ""), op, expr.get("values") or []))
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_label_selector(sel: Mapping[str, Any] | None) -> Selector:
    """Like :func:`label_selector_as_selector`, but a bad selector is a ``400 BadRequest``."""
    try:
        return label_selector_as_selector(sel)
    except SelectorError as err:
        raise errors.BadRequest(str(err)) from None


def to_string(sel: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: ``app=web,tier in (a,b)``; ``<none>`` if empty or nil."""
    try:
        text = str(label_selector_as_selector(sel))
    except SelectorError:
        return "<error>"
    return text or "<none>"


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted ``k=v`` pairs joined by commas; ``<none>`` if empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))
