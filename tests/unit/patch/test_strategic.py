"""Strategic merge patch as the API server applies it, and the two-way diff."""

from __future__ import annotations

import random
from typing import Any

import pytest
from smp_schemas import DEPLOYMENT, NODE, PDB, POD, SERVICE, random_object, random_pod

from tinykube.api.errors import BadRequest, Invalid
from tinykube.api.schema import SchemaNode
from tinykube.patch import strategic


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"containers": list(containers), **spec}}


def c(name: str, image: str = "img", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


# (id, schema, live object, patch, expected result)
APPLY_CASES: list[tuple[str, SchemaNode | None, Any, Any, Any]] = [
    (
        "merge-container-by-name-keeps-order",
        POD,
        pod(c("a", "nginx"), c("b", "redis")),
        {"spec": {"containers": [{"name": "b", "image": "redis:7"}]}},
        pod(c("a", "nginx"), c("b", "redis:7")),
    ),
    (
        "merge-container-keeps-server-fields",
        POD,
        pod(c("a", imagePullPolicy="Always", terminationMessagePath="/dev/termination-log")),
        {"spec": {"containers": [{"name": "a", "image": "new"}]}},
        pod(c("a", "new", imagePullPolicy="Always", terminationMessagePath="/dev/termination-log")),
    ),
    (
        "new-container-without-order-goes-first",
        POD,
        pod(c("a"), c("b")),
        {"spec": {"containers": [c("z")]}},
        pod(c("z"), c("a"), c("b")),
    ),
    (
        "new-container-placed-by-set-element-order",
        POD,
        pod(c("a"), c("b")),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "z"}],
                "containers": [c("z")],
            }
        },
        pod(c("a"), c("b"), c("z")),
    ),
    (
        "delete-env-var",
        POD,
        pod(c("a", env=[{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])),
        {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}]}]}},
        pod(c("a", env=[{"name": "Y", "value": "2"}])),
    ),
    (
        "delete-container",
        POD,
        pod(c("a"), c("b"), c("c")),
        {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}},
        pod(c("a"), c("c")),
    ),
    (
        "replace-list-with-patch-replace",
        POD,
        pod(c("a"), c("b")),
        {"spec": {"containers": [c("z"), {"$patch": "replace"}]}},
        pod(c("z")),
    ),
    (
        "empty-list-with-patch-replace",
        POD,
        pod(c("a"), c("b")),
        {"spec": {"containers": [{"$patch": "replace"}]}},
        pod(),
    ),
    (
        "replace-map-with-patch-replace",
        POD,
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
        {"metadata": {"labels": {"c": "3"}}},
    ),
    (
        "patch-delete-empties-map",
        POD,
        {"metadata": {"labels": {"a": "1"}, "name": "x"}},
        {"metadata": {"labels": {"$patch": "delete"}}},
        {"metadata": {"labels": {}, "name": "x"}},
    ),
    (
        "explicit-patch-merge-is-default",
        POD,
        {"metadata": {"labels": {"a": "1"}}},
        {"metadata": {"labels": {"$patch": "merge", "b": "2"}}},
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
    ),
    (
        "null-deletes-label",
        POD,
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"a": None, "c": "3"}}},
        {"metadata": {"labels": {"b": "2", "c": "3"}}},
    ),
    (
        "null-of-missing-field-is-ignored",
        POD,
        {"metadata": {"name": "x"}},
        {"metadata": {"labels": None, "annotations": {"a": None}}},
        {"metadata": {"name": "x", "annotations": {}}},
    ),
    (
        "recreate-strategy-with-retain-keys-drops-rolling-update",
        DEPLOYMENT,
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
    ),
    (
        "retain-keys-in-volume-item-switches-source",
        POD,
        pod(volumes=[{"name": "v", "configMap": {"name": "cm"}}, {"name": "w", "emptyDir": {}}]),
        {"spec": {"volumes": [{"name": "v", "$retainKeys": ["emptyDir", "name"], "emptyDir": {}}]}},
        pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]),
    ),
    (
        "finalizers-union",
        POD,
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["b", "c"]}},
        {"metadata": {"finalizers": ["a", "b", "c"]}},
    ),
    (
        "delete-from-primitive-list-finalizers",
        POD,
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zz"]}},
        {"metadata": {"finalizers": ["a", "c"]}},
    ),
    (
        "delete-from-missing-primitive-list-adds-nothing",
        POD,
        {"metadata": {"name": "x"}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
        {"metadata": {"name": "x"}},
    ),
    (
        "set-element-order-reorders-containers",
        POD,
        pod(c("a"), c("b"), c("c")),
        {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}},
        pod(c("c"), c("a"), c("b")),
    ),
    (
        # A server-only item stays ahead of patch items the live list had after it.
        "set-element-order-interleaves-server-only-items",
        POD,
        pod(c("a"), c("sidecar"), c("b")),
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}},
        pod(c("sidecar"), c("b"), c("a")),
    ),
    (
        "set-element-order-server-only-item-last-stays-last",
        POD,
        pod(c("a"), c("b"), c("sidecar")),
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}},
        pod(c("b"), c("a"), c("sidecar")),
    ),
    (
        "set-element-order-reorders-finalizers",
        POD,
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"]}},
        {"metadata": {"finalizers": ["c", "b", "a"]}},
    ),
    (
        # The new item takes the deleted item's place in the live order, so the
        # server-only item stays ahead of it (what kube-apiserver answers).
        "set-element-order-with-delete-and-add",
        POD,
        pod(c("a"), c("b"), c("s", "server")),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "n"}],
                "containers": [c("n"), {"name": "a", "$patch": "delete"}],
            }
        },
        pod(c("b"), c("s", "server"), c("n")),
    ),
    (
        "ports-merge-on-container-port",
        POD,
        pod(c("a", ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 443}])),
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "web"}]}]}},
        pod(c("a", ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 443}])),
    ),
    (
        "conditions-merge-on-type",
        POD,
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "Scheduled", "status": "True"},
                ]
            }
        },
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "Scheduled", "status": "True"},
                ]
            }
        },
    ),
    (
        "tolerations-are-atomic",
        POD,
        pod(tolerations=[{"key": "a", "operator": "Exists"}, {"key": "b"}]),
        {"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}},
        pod(tolerations=[{"key": "c", "operator": "Exists"}]),
    ),
    (
        "container-args-are-atomic",
        POD,
        pod(c("a", args=["x", "y"])),
        {"spec": {"containers": [{"name": "a", "args": ["z"]}]}},
        pod(c("a", args=["z"])),
    ),
    (
        "service-ports-merge-on-port",
        SERVICE,
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}},
        {"spec": {"ports": [{"port": 443, "targetPort": "https"}]}},
        {
            "spec": {
                "ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": "https"}]
            }
        },
    ),
    (
        "replace-strategy-map-is-replaced",
        PDB,
        {"spec": {"selector": {"matchLabels": {"a": "1"}}}},
        {"spec": {"selector": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}}},
        {"spec": {"selector": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}}},
    ),
    (
        "primitive-merge-list-on-node",
        NODE,
        {"spec": {"podCIDRs": ["10.0.0.0/24"]}},
        {"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]}},
        {"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]}},
    ),
    (
        "untyped-maps-merge-lists-replace",
        None,
        {"spec": {"items": [{"name": "a"}], "m": {"x": 1, "y": 2}}},
        {"spec": {"items": [{"name": "b"}], "m": {"x": None, "z": 3}}},
        {"spec": {"items": [{"name": "b"}], "m": {"y": 2, "z": 3}}},
    ),
    (
        "new-content-drops-nulls-and-directives",
        POD,
        {"spec": {}},
        {"spec": {"containers": [c("a", env=None), {"name": "gone", "$patch": "delete"}]}},
        {"spec": {"containers": [c("a")]}},
    ),
    (
        "type-change-replaces",
        None,
        {"a": {"b": 1}},
        {"a": [1, 2]},
        {"a": [1, 2]},
    ),
    ("empty-patch", POD, pod(c("a")), {}, pod(c("a"))),
]


@pytest.mark.parametrize(
    ("schema", "live", "patch", "expected"),
    [case[1:] for case in APPLY_CASES],
    ids=[case[0] for case in APPLY_CASES],
)
def test_apply(schema: SchemaNode | None, live: Any, patch: Any, expected: Any) -> None:
    assert strategic.apply(live, patch, schema) == expected


def test_apply_does_not_mutate_inputs() -> None:
    live = pod(c("a"), c("b"))
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [c("b", "x")],
        }
    }
    before_live, before_patch = repr(live), repr(patch)
    strategic.apply(live, patch, POD)
    assert (repr(live), repr(patch)) == (before_live, before_patch)


