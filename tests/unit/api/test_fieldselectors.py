"""Field selector grammar, per-kind field labels, matching and index requirements."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api import errors, fieldselectors
from tinykube.api.resources import Resource, lookup


def res(group: str, version: str, plural: str) -> Resource:
    found = lookup(group, version, plural)
    assert found is not None
    return found


PODS = res("", "v1", "pods")
NODES = res("", "v1", "nodes")
NAMESPACES = res("", "v1", "namespaces")
SECRETS = res("", "v1", "secrets")
SERVICES = res("", "v1", "services")
EVENTS = res("", "v1", "events")
NEW_EVENTS = res("events.k8s.io", "v1", "events")
JOBS = res("batch", "v1", "jobs")
RCS = res("", "v1", "replicationcontrollers")
RSS = res("apps", "v1", "replicasets")
DEPLOYMENTS = res("apps", "v1", "deployments")


@pytest.mark.parametrize(
    ("resource", "text", "terms"),
    [
        pytest.param(PODS, "", [], id="empty"),
        pytest.param(PODS, "spec.nodeName=n1", [("spec.nodeName", "=", "n1")], id="equals"),
        pytest.param(PODS, "spec.nodeName==n1", [("spec.nodeName", "=", "n1")], id="double"),
        pytest.param(
            PODS,
            "status.phase!=Succeeded,status.phase!=Failed",
            [("status.phase", "!=", "Failed"), ("status.phase", "!=", "Succeeded")],
            id="scheduler-informer-sorted",
        ),
        pytest.param(PODS, "spec.nodeName=", [("spec.nodeName", "=", "")], id="empty-value"),
        pytest.param(PODS, "spec.host=n1", [("spec.nodeName", "=", "n1")], id="legacy-spec-host"),
        pytest.param(
            PODS, r"metadata.name=a\,b\=c\\d", [("metadata.name", "=", r"a,b=c\d")], id="escapes"
        ),
        pytest.param(PODS, "metadata.name=a,", [("metadata.name", "=", "a")], id="trailing-comma"),
        pytest.param(DEPLOYMENTS, "metadata.name=web", [("metadata.name", "=", "web")], id="meta"),
        pytest.param(
            NEW_EVENTS,
            "regarding.name=web,reportingController=kubelet",
            [("involvedObject.name", "=", "web"), ("reportingComponent", "=", "kubelet")],
            id="events-k8s-io-renames",
        ),
        pytest.param(NODES, "spec.unschedulable=true", [("spec.unschedulable", "=", "true")]),
        pytest.param(JOBS, "status.successful=1", [("status.successful", "=", "1")], id="job"),
    ],
)
def test_parse(resource: Resource, text: str, terms: list[tuple[str, str, str]]) -> None:
    assert fieldselectors.parse(text, resource).requirements() == terms


@pytest.mark.parametrize(
    ("resource", "text", "message"),
    [
        pytest.param(PODS, "spec.foo=x", "field label not supported: spec.foo", id="pod-unknown"),
        pytest.param(
            DEPLOYMENTS,
            "spec.replicas=1",
            '"spec.replicas" is not a known field selector: only "metadata.name", '
            '"metadata.namespace"',
            id="default-conversion",
        ),
        pytest.param(
            RSS,
            "status.replicas=1",
            '"status.replicas" is not a known field selector: only "metadata.name", '
            '"metadata.namespace"',
            id="apps-v1-replicaset-has-no-conversion",
        ),
        pytest.param(
            NODES,
            "metadata.namespace=x",
            "field label not supported: metadata.namespace",
            id="node-has-no-namespace",
        ),
        pytest.param(
            NEW_EVENTS,
            "involvedObject.name=x",
            "field label not supported: involvedObject.name",
            id="events-k8s-io-core-name",
        ),
        pytest.param(PODS, "nodeName", "invalid selector: 'nodeName'; can't understand 'nodeName'"),
        pytest.param(
            PODS,
            "a=b,c",
            "invalid selector: 'a=b,c'; can't understand 'c'",
            id="second-term-bad",
        ),
        pytest.param(
            PODS,
            "metadata.name=a=b",
            "invalid field selector: unescaped character in value: 61",
            id="bare-equals",
        ),
        pytest.param(
            PODS,
            r"metadata.name=a\x",
            r"invalid field selector: invalid escape sequence: \x",
            id="bad-escape",
        ),
        pytest.param(
            PODS,
            "metadata.name=a\\",
            "invalid field selector: invalid escape sequence: \\",
            id="trailing-backslash",
        ),
    ],
)
def test_parse_errors(resource: Resource, text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        fieldselectors.parse(text, resource)
    assert caught.value.message == message


POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "prod"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler"},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}], "podIP": "10.0.0.7"},
}


@pytest.mark.parametrize(
    ("resource", "obj", "text", "matched"),
    [
        pytest.param(PODS, POD, "spec.nodeName=n1", True, id="node-hit"),
        pytest.param(PODS, POD, "spec.nodeName=n2", False, id="node-miss"),
        pytest.param(PODS, POD, "spec.nodeName!=", True, id="scheduled"),
        pytest.param(PODS, {"metadata": {"name": "x"}}, "spec.nodeName=", True, id="unscheduled"),
        pytest.param(PODS, POD, "metadata.name=web-1,metadata.namespace=prod", True, id="meta"),
        pytest.param(PODS, POD, "spec.hostNetwork=false", True, id="host-network-default"),
        pytest.param(
            PODS,
            {"metadata": {"name": "x"}, "spec": {"hostNetwork": True}},
            "spec.hostNetwork=true",
            True,
            id="host-network-true",
        ),
        pytest.param(PODS, POD, "status.podIP=10.0.0.7", True, id="pod-ip"),
        pytest.param(
            PODS,
            {"metadata": {"name": "x"}, "status": {"podIP": "10.0.0.9"}},
            "status.podIP=10.0.0.9",
            True,
            id="legacy-pod-ip",
        ),
        pytest.param(PODS, POD, "status.podIPs=10.0.0.7", False, id="pod-ips-never-filled"),
        pytest.param(PODS, POD, "status.phase!=Succeeded,status.phase!=Failed", True),
        pytest.param(
            NODES, {"metadata": {"name": "n"}}, "spec.unschedulable=false", True, id="schedulable"
        ),
        pytest.param(
            NAMESPACES,
            {"metadata": {"name": "ns"}, "status": {"phase": "Active"}},
            "status.phase=Active",
            True,
            id="namespace-phase",
        ),
        pytest.param(
            SECRETS,
            {"metadata": {"name": "s"}, "type": "kubernetes.io/tls"},
            "type=kubernetes.io/tls",
            True,
            id="secret-type",
        ),
        pytest.param(
            SERVICES,
            {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "clusterIP": "None"}},
            "spec.clusterIP=None,spec.type=ClusterIP",
            True,
            id="service",
        ),
        pytest.param(
            RCS, {"metadata": {"name": "r"}}, "status.replicas=0", True, id="rc-replicas-zero"
        ),
        pytest.param(
            JOBS,
            {"metadata": {"name": "j"}, "status": {"succeeded": 2}},
            "status.successful=2",
            True,
            id="job-successful",
        ),
        pytest.param(
            EVENTS,
            {
                "metadata": {"name": "e"},
                "involvedObject": {"kind": "Pod", "name": "web-1", "uid": "u1"},
                "reason": "Scheduled",
                "source": {"component": "default-scheduler"},
            },
            "involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.uid=u1,"
            "reason=Scheduled,source=default-scheduler",
            True,
            id="core-event",
        ),
        pytest.param(
            NEW_EVENTS,
            {
                "metadata": {"name": "e"},
                "regarding": {"kind": "Pod", "name": "web-1"},
                "reportingController": "kubelet",
            },
            "regarding.name=web-1,reportingController=kubelet,source=kubelet",
            True,
            id="new-event-source-falls-back-to-controller",
        ),
    ],
)
def test_matches(resource: Resource, obj: dict[str, Any], text: str, matched: bool) -> None:
    assert fieldselectors.parse(text, resource).matches(obj) is matched


def test_requires_exact_match_for_indexes() -> None:
    sel = fieldselectors.parse("spec.nodeName=n1,status.phase!=Failed", PODS)
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("status.phase") is None
    assert not sel.empty
    assert fieldselectors.parse("", PODS).empty


def test_string_round_trip_escapes() -> None:
    sel = fieldselectors.parse(r"metadata.name=a\,b", PODS)
    assert str(sel) == r"metadata.name=a\,b"
    assert fieldselectors.escape_value("a=b,c\\") == r"a\=b\,c\\"


def test_supported_fields() -> None:
    assert "spec.nodeName" in fieldselectors.supported_fields(PODS)
    assert fieldselectors.supported_fields(DEPLOYMENTS) == ["metadata.name", "metadata.namespace"]
