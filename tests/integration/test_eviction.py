"""``pods/<name>/eviction`` against a bare API server, with budget statuses the test writes.

No disruption controller runs here, so each test sets the PodDisruptionBudget
status it needs and checks exactly what one eviction does with it: the
decrement and the ``disruptedPods`` entry written together, upstream's 429s
(and their causes and Retry-After), unhealthyPodEvictionPolicy for pods that
are not Ready, pods no budget is asked about, dry runs, and the 500 for a pod
under two budgets.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cluster import ApiServer

from tinykube.api import errors
from tinykube.client import Client

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(apiserver.kubeconfig) as c:
        yield c


@pytest.fixture
async def ns(client: Client) -> str:
    name = f"evict-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": name}})
    return name


async def make_pod(
    client: Client, ns: str, name: str, phase: str = "Running", ready: bool = True
) -> None:
    pod = {
        "metadata": {"name": name, "labels": {"app": "web"}},
        # bound to a node no kubelet serves, so a deletion stays graceful and visible
        "spec": {"nodeName": "absent", "containers": [{"name": "app", "image": "busybox"}]},
    }
    await client.create("v1", "pods", pod, ns)
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    await client.patch_status("v1", "pods", name, {"status": {"phase": phase,
                              "conditions": [condition]}}, ns)  # fmt: skip


async def make_budget(
    client: Client, ns: str, status: Obj, name: str = "web", policy: str | None = None
) -> None:
    spec: Obj = {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}
    if policy is not None:
        spec["unhealthyPodEvictionPolicy"] = policy
    await client.create("policy/v1", "poddisruptionbudgets", {"metadata": {"name": name},
                        "spec": spec}, ns)  # fmt: skip
    await client.patch_status("policy/v1", "poddisruptionbudgets", name, {"status": status}, ns)


def counts(allowed: int, current: int, desired: int = 2, generation: int = 1) -> Obj:
    return {"observedGeneration": generation, "disruptionsAllowed": allowed,
            "currentHealthy": current, "desiredHealthy": desired, "expectedPods": 3}  # fmt: skip


async def evict(client: Client, ns: str, pod: str, dry_run: bool = False) -> Obj:
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction",
                 "metadata": {"name": pod, "namespace": ns}}  # fmt: skip
    if dry_run:
        body["deleteOptions"] = {"dryRun": ["All"]}
    return await client.create_subresource("v1", "pods", pod, "eviction", body, ns)


async def budget_status(client: Client, ns: str) -> Obj:
    return (await client.get("policy/v1", "poddisruptionbudgets", "web", ns))["status"]


async def gone(client: Client, ns: str, pod: str) -> bool:
    """Deleted, or (bound to a node) being deleted."""
    try:
        live = await client.get("v1", "pods", pod, ns)
    except errors.NotFound:
        return True
    return bool(live["metadata"].get("deletionTimestamp"))


async def test_eviction_spends_a_disruption_and_records_the_pod(client: Client, ns: str) -> None:
    await make_pod(client, ns, "a")
    await make_pod(client, ns, "b")
    await make_budget(client, ns, counts(allowed=1, current=3))
    await evict(client, ns, "a")
    assert await gone(client, ns, "a")
    conditions = (await client.get("v1", "pods", "a", ns))["status"]["conditions"]
    target = next(c for c in conditions if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == (
        "True",
        "EvictionByEvictionAPI",
        "Eviction API: evicting",
    )
    status = await budget_status(client, ns)
    assert status["disruptionsAllowed"] == 0
    assert list(status["disruptedPods"]) == ["a"]
    (cond,) = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed",
        "False",
        "InsufficientPods",
    )
    with pytest.raises(errors.TooManyRequests) as refused:
        await evict(client, ns, "b")
    assert refused.value.message == REFUSED
    (cause,) = refused.value.causes
    assert (cause.reason, cause.message) == (
        "DisruptionBudget",
        "The disruption budget web needs 2 healthy pods and has 3 currently",
    )
    assert refused.value.retry_after is None
    assert not await gone(client, ns, "b")


async def test_unobserved_generation_is_still_being_processed(client: Client, ns: str) -> None:
    await make_pod(client, ns, "a")
    await make_budget(client, ns, counts(allowed=1, current=3, generation=0))
    with pytest.raises(errors.TooManyRequests) as refused:
        await evict(client, ns, "a")
    (cause,) = refused.value.causes
    assert cause.message == "The disruption budget web is still being processed by the server."
    assert refused.value.retry_after == 10


async def test_unready_pod_is_free_while_the_budget_is_met(client: Client, ns: str) -> None:
    await make_pod(client, ns, "sick", ready=False)
    await make_budget(client, ns, counts(allowed=0, current=2))
    await evict(client, ns, "sick")
    assert await gone(client, ns, "sick")
    status = await budget_status(client, ns)
    assert status["disruptionsAllowed"] == 0
    assert "disruptedPods" not in status


@pytest.mark.parametrize(
    ("policy", "evicted"), [(None, False), ("IfHealthyBudget", False), ("AlwaysAllow", True)]
)
async def test_unready_pod_under_a_broken_budget(
    client: Client, ns: str, policy: str | None, evicted: bool
) -> None:
    await make_pod(client, ns, "sick", ready=False)
    await make_budget(client, ns, counts(allowed=0, current=1), policy=policy)
    if evicted:
        await evict(client, ns, "sick")
    else:
        with pytest.raises(errors.TooManyRequests):
            await evict(client, ns, "sick")
    assert await gone(client, ns, "sick") is evicted


async def test_pending_pod_needs_no_budget(client: Client, ns: str) -> None:
    await make_pod(client, ns, "new", phase="Pending", ready=False)
    await make_budget(client, ns, counts(allowed=0, current=1))
    await evict(client, ns, "new")
    assert await gone(client, ns, "new")


async def test_dry_run_changes_nothing(client: Client, ns: str) -> None:
    await make_pod(client, ns, "a")
    await make_budget(client, ns, counts(allowed=1, current=3))
    await evict(client, ns, "a", dry_run=True)
    assert not await gone(client, ns, "a")
    conditions = (await client.get("v1", "pods", "a", ns))["status"]["conditions"]
    assert [c["type"] for c in conditions] == ["Ready"]
    status = await budget_status(client, ns)
    assert status["disruptionsAllowed"] == 1
    assert "disruptedPods" not in status


async def test_two_budgets_are_not_supported(client: Client, ns: str) -> None:
    await make_pod(client, ns, "a")
    await make_budget(client, ns, counts(allowed=1, current=3))
    await make_budget(client, ns, counts(allowed=1, current=3), name="other")
    with pytest.raises(errors.APIError) as failed:
        await evict(client, ns, "a")
    assert failed.value.code == 500
    assert failed.value.message == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource "
        "does not support."
    )
    assert not await gone(client, ns, "a")


async def test_name_must_match_the_url(client: Client, ns: str) -> None:
    await make_pod(client, ns, "a")
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "b"}}
    with pytest.raises(errors.BadRequest, match="name in URL does not match"):
        await client.create_subresource("v1", "pods", "a", "eviction", body, ns)
