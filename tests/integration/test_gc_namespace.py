"""The controller manager's first controllers against a real API server, driven by kubectl:
foreground, orphan and background deletion; namespace deletion; the default ServiceAccount.

The API server and ``tinykube controller-manager`` run as processes, as in a cluster."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from cluster import BIN, ApiServer, run_kubectl

from tinykube.api import errors
from tinykube.client import Client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("gc") / "data")
    server.start()
    log = open(server.data_dir / "controller-manager.log", "ab")  # noqa: SIM115
    manager = subprocess.Popen(
        [
            str(BIN / "tinykube"),
            "controller-manager",
            "--kubeconfig",
            str(server.kubeconfig),
            "--secure-port=0",  # other tests' managers may run on this host
            "--leader-elect",
            "-v",
            "4",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield server
    finally:
        manager.terminate()
        try:
            manager.wait(10)
        except subprocess.TimeoutExpired:
            manager.kill()
        log.close()
        if manager.returncode not in (0, -15):
            print((server.data_dir / "controller-manager.log").read_text()[-5000:], file=sys.stderr)
        server.stop()


@pytest.fixture
async def client(cluster: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(cluster.kubeconfig) as c:
        yield c


@pytest.fixture
async def ns(client: Client) -> str:
    name = f"gc-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": name}})
    return name


async def kubectl(cluster: ApiServer, *args: str) -> subprocess.CompletedProcess[str]:
    result = await asyncio.to_thread(run_kubectl, cluster, *args)
    assert result.returncode == 0, result.stderr
    return result


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    async with asyncio.timeout(within):
        # Polling the API server is the point here: the test watches from outside.
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def gone(client: Client, api_version: str, resource: str, name: str, ns: str = "") -> bool:
    try:
        await client.get(api_version, resource, name, ns)
    except errors.NotFound:
        return True
    return False


async def deployment(client: Client, ns: str, name: str) -> dict[str, Any]:
    body = {
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    return await client.create("apps/v1", "deployments", body, ns)


def owned_by(owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


async def dependent(client: Client, ns: str, name: str, *owners: dict[str, Any]) -> dict[str, Any]:
    body = {"metadata": {"name": name, "ownerReferences": list(owners)}}
    return await client.create("v1", "configmaps", body, ns)


# ---- serviceaccount -------------------------------------------------------------------


async def test_new_namespace_gets_a_default_serviceaccount(client: Client, ns: str) -> None:
    async def exists() -> bool:
        return not await gone(client, "v1", "serviceaccounts", "default", ns)

    await eventually(exists)
    await client.delete("v1", "serviceaccounts", "default", ns)
    await eventually(exists)  # and it comes back


# ---- garbage collector ----------------------------------------------------------------


async def test_foreground_deletion_removes_dependents_first(
    cluster: ApiServer, client: Client, ns: str
) -> None:
    d = await deployment(client, ns, "d")
    await dependent(client, ns, "blocking", owned_by(d, block=True))
    await dependent(client, ns, "plain", owned_by(d))
    await kubectl(
        cluster, "delete", "deployment", "d", "-n", ns, "--cascade=foreground", "--timeout=30s"
    )
    # kubectl returned once the Deployment was gone; a blocking dependent went before it.
    assert await gone(client, "apps/v1", "deployments", "d", ns)
    assert await gone(client, "v1", "configmaps", "blocking", ns)
    await eventually(lambda: gone(client, "v1", "configmaps", "plain", ns))


async def test_foreground_owner_waits_for_a_blocking_dependent(client: Client, ns: str) -> None:
    d = await deployment(client, ns, "held")
    held = {
        "metadata": {
            "name": "held-cm",
            "finalizers": ["example.com/hold"],
            "ownerReferences": [owned_by(d, block=True)],
        }
    }
    await client.create("v1", "configmaps", held, ns)
    await client.delete("apps/v1", "deployments", "held", ns, propagation_policy="Foreground")

    async def dependent_marked() -> bool:
        cm = await client.get("v1", "configmaps", "held-cm", ns)
        return bool(cm["metadata"].get("deletionTimestamp"))

    await eventually(dependent_marked)
    owner = await client.get("apps/v1", "deployments", "held", ns)
    assert "foregroundDeletion" in owner["metadata"]["finalizers"]  # still waiting
    await client.patch("v1", "configmaps", "held-cm", {"metadata": {"finalizers": None}}, ns)
    await eventually(lambda: gone(client, "apps/v1", "deployments", "held", ns))


async def test_orphan_deletion_keeps_dependents_without_the_reference(
    cluster: ApiServer, client: Client, ns: str
) -> None:
    d = await deployment(client, ns, "d")
    other = await client.create("v1", "configmaps", {"metadata": {"name": "other-owner"}}, ns)
    await dependent(client, ns, "only", owned_by(d, block=True))
    await dependent(client, ns, "shared", owned_by(d), owned_by(other))
    await kubectl(
        cluster, "delete", "deployment", "d", "-n", ns, "--cascade=orphan", "--timeout=30s"
    )
    assert await gone(client, "apps/v1", "deployments", "d", ns)
    only = await client.get("v1", "configmaps", "only", ns)
    assert not only["metadata"].get("ownerReferences")
    shared = await client.get("v1", "configmaps", "shared", ns)
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other-owner"]


async def test_background_deletion_removes_the_whole_chain(
    cluster: ApiServer, client: Client, ns: str
) -> None:
    d = await deployment(client, ns, "d")
    middle = await dependent(client, ns, "middle", owned_by(d))
    middle["apiVersion"], middle["kind"] = "v1", "ConfigMap"
    await dependent(client, ns, "leaf", owned_by(middle))
    await kubectl(cluster, "delete", "deployment", "d", "-n", ns)
    await eventually(lambda: gone(client, "v1", "configmaps", "middle", ns))
    await eventually(lambda: gone(client, "v1", "configmaps", "leaf", ns))


async def test_dependent_with_a_live_owner_survives(client: Client, ns: str) -> None:
    d = await deployment(client, ns, "d")
    alive = await client.create("v1", "configmaps", {"metadata": {"name": "alive"}}, ns)
    alive["apiVersion"], alive["kind"] = "v1", "ConfigMap"
    await dependent(client, ns, "two-owners", owned_by(d), owned_by(alive))
    await client.delete("apps/v1", "deployments", "d", ns)

    async def dangling_reference_dropped() -> bool:
        cm = await client.get("v1", "configmaps", "two-owners", ns)
        return [r["name"] for r in cm["metadata"]["ownerReferences"]] == ["alive"]

    await eventually(dangling_reference_dropped)


async def test_dependent_of_a_missing_owner_is_collected(client: Client, ns: str) -> None:
    ghost = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "never",
        "uid": str(uuid.uuid4()),
    }
    await dependent(client, ns, "orphaned", ghost)
    await eventually(lambda: gone(client, "v1", "configmaps", "orphaned", ns))


async def test_cluster_scoped_owner(client: Client, ns: str) -> None:
    owner = await client.create(
        "rbac.authorization.k8s.io/v1", "clusterroles", {"metadata": {"name": f"owner-{ns}"}}
    )
    await dependent(client, ns, "of-a-clusterrole", owned_by(owner))
    await client.delete("rbac.authorization.k8s.io/v1", "clusterroles", f"owner-{ns}")
    await eventually(lambda: gone(client, "v1", "configmaps", "of-a-clusterrole", ns))


# ---- namespace --------------------------------------------------------------------------


async def fill(client: Client, ns: str) -> None:
    await client.create("v1", "configmaps", {"metadata": {"name": "cm"}}, ns)
    await client.create("v1", "secrets", {"metadata": {"name": "s"}, "stringData": {"a": "b"}}, ns)
    await deployment(client, ns, "web")
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    await client.create("v1", "pods", pod, ns)


async def empty(client: Client, ns: str) -> bool:
    for api_version, resource in (
        ("v1", "configmaps"),
        ("v1", "secrets"),
        ("v1", "pods"),
        ("apps/v1", "deployments"),
    ):
        if (await client.list(api_version, resource, ns))["items"]:
            return False
    return True


async def test_namespace_deletion_removes_its_content(client: Client, ns: str) -> None:
    await fill(client, ns)
    await client.delete("v1", "namespaces", ns)
    await eventually(lambda: empty(client, ns))


async def test_namespace_reports_content_held_by_finalizers(client: Client, ns: str) -> None:
    body = {"metadata": {"name": "stuck", "finalizers": ["example.com/hold"]}}
    await client.create("v1", "configmaps", body, ns)
    await client.delete("v1", "namespaces", ns)

    async def reported() -> bool:
        conditions = (await client.get("v1", "namespaces", ns))["status"].get("conditions") or []
        by_type = {c["type"]: c for c in conditions}
        held = by_type.get("NamespaceFinalizersRemaining", {})
        return held.get("status") == "True"

    await eventually(reported)
    got = await client.get("v1", "namespaces", ns)
    by_type = {c["type"]: c for c in got["status"]["conditions"]}
    assert by_type["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert "configmaps. has 1 resource instances" in by_type["NamespaceContentRemaining"]["message"]
    assert by_type["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: "
        "example.com/hold in 1 resource instances"
    )
    assert by_type["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
    assert got["status"]["phase"] == "Terminating"
    await client.patch("v1", "configmaps", "stuck", {"metadata": {"finalizers": None}}, ns)
    await eventually(lambda: gone(client, "v1", "configmaps", "stuck", ns))


# Finalizing must be able to empty spec.finalizers: the server adds "kubernetes" on
# create only (its namespace strategy), never when defaulting an update.
async def test_deleted_namespace_disappears(cluster: ApiServer, client: Client, ns: str) -> None:
    await fill(client, ns)
    await kubectl(cluster, "delete", "namespace", ns, "--timeout=30s")
    assert await gone(client, "v1", "namespaces", ns)
    assert await empty(client, ns)
