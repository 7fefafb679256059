"""``pods/<name>/ephemeralcontainers`` over HTTP: GET, strategic and JSON patch, PUT,
and the 422s a bad change gets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from cluster import ApiServer

from tinykube.api import errors
from tinykube.client import Client

pytestmark = pytest.mark.integration

DEBUGGER = {"name": "debugger", "image": "busybox", "targetContainerName": "app"}


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(apiserver.kubeconfig) as c:
        yield c


@pytest.fixture
async def ns(client: Client) -> str:
    name = f"eph-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": name}})
    return name


async def make_pod(client: Client, ns: str) -> dict:
    pod = {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }
    return await client.create("v1", "pods", pod, ns)


async def test_strategic_patch_adds_only_ephemeral_containers(client: Client, ns: str) -> None:
    created = await make_pod(client, ns)
    patch = {
        "metadata": {"labels": {"app": "changed"}},
        "spec": {"ephemeralContainers": [DEBUGGER], "activeDeadlineSeconds": 5},
    }
    out = await client.patch(
        "v1", "pods", "web", patch, ns, patch_type="strategic", subresource="ephemeralcontainers"
    )
    (added,) = out["spec"]["ephemeralContainers"]
    assert added["name"] == "debugger" and added["targetContainerName"] == "app"
    assert added["terminationMessagePolicy"] == "File"  # defaulted like any container
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "activeDeadlineSeconds" not in out["spec"]
    assert out["metadata"]["generation"] == created["metadata"]["generation"] + 1
    assert (await client.get("v1", "pods", "web", ns))["spec"]["ephemeralContainers"]


async def test_changing_an_existing_one_is_a_422(client: Client, ns: str) -> None:
    await make_pod(client, ns)
    await client.patch(
        "v1",
        "pods",
        "web",
        [{"op": "add", "path": "/spec/ephemeralContainers", "value": [DEBUGGER]}],
        ns,
        patch_type="json",
        subresource="ephemeralcontainers",
    )
    pod = await client.get("v1", "pods", "web", ns)
    pod["spec"]["ephemeralContainers"][0]["image"] = "alpine"
    with pytest.raises(errors.Invalid) as exc:
        await client.update("v1", "pods", pod, subresource="ephemeralcontainers")
    assert exc.value.code == 422
    assert (
        'Forbidden: existing ephemeral containers "debugger" may not be changed'
        in exc.value.message
    )


async def test_ports_are_a_422(client: Client, ns: str) -> None:
    await make_pod(client, ns)
    bad = dict(DEBUGGER, ports=[{"containerPort": 80}])
    with pytest.raises(errors.Invalid) as exc:
        await client.patch(
            "v1",
            "pods",
            "web",
            {"spec": {"ephemeralContainers": [bad]}},
            ns,
            patch_type="strategic",
            subresource="ephemeralcontainers",
        )
    assert (
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container"
        in exc.value.message
    )


async def test_the_pod_itself_cannot_add_them(client: Client, ns: str) -> None:
    pod = await make_pod(client, ns)
    pod["spec"]["ephemeralContainers"] = [DEBUGGER]
    with pytest.raises(errors.Invalid) as exc:
        await client.update("v1", "pods", pod)
    assert "spec: Forbidden: pod updates may not change fields other than" in exc.value.message


async def test_server_side_apply_is_not_taken(client: Client, ns: str) -> None:
    await make_pod(client, ns)
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}
    with pytest.raises(errors.APIError) as exc:
        await client.patch(
            "v1",
            "pods",
            "web",
            body,
            ns,
            patch_type="apply",
            field_manager="test",
            subresource="ephemeralcontainers",
        )
    assert exc.value.code == 415
    assert "application/apply-patch+yaml" not in exc.value.message


@pytest.mark.parametrize(
    ("patch", "wanted"),
    [
        ({"spec": "x"}, "cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec"),
        (
            {"spec": {"ephemeralContainers": 3}},
            "cannot unmarshal number into Go struct field Pod.spec.ephemeralContainers",
        ),
    ],
)
async def test_a_body_of_the_wrong_shape_is_a_400(
    client: Client, ns: str, patch: dict, wanted: str
) -> None:
    await make_pod(client, ns)
    with pytest.raises(errors.BadRequest) as exc:
        await client.patch("v1", "pods", "web", patch, ns, subresource="ephemeralcontainers")
    assert wanted in exc.value.message
