"""RFC 7386 JSON merge patch: apply, two-way create, and kubectl's three-way patch."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api.errors import BadRequest
from tinykube.patch import mergepatch

APPLY_CASES: list[tuple[str, Any, Any, Any]] = [
    ("set-member", {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ("null-deletes-member", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ("null-for-missing-member-is-noop", {"a": 1}, {"z": None}, {"a": 1}),
    (
        "objects-merge-recursively",
        {"m": {"a": 1, "b": 2}},
        {"m": {"b": 3, "a": None}},
        {"m": {"b": 3}},
    ),
    ("list-is-replaced", {"l": [1, 2, 3]}, {"l": [4]}, {"l": [4]}),
    ("object-replaces-scalar", {"a": 1}, {"a": {"b": 1, "c": None}}, {"a": {"b": 1}}),
    ("scalar-replaces-object", {"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
    (
        "nested-nulls-in-new-subtree-dropped",
        {},
        {"a": {"b": {"c": None, "d": 1}}},
        {"a": {"b": {"d": 1}}},
    ),
    (
        "nulls-inside-list-objects-dropped",
        {},
        {"l": [{"a": None, "b": 1}, None]},
        {"l": [{"b": 1}, None]},
    ),
    ("empty-patch-is-noop", {"a": 1}, {}, {"a": 1}),
    ("non-object-doc-becomes-object", [1], {"a": 1}, {"a": 1}),
    ("array-patch-replaces-doc", {"a": 1}, [1, 2], [1, 2]),
    (
        "labels-annotations",
        {"metadata": {"labels": {"app": "web", "tier": "fe"}, "annotations": {"x": "1"}}},
        {"metadata": {"labels": {"tier": None, "env": "prod"}, "annotations": None}},
        {"metadata": {"labels": {"app": "web", "env": "prod"}}},
    ),
]


@pytest.mark.parametrize(
    ("doc", "patch", "expected"), [c[1:] for c in APPLY_CASES], ids=[c[0] for c in APPLY_CASES]
)
def test_apply(doc: Any, patch: Any, expected: Any) -> None:
    assert mergepatch.apply(doc, patch) == expected


@pytest.mark.parametrize("patch", [None, "x", 3, True], ids=["null", "string", "number", "bool"])
def test_non_object_patch_is_400(patch: Any) -> None:
    with pytest.raises(BadRequest) as info:
        mergepatch.apply({}, patch)
    assert info.value.message == "Invalid JSON Patch"


def test_apply_does_not_mutate() -> None:
    doc = {"m": {"a": 1}}
    patch = {"m": {"b": {"c": None}}}
    mergepatch.apply(doc, patch)
    assert doc == {"m": {"a": 1}}
    assert patch == {"m": {"b": {"c": None}}}


CREATE_CASES: list[tuple[str, Any, Any, Any]] = [
    ("identical", {"a": 1, "m": {"b": [1]}}, {"a": 1, "m": {"b": [1]}}, {}),
    ("added", {}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ("removed", {"a": 1, "b": 2}, {"b": 2}, {"a": None}),
    ("changed-nested", {"m": {"a": 1, "b": 2}}, {"m": {"a": 1, "b": 3}}, {"m": {"b": 3}}),
    ("list-changed-sent-whole", {"l": [1, 2]}, {"l": [1, 3]}, {"l": [1, 3]}),
    ("type-changed", {"a": {"b": 1}}, {"a": [1]}, {"a": [1]}),
    ("bool-vs-number-differs", {"a": 1}, {"a": True}, {"a": True}),
    ("int-equals-float", {"a": 1}, {"a": 1.0}, {}),
    ("removed-nested", {"m": {"a": 1, "b": 2}}, {"m": {"a": 1}}, {"m": {"b": None}}),
]


@pytest.mark.parametrize(
    ("original", "modified", "expected"),
    [c[1:] for c in CREATE_CASES],
    ids=[c[0] for c in CREATE_CASES],
)
def test_create(original: Any, modified: Any, expected: Any) -> None:
    patch = mergepatch.create(original, modified)
    assert patch == expected
    assert mergepatch.apply(original, patch) == modified


THREE_WAY_CASES: list[tuple[str, Any, Any, Any, Any]] = [
    (
        "unchanged-is-empty",
        {"spec": {"size": 1}},
        {"spec": {"size": 1}},
        {"spec": {"size": 1, "defaulted": True}, "status": {"ok": True}},
        {},
    ),
    (
        "field-removed-from-manifest-becomes-null",
        {"spec": {"size": 1, "color": "red"}},
        {"spec": {"size": 1}},
        {"spec": {"size": 1, "color": "red"}},
        {"spec": {"color": None}},
    ),
    (
        "server-defaults-are-left-alone",
        {"spec": {"size": 1}},
        {"spec": {"size": 2}},
        {"spec": {"size": 1, "defaulted": "x"}, "status": {"phase": "Ready"}},
        {"spec": {"size": 2}},
    ),
    (
        "live-drift-is-reverted",
        {"spec": {"size": 1}},
        {"spec": {"size": 1}},
        {"spec": {"size": 5}},
        {"spec": {"size": 1}},
    ),
    (
        "deletion-and-change-in-one-object",
        {"spec": {"a": 1, "b": 2}},
        {"spec": {"a": 3}},
        {"spec": {"a": 1, "b": 2}},
        {"spec": {"a": 3, "b": None}},
    ),
    (
        "no-last-applied-means-no-deletions",
        None,
        {"spec": {"a": 1}},
        {"spec": {"a": 1, "b": 2}},
        {},
    ),
    (
        "list-differs-from-live-sent-whole",
        {"spec": {"l": [1]}},
        {"spec": {"l": [1, 2]}},
        {"spec": {"l": [1]}},
        {"spec": {"l": [1, 2]}},
    ),
    (
        "explicit-empty-object-is-a-value",
        {},
        {"spec": {"m": {}}},
        {},
        {"spec": {"m": {}}},
    ),
]


@pytest.mark.parametrize(
    ("original", "modified", "current", "expected"),
    [c[1:] for c in THREE_WAY_CASES],
    ids=[c[0] for c in THREE_WAY_CASES],
)
def test_create_three_way(original: Any, modified: Any, current: Any, expected: Any) -> None:
    assert mergepatch.create_three_way(original, modified, current) == expected


@pytest.mark.parametrize(
    ("patch", "changed"),
    [
        ({"spec": {"a": 1}, "metadata": {"labels": {"x": "1"}}}, False),
        ({"kind": "Other"}, True),
        ({"apiVersion": "v2"}, True),
        ({"metadata": {"name": "other"}}, True),
    ],
    ids=["spec-and-labels", "kind", "api-version", "name"],
)
def test_changes_identity(patch: Any, changed: bool) -> None:
    assert mergepatch.changes_identity(patch) is changed
