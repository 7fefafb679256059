"""RFC 6902 JSON patch, with the habits of the json-patch library Kubernetes uses."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api.errors import BadRequest, Invalid, RequestEntityTooLarge
from tinykube.patch import jsonpatch

POD = {
    "metadata": {"name": "web", "labels": {"app": "web", "a/b": "x", "m~n": "y"}},
    "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]},
}

OK_CASES: list[tuple[str, Any, list[dict[str, Any]], Any]] = [
    (
        "add-map-member",
        {"a": 1},
        [{"op": "add", "path": "/b", "value": 2}],
        {"a": 1, "b": 2},
    ),
    (
        "add-replaces-existing-member",
        {"a": 1},
        [{"op": "add", "path": "/a", "value": [1]}],
        {"a": [1]},
    ),
    (
        "add-inserts-into-array",
        {"l": [1, 3]},
        [{"op": "add", "path": "/l/1", "value": 2}],
        {"l": [1, 2, 3]},
    ),
    (
        "add-at-array-length-appends",
        {"l": [1]},
        [{"op": "add", "path": "/l/1", "value": 2}],
        {"l": [1, 2]},
    ),
    (
        "add-dash-appends",
        {"l": [1, 2]},
        [{"op": "add", "path": "/l/-", "value": 3}],
        {"l": [1, 2, 3]},
    ),
    (
        "add-escaped-slash-and-tilde",
        {"m": {}},
        [
            {"op": "add", "path": "/m/a~1b", "value": 1},
            {"op": "add", "path": "/m/c~0d", "value": 2},
            {"op": "add", "path": "/m/e~01", "value": 3},
        ],
        {"m": {"a/b": 1, "c~d": 2, "e~1": 3}},
    ),
    (
        "add-without-value-is-null",
        {},
        [{"op": "add", "path": "/a"}],
        {"a": None},
    ),
    (
        "remove-member",
        {"a": 1, "b": 2},
        [{"op": "remove", "path": "/a"}],
        {"b": 2},
    ),
    (
        "remove-array-element",
        {"l": [1, 2, 3]},
        [{"op": "remove", "path": "/l/1"}],
        {"l": [1, 3]},
    ),
    (
        "remove-negative-index-counts-from-end",
        {"l": [1, 2, 3]},
        [{"op": "remove", "path": "/l/-1"}],
        {"l": [1, 2]},
    ),
    (
        "replace-member",
        POD,
        [{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:2"}],
        {
            "metadata": POD["metadata"],
            "spec": {
                "containers": [
                    {"name": "a", "image": "nginx:2"},
                    {"name": "b", "image": "redis"},
                ]
            },
        },
    ),
    (
        "replace-missing-member-adds-it-like-kubernetes",
        {"a": 1},
        [{"op": "replace", "path": "/b", "value": 2}],
        {"a": 1, "b": 2},
    ),
    (
        "replace-whole-document",
        {"a": 1},
        [{"op": "replace", "path": "", "value": [1]}],
        [1],
    ),
    (
        "move-member",
        {"a": {"x": 1}, "b": {}},
        [{"op": "move", "from": "/a/x", "path": "/b/y"}],
        {"a": {}, "b": {"y": 1}},
    ),
    (
        "move-within-array",
        {"l": [1, 2, 3]},
        [{"op": "move", "from": "/l/0", "path": "/l/-"}],
        {"l": [2, 3, 1]},
    ),
    (
        "copy-is-deep",
        {"a": {"x": [1]}},
        [
            {"op": "copy", "from": "/a", "path": "/b"},
            {"op": "add", "path": "/b/x/-", "value": 2},
        ],
        {"a": {"x": [1]}, "b": {"x": [1, 2]}},
    ),
    (
        "test-passes-then-applies",
        {"a": {"b": [1, {"c": True}]}},
        [
            {"op": "test", "path": "/a/b", "value": [1, {"c": True}]},
            {"op": "add", "path": "/z", "value": 0},
        ],
        {"a": {"b": [1, {"c": True}]}, "z": 0},
    ),
    (
        "test-missing-member-against-null",
        {"a": 1},
        [{"op": "test", "path": "/b", "value": None}],
        {"a": 1},
    ),
    (
        "test-label-with-slash",
        POD,
        [{"op": "test", "path": "/metadata/labels/a~1b", "value": "x"}],
        POD,
    ),
    ("empty-patch", {"a": 1}, [], {"a": 1}),
]


@pytest.mark.parametrize(
    ("doc", "ops", "expected"), [c[1:] for c in OK_CASES], ids=[c[0] for c in OK_CASES]
)
def test_apply(doc: Any, ops: list[dict[str, Any]], expected: Any) -> None:
    assert jsonpatch.apply(doc, ops) == expected


FAILING: list[tuple[str, Any, list[dict[str, Any]], str]] = [
    ("add-missing-parent", {}, [{"op": "add", "path": "/a/b", "value": 1}], "doc is missing path"),
    (
        "add-index-past-end",
        {"l": [1]},
        [{"op": "add", "path": "/l/2", "value": 1}],
        "invalid index",
    ),
    (
        "add-index-not-number",
        {"l": []},
        [{"op": "add", "path": "/l/x", "value": 1}],
        "proper array index",
    ),
    (
        "add-through-scalar",
        {"a": 1},
        [{"op": "add", "path": "/a/b", "value": 1}],
        "doc is missing path",
    ),
    ("remove-missing-member", {}, [{"op": "remove", "path": "/a"}], "nonexistent key"),
    ("remove-index-out-of-range", {"l": [1]}, [{"op": "remove", "path": "/l/1"}], "invalid index"),
    ("remove-dash", {"l": [1]}, [{"op": "remove", "path": "/l/-"}], "proper array index"),
    ("remove-root", {"a": 1}, [{"op": "remove", "path": ""}], "doc is missing path"),
    ("add-root", {"a": 1}, [{"op": "add", "path": "", "value": {}}], "doc is missing path"),
    (
        "replace-index-out-of-range",
        {"l": []},
        [{"op": "replace", "path": "/l/0", "value": 1}],
        "missing key",
    ),
    ("move-missing-from", {}, [{"op": "move", "from": "/a", "path": "/b"}], "nonexistent key"),
    (
        "move-into-own-child",
        {"a": {}},
        [{"op": "move", "from": "/a", "path": "/a/b"}],
        "missing destination",
    ),
    (
        "copy-missing-destination",
        {"a": 1},
        [{"op": "copy", "from": "/a", "path": "/x/y"}],
        "missing destination",
    ),
    ("test-value-differs", {"a": 1}, [{"op": "test", "path": "/a", "value": 2}], "test failed"),
    (
        "test-bool-is-not-number",
        {"a": True},
        [{"op": "test", "path": "/a", "value": 1}],
        "test failed",
    ),
    ("missing-path", {}, [{"op": "add", "value": 1}], "missing path field"),
    ("missing-from", {}, [{"op": "copy", "path": "/a"}], "missing from field"),
    ("unknown-op", {}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
    ("missing-op", {}, [{"path": "/a"}], "Unexpected kind: unknown"),
    ("null-op", {}, [None], "Unexpected kind: unknown"),
    (
        "pointer-without-slash",
        {"a": 1},
        [{"op": "replace", "path": "a", "value": 1}],
        "missing path",
    ),
]


@pytest.mark.parametrize(
    ("doc", "ops", "detail"), [c[1:] for c in FAILING], ids=[c[0] for c in FAILING]
)
def test_failed_operation_is_422_with_generic_message(doc: Any, ops: Any, detail: str) -> None:
    with pytest.raises(Invalid) as info:
        jsonpatch.apply(doc, ops)
    assert info.value.code == 422
    assert info.value.message == "the server rejected our request due to an error in our request"
    assert detail in str(info.value.__cause__)


def test_failed_patch_leaves_input_untouched() -> None:
    doc = {"l": [1, 2]}
    with pytest.raises(Invalid):
        jsonpatch.apply(
            doc, [{"op": "remove", "path": "/l/0"}, {"op": "test", "path": "/l/0", "value": 9}]
        )
    assert doc == {"l": [1, 2]}


def test_input_is_not_mutated() -> None:
    doc = {"a": {"b": [1]}}
    out = jsonpatch.apply(doc, [{"op": "add", "path": "/a/b/-", "value": 2}])
    assert doc == {"a": {"b": [1]}}
    assert out == {"a": {"b": [1, 2]}}


@pytest.mark.parametrize(
    "ops",
    [{"op": "add"}, "x", [1], [["op"]]],
    ids=["object", "string", "number-op", "list-op"],
)
def test_undecodable_patch_is_400(ops: Any) -> None:
    with pytest.raises(BadRequest) as info:
        jsonpatch.apply({}, ops)
    assert info.value.code == 400
    assert "cannot unmarshal" in info.value.message


def test_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "", "value": {}}] * 10001
    with pytest.raises(RequestEntityTooLarge) as info:
        jsonpatch.apply({}, ops)
    assert (
        info.value.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"
    )


def test_null_body_is_no_patch() -> None:
    assert jsonpatch.apply({"a": 1}, None) == {"a": 1}
