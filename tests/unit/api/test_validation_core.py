"""Validation of metadata and core kinds: exact messages for the errors users hit."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tinykube.api import defaults, errors, validation
from tinykube.api.errors import invalid_object
from tinykube.api.resources import by_kind
from tinykube.apiserver.admission import admit

PODS = by_kind("", "v1", "Pod")
SERVICES = by_kind("", "v1", "Service")
NAMESPACES = by_kind("", "v1", "Namespace")
CONFIGMAPS = by_kind("", "v1", "ConfigMap")
SECRETS = by_kind("", "v1", "Secret")


def errors_of(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    res = by_kind("", "v1", kind)
    assert res is not None
    defaults.apply_defaults(res, obj)
    return [str(e) for e in validation.validate(res, obj, old)]


def pod(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    body.update(spec)
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": body}


def service(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"port": 80}], "selector": {"app": "web"}}
    body.update(spec)
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": body}


# ---- metadata -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param(
            {"namespace": "default"},
            ["metadata.name: Required value: name or generateName is required"],
            id="no-name",
        ),
        pytest.param({"name": "web"}, ["metadata.namespace: Required value"], id="no-namespace"),
        pytest.param(
            {"name": "web", "namespace": "default", "labels": {"app": "-x"}},
            [
                "metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ],
            id="bad-label-value",
        ),
        pytest.param(
            {"name": "web", "namespace": "default", "annotations": {"a": "x" * 262144}},
            ["metadata.annotations: Too long: may not be more than 262144 bytes"],
            id="annotations-too-big",
        ),
        pytest.param(
            {
                "name": "web",
                "namespace": "default",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "a",
                        "uid": "1",
                        "controller": True,
                    },
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "b",
                        "uid": "2",
                        "controller": True,
                    },
                ],
            },
            None,
            id="two-controllers",
        ),
        pytest.param(
            {
                "name": "web",
                "namespace": "default",
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n"}],
            },
            ['metadata.ownerReferences.uid: Invalid value: "": must not be empty'],
            id="owner-without-uid",
        ),
        pytest.param(
            {"name": "web", "namespace": "default", "finalizers": ["a/b/c"]},
            None,
            id="bad-finalizer",
        ),
    ],
)
def test_object_meta(meta: dict[str, Any], expected: list[str] | None) -> None:
    obj = pod()
    obj["metadata"] = meta
    found = errors_of("Pod", obj)
    if expected is None:
        assert len(found) == 1
    else:
        assert found == expected


def test_two_controllers_message() -> None:
    obj = pod()
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "a",
            "uid": "1",
            "controller": True,
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "b",
            "uid": "2",
            "controller": True,
        },
    ]
    (message,) = errors_of("Pod", obj)
    assert message.endswith(
        'Only one reference can have Controller set to true. Found "true" in references for '
        "ReplicaSet/a and ReplicaSet/b"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("name", "other", id="name"),
        pytest.param("uid", "2", id="uid"),
        pytest.param("creationTimestamp", "2026-01-01T00:00:00Z", id="creationTimestamp"),
    ],
)
def test_identity_is_immutable(field: str, value: str) -> None:
    old = pod()
    errors_of("Pod", old)
    old["metadata"].update(uid="1", creationTimestamp="2025-01-01T00:00:00Z")
    new = copy.deepcopy(old)
    new["metadata"][field] = value
    assert errors_of("Pod", new, old) == [
        f'metadata.{field}: Invalid value: "{value}": field is immutable'
    ]


def test_no_new_finalizers_while_deleting() -> None:
    old = pod()
    errors_of("Pod", old)
    old["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["example.com/x"]
    assert errors_of("Pod", new, old) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"example.com/x"}'
    ]


@pytest.mark.parametrize(
    ("kind", "name", "ok"),
    [
        pytest.param("Namespace", "a.b", False, id="namespace-is-label"),
        pytest.param("Service", "1web", False, id="service-is-dns1035"),
        pytest.param("ConfigMap", "a.b", True, id="configmap-is-subdomain"),
    ],
)
def test_name_rule_per_kind(kind: str, name: str, ok: bool) -> None:
    obj: dict[str, Any] = {"metadata": {"name": name}}
    if kind == "Service":
        obj = service()
        obj["metadata"]["name"] = name
    elif kind != "Namespace":
        obj["metadata"]["namespace"] = "default"
    found = [m for m in errors_of(kind, obj) if m.startswith("metadata.name")]
    assert (found == []) is ok


# ---- Pod --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, [], id="valid"),
        pytest.param({"containers": []}, ["spec.containers: Required value"], id="no-containers"),
        pytest.param(
            {"containers": [{"name": "app"}]},
            ["spec.containers[0].image: Required value"],
            id="no-image",
        ),
        pytest.param(
            {"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]},
            ['spec.containers[1].name: Duplicate value: "a"'],
            id="duplicate-container",
        ),
        pytest.param(
            {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]},
            [
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
            ],
            id="port-range",
        ),
        pytest.param(
            {"restartPolicy": "Sometimes"},
            [
                'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
            ],
            id="restart-policy",
        ),
        pytest.param(
            {"dnsPolicy": "Weird"},
            [
                'spec.dnsPolicy: Unsupported value: "Weird": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"'
            ],
            id="dns-policy",
        ),
        pytest.param(
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
                    }
                ]
            },
            [
                'spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1'
            ],
            id="request-over-limit",
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "a", "image": "x", "resources": {"limits": {"memory": "lots"}}}
                ]
            },
            [
                f"spec.containers[0].resources.{kind}[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                for kind in ("limits", "requests")  # requests are defaulted from limits
            ],
            id="bad-quantity",
        ),
        pytest.param(
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                    }
                ]
            },
            ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
            id="mount-unknown-volume",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
            ['spec.volumes[1].name: Duplicate value: "v"'],
            id="duplicate-volume",
        ),
        pytest.param(
            {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
            [
                'spec.tolerations[0].operator: Invalid value: {"Key":"k","Operator":"Exists","Value":"v",'
                '"Effect":"","TolerationSeconds":null}: value must be empty when `operator` is \'Exists\''
            ],
            id="exists-with-value",
        ),
        pytest.param(
            {"tolerations": [{"operator": "Equal", "value": "x"}]},
            [
                'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"'
            ],
            id="match-all-needs-exists",
        ),
        pytest.param(
            {"volumes": [{"name": "s", "secret": {}}]},
            ["spec.volumes[0].secret.secretName: Required value"],
            id="secret-volume-needs-name",
        ),
        pytest.param(
            {"volumes": [{"name": "c", "configMap": {"name": "x", "defaultMode": 1000}}]},
            [
                "spec.volumes[0].configMap.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive"
            ],
            id="file-mode",
        ),
        pytest.param(
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "env": [
                            {
                                "name": "A",
                                "value": "v",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            }
                        ],
                    }
                ]
            },
            [
                'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty'
            ],
            id="env-value-and-source",
        ),
        pytest.param(
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2},
                    }
                ]
            },
            ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
            id="liveness-success-threshold",
        ),
    ],
)
def test_pod_spec(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors_of("Pod", pod(**spec)) == expected


def test_pod_update_may_change_image() -> None:
    old = pod()
    errors_of("Pod", old)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    assert errors_of("Pod", new, old) == []


def test_pod_update_forbids_other_fields() -> None:
    old = pod()
    errors_of("Pod", old)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 81}]
    (message,) = errors_of("Pod", new, old)
    assert message.startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    )


def test_pod_update_may_add_tolerations() -> None:
    old = pod()
    errors_of("Pod", old)
    new = copy.deepcopy(old)
    new["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    assert errors_of("Pod", new, old) == []


# ---- Service ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, [], id="valid"),
        pytest.param({"ports": []}, ["spec.ports: Required value"], id="no-ports"),
        pytest.param({"ports": [], "clusterIP": "None"}, [], id="headless-without-ports"),
        pytest.param(
            {"ports": [{"port": 80}, {"port": 81}]},
            ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
            id="names-required-with-two-ports",
        ),
        pytest.param(
            {"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
            ['spec.ports[1].name: Duplicate value: "a"'],
            id="duplicate-port-name",
        ),
        pytest.param(
            {"ports": [{"port": 0}]},
            [
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ],
            id="port-zero",
        ),
        pytest.param(
            {"ports": [{"port": 80, "protocol": "HTTP"}]},
            [
                'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'
            ],
            id="protocol",
        ),
        pytest.param(
            {"type": "Magic"},
            [
                'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'
            ],
            id="type",
        ),
        pytest.param(
            {"type": "ExternalName", "ports": []},
            ["spec.externalName: Required value"],
            id="externalname-needs-name",
        ),
        pytest.param(
            {"ports": [{"port": 80, "nodePort": 30001}]},
            ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            id="nodeport-on-clusterip",
        ),
    ],
)
def test_service_spec(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors_of("Service", service(**spec)) == expected


def test_service_cluster_ip_may_not_change() -> None:
    old = service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    errors_of("Service", old)
    new = service(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"])
    assert errors_of("Service", new, old) == [
        'spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set'
    ]


def test_service_update_without_cluster_ip_keeps_it() -> None:
    """The registry's admission step copies the allocated address before validation."""
    old = service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    errors_of("Service", old)
    new = service()
    assert SERVICES is not None
    defaults.apply_defaults(SERVICES, new)
    admit(SERVICES, new, old, lookup_priority_class=lambda name: None)
    assert errors_of("Service", new, old) == []


