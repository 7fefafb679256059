"""JSON Patch (RFC 6902): ``application/json-patch+json`` bodies.

A JSON patch is a list of operations (add, remove, replace, move, copy, test)
addressed by JSON Pointers (RFC 6901). The API server decodes the body, applies
the operations one after another to a copy of the stored object, and stores
the result only if every operation succeeded.

Kubernetes applies these patches with evanphx/json-patch v4, and clients
depend on a few of its habits that go beyond the RFC, so we keep them:

* ``replace`` of a missing object member adds it instead of failing;
* ``test`` of a missing member against ``null`` succeeds;
* negative array indices count from the end (``-1`` is the last element);
* an operation without ``value`` uses ``null``.

Errors follow kube-apiserver: a body that is not a list of objects is a 400
BadRequest; more than 10000 operations is a 413; an operation that cannot be
applied (missing path, bad index, failed test, unknown op) is a 422 whose
message is the generic "the server rejected our request due to an error in
our request", because the apiserver wraps the library's error in
``NewGenericServerResponse``, which keeps only the generic text. The
library's own message stays available as ``__cause__`` (``OperationFailed``).
"""

from __future__ import annotations

import re
from typing import Any

from tinykube.api.errors import BadRequest, Invalid, RequestEntityTooLarge
from tinykube.patch._values import deep_copy, equal

MAX_OPERATIONS = 10000
_INDEX = re.compile(r"[+-]?[0-9]+")
REJECTED = "the server rejected our request due to an error in our request"
ERR_MISSING = "missing value"
ERR_INVALID_INDEX = "invalid index referenced"
ERR_TEST_FAILED = "test failed"


class OperationFailed(ValueError):
    """One operation could not be applied; the text is json-patch v4's."""


def apply(doc: Any, ops: Any) -> Any:
    """Apply the operations ``ops`` to ``doc`` and return the new document.

    ``doc`` is never modified. Raises BadRequest for a malformed patch,
    RequestEntityTooLarge for too many operations and Invalid (422) when an
    operation fails.
    """
    operations = _decode(ops)
    if len(operations) > MAX_OPERATIONS:
        raise RequestEntityTooLarge(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, "
            f"got {len(operations)}"
        )
    result = deep_copy(doc)
    for op in operations:
        try:
            result = _apply_one(result, op)
        except OperationFailed as err:
            raise Invalid(REJECTED) from err
    return result


