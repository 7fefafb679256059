"""The REST client against a real API server: every verb, subresources, typed errors,
pagination, watch, and the kubeconfig it was built from."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from cluster import ApiServer

from tinykube.api import errors
from tinykube.client import Client
from tinykube.client.events import EventRecorder

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(
        apiserver.kubeconfig, user_agent="tinykube-test/0.1.0"
    ) as c:
        yield c


@pytest.fixture
async def ns(client: Client) -> AsyncIterator[str]:
    name = f"client-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": name}})
    yield name


def cm(name: str, **data: str) -> dict:
    return {"metadata": {"name": name}, "data": data}


async def test_from_kubeconfig_env(apiserver: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    async with await Client.from_kubeconfig() as c:
        assert c.namespace == "default"
        assert (await c.get("v1", "namespaces", "default"))["metadata"]["name"] == "default"


async def test_crud_round_trip(client: Client, ns: str) -> None:
    created = await client.create("v1", "configmaps", cm("a", k="1"), ns)
    assert created["kind"] == "ConfigMap" and created["metadata"]["namespace"] == ns
    # the field manager defaults to the user agent's product name
    assert created["metadata"]["managedFields"][0]["manager"] == "tinykube-test"
    got = await client.get("v1", "ConfigMap", "a", ns)  # a Kind works as well as a plural
    assert got["data"] == {"k": "1"}
    got["data"]["k"] = "2"
    updated = await client.update("v1", "configmaps", got)
    assert updated["data"] == {"k": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    deleted = await client.delete("v1", "configmaps", "a", ns)
    assert deleted.get("kind") in ("ConfigMap", "Status")
    with pytest.raises(errors.NotFound) as exc:
        await client.get("v1", "configmaps", "a", ns)
    assert exc.value.code == 404 and exc.value.name == "a" and exc.value.kind == "configmaps"


@pytest.mark.parametrize(
    ("patch_type", "patch", "expected"),
    [
        ("merge", {"data": {"b": "2", "a": None}}, {"b": "2"}),
        ("strategic", {"data": {"b": "2"}}, {"a": "1", "b": "2"}),
        ("json", [{"op": "add", "path": "/data/b", "value": "2"}], {"a": "1", "b": "2"}),
    ],
    ids=["merge", "strategic", "json"],
)
async def test_patch_types(
    client: Client, ns: str, patch_type: str, patch: object, expected: dict
) -> None:
    await client.create("v1", "configmaps", cm("p", a="1"), ns)
    out = await client.patch("v1", "configmaps", "p", patch, ns, patch_type=patch_type)
    assert out["data"] == expected


async def test_server_side_apply(client: Client, ns: str) -> None:
    body = {"metadata": {"name": "applied", "namespace": ns}, "data": {"x": "1"}}
    out = await client.patch(
        "v1", "configmaps", "applied", body, ns, patch_type="apply", field_manager="me"
    )
    assert out["data"] == {"x": "1"}
    other = {"metadata": {"name": "applied", "namespace": ns}, "data": {"x": "2"}}
    with pytest.raises(errors.Conflict):
        await client.patch(
            "v1", "configmaps", "applied", other, ns, patch_type="apply", field_manager="you"
        )
    forced = await client.patch(
        "v1",
        "configmaps",
        "applied",
        other,
        ns,
        patch_type="apply",
        field_manager="you",
        force=True,
    )
    assert forced["data"] == {"x": "2"}


async def test_typed_errors(client: Client, ns: str) -> None:
    await client.create("v1", "configmaps", cm("e"), ns)
    with pytest.raises(errors.AlreadyExists):
        await client.create("v1", "configmaps", cm("e"), ns)
    stale = await client.get("v1", "configmaps", "e", ns)
    await client.patch("v1", "configmaps", "e", {"data": {"n": "1"}}, ns)
    with pytest.raises(errors.Conflict):
        await client.update("v1", "configmaps", stale)
    with pytest.raises(errors.Invalid) as invalid:
        await client.create("v1", "configmaps", cm("Not_Valid"), ns)
    assert invalid.value.code == 422 and invalid.value.causes
    with pytest.raises(errors.BadRequest):
        await client.list("v1", "configmaps", ns, label_selector="a in (")
    with pytest.raises(errors.Conflict):
        await client.delete("v1", "configmaps", "e", ns, preconditions={"uid": "not-it"})


async def test_dry_run_creates_nothing(client: Client, ns: str) -> None:
    out = await client.create("v1", "configmaps", cm("dry"), ns, dry_run=True)
    assert out["metadata"]["name"] == "dry"
    with pytest.raises(errors.NotFound):
        await client.get("v1", "configmaps", "dry", ns)


async def test_list_selectors_and_pages(client: Client, ns: str) -> None:
    for i in range(7):
        body = cm(f"c{i}")
        body["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd"}
        await client.create("v1", "configmaps", body, ns)
    even = await client.list("v1", "configmaps", ns, label_selector="parity=even")
    assert sorted(i["metadata"]["name"] for i in even["items"]) == ["c0", "c2", "c4", "c6"]
    named = await client.list("v1", "configmaps", ns, field_selector="metadata.name=c3")
    assert [i["metadata"]["name"] for i in named["items"]] == ["c3"]
    first = await client.list("v1", "configmaps", ns, label_selector="parity", limit=3)
    assert len(first["items"]) == 3 and first["metadata"]["continue"]
    rest = await client.list(
        "v1",
        "configmaps",
        ns,
        label_selector="parity",
        limit=3,
        continue_=first["metadata"]["continue"],
    )
    assert len(rest["items"]) == 3
    everything = await client.list_all("v1", "configmaps", ns, label_selector="parity", page_size=2)
    assert len(everything["items"]) == 7
    assert everything["metadata"]["resourceVersion"]


async def test_status_and_subresources(client: Client, ns: str) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    await client.create("v1", "pods", pod, ns)
    patched = await client.patch_status("v1", "pods", "p", {"status": {"phase": "Running"}}, ns)
    assert patched["status"]["phase"] == "Running"
    current = await client.get("v1", "pods", "p", ns)
    current["status"]["phase"] = "Pending"
    current["spec"]["activeDeadlineSeconds"] = 5  # ignored by the status subresource
    out = await client.update_status("v1", "pods", current)
    assert out["status"]["phase"] == "Pending" and "activeDeadlineSeconds" not in out["spec"]
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    await client.create_subresource("v1", "pods", "p", "binding", binding, ns)
    assert (await client.get("v1", "pods", "p", ns))["spec"]["nodeName"] == "node-1"
    await client.create("v1", "serviceaccounts", {"metadata": {"name": "sa"}}, ns)
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    token = await client.create_subresource("v1", "serviceaccounts", "sa", "token", request, ns)
    assert token["status"]["token"]


async def test_scale_subresource(client: Client, ns: str) -> None:
    deploy = {
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    await client.create("apps/v1", "deployments", deploy, ns)
    scale = await client.get_subresource("apps/v1", "deployments", "d", "scale", ns)
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    scale["spec"]["replicas"] = 5
    await client.update_subresource("apps/v1", "deployments", "d", "scale", scale, ns)
    assert (await client.get("apps/v1", "deployments", "d", ns))["spec"]["replicas"] == 5


async def test_watch_yields_events_and_ends_on_timeout(client: Client, ns: str) -> None:
    start = await client.list("v1", "configmaps", ns)
    rv = start["metadata"]["resourceVersion"]

    async def writes() -> None:
        await client.create("v1", "configmaps", cm("w"), ns)
        await client.patch("v1", "configmaps", "w", {"data": {"a": "b"}}, ns)
        await client.delete("v1", "configmaps", "w", ns)

    events = []
    writer = asyncio.create_task(writes())
    async with asyncio.timeout(10):
        async for kind, obj in client.watch(
            "v1", "configmaps", ns, resource_version=rv, timeout_seconds=2
        ):
            # (the API server may add kube-root-ca.crt to the new namespace meanwhile)
            if kind != "BOOKMARK" and obj["metadata"]["name"] == "w":
                events.append((kind, obj["metadata"]["name"]))
    await writer
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def test_watch_with_initial_events(client: Client, ns: str) -> None:
    await client.create("v1", "configmaps", cm("x"), ns)
    seen = []
    async with asyncio.timeout(10):
        async for kind, obj in client.watch(
            "v1", "configmaps", ns, send_initial_events=True, timeout_seconds=1
        ):
            seen.append((kind, obj["metadata"].get("name")))
            annotations = obj["metadata"].get("annotations") or {}
            if kind == "BOOKMARK" and annotations.get("k8s.io/initial-events-end"):
                break
    assert ("ADDED", "x") in seen and seen[-1][0] == "BOOKMARK"


async def test_watch_refused_raises_before_streaming(client: Client, ns: str) -> None:
    with pytest.raises(errors.BadRequest):
        async for _ in client.watch("v1", "configmaps", ns, label_selector="a in ("):
            pass


async def test_event_recorder_aggregates_repeats(client: Client, ns: str) -> None:
    obj = await client.create("v1", "configmaps", cm("owner"), ns)
    recorder = EventRecorder(client, "test-controller")
    first = await recorder.emit(obj, "Normal", "Tested", "it happened")
    second = await recorder.emit(obj, "Normal", "Tested", "it happened")
    other = await recorder.emit(obj, "Warning", "Failed", "something else")
    assert second["metadata"]["name"] == first["metadata"]["name"] and second["count"] == 2
    assert other["metadata"]["name"] != first["metadata"]["name"]
    listed = await client.list(
        "v1", "events", ns, field_selector="involvedObject.name=owner,reason=Tested"
    )
    (event,) = listed["items"]
    assert event["count"] == 2 and event["source"]["component"] == "test-controller"
    assert event["involvedObject"]["uid"] == obj["metadata"]["uid"]
    assert event["type"] == "Normal"
