"""Requirements and selectors: the parsed form every label selector ends in.

A :class:`Selector` is a key-sorted tuple of :class:`Requirement` values that
are ANDed; ``Selector.nothing()`` is the one selector that matches no object
(what a missing LabelSelector means). Requirements print back as upstream's
``Requirement.String()`` does, values sorted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from tinykube.api import errors
from tinykube.api.selectors._syntax import (
    SelectorError,
    aggregate,
    invalid_text,
    label_key_errors,
    label_value_errors,
)


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
BINARY_OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt")
SET_OPERATORS = (Operator.IN, Operator.NOT_IN)
_EXACT_OPS = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS)
_NUMERIC_OPS = (Operator.GREATER_THAN, Operator.LESS_THAN)
_UNARY_OPS = (Operator.EXISTS, Operator.DOES_NOT_EXIST)


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
        if op in SET_OPERATORS:
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
        problems.append(invalid_text("key", key, "; ".join(label_key_errors(key))))
    problems += _arity_problems(operator, vals)
    for i, value in enumerate(vals):
        found = label_value_errors(value)
        if found:
            problems.append(invalid_text(f"values[{i}][{key}]", value, "; ".join(found)))
    if problems:
        raise SelectorError(aggregate(problems))
    return Requirement(key, operator, tuple(sorted(set(vals))))


def _arity_problems(op: Operator, vals: list[str]) -> list[str]:
    shown = "[]string{" + ", ".join(errors.render_value(v) for v in vals) + "}"
    if op in SET_OPERATORS and not vals:
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
                    invalid_text(
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