def _decode(ops: Any) -> list[dict[str, Any]]:
    """Check the body's shape as Go's decoder does: null decodes to nothing."""
    if ops is None:
        return []
    if not isinstance(ops, list):
        raise BadRequest(
            f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise BadRequest(
                f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation"
            )
    return [op or {} for op in ops]


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "null"


def _apply_one(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise OperationFailed(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    return handler(doc, op)


# ---- JSON Pointer ----------------------------------------------------------


def _string_field(op: dict[str, Any], name: str, what: str) -> str:
    value = op.get(name)
    if value is None:
        raise OperationFailed(f"{what}: {ERR_MISSING}")
    if not isinstance(value, str):
        raise OperationFailed(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type string"
        )
    return value


def _path(op: dict[str, Any]) -> str:
    return _string_field(op, "path", "operation missing path field")


def _from(op: dict[str, Any]) -> str:
    return _string_field(op, "from", "operation, missing from field")


def split_pointer(pointer: str) -> list[str] | None:
    """The unescaped tokens of a JSON Pointer, or None when it is not one."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        return None
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, pointer: str) -> tuple[Any, str] | None:
    """The container holding the pointer's last token, and that token."""
    tokens = split_pointer(pointer)
    if not tokens:
        return None
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token)
        if not isinstance(node, dict | list):
            return None
    return node, tokens[-1]


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token)
    if isinstance(node, list):
        try:
            return node[_index(node, token, len(node) - 1)]
        except OperationFailed:
            return None
    return None


def _index(items: list[Any], token: str, highest: int) -> int:
    """Parse an array index, allowing ``-n`` from the end; ``highest`` is the largest valid one."""
    if not _INDEX.fullmatch(token):
        raise OperationFailed(
            f"value was not a proper array index: '{token}': strconv.Atoi: parsing "
            f'"{token}": invalid syntax'
        )
    idx = int(token)
    if idx < 0:
        if idx < -(highest + 1):
            raise OperationFailed(f"Unable to access invalid index: {idx}: {ERR_INVALID_INDEX}")
        idx += highest + 1
    if idx > highest:
        raise OperationFailed(f"Unable to access invalid index: {idx}: {ERR_INVALID_INDEX}")
    return idx


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    return container[_index(container, key, len(container) - 1)]


def _insert(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        container.insert(_index(container, key, len(container)), value)


def _remove(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        if key not in container:
            raise OperationFailed(f"Unable to remove nonexistent key: {key}: {ERR_MISSING}")
        return container.pop(key)
    return container.pop(_index(container, key, len(container) - 1))


# ---- operations -----------------------------------------------------------


def _add(doc: Any, op: dict[str, Any]) -> Any:
    path = _path(op)
    found = _parent(doc, path)  # like json-patch v4, "" (the root) cannot be added to
    if found is None:
        raise OperationFailed(
            f'add operation does not apply: doc is missing path: "{path}": {ERR_MISSING}'
        )
    try:
        _insert(*found, deep_copy(op.get("value")))
    except OperationFailed as err:
        raise OperationFailed(f"error in add for path: '{path}': {err}") from None
    return doc


def _remove_op(doc: Any, op: dict[str, Any]) -> Any:
    path = _path(op)
    found = _parent(doc, path)
    if found is None:
        raise OperationFailed(
            f'remove operation does not apply: doc is missing path: "{path}": {ERR_MISSING}'
        )
    try:
        _remove(*found)
    except OperationFailed as err:
        raise OperationFailed(f"error in remove for path: '{path}': {err}") from None
    return doc


def _replace(doc: Any, op: dict[str, Any]) -> Any:
    path = _path(op)
    if path == "":
        return deep_copy(op.get("value"))
    found = _parent(doc, path)
    if found is None:
        raise OperationFailed(
            f"replace operation does not apply: doc is missing path: {path}: {ERR_MISSING}"
        )
    container, key = found
    try:
        if isinstance(container, dict):
            container[key] = deep_copy(op.get("value"))
        else:
            container[_index(container, key, len(container) - 1)] = deep_copy(op.get("value"))
    except OperationFailed as err:
        raise OperationFailed(
            f"replace operation does not apply: doc is missing key: {path}: {err}"
        ) from None
    return doc


def _move(doc: Any, op: dict[str, Any]) -> Any:
    source = _from(op)
    found = _parent(doc, source)
    if found is None:
        raise OperationFailed(
            f"move operation does not apply: doc is missing from path: {source}: {ERR_MISSING}"
        )
    try:
        value = _remove(*found)
    except OperationFailed as err:
        raise OperationFailed(f"error in move for path: '{found[1]}': {err}") from None
    path = _path(op)
    target = _parent(doc, path)
    if target is None:
        raise OperationFailed(
            f"move operation does not apply: doc is missing destination path: {path}: {ERR_MISSING}"
        )
    try:
        _insert(*target, value)
    except OperationFailed as err:
        raise OperationFailed(f"error in move for path: '{path}': {err}") from None
    return doc


def _copy(doc: Any, op: dict[str, Any]) -> Any:
    source = _from(op)
    found = _parent(doc, source)
    if found is None:
        raise OperationFailed(
            f"copy operation does not apply: doc is missing from path: {source}: {ERR_MISSING}"
        )
    try:
        value = _get(*found)
    except OperationFailed as err:
        raise OperationFailed(f"error in copy for from: '{source}': {err}") from None
    path = _path(op)
    target = _parent(doc, path)
    if target is None:
        raise OperationFailed(
            f"copy operation does not apply: doc is missing destination path: {path}: {ERR_MISSING}"
        )
    try:
        _insert(*target, deep_copy(value))
    except OperationFailed as err:
        raise OperationFailed(f"error while adding value during copy: {err}") from None
    return doc


def _test(doc: Any, op: dict[str, Any]) -> Any:
    path = _path(op)
    if path == "":
        actual = doc
    else:
        found = _parent(doc, path)
        if found is None:
            raise OperationFailed(
                f"test operation does not apply: is missing path: {path}: {ERR_MISSING}"
            )
        try:
            actual = _get(*found)
        except OperationFailed as err:
            raise OperationFailed(f"error in test for path: '{path}': {err}") from None
    # json-patch compares numbers by their JSON text, so 1 and 1.0 differ.
    if not equal(actual, op.get("value"), exact_numbers=True):
        raise OperationFailed(f"testing value {path} failed: {ERR_TEST_FAILED}")
    return doc


_HANDLERS = {
    "add": _add,
    "remove": _remove_op,
    "replace": _replace,
    "move": _move,
    "copy": _copy,
    "test": _test,
}
