"""Client-side apply's patch computation, as kubectl computes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinykube.kubectl.commands.apply import (
    ANNOTATION,
    compute_patch,
    modified_configuration,
    original_configuration,
)
from tinykube.kubectl.discovery import Mapping
from tinykube.kubectl.resources import Item

pytestmark = pytest.mark.unit

DEPLOYMENTS = Mapping("apps", "v1", "Deployment", "deployments")
WIDGETS = Mapping("example.com", "v1", "Widget", "widgets")


def _deploy(
    env: list[dict[str, str]], image: str = "nginx:1.27", replicas: int = 1
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image, "env": env}]},
            },
        },
    }


def _live(applied: dict[str, Any], **extra: Any) -> dict[str, Any]:
    live, _ = modified_configuration(applied)
    live = json.loads(json.dumps(live))
    live["metadata"].update({"uid": "u", "resourceVersion": "5"})
    live["spec"].update(extra)
    return live


def test_annotation_is_the_manifest_as_compact_sorted_json() -> None:
    obj, text = modified_configuration(
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "c"},
            "data": {"b": "<", "a": "1"},
        }
    )
    assert (
        text
        == '{"apiVersion":"v1","data":{"a":"1","b":"\\u003c"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"c"}}\n'
    )
    assert obj["metadata"]["annotations"][ANNOTATION] == text


def test_annotation_never_contains_itself() -> None:
    first, text = modified_configuration({"metadata": {"name": "c"}})
    _, again = modified_configuration(first)
    assert again == text


def test_unchanged_manifest_gives_an_empty_patch() -> None:
    manifest = _deploy([{"name": "A", "value": "1"}])
    live = _live(manifest, progressDeadlineSeconds=600)
    modified, _ = modified_configuration(manifest)
    item = Item("f.yaml", manifest, DEPLOYMENTS, "default")
    patch, kind = compute_patch(item, original_configuration(live), modified, live)
    assert (patch, kind) == ({}, "strategic")


def test_removed_env_is_deleted_by_merge_key_and_server_fields_are_kept() -> None:
    old = _deploy([{"name": "KEEP", "value": "1"}, {"name": "DROP", "value": "2"}])
    live = _live(old, progressDeadlineSeconds=600)
    new = _deploy([{"name": "KEEP", "value": "1"}], image="nginx:1.28")
    modified, _ = modified_configuration(new)
    patch, _ = compute_patch(
        Item("f", new, DEPLOYMENTS, "default"), original_configuration(live), modified, live
    )
    container = patch["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.28"
    assert {"$patch": "delete", "name": "DROP"} in container["env"]
    assert "progressDeadlineSeconds" not in patch["spec"]
    assert ANNOTATION in patch["metadata"]["annotations"]


def test_field_changed_by_someone_else_is_overwritten_only_when_in_the_manifest() -> None:
    manifest = _deploy([])
    live = _live(manifest)
    live["spec"]["replicas"] = 5  # kubectl scale
    modified, _ = modified_configuration(manifest)
    patch, _ = compute_patch(
        Item("f", manifest, DEPLOYMENTS, "default"), original_configuration(live), modified, live
    )
    assert patch["spec"]["replicas"] == 1


def test_missing_annotation_deletes_nothing() -> None:
    manifest = _deploy([])
    live = _deploy([{"name": "EXTRA", "value": "x"}])
    modified, _ = modified_configuration(manifest)
    patch, _ = compute_patch(
        Item("f", manifest, DEPLOYMENTS, "default"), original_configuration(live), modified, live
    )
    assert "spec" not in patch or "env" not in json.dumps(patch)


def test_unknown_kinds_get_a_json_merge_patch_with_nulls() -> None:
    old = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"a": 1, "b": 2},
    }
    live = _live(old)
    new = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"a": 1},
    }
    modified, _ = modified_configuration(new)
    patch, kind = compute_patch(
        Item("f", new, WIDGETS, "default"), original_configuration(live), modified, live
    )
    assert kind == "merge"
    assert patch["spec"] == {"b": None}
