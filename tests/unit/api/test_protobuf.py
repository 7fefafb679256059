"""Kubernetes protobuf bodies: real kubectl captures, round trips, Go's JSON rules, errors.

The fixtures under ``testdata/protobuf`` are request bodies the real kubectl
1.37 sent (``capture.py`` there regenerates them). For each ``<name>.pb`` the
matching ``<name>.json`` is what ``kubectl create ... --dry-run=client -o
json`` printed for the same command, i.e. the Go struct kubectl encoded, as Go
prints it; for commands without a dry run (token, auth can-i, auth whoami,
debug --copy-to) it is the decoded body, reviewed against the Go types.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tinykube.api import protobuf
from tinykube.api.errors import BadRequest

TESTDATA = Path(__file__).parent / "testdata" / "protobuf"
FIXTURES = sorted(p.stem for p in TESTDATA.glob("*.pb"))


def _fixture(name: str) -> tuple[bytes, dict[str, Any]]:
    return (TESTDATA / f"{name}.pb").read_bytes(), json.loads(
        (TESTDATA / f"{name}.json").read_text()
    )


# --- hand-written wire helpers, independent of the module under test ------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _ld(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _vi(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _body(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _ld(1, api_version.encode()) + _ld(2, kind.encode())
    return b"k8s\x00" + _ld(1, type_meta) + _ld(2, raw) + _ld(3, b"") + _ld(4, b"")


# --- real kubectl bodies --------------------------------------------------------


def test_fixtures_are_present():
    assert {"namespace", "deployment", "service", "secret", "job", "cronjob"} <= set(FIXTURES)
    assert {"tokenrequest", "selfsubjectaccessreview", "pod"} <= set(FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_kubectl_body_decodes_to_what_kubectl_would_send_as_json(name):
    body, expected = _fixture(name)
    assert body.startswith(b"k8s\x00")
    assert protobuf.decode(body) == expected


@pytest.mark.parametrize("name", FIXTURES)
def test_kubectl_body_reencodes_to_the_same_bytes(name):
    body, _ = _fixture(name)
    assert protobuf.encode(protobuf.decode(body)) == body


def test_kubectl_deployment_keeps_go_zero_structs_and_drops_zero_scalars():
    deployment = protobuf.decode(_fixture("deployment")[0])
    assert deployment["status"] == {}
    assert deployment["spec"]["strategy"] == {}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "nginx",
        "image": "nginx",
        "ports": [{"containerPort": 80}],
        "resources": {},
    }
    assert "creationTimestamp" not in deployment["metadata"]  # omitzero since 1.35


def test_kubectl_service_target_port_is_an_int():
    port = protobuf.decode(_fixture("service")[0])["spec"]["ports"][0]
    assert port == {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}


def test_kubectl_pod_copy_has_intstr_probe_ports_and_quantities():
    pod = protobuf.decode(_fixture("pod")[0])
    web = pod["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["port"] == "http"
    assert web["readinessProbe"]["tcpSocket"]["port"] == 80
    assert web["resources"]["limits"] == {"cpu": "500m", "memory": "128Mi"}
    assert {"name": "EMPTY"} in web["env"]  # value "" is omitempty
    assert pod["spec"]["volumes"][1] == {
        "name": "tmp",
        "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"},
    }  # VolumeSource is inlined into Volume


# --- round trips ----------------------------------------------------------------

META = {"name": "x", "namespace": "default", "labels": {"app": "web"}}
POD_SPEC: dict[str, Any] = {
    "volumes": [
        {"name": "cfg", "configMap": {"name": "cm", "defaultMode": 420}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "pvc", "readOnly": True}},
        {"name": "scratch", "emptyDir": {}},
    ],
    "containers": [
        {
            "name": "web",
            "image": "nginx",
            "command": ["nginx"],
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
            "env": [
                {"name": "A", "value": "1"},
                {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "resources": {
                "limits": {"cpu": "1", "memory": "1Gi"},
                "requests": {"cpu": "100m", "memory": "64Mi"},
            },
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": "http"},
                "initialDelaySeconds": 5,
            },
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2},
            "imagePullPolicy": "Always",
        }
    ],
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 0,
    "nodeSelector": {"disk": "ssd"},
    "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": -1}],
}

ROUND_TRIPS: dict[str, dict[str, Any]] = {
    "namespace": {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "x", "creationTimestamp": "2026-07-23T07:07:48Z"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    },
    "deployment": {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": META,
        "spec": {
            "replicas": 0,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
            },
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1},
            },
            "revisionHistoryLimit": 10,
            "paused": True,
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 2,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "lastUpdateTime": "2026-01-02T03:04:05Z",
                    "lastTransitionTime": "1969-12-31T23:59:59Z",
                    "reason": "MinimumReplicasAvailable",
                },
            ],
        },
    },
    "service-int-target": {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": META,
        "spec": {
            "ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}],
            "selector": {"app": "web"},
            "type": "NodePort",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
        "status": {"loadBalancer": {}},
    },
    "service-string-target": {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": META,
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        "status": {"loadBalancer": {}},
    },
    "secret": {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": META,
        "immutable": False,
        "data": {"empty": "", "key": base64.b64encode(b"\x00\xffbinary").decode()},
        "type": "Opaque",
    },
    "configmap": {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": META,
        "data": {"a": "1", "b": ""},
        "binaryData": {"bin": base64.b64encode(b"\x01\x02").decode()},
    },
    "job": {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": META,
        "spec": {
            "parallelism": 2,
            "completions": 4,
            "backoffLimit": 0,
            "template": {"metadata": {}, "spec": POD_SPEC},
        },
        "status": {"startTime": "2026-07-23T07:07:48Z", "active": 1},
    },
    "cronjob": {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": META,
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": False,
            "jobTemplate": {
                "metadata": {"name": "x"},
                "spec": {"template": {"metadata": {}, "spec": POD_SPEC}},
            },
        },
        "status": {"lastScheduleTime": "2026-07-23T07:05:00Z"},
    },
    "role": {
        "kind": "Role",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": META,
        "rules": [
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"]}
        ],
    },
    "rolebinding": {
        "kind": "RoleBinding",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": META,
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
    },
    "tokenrequest": {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": "default", "namespace": "default"},
        "spec": {"audiences": ["api"], "expirationSeconds": 3600, "boundObjectRef": None},
        "status": {"token": "abc", "expirationTimestamp": "2026-07-23T08:07:48Z"},
    },
    "selfsubjectaccessreview": {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
        "status": {"allowed": True, "reason": "RBAC"},
    },
    "selfsubjectreview": {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": "2026-07-23T07:07:48Z"},
        "status": {
            "userInfo": {
                "username": "alice",
                "groups": ["dev"],
                "extra": {"scopes": ["a", "b"], "none": None},
            }
        },
    },
    "eviction": {
        "kind": "Eviction",
        "apiVersion": "policy/v1",
        "metadata": {"name": "web-1", "namespace": "default"},
        "deleteOptions": {
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": "u-1", "resourceVersion": "42"},
            "propagationPolicy": "Foreground",
            "dryRun": ["All"],
        },
    },
    "delete-options": {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "orphanDependents": False,
    },
    "events-v1-event": {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "e", "namespace": "default"},
        "eventTime": "2026-07-23T07:07:48.123456Z",
        "series": {"count": 2, "lastObservedTime": "2026-07-23T07:08:00.000001Z"},
        "reportingController": "kubelet",
        "reason": "Started",
        "regarding": {"kind": "Pod", "name": "p"},
        "type": "Normal",
        "deprecatedSource": {},
        "deprecatedFirstTimestamp": None,
        "deprecatedLastTimestamp": None,
    },
    "lease": {
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {
            "name": "kube-scheduler",
            "namespace": "kube-system",
            "deletionTimestamp": "2026-07-23T07:07:48Z",
            "deletionGracePeriodSeconds": 0,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u", "controller": True}
            ],
            "managedFields": [
                {
                    "manager": "kube-scheduler",
                    "operation": "Update",
                    "apiVersion": "coordination.k8s.io/v1",
                    "time": "2026-07-23T07:07:48Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:holderIdentity": {}}},
                }
            ],
        },
        "spec": {
            "holderIdentity": "node-1",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-07-23T07:07:48.000000Z",
            "renewTime": "2026-07-23T07:07:50.500000Z",
            "leaseTransitions": 0,
        },
    },
    "controllerrevision": {
        "kind": "ControllerRevision",
        "apiVersion": "apps/v1",
        "metadata": META,
        "data": {"spec": {"template": {"$patch": "replace"}}, "n": [1, 2.5, None]},
        "revision": 3,
    },
    "priorityclass-negative": {
        "kind": "PriorityClass",
        "apiVersion": "scheduling.k8s.io/v1",
        "metadata": {"name": "low"},
        "value": -2147483648,
        "globalDefault": True,
    },
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_round_trip(name):
    obj = ROUND_TRIPS[name]
    body = protobuf.encode(obj)
    assert body.startswith(b"k8s\x00")
    assert protobuf.decode(body) == obj


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_encoding_is_stable(name):
    body = protobuf.encode(ROUND_TRIPS[name])
    assert protobuf.encode(protobuf.decode(body)) == body


# --- Go's JSON rules on decoded structs -------------------------------------------


def _decode(api_version: str, kind: str, raw: bytes) -> dict[str, Any]:
    out = protobuf.decode(_body(api_version, kind, raw))
    assert (out.pop("kind"), out.pop("apiVersion")) == (kind, api_version)
    return out


def test_empty_namespace_has_go_zero_structs():
    assert _decode("v1", "Namespace", b"") == {"metadata": {}, "spec": {}, "status": {}}


def test_omitempty_scalars_are_dropped_when_zero_but_pointers_keep_zero():
    spec = _vi(1, 0) + _vi(5, 0) + _vi(7, 0)  # replicas (*int32), minReadySeconds, paused
    out = _decode("apps/v1", "Deployment", _ld(2, spec))
    assert out["spec"] == {"replicas": 0, "selector": None, "template": {"metadata": {}, "spec": {
        "containers": None}}, "strategy": {}}  # fmt: skip


def test_non_omitempty_zero_scalars_are_kept():
    container = _ld(1, b"c") + _ld(6, b"")  # a ContainerPort with nothing set
    spec = _ld(2, container)
    out = _decode("v1", "Pod", _ld(2, spec))
    assert out["spec"]["containers"] == [
        {"name": "c", "ports": [{"containerPort": 0}], "resources": {}}
    ]


def test_absent_intstr_target_port_is_zero_as_go_prints_it():
    port = _vi(3, 80)
    out = _decode("v1", "Service", _ld(2, _ld(1, port)))
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 0}]


def test_non_omitempty_empty_list_is_null():
    assert _decode("rbac.authorization.k8s.io/v1", "Role", b"") == {"metadata": {}, "rules": None}


def test_zero_creation_timestamp_is_omitted_and_zero_event_timestamps_are_null():
    out = _decode("v1", "Event", _ld(1, _ld(1, b"e") + _ld(8, b"")) + _ld(6, b""))
    assert out["metadata"] == {"name": "e"}
    assert out["firstTimestamp"] is None
    assert out["lastTimestamp"] is None
    assert out["eventTime"] is None


@pytest.mark.parametrize(
    ("seconds", "nanos", "time", "micro"),
    [
        (1784790468, 0, "2026-07-23T07:07:48Z", "2026-07-23T07:07:48.000000Z"),
        (1784790468, 123456789, "2026-07-23T07:07:48Z", "2026-07-23T07:07:48.123456Z"),
        (0, 0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"),
        (-1, 0, "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.000000Z"),
    ],
)
def test_time_and_micro_time_format(seconds, nanos, time, micro):
    stamp = _vi(1, seconds) + _vi(2, nanos)
    lease = _decode(
        "coordination.k8s.io/v1", "Lease", _ld(1, _ld(8, stamp)) + _ld(2, _ld(3, stamp))
    )
    assert lease["metadata"]["creationTimestamp"] == time
    assert lease["spec"]["acquireTime"] == micro


def test_negative_varints_are_sign_extended():
    out = _decode("scheduling.k8s.io/v1", "PriorityClass", _vi(2, -5))
    assert out["value"] == -5


def test_packed_repeated_ints_are_read():
    groups = _varint(1000) + _varint(2000)
    context = _ld(4, groups)  # PodSecurityContext.supplementalGroups, packed
    out = _decode("v1", "Pod", _ld(2, _ld(14, context)))
    assert out["spec"]["securityContext"] == {"supplementalGroups": [1000, 2000]}


@pytest.mark.parametrize(
    ("sent", "stored"), [("1000m", "1"), ("1.5Gi", "1536Mi"), ("0.1", "100m"), ("", "0")]
)
def test_quantities_are_canonical(sent, stored):
    hard = _ld(1, _ld(1, b"cpu") + _ld(2, _ld(1, sent.encode())))
    out = _decode("v1", "ResourceQuota", _ld(2, hard))
    assert out["spec"] == {"hard": {"cpu": stored}}


def test_unknown_fields_are_skipped():
    unknown = _ld(99, b"future") + _vi(98, 7) + _varint(97 << 3 | 5) + b"\x00" * 4
    assert _decode("v1", "ConfigMap", unknown + _ld(2, _ld(1, b"k") + _ld(2, b"v"))) == {
        "metadata": {},
        "data": {"k": "v"},
    }


def test_repeated_message_pieces_are_merged():
    raw = _ld(1, _ld(1, b"name")) + _ld(1, _ld(3, b"ns"))
    assert _decode("v1", "ConfigMap", raw) == {"metadata": {"name": "name", "namespace": "ns"}}


def test_raw_extension_holding_protobuf_is_decoded():
    inner = protobuf.encode({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}})
    out = _decode("apps/v1", "ControllerRevision", _ld(2, _ld(1, inner)))
    assert out["data"] == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}}


def test_delete_options_in_a_group_version_is_found_in_meta():
    out = _decode("apps/v1", "DeleteOptions", _vi(1, 30))
    assert out == {"gracePeriodSeconds": 30}


# --- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"kind": "Pod"}', "magic", id="json"),
        pytest.param(b"k8s\x00\x0a\x05\x0a\x02", "malformed", id="truncated"),
        pytest.param(b"k8s\x00\x0a", "malformed", id="truncated-varint"),
        pytest.param(b"k8s\x00\x0b", "malformed", id="bad-wire-type"),
        pytest.param(_body("example.com/v1", "Widget", b""), "apiVersion", id="unknown-group"),
        pytest.param(_body("v1", "Widget", b""), "Widget", id="unknown-kind"),
        pytest.param(_body("v1", "ConfigMap", _vi(1, 3)), "malformed", id="wrong-wire-type"),
        pytest.param(
            _body("v1", "ResourceQuota", _ld(2, _ld(1, _ld(1, b"cpu") + _ld(2, _ld(1, b"lots"))))),
            "quantities must match",
            id="bad-quantity",
        ),
        pytest.param(
            b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"Pod")) + _ld(3, b"gzip"),
            "contentEncoding",
            id="gzip",
        ),
    ],
)
def test_bad_bodies_are_bad_requests(body, message):
    with pytest.raises(BadRequest, match=message):
        protobuf.decode(body)


def test_mangled_kubectl_bodies_decode_or_raise_bad_request():
    rng = random.Random(7)
    bodies = [_fixture(name)[0] for name in FIXTURES]
    for _ in range(2000):
        body = bytearray(rng.choice(bodies))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(4, len(body))
            body[pos : pos + rng.randint(0, 1)] = bytes([rng.randrange(256)] * rng.randint(0, 1))
        with contextlib.suppress(BadRequest):  # anything else fails the test
            protobuf.decode(bytes(body))


def test_deeply_nested_raw_extensions_are_a_bad_request():
    body = protobuf.encode({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}})
    for _ in range(5000):
        body = _body("apps/v1", "ControllerRevision", _ld(2, _ld(1, body)))
    with pytest.raises(BadRequest):
        protobuf.decode(body)


def test_encode_rejects_an_unknown_kind():
    with pytest.raises(BadRequest):
        protobuf.encode({"kind": "Widget", "apiVersion": "v1"})


# --- schema facts -----------------------------------------------------------------


def test_schema_spot_checks():
    messages = protobuf.schema().messages
    by_name = {f.name: f for f in messages["meta/v1.ObjectMeta"]}
    assert (by_name["labels"].number, by_name["labels"].kind) == (11, "map")
    assert by_name["creationTimestamp"].omitzero
    assert by_name["deletionTimestamp"].pointer
    volume = {f.number: f for f in messages["core/v1.Volume"]}
    assert volume[2].inline and volume[2].ref == "core/v1.VolumeSource"
    assert protobuf.schema().groups["v1"] == "core/v1"
    served = {"apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
              "rbac.authorization.k8s.io/v1", "authorization.k8s.io/v1", "storage.k8s.io/v1"}  # fmt: skip
    assert served <= set(protobuf.schema().groups)


def test_content_type():
    assert protobuf.CONTENT_TYPE == "application/vnd.kubernetes.protobuf"
