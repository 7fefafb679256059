"""Kubernetes resource quantities: ``100m``, ``1.5Gi``, ``1e3``, ``129M``.

Resource requests and limits, node capacity and volume sizes are quantities.
Validation needs to parse and compare them, the scheduler adds them up, the
kubelet turns them into bytes and millicores, and everything that writes one
back must print it the way Kubernetes does, because clients compare strings:
``1.5Gi`` is stored as ``1536Mi`` and ``0.1`` as ``100m``.

A quantity is an exact rational number plus the family of suffix it was
written in (binary ``Ki``, decimal ``k``/``m`` or exponent ``e3``); the
canonical form keeps that family and picks the largest suffix that still
prints an integer. Like upstream, values are rounded up to whole nano units.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import total_ordering

FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
NUMERIC_ERROR = "unable to parse numeric part of quantity"
SUFFIX_ERROR = "unable to parse quantity's suffix"

_SYNTAX = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$")
_EXPONENT = re.compile(r"^[eE]([-+]?[0-9]+)$")

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_BY_EXP = {exp: suffix for suffix, exp in _BINARY.items()}
_NANO = Fraction(1, 10**9)


class QuantityError(ValueError):
    """A string that is not a quantity; ``str()`` is upstream's message."""


class Format(StrEnum):
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"
    DECIMAL_EXPONENT = "DecimalExponent"


@total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact amount and the suffix family used to print it."""

    amount: Fraction
    format: Format = Format.DECIMAL_SI

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount == other.amount

    def __lt__(self, other: Quantity) -> bool:
        return self.amount < other.amount

    def __hash__(self) -> int:
        return hash(self.amount)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.amount + other.amount, self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.amount - other.amount, self.format)

    def __str__(self) -> str:
        return canonical(self)

    def is_zero(self) -> bool:
        return self.amount == 0

    def sign(self) -> int:
        return (self.amount > 0) - (self.amount < 0)

    def value(self) -> int:
        """The amount as an integer, rounded up (``Value()`` upstream)."""
        return math.ceil(self.amount)

    def milli_value(self) -> int:
        """The amount in thousandths, rounded up (``MilliValue()`` upstream)."""
        return math.ceil(self.amount * 1000)


def parse(text: str | int | float) -> Quantity:
    """Parse a quantity; JSON numbers are accepted as upstream's decoder does."""
    if isinstance(text, bool):
        raise QuantityError(FORMAT_ERROR)
    if isinstance(text, int):
        return Quantity(Fraction(text))
    if isinstance(text, float):
        return Quantity(_round_nano(Fraction(repr(text))))
    if not isinstance(text, str) or not text:
        raise QuantityError(FORMAT_ERROR)
    match = _SYNTAX.match(text)
    if match is None:
        raise QuantityError(FORMAT_ERROR)
    number, suffix = match.groups()
    if not _NUMBER.match(number):
        raise QuantityError(NUMERIC_ERROR)
    base, exp10, exp2, fmt = _suffix(suffix)
    amount = Fraction(number) * Fraction(base) ** (exp10 if base == 10 else exp2)
    return Quantity(_round_nano(amount), fmt)


def _suffix(suffix: str) -> tuple[int, int, int, Format]:
    if suffix in _BINARY:
        return 2, 0, _BINARY[suffix], Format.BINARY_SI
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], 0, Format.DECIMAL_SI
    exp = _EXPONENT.match(suffix)
    if exp is not None:
        return 10, int(exp.group(1)), 0, Format.DECIMAL_EXPONENT
    raise QuantityError(SUFFIX_ERROR)


def _round_nano(amount: Fraction) -> Fraction:
    """Round away from zero to a whole number of nano units, as upstream does."""
    scaled = amount / _NANO
    if scaled.denominator == 1:
        return amount
    units = math.ceil(scaled) if scaled > 0 else math.floor(scaled)
    return units * _NANO


def is_valid(text: str | int | float) -> bool:
    try:
        parse(text)
    except QuantityError:
        return False
    return True


def canonical(q: Quantity) -> str:
    """The string Kubernetes prints for ``q``."""
    if q.amount == 0:
        return "0"
    fmt = q.format
    if fmt == Format.BINARY_SI and (abs(q.amount) < 1024 or q.amount.denominator != 1):
        fmt = Format.DECIMAL_SI
    if fmt == Format.BINARY_SI:
        return _binary(int(q.amount))
    mantissa, exp = _decimal(q.amount)
    if fmt == Format.DECIMAL_EXPONENT:
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    return f"{mantissa}{_DECIMAL_BY_EXP[exp]}"


def _binary(value: int) -> str:
    exp = 0
    while exp < 60 and value % (1 << (exp + 10)) == 0:
        exp += 10
    return f"{value >> exp}{_BINARY_BY_EXP.get(exp, '')}"


def _decimal(amount: Fraction) -> tuple[int, int]:
    """``amount`` as mantissa * 10**exp with exp a multiple of 3 in [-9, 18]."""
    exp = -9
    mantissa = int(amount * 10**9)
    while exp < 18 and mantissa % 1000 == 0:
        mantissa //= 1000
        exp += 3
    return mantissa, exp


def from_milli(milli: int) -> Quantity:
    """A decimal quantity of ``milli`` thousandths (``NewMilliQuantity``)."""
    return Quantity(Fraction(milli, 1000))


def from_int(value: int, fmt: Format = Format.DECIMAL_SI) -> Quantity:
    return Quantity(Fraction(value), fmt)


def normalize(text: str | int | float) -> str:
    """Parse and print canonically: ``normalize("1.5Gi") == "1536Mi"``."""
    return canonical(parse(text))
