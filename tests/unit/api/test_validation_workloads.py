"""Validation of workloads (apps, batch) and the smaller groups."""

from __future__ import annotations

import copy
import zoneinfo
from typing import Any

import pytest

from tinykube.api import defaults, validation
from tinykube.api.resources import by_kind

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
}


def errors_of(
    group: str, kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None
) -> list[str]:
    res = by_kind(group, "v1" if group not in ("autoscaling",) else "v2", kind)
    assert res is not None
    defaults.apply_defaults(res, obj)
    return [str(e) for e in validation.validate(res, obj, old)]


def workload(kind: str = "Deployment", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": copy.deepcopy(TEMPLATE),
    }
    body.update(spec)
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": body}


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"])
def test_valid_workloads(kind: str) -> None:
    assert errors_of("apps", kind, workload(kind)) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"replicas": -1},
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
            id="negative-replicas",
        ),
        pytest.param({"selector": None}, ["spec.selector: Required value"], id="no-selector"),
        pytest.param(
            {"selector": {"matchLabels": {"app": "other"}}},
            [
                'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'
            ],
            id="selector-mismatch",
        ),
        pytest.param(
            {"selector": {}},
            ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
            id="empty-selector",
        ),
        pytest.param(
            {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
            [
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ],
            id="recreate-with-rolling",
        ),
        pytest.param(
            {
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0},
                }
            },
            [
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
            ],
            id="both-zero",
        ),
        pytest.param(
            {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "abc"}}},
            [
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"abc\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
            ],
            id="bad-percent",
        ),
        pytest.param(
            {"progressDeadlineSeconds": 5, "minReadySeconds": 10},
            [
                "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"
            ],
            id="deadline-below-min-ready",
        ),
    ],
)
def test_deployment(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors_of("apps", "Deployment", workload(**spec)) == expected


@pytest.mark.parametrize(
    ("rolling", "expected"),
    [
        pytest.param({"maxUnavailable": 1, "maxSurge": 0}, [], id="defaults"),
        pytest.param(
            {"maxUnavailable": 1, "maxSurge": 1},
            [
                "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"
            ],
            id="both-set",
        ),
        pytest.param(
            {"maxUnavailable": 0, "maxSurge": 0},
            [
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
            ],
            id="both-zero",
        ),
        pytest.param(
            {"maxUnavailable": "150%", "maxSurge": 0},
            [
                'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%'
            ],
            id="over-100",
        ),
    ],
)
def test_daemon_set_rolling_update(rolling: dict[str, Any], expected: list[str]) -> None:
    obj = workload("DaemonSet", updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling})
    assert errors_of("apps", "DaemonSet", obj) == expected


def test_statefulset_template_volumes_may_name_claims() -> None:
    obj = workload("StatefulSet", volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}])
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    assert errors_of("apps", "StatefulSet", obj) == []


def test_statefulset_name_is_a_label() -> None:
    obj = workload("StatefulSet")
    obj["metadata"]["name"] = "web.v1"
    assert errors_of("apps", "StatefulSet", obj) == [
        'metadata.name: Invalid value: "web.v1": must not contain dots'
    ]


def test_template_must_restart_always() -> None:
    obj = workload("ReplicaSet")
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors_of("apps", "ReplicaSet", obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"])
def test_selector_is_immutable(kind: str) -> None:
    old = workload(kind)
    errors_of("apps", kind, old)
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert errors_of("apps", kind, new, old) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable'
    ]


def test_statefulset_spec_is_mostly_frozen() -> None:
    old = workload("StatefulSet", serviceName="web")
    errors_of("apps", "StatefulSet", old)
    new = copy.deepcopy(old)
    new["spec"]["serviceName"] = "other"
    (message,) = errors_of("apps", "StatefulSet", new, old)
    assert message.startswith(
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas'"
    )
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    assert errors_of("apps", "StatefulSet", scaled, old) == []


# ---- batch -------------------------------------------------------------------------------


def job(**spec: Any) -> dict[str, Any]:
    template = {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}
    body: dict[str, Any] = {"template": template}
    body.update(spec)
    return {"metadata": {"name": "pi", "namespace": "default", "uid": "uid-1"}, "spec": body}


def test_job_valid() -> None:
    assert errors_of("batch", "Job", job()) == []


def test_job_restart_policy() -> None:
    obj = job()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert errors_of("batch", "Job", obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"'
    ]


def test_job_selector_must_be_generated() -> None:
    obj = job(selector={"matchLabels": {"a": "b"}})
    obj["spec"]["template"]["metadata"] = {"labels": {"a": "b"}}
    assert errors_of("batch", "Job", obj) == [
        'spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` not auto-generated'
    ]


def test_job_manual_selector_is_accepted() -> None:
    obj = job(selector={"matchLabels": {"a": "b"}}, manualSelector=True)
    obj["spec"]["template"]["metadata"] = {"labels": {"a": "b"}}
    assert errors_of("batch", "Job", obj) == []


