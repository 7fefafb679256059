"""Host-side ``ip`` commands of pods that start together run as one batch, failures apart.

Only read-only commands (``link show``), so the test changes nothing on the host.
"""

from __future__ import annotations

import asyncio

import pytest

from tinykube.kubelet.runtime.interface import RuntimeError_
from tinykube.kubelet.runtime.proc_host import IpBatch

pytestmark = pytest.mark.integration


async def test_pods_that_arrive_together_share_a_batch_and_only_the_failed_one_fails() -> None:
    batch = IpBatch()
    results = await asyncio.gather(
        batch.run(["link show dev lo"]),
        batch.run(["link show dev lo", "link show dev tk-no-such-link"]),
        batch.run(["link show dev lo"]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuntimeError_)
    assert "tk-no-such-link" in str(results[1])
    assert results[1].reason == "CreatePodSandboxError"


async def test_unchecked_commands_ignore_failures() -> None:
    await IpBatch().run(["link show dev tk-no-such-link"], check=False)


async def test_a_pod_arriving_during_a_batch_gets_its_own_result() -> None:
    batch = IpBatch()
    first = asyncio.ensure_future(batch.run(["link show dev lo"]))
    await asyncio.sleep(0.01)  # the first batch has started (its ip may still run)
    second = batch.run(["link show dev tk-no-such-link"])
    with pytest.raises(RuntimeError_, match="tk-no-such-link"):
        await second
    await first
