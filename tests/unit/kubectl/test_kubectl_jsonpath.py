"""kubectl's JSONPath dialect: fields, wildcards, slices, filters, ranges, literals."""

from __future__ import annotations

import pytest

from tinykube.kubectl import jsonpath

pytestmark = pytest.mark.unit

POD_LIST = {
    "kind": "List",
    "items": [
        {
            "metadata": {"name": "a", "labels": {"app": "web"}, "annotations": {"x.io/y": "1"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
            "spec": {
                "containers": [{"name": "c1", "image": "nginx"}, {"name": "c2", "image": "busybox"}]
            },
        },
        {
            "metadata": {"name": "b", "labels": {}},
            "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
            "spec": {"containers": [{"name": "c1", "image": "redis"}]},
        },
    ],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{.items[0].metadata.name}", "a"),
        ("{.items[*].metadata.name}", "a b"),
        ("{.items[-1].metadata.name}", "b"),
        ("{.items[0:1].metadata.name}", "a"),
        ("{.items[*].spec.containers[*].image}", "nginx busybox redis"),
        ("{.items[0].metadata.labels}", '{"app":"web"}'),
        ("{.items[0].metadata.annotations.x\\.io/y}", "1"),
        ("{.items[0].metadata.annotations['x.io/y']}", "1"),
        ('{.items[?(@.status.phase=="Running")].metadata.name}', "a"),
        ('{.items[*].status.conditions[?(@.type=="Ready")].status}', "True False"),
        ("{.items[?(@.metadata.labels.app)].metadata.name}", "a"),
        ("{..image}", "nginx busybox redis"),
        (
            '{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}',
            "a\tRunning\nb\tPending\n",
        ),
        ("name={.items[0].metadata.name}!", "name=a!"),
        ("{.items[0].nothing}", ""),
        ("{.kind}", "List"),
    ],
)
def test_templates(template: str, expected: str) -> None:
    assert jsonpath.execute(template, POD_LIST) == expected


def test_numbers_and_booleans_print_as_go_does() -> None:
    doc = {"a": 3, "b": True, "c": 0.5, "d": None}
    assert jsonpath.execute("{.a} {.b} {.c} {.d}", doc) == "3 true 0.5 <nil>"


def test_jsonpath_as_json_collects_every_result() -> None:
    assert (
        jsonpath.execute_json("{.items[*].metadata.name}", POD_LIST) == '[\n    "a",\n    "b"\n]\n'
    )


def test_index_out_of_range_is_an_error() -> None:
    with pytest.raises(jsonpath.JSONPathError, match="out of bounds"):
        jsonpath.execute("{.items[5]}", POD_LIST)


@pytest.mark.parametrize("template", ["{.a", "{end}", "{range .items[*]}{.x}"])
def test_malformed_templates(template: str) -> None:
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.execute(template, {})
