"""Quantities parse, print canonically, compare and convert like upstream's resource.Quantity."""

from __future__ import annotations

import pytest

from tinykube.api import quantity
from tinykube.api.quantity import FORMAT_ERROR, QuantityError


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("100m", "100m", id="millicores"),
        pytest.param("1.5Gi", "1536Mi", id="fractional-binary-steps-down"),
        pytest.param("1e3", "1e3", id="exponent-kept"),
        pytest.param("128974848", "128974848", id="plain-bytes"),
        pytest.param("129M", "129M", id="decimal-suffix"),
        pytest.param("0.1", "100m", id="fraction-to-milli"),
        pytest.param("1000", "1k", id="thousand-to-k"),
        pytest.param("1.5", "1500m", id="one-and-a-half"),
        pytest.param("512", "512", id="binary-below-1024-prints-decimal"),
        pytest.param("2048Ki", "2Mi", id="binary-largest-suffix"),
        pytest.param("0.0000000001", "1n", id="rounds-up-to-nano"),
        pytest.param("-1", "-1", id="negative"),
        pytest.param("0", "0", id="zero"),
        pytest.param("1.0", "1", id="trailing-zero"),
        pytest.param(2, "2", id="json-int"),
        pytest.param(0.5, "500m", id="json-float"),
    ],
)
def test_canonical_form(text: str | int | float, canonical: str) -> None:
    assert quantity.normalize(text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("abc", FORMAT_ERROR, id="letters"),
        pytest.param("", FORMAT_ERROR, id="empty"),
        pytest.param("1Z", FORMAT_ERROR, id="unknown-suffix-char"),
        pytest.param("1.2.3", "unable to parse numeric part of quantity", id="two-dots"),
        pytest.param("1Kib", FORMAT_ERROR, id="suffix-with-b"),
    ],
)
def test_invalid_quantities(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as info:
        quantity.parse(text)
    assert str(info.value) == message


def test_format_error_is_upstreams_message() -> None:
    assert FORMAT_ERROR == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param("1Gi", "1G", 1, id="binary-larger"),
        pytest.param("1000m", "1", 0, id="equal-across-suffixes"),
        pytest.param("100m", "0.2", -1, id="smaller"),
    ],
)
def test_compare(a: str, b: str, expected: int) -> None:
    qa, qb = quantity.parse(a), quantity.parse(b)
    assert (qa > qb) - (qa < qb) == expected


@pytest.mark.parametrize(
    ("text", "milli", "value"),
    [
        pytest.param("100m", 100, 1, id="value-rounds-up"),
        pytest.param("2", 2000, 2, id="whole"),
        pytest.param("1Ki", 1024000, 1024, id="binary"),
        pytest.param("1n", 1, 1, id="nano-rounds-up-to-milli"),
    ],
)
def test_conversions(text: str, milli: int, value: int) -> None:
    q = quantity.parse(text)
    assert q.milli_value() == milli
    assert q.value() == value


def test_arithmetic_keeps_first_format() -> None:
    total = quantity.parse("1Gi") + quantity.parse("512Mi")
    assert str(total) == "1536Mi"
    assert str(quantity.from_milli(1500)) == "1500m"