def test_service_cluster_ip_cannot_be_unset() -> None:
    old = service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    errors_of("Service", old)
    assert errors_of("Service", service(), old) == [
        "spec.clusterIPs[0]: Invalid value: null: primary clusterIP can not be unset"
    ]


# ---- ConfigMap, Secret, Namespace ----------------------------------------------------------


def test_config_map_key() -> None:
    obj = {"metadata": {"name": "c", "namespace": "default"}, "data": {"a b": "1"}}
    (message,) = errors_of("ConfigMap", obj)
    assert message.startswith('data[a b]: Invalid value: "a b": a valid config key must consist')


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_immutable_data(kind: str) -> None:
    old = {
        "metadata": {"name": "c", "namespace": "default"},
        "immutable": True,
        "data": {"a": "MQ=="},
    }
    errors_of(kind, old)
    new = copy.deepcopy(old)
    new["data"]["a"] = "Mg=="
    assert errors_of(kind, new, old) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]


def test_secret_type_is_immutable() -> None:
    old = {"metadata": {"name": "s", "namespace": "default"}, "data": {}}
    errors_of("Secret", old)
    new = copy.deepcopy(old)
    new["type"] = "example.com/other"
    assert errors_of("Secret", new, old) == [
        'type: Invalid value: "example.com/other": field is immutable'
    ]


