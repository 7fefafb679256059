"""describe layouts on hand-built objects (the e2e suite compares them with kubectl)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tinykube.kubectl import describers

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_pod_layout() -> None:
    pod = {
        "metadata": {"name": "web", "namespace": "default", "labels": {"run": "web", "a": "b"}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                }
            ],
            "tolerations": [
                {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
        },
        "status": {"phase": "Pending"},
    }
    text = describers.describe_pod(pod, [], NOW)
    assert text.splitlines()[:6] == [
        "Name:         web",
        "Namespace:    default",
        "Node:         <none>",
        "Labels:       a=b",
        "              run=web",
        "Annotations:  <none>",
    ]
    assert "    Port:         80/TCP" in text
    assert "    Host Port:    0/TCP\n" in text
    assert "Tolerations:      k:NoExecute op=Exists for 300s\n" in text
    assert text.endswith("Events:           <none>\n")


def test_events_table() -> None:
    events = [
        {
            "type": "Normal",
            "reason": "Scheduled",
            "message": "placed",
            "source": {"component": "default-scheduler"},
            "firstTimestamp": "2026-01-01T11:59:00Z",
            "lastTimestamp": "2026-01-01T11:59:00Z",
            "count": 1,
        },
        {
            "type": "Warning",
            "reason": "BackOff",
            "message": "again",
            "source": {"component": "kubelet"},
            "firstTimestamp": "2026-01-01T11:50:00Z",
            "lastTimestamp": "2026-01-01T11:59:30Z",
            "count": 4,
        },
    ]
    w = describers.Writer()
    describers.events_section(w, events, NOW)
    assert w.text().splitlines() == [
        "Events:",
        "  Type     Reason     Age                From               Message",
        "  ----     ------     ----               ----               -------",
        "  Normal   Scheduled  60s                default-scheduler  placed",
        "  Warning  BackOff    30s (x4 over 10m)  kubelet            again",
    ]


def test_long_annotations_are_wrapped_and_last_applied_hidden() -> None:
    w = describers.Writer()
    annotations = {"kubectl.kubernetes.io/last-applied-configuration": "{}", "long": "x" * 150}
    describers.annotations_multiline(w, "Annotations", annotations)
    assert w.text() == "Annotations:  long:\n                " + "x" * 138 + "...\n"


def test_selector_formatting() -> None:
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}],
    }
    assert describers.format_selector(selector) == "a=1,b=2,k in (x,y)"
    assert describers.format_selector({}) == "<none>"


def test_volume_lines_per_type() -> None:
    from tinykube.kubectl.describers.layout import Writer
    from tinykube.kubectl.describers.podspec import _volume

    cases = {
        "hostPath": ({"path": "/data"}, "    Path:\t/data\n    HostPathType:\t<none>\n"),
        "emptyDir": ({}, "    Medium:\t\n    SizeLimit:\t<unset>\n"),
        "secret": ({"secretName": "s"}, "    SecretName:\ts\n    Optional:\tfalse\n"),
        "configMap": ({"name": "c", "optional": True}, "    Name:\tc\n    Optional:\ttrue\n"),
        "persistentVolumeClaim": (
            {"claimName": "data", "readOnly": True},
            "    ClaimName:\tdata\n    ReadOnly:\ttrue\n",
        ),
    }
    for kind, (source, lines) in cases.items():
        w = Writer()
        _volume(w, {"name": "v", kind: source})
        assert "".join(w.parts[1:]) == lines, kind
