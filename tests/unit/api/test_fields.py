"""Unknown and duplicate field detection, with upstream's paths and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tinykube.api import fields, schema
from tinykube.api.schema import SchemaNode


def pod_schema() -> SchemaNode:
    found = schema.for_kind("", "v1", "Pod")
    assert found is not None
    return found


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a.b/c": "d"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def test_known_object_is_untouched() -> None:
    obj = pod(nodeSelector={"disk": "ssd"}, tolerations=[{"key": "k", "operator": "Exists"}])
    obj["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"}}
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "name": "http"}]
    before = copy.deepcopy(obj)
    assert fields.prune_unknown(obj, pod_schema()) == []
    assert obj == before


@pytest.mark.parametrize(
    ("mutate", "paths"),
    [
        (lambda o: o["spec"].update(foo=1), ["spec.foo"]),
        (lambda o: o.update(extra={"x": 1}), ["extra"]),
        (lambda o: o["metadata"].update(bogus="x"), ["metadata.bogus"]),
        (lambda o: o["spec"]["containers"][0].update(imagee="x"), ["spec.containers[0].imagee"]),
        (
            lambda o: o["spec"]["containers"].append(
                {"name": "d", "image": "i", "ports": [{"containerPort": 1, "hostPorts": 2}]}
            ),
            ["spec.containers[1].ports[0].hostPorts"],
        ),
        (
            lambda o: o["spec"].update(volumes=[{"name": "v", "emptyDir": {"medium": "", "x": 1}}]),
            ["spec.volumes[0].emptyDir.x"],
        ),
        (
            lambda o: (o["spec"].update(a=1), o["spec"]["containers"][0].update(b=2)),
            ["spec.containers[0].b", "spec.a"],
        ),
    ],
    ids=["spec", "top-level", "metadata", "list-item", "nested-list", "volume-source", "order"],
)
def test_unknown_fields_are_pruned_and_reported(mutate: Any, paths: list[str]) -> None:
    obj = pod()
    mutate(obj)
    assert fields.prune_unknown(obj, pod_schema()) == paths
    assert fields.prune_unknown(obj, pod_schema()) == []  # pruned in place


def test_pruning_keeps_known_siblings() -> None:
    obj = pod(foo=1, restartPolicy="Never")
    fields.prune_unknown(obj, pod_schema())
    assert obj["spec"] == {
        "containers": [{"name": "c", "image": "nginx"}],
        "restartPolicy": "Never",
    }


def test_map_values_are_checked_against_their_schema() -> None:
    svc = schema.for_kind("", "v1", "Service")
    assert svc is not None
    obj = {"spec": {"selector": {"any-key": "v"}, "ports": [{"port": 80, "targetPort": "http"}]}}
    assert fields.prune_unknown(obj, svc) == []


def test_preserve_unknown_fields_subtree_is_left_alone() -> None:
    revision = schema.for_kind("apps", "v1", "ControllerRevision")
    assert revision is not None
    obj = {"revision": 1, "data": {"spec": {"anything": {"goes": True}}}}
    assert fields.prune_unknown(obj, revision) == []
    assert obj["data"] == {"spec": {"anything": {"goes": True}}}


def test_type_mismatch_is_not_an_unknown_field() -> None:
    obj = pod()
    obj["spec"]["containers"] = "not-a-list"
    assert fields.prune_unknown(obj, pod_schema()) == []


def test_no_schema_means_nothing_is_unknown() -> None:
    assert fields.prune_unknown({"a": 1}, None) == []


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        (b'{"a": 1, "b": 2}', []),
        (b'{"a": 1, "a": 2}', ["a"]),
        (b'{"metadata": {"labels": {"app": "x", "app": "y"}}}', ["metadata.labels.app"]),
        (
            b'{"spec": {"containers": [{"name": "a"}, {"name": "b", "name": "c"}]}}',
            ["spec.containers[1].name"],
        ),
        (b'{"a": 1, "a": 2, "a": 3}', ["a"]),
        (b'{"x": {"y": 1, "y": 2}, "x": {"z": 1}, "b": 0}', ["x.y", "x"]),
        (b"[1, 2]", []),
        (b"kind: Pod\nkind: Pod\n", []),
    ],
    ids=["none", "top", "map-key", "list-item", "thrice", "order", "not-object", "yaml"],
)
def test_find_duplicates(body: bytes, paths: list[str]) -> None:
    assert fields.find_duplicates(body) == paths


def test_strict_error_message_matches_upstream() -> None:
    problems = fields.problems(["spec.foo"], ["metadata.labels.app"])
    assert fields.strict_error_message("Deployment", "v1", problems) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.foo", duplicate field "metadata.labels.app"'
    )


def test_warning_texts() -> None:
    problem = fields.unknown_field("spec.containers[0].foo")
    assert problem == 'unknown field "spec.containers[0].foo"'
    assert fields.warning_text(problem) == problem
    assert fields.warning_header(problem) == r'299 - "unknown field \"spec.containers[0].foo\""'


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('a"b', r'"a\"b"'),
        ("a\\b", r'"a\\b"'),
        ("a\nb", r'"a\nb"'),
        ("é", '"é"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert fields.go_quote(text) == quoted
