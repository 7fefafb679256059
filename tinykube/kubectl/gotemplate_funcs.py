"""The functions a kubectl Go template can call: Go's builtins plus kubectl's two.

Each takes the evaluated arguments (a missing value arrives as ``MISSING``)
and returns a value or raises ``ValueError`` with the text Go puts after
``error calling <name>: ``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinykube.kubectl.gotemplate_exec import MISSING, sprint, sprint_value, sprintf, truth


def _nil(value: Any) -> Any:
    return None if value is MISSING else value


def _len(args: list[Any]) -> int:
    (value,) = _arity("len", args, 1)
    if value is MISSING or value is None:
        raise ValueError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(value, (str, list, dict)):
        return len(value.encode()) if isinstance(value, str) else len(value)
    raise ValueError(f"len of type {_kind(value)}")


def _index(args: list[Any]) -> Any:
    if not args:
        raise ValueError("wrong number of args for index: want at least 1 got 0")
    value = args[0]
    for key in args[1:]:
        if isinstance(value, list):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ValueError(f"cannot index slice/array with type {_kind(key)}")
            if not 0 <= key < len(value):
                raise ValueError(f"index out of range: {key}")
            value = value[key]
        elif isinstance(value, dict):
            if not isinstance(key, str):
                raise ValueError(
                    f"value has type {_kind(key)}; should be string"
                    if key is not MISSING
                    else "value is nil; should be string"
                )
            value = value.get(key, MISSING)
        elif value is None or value is MISSING:
            raise ValueError("index of untyped nil")
        else:
            raise ValueError(f"can't index item of type {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    from tinykube.kubectl.gotemplate_exec import _type

    return _type(value)


def _arity(name: str, args: list[Any], want: int) -> list[Any]:
    if len(args) != want:
        raise ValueError(f"wrong number of args for {name}: want {want} got {len(args)}")
    return args


def _basic(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None or value is MISSING:
        raise ValueError("invalid type for comparison")
    raise ValueError("non-comparable type")


def _eq(args: list[Any]) -> bool:
    if len(args) < 2:
        raise ValueError("missing argument for comparison")
    first = args[0]
    kind = _basic(first)
    for other in args[1:]:
        if _basic(other) != kind:
            raise ValueError(
                f"incompatible types for comparison: {_kind(first)} and {_kind(other)}"
            )
        if first == other:
            return True
    return False


def _ordered(name: str, test: Callable[[Any, Any], bool]) -> Callable[[list[Any]], bool]:
    def compare(args: list[Any]) -> bool:
        a, b = _arity(name, args, 2)
        kind = _basic(a)
        if kind == "bool" or _basic(b) == "bool":
            raise ValueError("invalid type for comparison")
        if kind != _basic(b):
            raise ValueError(f"incompatible types for comparison: {_kind(a)} and {_kind(b)}")
        return test(a, b)

    return compare


def _and(args: list[Any]) -> Any:
    for arg in args[:-1]:
        if not truth(arg):
            return arg
    return args[-1]


def _or(args: list[Any]) -> Any:
    for arg in args[:-1]:
        if truth(arg):
            return arg
    return args[-1]


def _base64decode(args: list[Any]) -> str:
    import base64
    import binascii

    (value,) = _arity("base64decode", args, 1)
    if not isinstance(value, str):
        raise ValueError(f"wrong type for value; expected string; got {_kind(value)}")
    try:
        return base64.b64decode(value, validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        raise ValueError("base64 decode failed: illegal base64 data") from None


def _exists(args: list[Any]) -> bool:
    """kubectl's ``exists``: whether a path of keys (or indexes) leads somewhere."""
    value = args[0] if args else MISSING
    for key in args[1:]:
        found = isinstance(value, dict) and key in value
        found = found or (
            isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
        )
        if not found:
            return False
        value = value[key]
    return True


def _slice(args: list[Any]) -> Any:
    if not args:
        raise ValueError("wrong number of args for slice: want at least 1 got 0")
    value, bounds = args[0], args[1:]
    if not isinstance(value, (str, list)):
        raise ValueError(f"can't slice item of type {_kind(value)}")
    if len(bounds) > (3 if isinstance(value, list) else 2):
        raise ValueError(f"too many slice indexes: {len(bounds)}")
    if any(not isinstance(b, int) or isinstance(b, bool) for b in bounds):
        raise ValueError("cannot index slice/array with nil")
    start = bounds[0] if bounds else 0
    end = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= start <= end <= len(value):
        raise ValueError(f"index out of range: {end if end > len(value) else start}")
    return value[start:end]


def _html(args: list[Any]) -> str:
    text = args[0] if len(args) == 1 and isinstance(args[0], str) else sprint(args)
    for old, new in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;")):
        text = text.replace(old, new)
    return text.replace("\0", "\ufffd")


def _js(args: list[Any]) -> str:
    text = args[0] if len(args) == 1 and isinstance(args[0], str) else sprint(args)
    named = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E"}
    named |= {"&": "\\u0026", "=": "\\u003D", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    out = []
    for ch in text:
        if ch in named:
            out.append(named[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(args: list[Any]) -> str:
    from urllib.parse import quote_plus

    text = args[0] if len(args) == 1 and isinstance(args[0], str) else sprint(args)
    return quote_plus(text, safe="-_.~")


FUNCS: dict[str, Callable[[list[Any]], Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda a: not truth(_arity("not", a, 1)[0]),
    "len": _len,
    "index": _index,
    "print": lambda a: sprint([_nil(v) for v in a]),
    "println": lambda a: " ".join(sprint_value(_nil(v)) for v in a) + "\n",
    "printf": lambda a: (
        sprintf(str(a[0]), a[1:]) if a and isinstance(a[0], str) else sprint([_nil(v) for v in a])
    ),
    "eq": _eq,
    "ne": lambda a: not _eq(_arity("ne", a, 2)),
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    "base64decode": _base64decode,
    "exists": _exists,
    "slice": _slice,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
}


def call(name: str, args: list[Any]) -> Any:
    if name in ("and", "or") and not args:
        raise ValueError(f"wrong number of args for {name}: want at least 1 got 0")
    return FUNCS[name](args)