def test_tls_secret_needs_keys() -> None:
    obj = {
        "metadata": {"name": "s", "namespace": "default"},
        "type": "kubernetes.io/tls",
        "data": {},
    }
    assert errors_of("Secret", obj) == [
        "data[tls.crt]: Required value",
        "data[tls.key]: Required value",
    ]


def test_namespace_name_is_a_label() -> None:
    assert errors_of("Namespace", {"metadata": {"name": "a.b"}}) == [
        'metadata.name: Invalid value: "a.b": must not contain dots'
    ]


def test_invalid_object_message() -> None:
    res = PODS
    assert res is not None
    obj = pod(containers=[{"name": "app"}])
    defaults.apply_defaults(res, obj)
    err = invalid_object(res.kind, res.group, "web", validation.validate(res, obj))
    assert err.message == 'Pod "web" is invalid: spec.containers[0].image: Required value'
    assert err.status()["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.containers[0].image",
        }
    ]


def _stored_pod(**spec: Any) -> dict[str, Any]:
    old = pod(**spec)
    errors_of("Pod", old)
    return old


@pytest.mark.parametrize(
    ("old_spec", "change", "expected"),
    [
        pytest.param(
            {},
            {"containers": [{"name": "app", "image": "nginx"}, {"name": "b", "image": "x"}]},
            ["spec.containers: Forbidden: pod updates may not add or remove containers"],
            id="add-container",
        ),
        pytest.param(
            {"activeDeadlineSeconds": 10},
            {"activeDeadlineSeconds": 20},
            [
                "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"
            ],
            id="longer-deadline",
        ),
        pytest.param(
            {"activeDeadlineSeconds": 10}, {"activeDeadlineSeconds": 5}, [], id="shorter-deadline"
        ),
        pytest.param(
            {"tolerations": [{"key": "k", "operator": "Equal", "value": "v"}]},
            {"tolerations": [{"key": "k", "operator": "Equal", "value": "w"}]},
            [
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
            ],
            id="changed-toleration",
        ),
        pytest.param(
            {"schedulingGates": [{"name": "g1"}]},
            {"schedulingGates": [{"name": "g1"}, {"name": "g2"}]},
            [
                "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'g2'"
            ],
            id="added-gate",
        ),
        pytest.param(
            {"schedulingGates": [{"name": "g1"}]}, {"schedulingGates": []}, [], id="removed-gate"
        ),
        pytest.param({}, {"nodeName": "node-1"}, [], id="binding-sets-node"),
    ],
)
def test_pod_update_rules(
    old_spec: dict[str, Any], change: dict[str, Any], expected: list[str]
) -> None:
    old = _stored_pod(**old_spec)
    new = copy.deepcopy(old)
    new["spec"].update(change)
    assert errors_of("Pod", new, old) == expected


def test_pod_node_name_cannot_move() -> None:
    old = _stored_pod(nodeName="node-1")
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "node-2"
    (message,) = errors_of("Pod", new, old)
    assert message.startswith("spec: Forbidden: pod updates may not change fields other than")


@pytest.mark.parametrize("deadline", [0, -1])
def test_pod_deadline_range(deadline: int) -> None:
    assert errors_of("Pod", pod(activeDeadlineSeconds=deadline)) == [
        f"spec.activeDeadlineSeconds: Invalid value: {deadline}: must be between 1 and 2147483647, inclusive"
    ]


def test_wrong_json_type_is_a_bad_request() -> None:
    assert PODS is not None
    obj = pod()
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "name": {"not": "a string"}}]
    defaults.apply_defaults(PODS, obj)
    with pytest.raises(errors.BadRequest) as info:
        validation.validate(PODS, obj)
    assert info.value.message.startswith('Pod in version "v1" cannot be handled as a Pod: ')
