"""What the Endpoints and EndpointSlice controllers publish for a Service, where it
differs from a plain selector match: ExternalName Services get nothing, and a
slice's ``serving`` is the Pod's readiness whatever the Service publishes."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.controllers import endpoints, endpointslice

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def service(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def pod(ready: bool) -> Obj:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u2", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.9",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


@pytest.mark.parametrize(
    ("spec", "selects"),
    [
        ({}, True),
        ({"type": "NodePort"}, True),
        ({"type": "ExternalName", "externalName": "example.org"}, False),
        ({"selector": None}, False),
    ],
    ids=["clusterip", "nodeport", "externalname-with-selector", "no-selector"],
)
def test_which_services_get_endpoints(spec: Obj, selects: bool) -> None:
    assert (endpoints.service_selector(service(**spec)) is not None) is selects


@pytest.mark.parametrize("publish", [False, True])
def test_serving_is_the_pod_readiness(publish: bool) -> None:
    ep = endpointslice.endpoint(pod(ready=False), service(publishNotReadyAddresses=publish), {})
    assert ep["conditions"] == {"ready": publish, "serving": False, "terminating": False}


def test_trigger_time_is_the_latest_ready_transition_or_the_service_creation() -> None:
    svc = service()
    svc["metadata"]["creationTimestamp"] = "2026-01-01T10:00:00Z"
    early, late = pod(ready=True), pod(ready=False)
    early["status"]["conditions"][0]["lastTransitionTime"] = "2026-01-01T09:00:00Z"
    late["status"]["conditions"][0]["lastTransitionTime"] = "2026-01-01T11:30:00.5Z"
    assert endpoints.last_change_trigger_time(svc, [early]) == "2026-01-01T10:00:00Z"
    assert endpoints.last_change_trigger_time(svc, [early, late]) == "2026-01-01T11:30:00Z"
    assert endpoints.last_change_trigger_time({"metadata": {}}, []) is None
