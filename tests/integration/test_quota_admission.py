"""ResourceQuota admission against a bare API server, with quota statuses the test writes.

No resourcequota controller runs here, so ``status.used`` moves only by what
admission charges: concurrent creates racing for the last units of a quota
cannot overrun it, a dry run is checked but not charged, and a quota whose
usage is not known yet refuses what it tracks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cluster import ApiServer

from tinykube.api import errors
from tinykube.client import Client

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(apiserver.kubeconfig) as c:
        yield c


@pytest.fixture
async def ns(client: Client) -> str:
    name = f"quota-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": name}})
    return name


async def make_quota(client: Client, ns: str, hard: Obj, used: Obj | None) -> None:
    created = await client.create("v1", "resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": hard}}, ns)  # fmt: skip
    status: Obj = {"hard": hard}
    if used is not None:
        status["used"] = used
    await client.update_status("v1", "resourcequotas", dict(created, status=status))


def a_pod(name: str) -> Obj:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def used(client: Client, ns: str) -> Obj:
    return (await client.get("v1", "resourcequotas", "q", ns))["status"]["used"]


async def test_racing_creates_cannot_overrun_the_quota(client: Client, ns: str) -> None:
    await make_quota(client, ns, {"pods": "3"}, {"pods": "0"})
    results = await asyncio.gather(
        *(client.create("v1", "pods", a_pod(f"p{i}"), ns) for i in range(8)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, errors.Forbidden)]
    assert len(refused) == 5, results
    assert all("exceeded quota: q, requested: pods=1, used: pods=3" in r.message for r in refused)
    assert await used(client, ns) == {"pods": "3"}


async def test_dry_run_is_checked_but_not_charged(client: Client, ns: str) -> None:
    await make_quota(client, ns, {"pods": "1", "count/configmaps": "5"}, {"pods": "1", "count/configmaps": "0"})  # fmt: skip
    with pytest.raises(errors.Forbidden):
        await client.create("v1", "pods", a_pod("x"), ns, dry_run=True)
    await client.create("v1", "configmaps", {"metadata": {"name": "c"}}, ns, dry_run=True)
    assert await used(client, ns) == {"pods": "1", "count/configmaps": "0"}
    await client.create("v1", "configmaps", {"metadata": {"name": "c"}}, ns)
    assert await used(client, ns) == {"pods": "1", "count/configmaps": "1"}


async def test_unknown_usage_refuses_what_the_quota_tracks(client: Client, ns: str) -> None:
    await make_quota(client, ns, {"pods": "10"}, None)
    with pytest.raises(errors.Forbidden) as caught:
        await client.create("v1", "pods", a_pod("x"), ns)
    assert caught.value.message == (
        'pods "x" is forbidden: status unknown for quota: q, resources: pods'
    )
    await client.create("v1", "secrets", {"metadata": {"name": "s"}}, ns)
