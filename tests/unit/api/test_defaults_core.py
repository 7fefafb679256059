"""Core defaulting: what a real cluster adds to Pods, Services, Namespaces and Secrets."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api import defaults
from tinykube.api.defaults.pod import image_pull_policy
from tinykube.api.defaults.status import qos_class
from tinykube.api.resources import by_kind


def defaulted(kind: str, obj: dict[str, Any], group: str = "") -> dict[str, Any]:
    res = by_kind(group, "v1", kind)
    assert res is not None
    defaults.apply_defaults(res, obj)
    return obj


def test_pod_spec_defaults() -> None:
    pod = defaulted(
        "Pod",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}},
    )
    spec = pod["spec"]
    assert {
        k: spec[k]
        for k in (
            "restartPolicy",
            "dnsPolicy",
            "terminationGracePeriodSeconds",
            "securityContext",
            "schedulerName",
            "enableServiceLinks",
        )
    } == {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "terminationGracePeriodSeconds": 30,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": True,
    }
    assert spec["containers"][0] == {
        "name": "c",
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {},
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        pytest.param("nginx", "Always", id="untagged"),
        pytest.param("nginx:latest", "Always", id="latest"),
        pytest.param("nginx:1.27", "IfNotPresent", id="tagged"),
        pytest.param("registry:5000/nginx", "Always", id="registry-port-untagged"),
        pytest.param("registry:5000/nginx:1", "IfNotPresent", id="registry-port-tagged"),
        pytest.param("nginx@sha256:abc", "IfNotPresent", id="digest"),
        pytest.param("nginx:latest@sha256:abc", "IfNotPresent", id="latest-with-digest"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_container_details() -> None:
    container = {
        "name": "c",
        "image": "x:1",
        "ports": [{"containerPort": 80}],
        "env": [{"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "readinessProbe": {"httpGet": {"port": 80}},
        "resources": {"limits": {"cpu": "1"}},
    }
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [container]}})
    c = pod["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert c["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}


def test_volume_defaults() -> None:
    volumes = [
        {"name": "empty"},
        {"name": "s", "secret": {"secretName": "x"}},
        {"name": "c", "configMap": {"name": "x"}},
        {"name": "h", "hostPath": {"path": "/tmp"}},
    ]
    pod = defaulted(
        "Pod",
        {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x"}], "volumes": volumes},
        },
    )
    assert pod["spec"]["volumes"] == [
        {"name": "empty", "emptyDir": {}},
        {"name": "s", "secret": {"secretName": "x", "defaultMode": 420}},
        {"name": "c", "configMap": {"name": "x", "defaultMode": 420}},
        {"name": "h", "hostPath": {"path": "/tmp", "type": ""}},
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"ports": [{"port": 80}]},
            {
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            },
            id="cluster-ip",
        ),
        pytest.param(
            {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]},
            {
                "type": "NodePort",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "externalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}],
            },
            id="node-port-keeps-named-target",
        ),
        pytest.param(
            {"type": "LoadBalancer", "ports": [{"port": 80}]},
            {
                "type": "LoadBalancer",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "externalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": True,
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            },
            id="load-balancer",
        ),
        pytest.param(
            {"type": "ExternalName", "externalName": "example.com"},
            {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"},
            id="external-name",
        ),
        pytest.param(
            {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]},
            {
                "type": "ClusterIP",
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            },
            id="client-ip-affinity",
        ),
    ],
)
def test_service_defaults(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    assert defaulted("Service", {"metadata": {"name": "s"}, "spec": spec})["spec"] == expected


def test_namespace_defaults() -> None:
    ns = defaulted("Namespace", {"metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["spec"] == {}


def test_secret_string_data_is_folded() -> None:
    secret = defaulted(
        "Secret", {"metadata": {"name": "s"}, "data": {"a": "MQ=="}, "stringData": {"b": "two"}}
    )
    assert secret == {
        "metadata": {"name": "s"},
        "type": "Opaque",
        "data": {"a": "MQ==", "b": "dHdv"},
    }


def test_replication_controller_takes_template_labels() -> None:
    rc = defaulted(
        "ReplicationController",
        {
            "metadata": {"name": "r"},
            "spec": {
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}
            },
        },
    )
    assert rc["spec"]["selector"] == {"app": "x"}
    assert rc["metadata"]["labels"] == {"app": "x"}
    assert rc["spec"]["replicas"] == 1


def test_volumes_and_claims() -> None:
    pv = defaulted("PersistentVolume", {"metadata": {"name": "pv"}, "spec": {}})
    assert pv["spec"] == {"persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"}
    pvc = defaulted("PersistentVolumeClaim", {"metadata": {"name": "c"}, "spec": {}})
    assert pvc["spec"] == {"volumeMode": "Filesystem"}


def test_priority_class_preemption_policy() -> None:
    pc = defaulted(
        "PriorityClass", {"metadata": {"name": "p"}, "value": 1}, group="scheduling.k8s.io"
    )
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"


def test_defaults_never_overwrite() -> None:
    spec = {
        "restartPolicy": "Never",
        "containers": [{"name": "c", "image": "x", "imagePullPolicy": "Never"}],
    }
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": spec})
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"


# ---- initial status --------------------------------------------------------------------------


def _resources(
    requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return {"containers": [{"name": "c", "resources": out}]}


@pytest.mark.parametrize(
    ("spec", "qos"),
    [
        pytest.param(_resources(), "BestEffort", id="best-effort"),
        pytest.param(_resources({"cpu": "100m"}), "Burstable", id="requests-only"),
        pytest.param(
            _resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
            "Guaranteed",
            id="equal",
        ),
        pytest.param(
            _resources({"cpu": "1000m", "memory": "1Gi"}, {"cpu": "1", "memory": "1024Mi"}),
            "Guaranteed",
            id="equal-other-units",
        ),
        pytest.param(
            _resources({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
            "Burstable",
            id="cpu-below-limit",
        ),
        pytest.param(_resources(None, {"cpu": "1"}), "Burstable", id="cpu-limit-only"),
    ],
)
def test_qos_class(spec: dict[str, Any], qos: str) -> None:
    assert qos_class(spec) == qos


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        pytest.param("Namespace", {"phase": "Active"}, id="namespace"),
        pytest.param("Service", {"loadBalancer": {}}, id="service"),
        pytest.param("PersistentVolumeClaim", {"phase": "Pending"}, id="claim"),
        pytest.param("PersistentVolume", {"phase": "Available"}, id="volume"),
    ],
)
def test_initial_status(kind: str, status: dict[str, Any]) -> None:
    res = by_kind("", "v1", kind)
    assert res is not None
    obj: dict[str, Any] = {"metadata": {"name": "x"}}
    defaults.initial_status(res, obj)
    assert obj["status"] == status


def test_pod_initial_status() -> None:
    res = by_kind("", "v1", "Pod")
    assert res is not None
    pod: dict[str, Any] = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    defaults.initial_status(res, pod)
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


@pytest.mark.parametrize(
    ("group", "kind", "status"),
    [
        pytest.param("apps", "Deployment", {}, id="deployment-empty"),
        pytest.param("apps", "ReplicaSet", {"replicas": 0}, id="replicaset-counter"),
        pytest.param(
            "apps", "StatefulSet", {"replicas": 0, "availableReplicas": 0}, id="statefulset"
        ),
        pytest.param("batch", "Job", {}, id="job-empty"),
    ],
)
def test_workload_initial_status(group: str, kind: str, status: dict[str, Any]) -> None:
    res = by_kind(group, "v1", kind)
    assert res is not None
    obj: dict[str, Any] = {"metadata": {"name": "x"}}
    defaults.initial_status(res, obj)
    assert obj["status"] == status


def test_kinds_without_status_are_left_alone() -> None:
    res = by_kind("", "v1", "ConfigMap")
    assert res is not None
    obj: dict[str, Any] = {"metadata": {"name": "x"}}
    defaults.initial_status(res, obj)
    assert "status" not in obj


def test_config_map_has_no_defaults() -> None:
    obj = {"metadata": {"name": "c"}, "data": {"a": "1"}}
    assert defaulted("ConfigMap", dict(obj)) == obj


@pytest.mark.parametrize(
    ("item", "default", "default_request"),
    [
        # max only: the limit defaults to max, the request to that limit
        ({"max": {"cpu": "1"}}, {"cpu": "1"}, {"cpu": "1"}),
        # min only: no default limit, the request defaults to min
        ({"min": {"memory": "64Mi"}}, None, {"memory": "64Mi"}),
        # what is given wins, name by name
        (
            {"max": {"cpu": "2"}, "default": {"cpu": "1"}, "min": {"cpu": "100m", "memory": "1Mi"}},
            {"cpu": "1"},
            {"cpu": "1", "memory": "1Mi"},
        ),
        ({"defaultRequest": {"cpu": "50m"}, "max": {"cpu": "1"}}, {"cpu": "1"}, {"cpu": "50m"}),
    ],
)
def test_limit_range_container_defaults(
    item: dict, default: dict | None, default_request: dict | None
) -> None:
    lr = {"spec": {"limits": [{"type": "Container", **item}]}}
    defaulted("LimitRange", lr)
    got = lr["spec"]["limits"][0]
    assert got.get("default") == default
    assert got.get("defaultRequest") == default_request


def test_a_gated_pod_starts_with_the_scheduling_gated_condition() -> None:
    from tinykube.api.defaults.status import pod_status
    from tinykube.api.tables.pods import pod_status as printed

    spec = {"containers": [{"name": "c", "image": "busybox"}], "schedulingGates": [{"name": "a"}]}
    pod = {"metadata": {"name": "gated"}, "spec": spec}
    pod["status"] = pod_status(pod)
    (condition,) = pod["status"]["conditions"]
    assert condition["type"] == "PodScheduled" and condition["status"] == "False"
    assert condition["reason"] == "SchedulingGated"
    assert condition["message"] == "Scheduling is blocked due to non-empty scheduling gates"
    assert printed(pod).reason == "SchedulingGated"  # kubectl get's STATUS column
    ungated = {"metadata": {"name": "p"}, "spec": {"containers": spec["containers"]}}
    assert "conditions" not in pod_status(ungated)
