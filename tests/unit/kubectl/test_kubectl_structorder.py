"""Objects built locally print their JSON in Go struct order."""

from __future__ import annotations

import pytest

from tinykube.kubectl.structorder import go_order

pytestmark = pytest.mark.unit


def test_type_meta_first_then_metadata_spec_status() -> None:
    obj = {
        "status": {},
        "spec": {"replicas": 1},
        "metadata": {"labels": {"b": "1", "a": "2"}, "name": "x"},
        "kind": "K",
        "apiVersion": "v1",
    }
    ordered = go_order(obj)
    assert list(ordered) == ["kind", "apiVersion", "metadata", "spec", "status"]
    assert list(ordered["metadata"]) == ["name", "labels"]
    assert list(ordered["metadata"]["labels"]) == ["a", "b"]


def test_subjects_and_role_ref_have_their_own_order() -> None:
    obj = {
        "roleRef": {"name": "r", "kind": "Role", "apiGroup": "g"},
        "subjects": [{"name": "u", "apiGroup": "g", "kind": "User"}],
    }
    ordered = go_order(obj)
    assert list(ordered) == ["subjects", "roleRef"]
    assert list(ordered["roleRef"]) == ["apiGroup", "kind", "name"]
    assert list(ordered["subjects"][0]) == ["kind", "apiGroup", "name"]


def test_secret_type_comes_after_data() -> None:
    assert list(go_order({"type": "Opaque", "data": {}, "kind": "Secret", "metadata": {}})) == [
        "kind",
        "metadata",
        "data",
        "type",
    ]
