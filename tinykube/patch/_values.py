"""Helpers over JSON-like values shared by every patch flavour.

Patches are computed and applied on plain decoded JSON (dicts, lists, str,
int, float, bool, None). Python blurs two distinctions that JSON keeps:
``True == 1`` and ``1 == 1.0``. Kubernetes compares decoded values with Go's
``reflect.DeepEqual``, where a boolean never equals a number, so equality here
is written out by hand. Go also renders values into its error messages and
sorts primitive lists by their ``%v`` text; ``go_str`` reproduces that text so
our messages and orderings match the real API server's.
"""

from __future__ import annotations

from typing import Any

JSONMap = dict[str, Any]


def deep_copy(value: Any) -> Any:
    """A copy sharing nothing mutable with ``value`` (faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


def kind(value: Any) -> str:
    """The JSON type of a value: object, array, string, number, boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def equal(a: Any, b: Any, *, exact_numbers: bool = False) -> bool:
    """Deep JSON equality where booleans never equal numbers.

    With ``exact_numbers`` an integer never equals a float (``1`` vs ``1.0``),
    as when Go compares the JSON text of two numbers.
    """
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return False
    if ka == "object":
        return a.keys() == b.keys() and all(
            equal(v, b[k], exact_numbers=exact_numbers) for k, v in a.items()
        )
    if ka == "array":
        return len(a) == len(b) and all(
            equal(x, y, exact_numbers=exact_numbers) for x, y in zip(a, b, strict=True)
        )
    if exact_numbers and ka == "number" and type(a) is not type(b):
        return False
    return bool(a == b)


def index_of(items: list[Any], value: Any) -> int:
    """Position of the first element equal to ``value``, or -1."""
    for i, item in enumerate(items):
        if equal(item, value):
            return i
    return -1


def go_str(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for a value decoded by Go's encoding/json."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_str(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """Go's shortest ``%v`` of a float64: plain digits unless the exponent is extreme."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    exponent = int(f"{value:e}".split("e")[1]) if value else 0
    if exponent < -4 or exponent >= 21:
        mantissa, _, exp = repr(value).partition("e")
        if not exp:
            mantissa, _, exp = f"{value:e}".partition("e")
            mantissa = mantissa.rstrip("0").rstrip(".")
        sign = "-" if int(exp) < 0 else "+"
        return f"{mantissa}e{sign}{abs(int(exp)):02d}"
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def go_type(value: Any) -> str:
    """The Go type name of a decoded JSON value, as Kubernetes' type errors print it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, int):
        return "int64"
    return "float64" if isinstance(value, float) else "string"


def sort_scalars(values: list[Any]) -> list[Any]:
    """Order primitives by their Go ``%v`` text, as Kubernetes sorts primitive lists."""
    return sorted(values, key=go_str)


def dedupe(values: list[Any]) -> list[Any]:
    """Drop repeated primitives, keeping the first occurrence of each."""
    out: list[Any] = []
    seen: set[tuple[str, Any]] = set()
    for v in values:
        if isinstance(v, dict | list):
            if index_of(out, v) < 0:
                out.append(v)
        elif (kind(v), v) not in seen:
            seen.add((kind(v), v))
            out.append(v)
    return out
