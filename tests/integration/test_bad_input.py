"""Bad input gets a Kubernetes Status with the right code, and nothing stored changes.

Raw HTTP against a started API server, so the exact status codes, reasons and
messages are checked without a client library smoothing them over.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cluster import ApiServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = ApiServer(tmp_path_factory.mktemp("badinput"), extra_args=["--event-ttl", "1"])
    srv.start()
    yield srv
    srv.stop()


def call(
    srv: ApiServer,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    cert: bool = True,
) -> tuple[int, dict[str, Any]]:
    ctx = ssl.create_default_context(cafile=str(srv.data_dir / "pki" / "ca.crt"))
    if cert:
        pki: Path = srv.data_dir / "pki"
        ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    req = urllib.request.Request(srv.url + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


CM = "/api/v1/namespaces/default/configmaps"


def stored(srv: ApiServer) -> list[tuple[str, str]]:
    """The ConfigMaps and Pods there are, with their versions (other writes may happen)."""
    out = []
    for path in (CM, "/api/v1/pods"):
        items = call(srv, "GET", path)[1]["items"]
        out += [(o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in items]
    # the root-CA publisher may still be writing its ConfigMap just after start
    return [pair for pair in out if pair[0] != "kube-root-ca.crt"]


def cm(name: str, **extra: Any) -> bytes:
    return json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}
    ).encode()


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code", "reason", "message"),
    [
        ("POST", CM, b"{not json", "application/json", 400, "BadRequest", "json parse error"),
        ("POST", CM, b"[1, 2]", "application/json", 400, "BadRequest", "cannot unmarshal"),
        ("POST", CM, cm("ok"), "text/plain", 415, "UnsupportedMediaType", "unknown format"),
        (
            "POST",
            CM,
            cm("Bad_Name"),
            "application/json",
            422,
            "Invalid",
            'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"',
        ),
        (
            "POST",
            CM,
            cm("x", data={"bad key!": "v"}),
            "application/json",
            422,
            "Invalid",
            "data[bad key!]",
        ),
        (
            "POST",
            "/api/v1/namespaces/nope/configmaps",
            cm("x"),
            "application/json",
            404,
            "NotFound",
            'namespaces "nope" not found',
        ),
        (
            "GET",
            "/api/v1/namespaces/default/frobs",
            None,
            "",
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        (
            "GET",
            "/apis/nogroup.example/v1/things",
            None,
            "",
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        (
            "PATCH",
            CM + "/missing",
            b"{}",
            "application/merge-patch+json",
            404,
            "NotFound",
            'configmaps "missing" not found',
        ),
        (
            "PATCH",
            CM + "/missing",
            b"{}",
            "application/xml",
            415,
            "UnsupportedMediaType",
            "application/json-patch+json",
        ),
        (
            "POST",
            CM,
            cm("big", data={"k": "x" * (3 * 1024 * 1024 + 10)}),
            "application/json",
            413,
            "RequestEntityTooLarge",
            "Request entity too large",
        ),
        (
            "GET",
            "/api/v1/pods?labelSelector=a%20in%20(",
            None,
            "",
            400,
            "BadRequest",
            "unable to parse requirement",
        ),
        (
            "GET",
            "/api/v1/pods?fieldSelector=spec.bogus%3Dx",
            None,
            "",
            400,
            "BadRequest",
            "field label not supported: spec.bogus",
        ),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "wrong-content-type",
        "invalid-name",
        "invalid-data-key",
        "missing-namespace",
        "unknown-resource",
        "unknown-group",
        "patch-missing",
        "patch-unsupported-type",
        "oversized-body",
        "bad-label-selector",
        "bad-field-selector",
    ],
)
def test_bad_request_gets_a_status(
    server: ApiServer,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str,
    code: int,
    reason: str,
    message: str,
) -> None:
    before = stored(server)
    status, out = call(server, method, path, body, content_type)
    assert status == code
    assert out["kind"] == "Status"
    assert out["status"] == "Failure"
    assert out["code"] == code
    assert out["reason"] == reason
    assert message in out["message"]
    assert stored(server) == before, "a rejected request changed stored state"


def test_conflicts(server: ApiServer) -> None:
    status, created = call(server, "POST", CM, cm("c1", data={"a": "1"}))
    assert status == 201
    status, out = call(server, "POST", CM, cm("c1"))
    assert (status, out["reason"], out["message"]) == (
        409,
        "AlreadyExists",
        'configmaps "c1" already exists',
    )
    stale = dict(created, data={"a": "2"})
    stale["metadata"] = dict(created["metadata"], resourceVersion="1")
    status, out = call(server, "PUT", CM + "/c1", json.dumps(stale).encode())
    assert (status, out["reason"]) == (409, "Conflict")
    assert out["message"] == (
        'Operation cannot be fulfilled on configmaps "c1": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert call(server, "GET", CM + "/c1")[1]["data"] == {"a": "1"}


def test_anonymous_requests_are_refused(server: ApiServer) -> None:
    status, out = call(server, "GET", CM, cert=False)
    assert (status, out["reason"], out["code"]) == (401, "Unauthorized", 401)


def test_nothing_in_a_terminating_namespace(server: ApiServer) -> None:
    ns = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}})
    assert call(server, "POST", "/api/v1/namespaces", ns.encode())[0] == 201
    status, out = call(server, "DELETE", "/api/v1/namespaces/going")
    assert status == 200
    assert out["status"]["phase"] == "Terminating"  # no namespace controller runs here
    status, out = call(server, "POST", "/api/v1/namespaces/going/configmaps", cm("late"))
    assert (status, out["reason"]) == (403, "Forbidden")
    assert "because it is being terminated" in out["message"]


def test_dry_run_stores_nothing(server: ApiServer) -> None:
    status, out = call(server, "POST", CM + "?dryRun=All", cm("dry"))
    assert status == 201
    assert out["metadata"]["uid"]
    assert call(server, "GET", CM + "/dry")[0] == 404


def test_events_expire_after_the_ttl(server: ApiServer) -> None:
    """This server runs with --event-ttl 1: an Event is gone within seconds."""
    import time

    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "x.1"},
        "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"},
        "reason": "Tested",
        "message": "short-lived",
        "type": "Normal",
    }
    path = "/api/v1/namespaces/default/events"
    assert call(server, "POST", path, json.dumps(event).encode())[0] == 201
    deadline = time.monotonic() + 15
    while call(server, "GET", path + "/x.1")[0] == 200:
        assert time.monotonic() < deadline, "the event outlived its TTL"
        time.sleep(0.2)


def test_concurrent_patches_without_a_version_all_apply(server: ApiServer) -> None:
    """A patch names no resourceVersion: a racing write makes the server retry, not 409."""
    from concurrent.futures import ThreadPoolExecutor

    assert call(server, "POST", CM, cm("racy", data={}))[0] == 201

    def patch(i: int) -> int:
        body = json.dumps({"data": {f"k{i}": str(i)}}).encode()
        return call(server, "PATCH", CM + "/racy", body, "application/merge-patch+json")[0]

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(patch, range(48)))
    assert codes == [200] * 48
    assert len(call(server, "GET", CM + "/racy")[1]["data"]) == 48


def test_binding_assigns_the_node_and_marks_the_pod_scheduled(server: ApiServer) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bindme"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    pods = "/api/v1/namespaces/default/pods"
    assert call(server, "POST", pods, json.dumps(pod).encode())[0] == 201
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "bindme"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
    }
    status, out = call(server, "POST", pods + "/bindme/binding", json.dumps(binding).encode())
    assert (status, out["status"]) == (201, "Success")
    got = call(server, "GET", pods + "/bindme")[1]
    assert got["spec"]["nodeName"] == "node-a"
    conditions = {c["type"]: c["status"] for c in got["status"]["conditions"]}
    assert conditions["PodScheduled"] == "True"
    status, out = call(server, "POST", pods + "/bindme/binding", json.dumps(binding).encode())
    assert (status, out["reason"]) == (409, "Conflict")
    assert 'is already assigned to node "node-a"' in out["message"]


def test_writes_that_name_no_version_are_retried_not_refused(server: ApiServer) -> None:
    """A binding, or a PUT without resourceVersion, racing other writers still lands."""
    from concurrent.futures import ThreadPoolExecutor

    pods = "/api/v1/namespaces/default/pods"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "raced"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert call(server, "POST", pods, json.dumps(pod).encode())[0] == 201
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "raced"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-b"},
    }

    def label(i: int) -> int:
        body = json.dumps({"metadata": {"labels": {f"l{i}": "x"}}}).encode()
        return call(server, "PATCH", pods + "/raced", body, "application/merge-patch+json")[0]

    def bind(_: int) -> int:
        return call(server, "POST", pods + "/raced/binding", json.dumps(binding).encode())[0]

    def put(_: int) -> int:
        cm_body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "putme"},
            "data": {"k": "v"},
        }
        return call(server, "PUT", CM + "/putme", json.dumps(cm_body).encode())[0]

    assert call(server, "POST", CM, cm("putme"))[0] == 201

    def relabel_cm(i: int) -> int:
        body = json.dumps({"metadata": {"labels": {f"l{i}": "x"}}}).encode()
        return call(server, "PATCH", CM + "/putme", body, "application/merge-patch+json")[0]

    with ThreadPoolExecutor(16) as pool:
        racers = [pool.submit(label, i) for i in range(24)]
        racers += [pool.submit(relabel_cm, i) for i in range(24)]
        bound = pool.submit(bind, 0)
        replaced = [pool.submit(put, i) for i in range(4)]
        assert bound.result() == 201
        assert [f.result() for f in replaced] == [200] * 4
        assert all(f.result() == 200 for f in racers)
    assert call(server, "GET", pods + "/raced")[1]["spec"]["nodeName"] == "node-b"
