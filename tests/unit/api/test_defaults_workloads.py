"""Workload defaulting: rollout knobs, history limits, Job selectors, and template pod defaults."""

from __future__ import annotations

import copy
from typing import Any

from tinykube.api import defaults
from tinykube.api.resources import by_kind

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}


def defaulted(group: str, kind: str, spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    res = by_kind(group, "v1", kind)
    assert res is not None
    obj = {"metadata": {"name": "web", "namespace": "default", **meta}, "spec": spec}
    defaults.apply_defaults(res, obj)
    return obj


def without_template(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "template"}


def test_deployment() -> None:
    spec = defaulted("apps", "Deployment", {"template": copy.deepcopy(TEMPLATE)})["spec"]
    assert without_template(spec) == {
        "replicas": 1,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
        },
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "Always"


def test_deployment_recreate_gets_no_rolling_update() -> None:
    spec = defaulted(
        "apps",
        "Deployment",
        {"strategy": {"type": "Recreate"}, "template": copy.deepcopy(TEMPLATE)},
    )["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


def test_replica_set() -> None:
    spec = defaulted("apps", "ReplicaSet", {"template": copy.deepcopy(TEMPLATE)})["spec"]
    assert without_template(spec) == {"replicas": 1}


def test_stateful_set() -> None:
    spec = defaulted(
        "apps",
        "StatefulSet",
        {
            "template": copy.deepcopy(TEMPLATE),
            "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {}}],
        },
    )["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["volumeClaimTemplates"][0]["spec"] == {"volumeMode": "Filesystem"}


def test_daemon_set() -> None:
    spec = defaulted("apps", "DaemonSet", {"template": copy.deepcopy(TEMPLATE)})["spec"]
    assert without_template(spec) == {
        "updateStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
        },
        "revisionHistoryLimit": 10,
    }


def test_job_generates_selector_and_labels() -> None:
    template = {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}
    job = defaulted("batch", "Job", {"template": template}, uid="abc")
    labels = {
        "batch.kubernetes.io/controller-uid": "abc",
        "batch.kubernetes.io/job-name": "web",
        "controller-uid": "abc",
        "job-name": "web",
    }
    assert without_template(job["spec"]) == {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
    }
    assert job["spec"]["template"]["metadata"]["labels"] == labels
    assert job["metadata"]["labels"] == labels


def test_job_parallelism_only() -> None:
    spec = defaulted(
        "batch", "Job", {"parallelism": 3, "template": copy.deepcopy(TEMPLATE)}, uid="u"
    )["spec"]
    assert spec["parallelism"] == 3
    assert "completions" not in spec


def test_job_manual_selector_is_left_alone() -> None:
    spec = defaulted(
        "batch",
        "Job",
        {
            "manualSelector": True,
            "selector": {"matchLabels": {"app": "web"}},
            "template": copy.deepcopy(TEMPLATE),
        },
        uid="u",
    )["spec"]
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "web"}


def test_cron_job() -> None:
    spec = defaulted(
        "batch",
        "CronJob",
        {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": copy.deepcopy(TEMPLATE)}}},
    )["spec"]
    assert {
        k: spec[k]
        for k in (
            "concurrencyPolicy",
            "suspend",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        )
    } == {
        "concurrencyPolicy": "Allow",
        "suspend": False,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
    }
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]
