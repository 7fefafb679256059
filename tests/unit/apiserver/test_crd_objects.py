"""Custom objects against their CRD version's schema: defaults, validation, pruning."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tinykube.api import fields, resources
from tinykube.api import schema as api_schema
from tinykube.apiserver.crd import admit_custom, definition
from tinykube.apiserver.crd.objects import apply_defaults, validate_value

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["color"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2,
                    "items": {"type": "string"},
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                    },
                },
                "zones": {
                    "type": "array",
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string"},
                },
                "note": {"type": "string", "nullable": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {
                        "spec": {"type": "object", "properties": {"x": {"type": "integer"}}}
                    },
                },
                "options": {
                    "type": "object",
                    "default": {},
                    "properties": {"mode": {"type": "string", "default": "fast"}},
                },
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def crd(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "widgets.example.com", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema or SCHEMA},
                }
            ],
        },
    }


@pytest.fixture
def widgets() -> Iterator[resources.Resource]:
    definition.serve(crd(), {"plural": "widgets", "kind": "Widget", "singular": "widget"})
    res = resources.lookup("example.com", "v1", "widgets")
    assert res is not None
    try:
        yield res
    finally:
        definition.unserve("widgets.example.com")


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"color": "red", **spec},
    }


def messages(res: resources.Resource, obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in admit_custom(res, obj)]


def test_a_valid_object_has_no_problems_and_gets_its_defaults(widgets: resources.Resource) -> None:
    obj = widget()
    assert messages(widgets, obj) == []
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["options"] == {"mode": "fast"}


def test_defaults_do_not_replace_given_values() -> None:
    obj = {"spec": {"replicas": 3, "options": {"mode": "slow"}}}
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["options"] == {"mode": "slow"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"replicas": "x"},
            'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
            'integer: "string"',
        ),
        (
            {"replicas": -1},
            "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or "
            "equal to 0",
        ),
        (
            {"replicas": 11},
            "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or "
            "equal to 10",
        ),
        (
            {"color": "pink"},
            'spec.color: Unsupported value: "pink": supported values: "red", "blue"',
        ),
        (
            {"name": "a"},
            'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
        ),
        ({"name": "abcdef"}, "spec.name: Too long: must have at most 5 bytes"),
        (
            {"name": "AB"},
            "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
        ),
        (
            {"tags": []},
            "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
        ),
        ({"tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
        (
            {"tags": [1]},
            'spec.tags[0]: Invalid value: "integer": spec.tags[0] in body must be of type '
            'string: "integer"',
        ),
        (
            {"port": True},
            'spec.port: Invalid value: "boolean": spec.port in body must be of type '
            'integer,string: "boolean"',
        ),
        (
            {"labels": {"a": 1}},
            'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type '
            'string: "integer"',
        ),
        ({"template": {"spec": {}}}, "spec.template.apiVersion: Required value: must not be empty"),
        (
            {"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]},
            'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}',
        ),
        ({"zones": ["x", "y", "x"]}, 'spec.zones[2]: Duplicate value: "x"'),
    ],
    ids=[
        "type",
        "minimum",
        "maximum",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "item-type",
        "int-or-string",
        "map-values",
        "embedded-resource",
        "list-map-keys",
        "list-set",
    ],
)
def test_schema_problems_are_reported_as_upstream_words_them(
    widgets: resources.Resource, spec: dict[str, Any], expected: str
) -> None:
    assert expected in messages(widgets, widget(**spec))


def test_a_missing_required_field_is_required(widgets: resources.Resource) -> None:
    obj = widget()
    del obj["spec"]["color"]
    assert messages(widgets, obj) == ["spec.color: Required value"]


@pytest.mark.parametrize(
    "spec",
    [{"port": 80}, {"port": "http"}, {"note": None}, {"free": {"any": {"thing": [1]}}}],
    ids=["int", "string", "nullable", "preserve-unknown"],
)
def test_values_the_schema_allows(widgets: resources.Resource, spec: dict[str, Any]) -> None:
    assert messages(widgets, widget(**spec)) == []


def test_null_for_a_non_nullable_field_is_a_type_error() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    errs = validate_value({"name": None}, schema, "spec")
    assert [str(e) for e in errs] == [
        'spec.name: Invalid value: "null": spec.name in body must be of type string: "null"'
    ]


def test_unknown_fields_are_pruned_but_object_fields_are_kept(widgets: resources.Resource) -> None:
    obj = widget(extra=1, free={"kept": True})
    obj["metadata"]["labels"] = {"a": "b"}
    obj["metadata"]["bogus"] = 1
    obj["template"] = {}
    obj["spec"]["template"] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}
    node = api_schema.for_kind("example.com", "v1", "Widget")
    pruned = fields.prune_unknown(obj, node)
    assert pruned == ["metadata.bogus", "spec.extra", "template"]
    assert obj["spec"]["free"] == {"kept": True}
    assert obj["spec"]["template"]["metadata"] == {"name": "x"}
    assert obj["metadata"]["labels"] == {"a": "b"}


def test_unserving_withdraws_the_schema_and_the_row(widgets: resources.Resource) -> None:
    definition.unserve("widgets.example.com")
    assert resources.lookup("example.com", "v1", "widgets") is None
    assert api_schema.for_kind("example.com", "v1", "Widget") is None