# (id, schema, live, patch, error class, message fragment)
ERROR_CASES: list[tuple[str, SchemaNode | None, Any, Any, type[Exception], str]] = [
    ("patch-not-object", POD, {}, [1], BadRequest, "invalid JSON document"),
    ("doc-not-object", POD, "x", {}, BadRequest, "invalid JSON document"),
    (
        "missing-merge-key",
        POD,
        pod(c("a")),
        {"spec": {"containers": [{"image": "x"}]}},
        BadRequest,
        "map: map[image:x] does not contain declared merge key: name",
    ),
    (
        "unknown-map-directive",
        POD,
        {"metadata": {"labels": {}}},
        {"metadata": {"labels": {"$patch": "frob"}}},
        BadRequest,
        "unknown patch type: frob in map: map[$patch:frob]",
    ),
    (
        "unknown-list-item-directive",
        POD,
        pod(c("a")),
        {"spec": {"containers": [{"name": "a", "$patch": "frob"}]}},
        BadRequest,
        "unknown patch type: frob in map: map[$patch:frob name:a]",
    ),
    (
        "retain-keys-not-a-list",
        DEPLOYMENT,
        {"spec": {"strategy": {"type": "Recreate"}}},
        {"spec": {"strategy": {"$retainKeys": "type"}}},
        BadRequest,
        "invalid patch format of retainKeys",
    ),
    (
        "retain-keys-inconsistent-with-patch",
        DEPLOYMENT,
        {"spec": {"strategy": {"type": "RollingUpdate"}}},
        {
            "spec": {
                "strategy": {
                    "$retainKeys": ["type"],
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1},
                }
            }
        },
        BadRequest,
        "invalid patch format of retainKeys",
    ),
    (
        "set-element-order-not-a-list",
        POD,
        pod(c("a")),
        {"spec": {"$setElementOrder/containers": {"name": "a"}}},
        BadRequest,
        "invalid patch format of setElementOrder list",
    ),
    (
        "set-element-order-disagrees-with-patch",
        POD,
        pod(c("a"), c("b")),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [c("b", "x"), c("a", "y")],
            }
        },
        BadRequest,
        "doesn't match $setElementOrder list",
    ),
    (
        "malformed-delete-from-primitive-list-key",
        POD,
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}},
        BadRequest,
        "invalid patch format of primitive list",
    ),
    (
        "delete-from-primitive-list-not-a-list",
        POD,
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
        BadRequest,
        "invalid patch format of primitive list",
    ),
    (
        "merge-list-of-lists",
        POD,
        {"metadata": {"finalizers": [["a"]]}},
        {"metadata": {"finalizers": [["b"]]}},
        Invalid,
        "the server rejected our request due to an error in our request",
    ),
]


