"""URL building from the resource table, and Status bodies turned back into error classes."""

from __future__ import annotations

import orjson
import pytest

from tinykube.api import errors
from tinykube.client.rest import _error, _query, resolve, resource_path

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("api_version", "resource", "ns", "name", "sub", "path"),
    [
        ("v1", "pods", "default", "", "", "/api/v1/namespaces/default/pods"),
        ("v1", "Pod", "default", "p", "status", "/api/v1/namespaces/default/pods/p/status"),
        ("v1", "pods", "", "", "", "/api/v1/pods"),  # all namespaces
        ("v1", "nodes", "ignored", "n1", "", "/api/v1/nodes/n1"),  # cluster-scoped
        ("v1", "namespaces", "", "x", "finalize", "/api/v1/namespaces/x/finalize"),
        (
            "apps/v1",
            "Deployment",
            "ns",
            "d",
            "scale",
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
        ),
        (
            "coordination.k8s.io/v1",
            "leases",
            "kube-system",
            "l",
            "",
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l",
        ),
        (
            "example.com/v1",
            "widgets",
            "ns",
            "w",
            "",
            "/apis/example.com/v1/namespaces/ns/widgets/w",
        ),
    ],
    ids=[
        "collection",
        "kind-and-status",
        "all-namespaces",
        "cluster-scoped",
        "finalize",
        "group-scale",
        "lease",
        "unknown-plural",
    ],
)
def test_resource_path(
    api_version: str, resource: str, ns: str, name: str, sub: str, path: str
) -> None:
    assert resource_path(resolve(api_version, resource), ns, name, sub) == path


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        resolve("v1", "Widget")


def test_query_drops_unset_and_spells_bools_as_go() -> None:
    assert _query(a=None, b="", c=0, d=True, e=False, f="x") == {
        "c": "0",
        "d": "true",
        "e": "false",
        "f": "x",
    }


@pytest.mark.parametrize(
    ("status", "body", "klass"),
    [
        (
            404,
            {"kind": "Status", "reason": "NotFound", "code": 404, "message": "m"},
            errors.NotFound,
        ),
        (409, {"kind": "Status", "reason": "Conflict", "code": 409}, errors.Conflict),
        (409, {"kind": "Status", "reason": "AlreadyExists", "code": 409}, errors.AlreadyExists),
        (410, {"kind": "Status", "reason": "Expired", "code": 410}, errors.Expired),
        (422, {"kind": "Status", "reason": "Invalid", "code": 422}, errors.Invalid),
        (503, None, errors.ServiceUnavailable),  # not a Status: mapped by code
        (418, None, errors.APIError),
    ],
    ids=["not-found", "conflict", "already-exists", "expired", "invalid", "plain-503", "teapot"],
)
def test_errors_from_answers(status: int, body: dict | None, klass: type) -> None:
    raw = orjson.dumps(body) if body is not None else b"upstream connect error"
    error = _error(status, raw)
    assert type(error) is klass
    assert error.code == status
    if body is None:
        assert error.message == "upstream connect error"
