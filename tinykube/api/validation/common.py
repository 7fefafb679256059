"""Small building blocks every per-group validator uses.

Field paths are plain strings built the way upstream's ``field.Path`` prints
them (``spec.containers[0].name``, ``data[key]``). Bad values that are maps,
lists or structs print as Go's ``json.Marshal`` prints them (Kubernetes 1.34
and later): ``invalid_json`` does that with Go's key order and escaping.
"""

from __future__ import annotations

import json
from typing import Any

from tinykube.api.errors import FieldError, invalid

IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
NOT_POSITIVE = "must be greater than 0"


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def go_repr(value: Any) -> str:
    """``%#v`` of a string slice, as a few upstream *detail* texts embed it."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    return go_json(value)


def go_json(value: Any) -> str:
    """``json.Marshal`` output: compact, UTF-8, with Go's HTML-safe escapes.

    Since Kubernetes 1.34 a field error prints a non-scalar bad value this way.
    Dict order is kept, so callers pass label maps through ``sorted_map`` (Go
    sorts map keys) and build struct-shaped values in Go's field order.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def sorted_map(value: Any) -> dict[str, Any]:
    return {k: value[k] for k in sorted(value)} if isinstance(value, dict) else {}


def invalid_json(field: str, value: Any, detail: str) -> FieldError:
    """``Invalid value`` for a map, list or struct value, printed as Go prints JSON."""
    return FieldError(field, "Invalid value", f"{go_json(value)}: {detail}")


def too_long_bytes(field: str, limit: int) -> FieldError:
    """Upstream's ``field.TooLong``: the value is never shown."""
    unit = "byte" if limit == 1 else "bytes"
    return FieldError(field, "Too long", f"may not be more than {limit} {unit}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def nonnegative(path: str, value: Any) -> list[FieldError]:
    if is_int(value) and value < 0:
        return [invalid(path, value, NEGATIVE)]
    return []


def positive(path: str, value: Any) -> list[FieldError]:
    if is_int(value) and value <= 0:
        return [invalid(path, value, NOT_POSITIVE)]
    return []


def immutable(path: str, new: Any, old: Any) -> list[FieldError]:
    """``field is immutable`` unless old and new are semantically equal."""
    if _semantic(new) == _semantic(old):
        return []
    if isinstance(new, dict | list):
        return [invalid_json(path, new, IMMUTABLE)]
    return [invalid(path, new, IMMUTABLE)]


def _semantic(value: Any) -> Any:
    # Go's semantic equality treats a nil and an empty map or slice alike.
    if value in (None, {}, []):
        return None
    return value


def dig(obj: Any, *path: str) -> Any:
    """``obj[a][b]...`` or None when any step is missing or not a dict."""
    for name in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
