"""Small building blocks every per-group validator uses.

Field paths are plain strings built the way upstream's ``field.Path`` prints
them (``spec.containers[0].name``, ``data[key]``). A few upstream messages show
a bad value in Go syntax (``map[string]string{"app":"web"}``,
``[]string{"10.0.0.5"}``); ``invalid_go`` renders those exactly, since the
shared ``FieldError`` prints non-scalar values as JSON.
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
    """``%#v`` for the value shapes that appear in Kubernetes messages."""
    if isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            items = ", ".join(f"{json.dumps(k)}:{json.dumps(value[k])}" for k in sorted(value))
            return "map[string]string{" + items + "}"
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    if value is None:
        return "<nil>"
    return json.dumps(value, separators=(",", ":"))


def invalid_go(field: str, value: Any, detail: str) -> FieldError:
    """An ``Invalid value`` whose value is printed in Go syntax, as upstream does for maps."""
    return FieldError(field, "Invalid value", f"{go_repr(value)}: {detail}")


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
        return [invalid_go(path, new, IMMUTABLE)]
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
