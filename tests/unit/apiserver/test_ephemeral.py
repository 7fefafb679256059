"""Ephemeral containers: the subresource strategy and the rules on what it may write."""

from __future__ import annotations

import copy

import pytest

from tinykube.api import errors, validation
from tinykube.api.resources import lookup
from tinykube.api.validation.podephemeral import validate_static_pod
from tinykube.apiserver.authz import policy
from tinykube.apiserver.authz.attributes import Attributes
from tinykube.apiserver.authz.rules import allows
from tinykube.apiserver.registry import strategy

PODS = lookup("", "v1", "pods")
FORBIDDEN = "cannot be set for an Ephemeral Container"
DEBUGGER = {"name": "debugger", "image": "busybox", "targetContainerName": "app"}


def stored_pod(*ephemeral: dict) -> dict:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "7",
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web"},
        },
        "spec": {
            "containers": [{"name": "app", "image": "nginx"}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "nodeName": "controlplane",
        },
        "status": {"phase": "Running"},
    }
    if ephemeral:
        pod["spec"]["ephemeralContainers"] = [copy.deepcopy(c) for c in ephemeral]
    return pod


def through_subresource(old: dict, ephemeral: list[dict]) -> tuple[dict, list[str]]:
    """What the handler stores, and what the registry's validation then says."""
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = ephemeral
    strategy.prepare_for_ephemeral_containers_update(new, old)
    return new, [str(e) for e in validation.validate(PODS, new, old)]


def test_strategy_keeps_only_ephemeral_containers() -> None:
    old = stored_pod()
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [DEBUGGER]
    new["spec"]["containers"][0]["image"] = "evil"
    new["metadata"]["labels"] = {"changed": "yes"}
    new["status"] = {"phase": "Failed"}
    strategy.prepare_for_ephemeral_containers_update(new, old)
    assert new["spec"]["ephemeralContainers"] == [DEBUGGER]
    assert new["spec"]["containers"] == old["spec"]["containers"]
    assert new["metadata"]["labels"] == {"app": "web"}
    assert new["status"] == {"phase": "Running"}
    assert new["metadata"]["generation"] == 2


def test_strategy_without_change_keeps_generation() -> None:
    old = stored_pod(DEBUGGER)
    new = copy.deepcopy(old)
    strategy.prepare_for_ephemeral_containers_update(new, old)
    assert new == old


def test_adding_an_ephemeral_container_is_valid() -> None:
    _, problems = through_subresource(stored_pod(), [DEBUGGER])
    assert problems == []


def test_adding_a_second_one_keeps_the_first() -> None:
    second = {"name": "second", "image": "busybox"}
    _, problems = through_subresource(stored_pod(DEBUGGER), [second, DEBUGGER])
    assert problems == []


def test_changing_an_existing_one_is_forbidden() -> None:
    changed = dict(DEBUGGER, image="alpine")
    _, problems = through_subresource(stored_pod(DEBUGGER), [changed])
    assert problems == [
        'spec.ephemeralContainers[debugger]: Forbidden: existing ephemeral containers "debugger" '
        "may not be changed"
    ]


def test_removing_an_existing_one_is_forbidden() -> None:
    _, problems = through_subresource(stored_pod(DEBUGGER), [])
    assert problems == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" '
        "may not be removed"
    ]


def test_name_must_be_unique_across_all_containers() -> None:
    _, problems = through_subresource(stored_pod(), [{"name": "app", "image": "busybox"}])
    assert problems == ['spec.ephemeralContainers[0].name: Duplicate value: "app"']


def test_target_must_name_a_container() -> None:
    _, problems = through_subresource(stored_pod(), [dict(DEBUGGER, targetContainerName="nope")])
    assert problems == ['spec.ephemeralContainers[0].targetContainerName: Not found: "nope"']


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ports", [{"containerPort": 80}]),
        ("resources", {"limits": {"cpu": "1"}}),
        ("livenessProbe", {"exec": {"command": ["true"]}}),
        ("readinessProbe", {"exec": {"command": ["true"]}}),
        ("startupProbe", {"exec": {"command": ["true"]}}),
        ("lifecycle", {"preStop": {"exec": {"command": ["true"]}}}),
    ],
)
def test_fields_an_ephemeral_container_cannot_have(field: str, value: object) -> None:
    _, problems = through_subresource(stored_pod(), [dict(DEBUGGER, **{field: value})])
    expected = f"spec.ephemeralContainers[0].{field}: Forbidden: {FORBIDDEN}"
    assert expected in problems


def test_sub_path_mount_is_forbidden() -> None:
    old = stored_pod()
    old["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    mount = {"name": "data", "mountPath": "/d", "subPath": "x"}
    _, problems = through_subresource(old, [dict(DEBUGGER, volumeMounts=[mount])])
    assert problems == [
        "spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: "
        "cannot be set for an Ephemeral Container"
    ]


def test_static_pods_take_no_ephemeral_containers() -> None:
    old = stored_pod()
    old["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    assert [str(e) for e in validate_static_pod(old)] == [
        ": Forbidden: static pods do not support ephemeral containers"
    ]
    assert validate_static_pod(stored_pod()) == []


def test_create_still_refuses_ephemeral_containers() -> None:
    pod = stored_pod(DEBUGGER)
    for field in ("uid", "resourceVersion", "generation", "creationTimestamp"):
        pod["metadata"].pop(field)
    problems = [str(e) for e in validation.validate(PODS, pod, None)]
    assert "spec.ephemeralContainers: Forbidden: cannot be set on create" in problems


def test_the_main_endpoint_cannot_change_them() -> None:
    old = stored_pod(DEBUGGER)
    for ephemeral in ([], [DEBUGGER, dict(DEBUGGER, name="more")]):
        new = copy.deepcopy(old)
        new["spec"]["ephemeralContainers"] = ephemeral
        with pytest.raises(errors.Invalid) as exc:
            strategy.prepare_for_update(PODS, new, old)
        assert exc.value.message.startswith(
            'Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than'
        )


def test_the_main_endpoint_keeps_them_when_unchanged() -> None:
    old = stored_pod(DEBUGGER)
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"app": "relabelled"}
    strategy.prepare_for_update(PODS, new, old)
    assert new["spec"]["ephemeralContainers"] == [DEBUGGER]


def test_edit_may_add_ephemeral_containers_and_view_may_not() -> None:
    def allowed(role: str, verb: str) -> bool:
        wanted = Attributes(verb, resource="pods", subresource="ephemeralcontainers", name="web")
        return any(allows(r, wanted) for r in policy.CLUSTER_ROLES[role]["rules"])

    assert allowed("system:aggregate-to-edit", "patch")
    assert allowed("system:aggregate-to-edit", "update")
    assert not allowed("system:aggregate-to-edit", "create")
    assert not allowed("system:aggregate-to-view", "patch")