@pytest.mark.parametrize(
    ("schema", "live", "patch", "error", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_apply_errors(
    schema: SchemaNode | None, live: Any, patch: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        strategic.apply(live, patch, schema)
    assert message in str(info.value)


def test_list_of_lists_is_422_with_library_text_as_cause() -> None:
    with pytest.raises(Invalid) as info:
        strategic.apply(
            {"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, POD
        )
    assert info.value.code == 422
    assert str(info.value.__cause__) == "lists of lists are not supported"


# (id, schema, original, modified, expected two-way patch)
TWO_WAY_CASES: list[tuple[str, SchemaNode | None, Any, Any, Any]] = [
    ("unchanged", POD, pod(c("a"), c("b")), pod(c("a"), c("b")), {}),
    (
        "changed-image-sends-item-with-merge-key-and-order",
        POD,
        pod(c("a"), c("b", "redis")),
        pod(c("a"), c("b", "redis:7")),
        {
            "spec": {
                "containers": [{"name": "b", "image": "redis:7"}],
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            }
        },
    ),
    (
        "added-container-sent-whole",
        POD,
        pod(c("a")),
        pod(c("a"), c("b", ports=[{"containerPort": 80}])),
        {
            "spec": {
                "containers": [c("b", ports=[{"containerPort": 80}])],
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            }
        },
    ),
    (
        "removed-container-becomes-delete-directive",
        POD,
        pod(c("a"), c("b")),
        pod(c("b")),
        {
            "spec": {
                "containers": [{"name": "a", "$patch": "delete"}],
                "$setElementOrder/containers": [{"name": "b"}],
            }
        },
    ),
    (
        "removed-env-var",
        POD,
        pod(c("a", env=[{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])),
        pod(c("a", env=[{"name": "Y", "value": "2"}])),
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "env": [{"name": "X", "$patch": "delete"}],
                        "$setElementOrder/env": [{"name": "Y"}],
                    }
                ],
                "$setElementOrder/containers": [{"name": "a"}],
            }
        },
    ),
    (
        "reorder-only-sends-set-element-order",
        POD,
        pod(c("a"), c("b")),
        pod(c("b"), c("a")),
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}},
    ),
    (
        "removed-finalizer",
        POD,
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["a"]}},
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "$setElementOrder/finalizers": ["a"],
            }
        },
    ),
    (
        "added-finalizer",
        POD,
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"finalizers": ["z", "a"]}},
        {"metadata": {"finalizers": ["z"], "$setElementOrder/finalizers": ["z", "a"]}},
    ),
    (
        "removed-label-is-null",
        POD,
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"a": "1"}}},
        {"metadata": {"labels": {"b": None}}},
    ),
    (
        "atomic-list-sent-whole",
        POD,
        pod(tolerations=[{"key": "a"}, {"key": "b"}]),
        pod(tolerations=[{"key": "a"}]),
        {"spec": {"tolerations": [{"key": "a"}]}},
    ),
    (
        "strategy-switch-emits-retain-keys",
        DEPLOYMENT,
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
        {
            "spec": {
                "strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}
            }
        },
    ),
    (
        "volume-source-switch-emits-retain-keys-in-item",
        POD,
        pod(volumes=[{"name": "v", "configMap": {"name": "cm"}}]),
        pod(volumes=[{"name": "v", "emptyDir": {}}]),
        {
            "spec": {
                "volumes": [
                    {
                        "name": "v",
                        "emptyDir": {},
                        "configMap": None,
                        "$retainKeys": ["emptyDir", "name"],
                    }
                ],
                "$setElementOrder/volumes": [{"name": "v"}],
            }
        },
    ),
    (
        # Kubernetes always sends a replace-strategy map, changed or not.
        "replace-strategy-map-always-sent",
        PDB,
        {"spec": {"selector": {"matchLabels": {"a": "1"}}}},
        {"spec": {"selector": {"matchLabels": {"a": "1"}}}},
        {"spec": {"selector": {"matchLabels": {"a": "1"}}}},
    ),
    (
        "untyped-list-sent-whole",
        None,
        {"l": [{"name": "a"}, {"name": "b"}], "m": {"x": 1}},
        {"l": [{"name": "a"}], "m": {"x": 2}},
        {"l": [{"name": "a"}], "m": {"x": 2}},
    ),
]


