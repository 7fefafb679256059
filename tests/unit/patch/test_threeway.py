"""kubectl apply's three-way strategic merge patch, and what the server makes of it."""

from __future__ import annotations

import random
from typing import Any

import pytest
from smp_schemas import DEPLOYMENT, POD, random_pod

from tinykube.api.schema import SchemaNode
from tinykube.patch import strategic, threeway


def c(name: str, image: str = "img", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def defaulted(container: dict[str, Any]) -> dict[str, Any]:
    """A container as the server stores it, with the defaults it fills in."""
    return {
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        **container,
    }


def pod(
    *containers: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web"}
    if labels is not None:
        meta["labels"] = labels
    return {"metadata": meta, "spec": {"containers": list(containers), **spec}}


def live(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` after the server defaulted it and the kubelet reported status."""
    out = {**doc, "metadata": {**doc["metadata"], "uid": "u-1", "resourceVersion": "7"}}
    spec = dict(doc["spec"])
    spec["containers"] = [defaulted(x) for x in spec.get("containers", [])]
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    out["spec"] = spec
    out["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return out


# (id, schema, last applied, new manifest, live object, expected patch)
CASES: list[tuple[str, SchemaNode | None, Any, Any, Any, Any]] = [
    (
        "unchanged-manifest-leaves-server-defaults-alone",
        POD,
        pod(c("a"), labels={"app": "web"}),
        pod(c("a"), labels={"app": "web"}),
        live(pod(c("a"), labels={"app": "web"})),
        {},
    ),
    (
        "field-removed-from-manifest-becomes-null",
        POD,
        pod(c("a"), labels={"app": "web", "tier": "fe"}),
        pod(c("a"), labels={"app": "web"}),
        live(pod(c("a"), labels={"app": "web", "tier": "fe"})),
        {"metadata": {"labels": {"tier": None}}},
    ),
    (
        "label-added-by-someone-else-is-kept",
        POD,
        pod(c("a"), labels={"app": "web"}),
        pod(c("a"), labels={"app": "web"}),
        live(pod(c("a"), labels={"app": "web", "owner": "ops"})),
        {},
    ),
    (
        "changed-image",
        POD,
        pod(c("a", "nginx:1")),
        pod(c("a", "nginx:2")),
        live(pod(c("a", "nginx:1"))),
        {
            "spec": {
                "containers": [{"name": "a", "image": "nginx:2"}],
                "$setElementOrder/containers": [{"name": "a"}],
            }
        },
    ),
    (
        "container-removed-from-manifest",
        POD,
        pod(c("a"), c("b")),
        pod(c("a")),
        live(pod(c("a"), c("b"))),
        {
            "spec": {
                "containers": [{"name": "b", "$patch": "delete"}],
                "$setElementOrder/containers": [{"name": "a"}],
            }
        },
    ),
    (
        "env-var-removed-from-manifest",
        POD,
        pod(c("a", env=[{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])),
        pod(c("a", env=[{"name": "Y", "value": "2"}])),
        live(pod(c("a", env=[{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]))),
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
        "finalizer-removed-from-manifest",
        POD,
        {"metadata": {"name": "web", "finalizers": ["a.io/x", "b.io/y"]}},
        {"metadata": {"name": "web", "finalizers": ["a.io/x"]}},
        {"metadata": {"name": "web", "finalizers": ["a.io/x", "b.io/y", "kubernetes"]}},
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["b.io/y"],
                "$setElementOrder/finalizers": ["a.io/x"],
            }
        },
    ),
    (
        "live-drift-is-reverted",
        POD,
        pod(c("a", "nginx:1")),
        pod(c("a", "nginx:1")),
        live(pod(c("a", "hacked"))),
        {
            "spec": {
                "containers": [{"name": "a", "image": "nginx:1"}],
                "$setElementOrder/containers": [{"name": "a"}],
            }
        },
    ),
    (
        "no-last-applied-deletes-nothing",
        POD,
        None,
        pod(c("a"), labels={"app": "web"}),
        live(pod(c("a"), labels={"app": "web", "tier": "fe"})),
        {},
    ),
    (
        "replicas-removed-from-manifest",
        DEPLOYMENT,
        {"spec": {"replicas": 3, "minReadySeconds": 5}},
        {"spec": {"minReadySeconds": 5}},
        {"spec": {"replicas": 3, "minReadySeconds": 5, "revisionHistoryLimit": 10}},
        {"spec": {"replicas": None}},
    ),
    (
        "rolling-update-to-recreate-uses-retain-keys",
        DEPLOYMENT,
        {"spec": {"strategy": {"type": "RollingUpdate"}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
        {
            "spec": {
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                }
            }
        },
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    ),
    (
        "untyped-custom-resource-style",
        None,
        {"spec": {"size": 1, "color": "red", "items": [1, 2]}},
        {"spec": {"size": 2, "items": [1, 2]}},
        {"spec": {"size": 1, "color": "red", "items": [1, 2], "defaulted": True}},
        {"spec": {"size": 2, "color": None}},
    ),
]


@pytest.mark.parametrize(
    ("schema", "original", "modified", "current", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_create_three_way(
    schema: SchemaNode | None, original: Any, modified: Any, current: Any, expected: Any
) -> None:
    assert threeway.create_three_way(original, modified, current, schema) == expected


# (id, schema, last applied, manifest, live, the object after the server applies the patch)
RESULTS: list[tuple[str, SchemaNode | None, Any, Any, Any, Any]] = [
    (
        "removed-container-is-gone-and-defaults-stay",
        POD,
        pod(c("a"), c("b")),
        pod(c("a", "new")),
        live(pod(c("a"), c("b"))),
        {**live(pod(c("a", "new")))},
    ),
    (
        "added-container-lands-in-manifest-order",
        POD,
        pod(c("a"), c("c")),
        pod(c("a"), c("b"), c("c")),
        live(pod(c("a"), c("c"))),
        # The new container has no defaults yet: defaulting runs after the patch.
        {
            **live(pod(c("a"), c("c"))),
            "spec": {
                **live(pod(c("a"), c("c")))["spec"],
                "containers": [defaulted(c("a")), c("b"), defaulted(c("c"))],
            },
        },
    ),
    (
        "recreate-strategy-drops-rolling-update",
        DEPLOYMENT,
        {"spec": {"strategy": {"type": "RollingUpdate"}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
        {
            "spec": {
                "replicas": 1,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            }
        },
        {"spec": {"replicas": 1, "strategy": {"type": "Recreate"}}},
    ),
]


@pytest.mark.parametrize(
    ("schema", "original", "modified", "current", "expected"),
    [case[1:] for case in RESULTS],
    ids=[case[0] for case in RESULTS],
)
def test_server_applies_three_way_patch(
    schema: SchemaNode | None, original: Any, modified: Any, current: Any, expected: Any
) -> None:
    patch = threeway.create_three_way(original, modified, current, schema)
    assert strategic.apply(current, patch, schema) == expected


def test_inputs_are_not_mutated() -> None:
    original, modified = pod(c("a"), c("b")), pod(c("b", "x"))
    current = live(original)
    before = repr((original, modified, current))
    threeway.create_three_way(original, modified, current, POD)
    assert repr((original, modified, current)) == before


def test_conflict_when_not_overwriting_a_server_side_change() -> None:
    original = {"spec": {"replicas": 1}}
    current = {"spec": {"replicas": 5}}
    modified = {"spec": {"replicas": 2}}
    with pytest.raises(threeway.ApplyConflict):
        threeway.create_three_way(original, modified, current, DEPLOYMENT, overwrite=False)
    patch = threeway.create_three_way(original, modified, current, DEPLOYMENT)
    assert patch == {"spec": {"replicas": 2}}


def test_no_conflict_when_server_change_is_untouched() -> None:
    original = {"spec": {"minReadySeconds": 0}}
    current = {"spec": {"minReadySeconds": 0, "revisionHistoryLimit": 10}}
    modified = {"spec": {"minReadySeconds": 3}}
    patch = threeway.create_three_way(original, modified, current, DEPLOYMENT, overwrite=False)
    assert patch == {"spec": {"minReadySeconds": 3}}


# ---- properties over random pods ----------------------------------------------


@pytest.mark.parametrize("seed", range(200))
def test_patch_turns_unchanged_live_object_into_manifest(seed: int) -> None:
    rng = random.Random(seed)
    original, modified = random_pod(rng), random_pod(rng)
    patch = threeway.create_three_way(original, modified, original, POD)
    assert strategic.apply(original, patch, POD) == modified


@pytest.mark.parametrize("seed", range(200))
def test_server_only_fields_survive(seed: int) -> None:
    rng = random.Random(seed)
    original, modified = random_pod(rng), random_pod(rng)
    current = {**original, "spec": {**original["spec"], "schedulerName": "default-scheduler"}}
    current["status"] = {"phase": "Running"}
    patch = threeway.create_three_way(original, modified, current, POD)
    expected = {**modified, "spec": {**modified["spec"], "schedulerName": "default-scheduler"}}
    expected["status"] = {"phase": "Running"}
    assert strategic.apply(current, patch, POD) == expected


@pytest.mark.parametrize("seed", range(100))
def test_reapplying_the_same_manifest_is_unchanged(seed: int) -> None:
    manifest = random_pod(random.Random(seed))
    current = {**manifest, "status": {"phase": "Running"}}
    assert threeway.create_three_way(manifest, manifest, current, POD) == {}
