"""Field paths, FieldSet and FieldsV1, checked against what real clusters return.

The schema below is hand-written in OpenAPI v3 component style and mirrors
the upstream definitions of the fields it names (list types, map keys,
patch strategies, atomic maps); test_managedfields and test_ssa import it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tinykube.api.schema import SchemaNode
from tinykube.patch.fieldpath import (
    FieldSet,
    SchemaError,
    ensure_named_fields,
    fields_of,
    from_fields_v1,
    go_json,
    path_string,
    to_fields_v1,
)

pytestmark = pytest.mark.unit

R = "#/components/schemas/"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": R + name}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
STRING_MAP = {"type": "object", "additionalProperties": STRING}

DEFS: dict[str, dict[str, Any]] = {
    "Deployment": {
        "type": "object",
        "properties": {
            "apiVersion": STRING,
            "kind": STRING,
            "metadata": ref("ObjectMeta"),
            "spec": ref("DeploymentSpec"),
            "status": ref("DeploymentStatus"),
        },
    },
    "DeploymentSpec": {
        "type": "object",
        "required": ["selector", "template"],
        "properties": {
            "replicas": INTEGER,
            "paused": {"type": "boolean"},
            "selector": ref("LabelSelector"),
            "template": ref("PodTemplateSpec"),
            "strategy": ref("DeploymentStrategy"),
        },
    },
    "DeploymentStrategy": {
        "type": "object",
        "properties": {"type": STRING, "rollingUpdate": ref("RollingUpdateDeployment")},
    },
    "RollingUpdateDeployment": {
        "type": "object",
        "properties": {
            "maxSurge": {"x-kubernetes-int-or-string": True},
            "maxUnavailable": {"x-kubernetes-int-or-string": True},
        },
    },
    "DeploymentStatus": {
        "type": "object",
        "properties": {
            "replicas": INTEGER,
            "observedGeneration": INTEGER,
            "conditions": {
                "type": "array",
                "items": ref("DeploymentCondition"),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "type",
            },
        },
    },
    "DeploymentCondition": {
        "type": "object",
        "required": ["type", "status"],
        "properties": {"type": STRING, "status": STRING, "reason": STRING, "message": STRING},
    },
    "LabelSelector": {
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {"matchLabels": STRING_MAP},
    },
    "ObjectMeta": {
        "type": "object",
        "properties": {
            "name": STRING,
            "namespace": STRING,
            "uid": STRING,
            "resourceVersion": STRING,
            "generation": INTEGER,
            "creationTimestamp": STRING,
            "labels": STRING_MAP,
            "annotations": STRING_MAP,
            "finalizers": {
                "type": "array",
                "items": STRING,
                "x-kubernetes-list-type": "set",
                "x-kubernetes-patch-strategy": "merge",
            },
            "ownerReferences": {
                "type": "array",
                "items": ref("OwnerReference"),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["uid"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "uid",
            },
            "managedFields": {
                "type": "array",
                "items": ref("ManagedFieldsEntry"),
                "x-kubernetes-list-type": "atomic",
            },
        },
    },
    "OwnerReference": {
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {"apiVersion": STRING, "kind": STRING, "name": STRING, "uid": STRING},
    },
    "ManagedFieldsEntry": {"type": "object", "properties": {"manager": STRING}},
    "PodTemplateSpec": {
        "type": "object",
        "properties": {"metadata": ref("ObjectMeta"), "spec": ref("PodSpec")},
    },
    "PodSpec": {
        "type": "object",
        "required": ["containers"],
        "properties": {
            "containers": {
                "type": "array",
                "items": ref("Container"),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "name",
            },
            # No list-type: SSA falls back to the strategic merge key.
            "volumes": {
                "type": "array",
                "items": ref("Volume"),
                "x-kubernetes-patch-strategy": "merge,retainKeys",
                "x-kubernetes-patch-merge-key": "name",
            },
            # No list-type and no strategy: atomic.
            "tolerations": {"type": "array", "items": ref("Toleration")},
            "nodeSelector": {**STRING_MAP, "x-kubernetes-map-type": "atomic"},
            "restartPolicy": STRING,
            "dnsPolicy": STRING,
            "securityContext": ref("PodSecurityContext"),
        },
    },
    "PodSecurityContext": {"type": "object", "properties": {"runAsUser": INTEGER}},
    "Volume": {"type": "object", "properties": {"name": STRING, "emptyDir": {"type": "object"}}},
    "Toleration": {"type": "object", "properties": {"key": STRING, "operator": STRING}},
    "Container": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": STRING,
            "image": STRING,
            "imagePullPolicy": STRING,
            "args": {"type": "array", "items": STRING, "x-kubernetes-list-type": "atomic"},
            "env": {
                "type": "array",
                "items": ref("EnvVar"),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "name",
            },
            "ports": {
                "type": "array",
                "items": ref("ContainerPort"),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "containerPort",
            },
            "resources": ref("ResourceRequirements"),
        },
    },
    "EnvVar": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": STRING, "value": STRING},
    },
    "ContainerPort": {
        "type": "object",
        "required": ["containerPort"],
        "properties": {
            "name": STRING,
            "containerPort": INTEGER,
            "protocol": {"type": "string", "default": "TCP"},
        },
    },
    "ResourceRequirements": {
        "type": "object",
        "properties": {"limits": STRING_MAP, "requests": STRING_MAP},
    },
    "Service": {
        "type": "object",
        "properties": {
            "apiVersion": STRING,
            "kind": STRING,
            "metadata": ref("ObjectMeta"),
            "spec": ref("ServiceSpec"),
        },
    },
    "ServiceSpec": {
        "type": "object",
        "properties": {
            "type": STRING,
            "selector": {**STRING_MAP, "x-kubernetes-map-type": "atomic"},
            "ports": {
                "type": "array",
                "items": ref("ServicePort"),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "port",
            },
        },
    },
    "ServicePort": {
        "type": "object",
        "required": ["port"],
        "properties": {
            "name": STRING,
            "port": INTEGER,
            "protocol": {"type": "string", "default": "TCP"},
            "targetPort": {"x-kubernetes-int-or-string": True},
        },
    },
    "ConfigMap": {
        "type": "object",
        "properties": {
            "apiVersion": STRING,
            "kind": STRING,
            "metadata": ref("ObjectMeta"),
            "data": STRING_MAP,
        },
    },
}

DEPLOYMENT = SchemaNode(ref("Deployment"), DEFS)
SERVICE = SchemaNode(ref("Service"), DEFS)
CONFIGMAP = SchemaNode(ref("ConfigMap"), DEFS)

NGINX: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {
                "containers": [
                    {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
                ]
            },
        },
    },
}


def nginx() -> dict[str, Any]:
    """A fresh copy of the Deployment manifest most tests apply."""
    return copy.deepcopy(NGINX)


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# The fieldsV1 of `kubectl apply --server-side -f nginx.yaml` (NGINX above), as
# `kubectl get deploy nginx -o json --show-managed-fields` prints it.
NGINX_APPLIED = (
    '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},'
    '"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":'
    '{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:name":{},"f:ports":'
    '{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{}}}}}}}}}'
)

# Shapes copied from real clusters: kube-controller-manager's status entry, a
# kubectl-create Update entry, a Service and a finalizer set.
REAL_FIELDS_V1 = {
    "ssa-deployment": NGINX_APPLIED,
    "controller-status": (
        '{"f:metadata":{"f:annotations":{".":{},"f:deployment.kubernetes.io/revision":{}}},'
        '"f:status":{"f:availableReplicas":{},"f:conditions":{".":{},'
        '"k:{\\"type\\":\\"Available\\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},'
        '"f:message":{},"f:reason":{},"f:status":{},"f:type":{}},'
        '"k:{\\"type\\":\\"Progressing\\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},'
        '"f:message":{},"f:reason":{},"f:status":{},"f:type":{}}},'
        '"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}'
    ),
    "kubectl-create": (
        '{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},'
        '"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":'
        '{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":'
        '{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":'
        '{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},'
        '"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},'
        '"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},'
        '"f:terminationGracePeriodSeconds":{}}}}}'
    ),
    "service-ports": (
        '{"f:spec":{"f:internalTrafficPolicy":{},"f:ports":{".":{},'
        '"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:port":{},"f:protocol":{},'
        '"f:targetPort":{}},"k:{\\"port\\":443,\\"protocol\\":\\"TCP\\"}":{".":{},"f:name":{},'
        '"f:port":{}}},"f:selector":{},"f:sessionAffinity":{},"f:type":{}}}'
    ),
    "finalizers-and-owners": (
        '{"f:metadata":{"f:finalizers":{".":{},"v:\\"example.com/a\\"":{},"v:\\"example.com/b\\"":{}},'
        '"f:ownerReferences":{".":{},"k:{\\"uid\\":\\"5f3c\\"}":{}}}}'
    ),
}


@pytest.mark.parametrize("raw", REAL_FIELDS_V1.values(), ids=REAL_FIELDS_V1.keys())
def test_fields_v1_round_trips_byte_for_byte(raw: str) -> None:
    assert compact(to_fields_v1(from_fields_v1(json.loads(raw)))) == raw


def test_applied_deployment_fields_match_a_real_cluster() -> None:
    fields = fields_of(nginx(), DEPLOYMENT)
    server_owned = {("f:apiVersion",), ("f:kind",), ("f:metadata", "f:name")}
    assert (
        compact(to_fields_v1(FieldSet(p for p in fields if p not in server_owned))) == NGINX_APPLIED
    )


def paths(*dotted: str) -> set[tuple[str, ...]]:
    """``"spec|f:replicas"`` style: elements separated by ``|``, ``f:`` implied."""
    return {tuple(e if e[1:2] == ":" else f"f:{e}" for e in d.split("|")) for d in dotted}


FIELDS_OF_CASES = [
    pytest.param(
        {"spec": {"replicas": 1, "paused": False}},
        DEPLOYMENT,
        paths("spec|replicas", "spec|paused"),
        id="scalars-are-leaves-structs-are-not",
    ),
    pytest.param(
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        DEPLOYMENT,
        paths("metadata|labels|a", "metadata|labels|b"),
        id="map-entries-are-members",
    ),
    pytest.param(
        {"metadata": {"labels": {}}, "spec": {"strategy": None}},
        DEPLOYMENT,
        paths("metadata|labels", "spec|strategy"),
        id="empty-map-and-null-are-members",
    ),
    pytest.param(
        {"spec": {"selector": {"matchLabels": {"app": "x"}}}},
        DEPLOYMENT,
        paths("spec|selector"),
        id="atomic-map-is-one-leaf",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["b", "a"]}},
        DEPLOYMENT,
        paths('metadata|finalizers|v:"b"', 'metadata|finalizers|v:"a"'),
        id="set-items-by-value",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["x"]}]}}}},
        DEPLOYMENT,
        paths(
            'spec|template|spec|containers|k:{"name":"c"}',
            'spec|template|spec|containers|k:{"name":"c"}|name',
            'spec|template|spec|containers|k:{"name":"c"}|args',
        ),
        id="list-map-item-is-member-atomic-list-is-leaf",
    ),
    pytest.param(
        {"spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 80}]}},
        SERVICE,
        paths(
            'spec|ports|k:{"port":53,"protocol":"UDP"}',
            'spec|ports|k:{"port":53,"protocol":"UDP"}|port',
            'spec|ports|k:{"port":53,"protocol":"UDP"}|protocol',
            'spec|ports|k:{"port":80,"protocol":"TCP"}',
            'spec|ports|k:{"port":80,"protocol":"TCP"}|port',
        ),
        id="multi-key-list-map-with-defaulted-key",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}}},
        DEPLOYMENT,
        paths(
            'spec|template|spec|volumes|k:{"name":"v"}',
            'spec|template|spec|volumes|k:{"name":"v"}|name',
            'spec|template|spec|volumes|k:{"name":"v"}|emptyDir',
        ),
        id="no-list-type-falls-back-to-merge-key",
    ),
    pytest.param(
        {
            "spec": {
                "template": {"spec": {"tolerations": [{"key": "k"}], "nodeSelector": {"a": "b"}}}
            }
        },
        DEPLOYMENT,
        paths("spec|template|spec|tolerations", "spec|template|spec|nodeSelector"),
        id="no-strategy-is-atomic",
    ),
    pytest.param(
        {"spec": {"size": 3, "nested": {"x": [1, 2]}}},
        None,
        paths("spec", "spec|size", "spec|nested", "spec|nested|x"),
        id="untyped-maps-granular-lists-atomic",
    ),
    pytest.param(
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "c", "image": "a"}, {"name": "c", "image": "b"}]
                    }
                }
            }
        },
        DEPLOYMENT,
        paths('spec|template|spec|containers|k:{"name":"c"}'),
        id="duplicate-items-owned-whole",
    ),
]


@pytest.mark.parametrize(("obj", "schema", "expected"), FIELDS_OF_CASES)
def test_fields_of(
    obj: dict[str, Any], schema: SchemaNode | None, expected: set[tuple[str, ...]]
) -> None:
    assert set(fields_of(obj, schema)) == expected


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(
            {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
            ".spec.template.spec.containers: element 0: associative list with keys has an element "
            'that omits all key fields ["name"] (and doesn\'t have default values for any key fields)',
            id="list-map-item-without-key",
        ),
        pytest.param(
            {"metadata": {"finalizers": [{"a": 1}]}},
            ".metadata.finalizers: element 0: associative list without keys has an element that's a map type",
            id="map-in-a-set",
        ),
        pytest.param(
            {"metadata": {"finalizers": [None]}},
            ".metadata.finalizers: element 0: associative list without keys has an element that's an explicit null",
            id="null-in-a-set",
        ),
    ],
)
def test_fields_of_rejects_items_it_cannot_name(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError) as exc:
        fields_of(obj, DEPLOYMENT)
    assert str(exc.value) == message


def test_strict_fields_of_rejects_duplicates() -> None:
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "c"}, {"name": "c"}]}}}}
    with pytest.raises(
        SchemaError,
        match=r'^\.spec\.template\.spec\.containers: duplicate entries for key \[name="c"\]$',
    ):
        fields_of(obj, DEPLOYMENT, strict=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"f:a": {}, "f:b": {}}, {("f:a",), ("f:b",)}, id="leaves"),
        pytest.param(
            {"f:a": {".": {}, "f:b": {}}}, {("f:a",), ("f:a", "f:b")}, id="dot-marks-node"
        ),
        pytest.param({"f:a": {"f:b": {}}}, {("f:a", "f:b")}, id="no-dot-not-member"),
        pytest.param({"f:a": {"x:future": {}}}, {("f:a",)}, id="unknown-kind-dropped"),
        pytest.param(
            {"f:p": {'k:{"protocol": "TCP", "port": 80}': {}}},
            {("f:p", 'k:{"port":80,"protocol":"TCP"}')},
            id="key-canonicalised",
        ),
        pytest.param({"f:s": {"v:1.0": {}}}, {("f:s", "v:1")}, id="whole-float-as-int"),
        pytest.param({"f:s": {"i:3": {}}}, {("f:s", "i:3")}, id="index"),
    ],
)
def test_from_fields_v1(raw: dict[str, Any], expected: set[tuple[str, ...]]) -> None:
    assert set(from_fields_v1(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"nocolon": {}}, id="missing-colon"),
        pytest.param({"k:[1]": {}}, id="key-not-object"),
        pytest.param({"i:x": {}}, id="index-not-int"),
        pytest.param({"f:a": []}, id="body-not-object"),
    ],
)
def test_from_fields_v1_rejects_malformed(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        from_fields_v1(raw)


def test_to_fields_v1_orders_like_upstream() -> None:
    fs = FieldSet(
        [
            ("f:s", "i:2"),
            ("f:s", 'v:"b"'),
            ("f:s", "v:10"),
            ("f:s", "v:9"),
            ("f:s", 'k:{"a":2}'),
            ("f:s", 'k:{"a":1,"b":1}'),
            ("f:s", 'k:{"a":1}'),
            ("f:s", "f:z"),
            ("f:s", "f:a"),
            ("f:s",),
        ]
    )
    assert list(to_fields_v1(fs)["f:s"]) == [
        ".",
        "f:a",
        "f:z",
        'k:{"a":1}',
        'k:{"a":1,"b":1}',
        'k:{"a":2}',
        "v:9",
        "v:10",
        'v:"b"',
        "i:2",
    ]


def test_go_json_escapes_like_encoding_json() -> None:
    assert go_json({"b": "<a&b>", "a": 1.0}) == '{"a":1,"b":"\\u003ca\\u0026b\\u003e"}'


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(("f:spec", "f:replicas"), ".spec.replicas", id="fields"),
        pytest.param(
            ("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image"),
            '.spec.containers[name="nginx"].image',
            id="key",
        ),
        pytest.param(
            ("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'),
            '.ports[containerPort=80,protocol="TCP"]',
            id="multi-key",
        ),
        pytest.param(("f:finalizers", 'v:"a/b"'), '.finalizers[="a/b"]', id="value"),
        pytest.param(("f:args", "i:0"), ".args[0]", id="index"),
    ],
)
def test_path_string(path: tuple[str, ...], text: str) -> None:
    assert path_string(path) == text


def test_fieldset_algebra() -> None:
    a = FieldSet([("f:a",), ("f:b", "f:c")])
    b = FieldSet([("f:b", "f:c"), ("f:d",)])
    assert set(a | b) == {("f:a",), ("f:b", "f:c"), ("f:d",)}
    assert set(a - b) == {("f:a",)}
    assert set(a & b) == {("f:b", "f:c")}
    assert FieldSet().empty()
    assert not a.empty()
    assert FieldSet([("f:a",)]) == FieldSet([("f:a",)])


def test_recursive_difference_drops_subtrees() -> None:
    fs = FieldSet([("f:status", "f:replicas"), ("f:status",), ("f:spec", "f:replicas")])
    assert set(fs.recursive_difference(FieldSet.of_fields("status"))) == {("f:spec", "f:replicas")}


def test_iteration_is_sorted() -> None:
    fs = FieldSet([("f:b",), ("f:a", "f:z"), ("f:a",)])
    assert list(fs) == [("f:a",), ("f:a", "f:z"), ("f:b",)]


def test_ensure_named_fields_adds_declared_struct_fields_only() -> None:
    fs = FieldSet(
        [
            ("f:spec", "f:strategy", "f:type"),
            ("f:metadata", "f:labels", "f:app"),
        ]
    )
    assert set(ensure_named_fields(fs, DEPLOYMENT)) == set(fs) | {
        ("f:spec",),
        ("f:spec", "f:strategy"),
        ("f:metadata",),
        ("f:metadata", "f:labels"),
    }
    # Map entries (labels.app) are not declared fields, so nothing below them is added.
    deeper = FieldSet([("f:spec", "f:custom", "f:x")])
    assert set(ensure_named_fields(deeper, None)) == set(deeper)