@pytest.mark.parametrize(
    ("schema", "original", "modified", "expected"),
    [case[1:] for case in TWO_WAY_CASES],
    ids=[case[0] for case in TWO_WAY_CASES],
)
def test_create_two_way(
    schema: SchemaNode | None, original: Any, modified: Any, expected: Any
) -> None:
    patch = strategic.create_two_way(original, modified, schema)
    assert patch == expected
    assert strategic.apply(original, patch, schema) == modified


# ---- round trip: apply(original, create_two_way(original, modified)) == modified ----


@pytest.mark.parametrize("seed", range(300))
def test_round_trip_typed(seed: int) -> None:
    rng = random.Random(seed)
    original, modified = random_pod(rng), random_pod(rng)
    patch = strategic.create_two_way(original, modified, POD)
    assert strategic.apply(original, patch, POD) == modified


@pytest.mark.parametrize("seed", range(300))
def test_round_trip_untyped(seed: int) -> None:
    rng = random.Random(seed)
    original, modified = random_object(rng), random_object(rng)
    patch = strategic.create_two_way(original, modified, None)
    assert strategic.apply(original, patch, None) == modified


@pytest.mark.parametrize("seed", range(100))
def test_round_trip_from_itself_is_empty(seed: int) -> None:
    doc = random_pod(random.Random(seed))
    assert strategic.create_two_way(doc, doc, POD) == {}