def test_job_template_is_immutable() -> None:
    old = job()
    errors_of("batch", "Job", old)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:2"
    (message,) = errors_of("batch", "Job", new, old)
    assert message.startswith("spec.template: Invalid value: ") and message.endswith(
        ": field is immutable"
    )


def cron_job(schedule: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": job()["spec"]}},
    }


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param("*/5 * * * *", [], id="every-5-minutes"),
        pytest.param("0 9 * * mon-fri", [], id="weekday-names"),
        pytest.param("@hourly", [], id="macro"),
        pytest.param("@every 1h30m", [], id="every"),
        pytest.param(
            "bad",
            ['spec.schedule: Invalid value: "bad": expected exactly 5 fields, found 1: [bad]'],
            id="one-field",
        ),
        pytest.param(
            "61 * * * *",
            [
                'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'
            ],
            id="minute-range",
        ),
        pytest.param(
            "@fortnightly",
            ['spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly'],
            id="bad-macro",
        ),
    ],
)
def test_cron_schedule(schedule: str, expected: list[str]) -> None:
    assert errors_of("batch", "CronJob", cron_job(schedule)) == expected


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        pytest.param("Europe/Berlin", [], id="iana-zone"),
        pytest.param(
            "Mars/Olympus",
            ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'],
            id="unknown",
            marks=pytest.mark.skipif(
                not zoneinfo.available_timezones(), reason="no time zone database"
            ),
        ),
        pytest.param(
            "Local",
            [
                'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'
            ],
            id="local",
        ),
    ],
)
def test_cron_time_zone(zone: str, expected: list[str]) -> None:
    obj = cron_job("0 * * * *")
    obj["spec"]["timeZone"] = zone
    assert errors_of("batch", "CronJob", obj) == expected


# ---- other groups ----------------------------------------------------------------------------


def test_pdb_min_and_max_exclusive() -> None:
    obj = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"minAvailable": 1, "maxUnavailable": 1},
    }
    assert errors_of("policy", "PodDisruptionBudget", obj) == [
        'spec: Invalid value: {"MinAvailable":1,"Selector":null,"MaxUnavailable":1,'
        '"UnhealthyPodEvictionPolicy":null}: minAvailable and maxUnavailable cannot be both set'
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        pytest.param("high", 1000, [], id="ok"),
        pytest.param(
            "huge",
            2000000000,
            ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"],
            id="too-high",
        ),
        pytest.param(
            "system-mine",
            10,
            [
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only"
            ],
            id="system-prefix",
        ),
        pytest.param("system-node-critical", 2000001000, [], id="builtin"),
    ],
)
def test_priority_class(name: str, value: int, expected: list[str]) -> None:
    obj = {"metadata": {"name": name}, "value": value}
    assert errors_of("scheduling.k8s.io", "PriorityClass", obj) == expected


def test_role_rules() -> None:
    obj = {
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [{"apiGroups": [""], "resources": ["pods"]}],
    }
    assert errors_of("rbac.authorization.k8s.io", "Role", obj) == [
        "rules[0].verbs: Required value: verbs must contain at least one value"
    ]


def test_role_ref_cannot_change() -> None:
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    old = {
        "metadata": {"name": "b", "namespace": "default"},
        "roleRef": ref,
        "subjects": [{"kind": "User", "name": "bob"}],
    }
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "edit"
    assert errors_of("rbac.authorization.k8s.io", "RoleBinding", new, old) == [
        'roleRef: Invalid value: {"APIGroup":"rbac.authorization.k8s.io","Kind":"ClusterRole","Name":"edit"}: cannot change roleRef'
    ]


def test_endpoint_slice_address_type() -> None:
    obj = {"metadata": {"name": "e", "namespace": "default"}, "addressType": "IPv5"}
    assert errors_of("discovery.k8s.io", "EndpointSlice", obj) == [
        'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"'
    ]


def test_lease_duration() -> None:
    obj = {
        "metadata": {"name": "n", "namespace": "kube-node-lease"},
        "spec": {"leaseDurationSeconds": 0},
    }
    assert errors_of("coordination.k8s.io", "Lease", obj) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
    ]


def test_core_event_namespace_must_match() -> None:
    obj = {
        "metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "other"},
    }
    assert errors_of("", "Event", obj) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace'
    ]


def test_events_api_requires_event_time_and_reporter() -> None:
    res = by_kind("events.k8s.io", "v1", "Event")
    assert res is not None
    obj = {
        "metadata": {"name": "web.1", "namespace": "default"},
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
        "type": "Normal",
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reason": "Scheduled",
        "action": "Binding",
        "reportingInstance": "scheduler-1",
    }
    assert [str(e) for e in validation.validate(res, obj)][:1] == [
        "reportingController: Required value"
    ]
    obj["reportingController"] = "default-scheduler"
    assert validation.validate(res, obj) == []
    del obj["eventTime"]
    assert [str(e) for e in validation.validate(res, obj)] == ["eventTime: Required value"]


def test_pod_templates_may_not_carry_ephemeral_containers() -> None:
    body = workload()
    body["spec"]["template"]["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox"}]
    assert errors_of("apps", "Deployment", body) == [
        "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"
    ]
