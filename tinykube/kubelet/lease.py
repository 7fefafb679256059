"""The node heartbeat: a Lease in ``kube-node-lease`` renewed every 10 seconds.

Since Kubernetes 1.17 the node lifecycle controller judges a node alive by
its Lease (``holderIdentity`` = node name, ``leaseDurationSeconds`` 40,
``renewTime`` as a MicroTime), which is far cheaper to write than the whole
NodeStatus. The Lease is owned by the Node, so it goes when the Node goes.
Renewal is a PUT of the last Lease we saw; a Conflict means someone else
wrote it, so we read it again and retry on the next tick; NotFound creates it, owned by the Node as it is now: a Node deleted behind
the kubelet's back (which does not register it again) leaves a Lease without
owner, as upstream's lease controller makes it, rather than one the garbage
collector removes again at every renewal.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tinykube.api import errors

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACE = "kube-node-lease"
DURATION_SECONDS = 40
RENEW_INTERVAL = 10.0


def micro_time(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_lease(node: Obj, owned: bool = True) -> Obj:
    name = node["metadata"]["name"]
    metadata: Obj = {"name": name, "namespace": NAMESPACE}
    if owned:
        owner = {"apiVersion": "v1", "kind": "Node", "name": name}
        metadata["ownerReferences"] = [{**owner, "uid": node["metadata"].get("uid", "")}]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": DURATION_SECONDS,
            "renewTime": micro_time(),
        },
    }


class LeaseRenewer:
    """Keeps one node's Lease fresh until cancelled."""

    def __init__(self, client: Any, node: Obj, interval: float = RENEW_INTERVAL) -> None:
        self.client = client
        self.node = node
        self.interval = interval
        self._lease: Obj | None = None

    async def renew(self) -> Obj:
        """One renewal (create when missing)."""
        name = self.node["metadata"]["name"]
        if self._lease is None:
            try:
                self._lease = await self.client.get(
                    "coordination.k8s.io/v1", "leases", name, NAMESPACE
                )
            except errors.NotFound:
                self._lease = await self.client.create(
                    "coordination.k8s.io/v1", "leases", await self._new_lease(), NAMESPACE
                )
                return self._lease
        lease = dict(self._lease)
        lease["spec"] = {
            **(lease.get("spec") or {}),
            "holderIdentity": name,
            "leaseDurationSeconds": DURATION_SECONDS,
            "renewTime": micro_time(),
        }
        try:
            self._lease = await self.client.update("coordination.k8s.io/v1", "leases", lease)
        except (errors.Conflict, errors.NotFound):
            self._lease = None
            raise
        return self._lease

    async def _new_lease(self) -> Obj:
        try:
            self.node = await self.client.get("v1", "nodes", self.node["metadata"]["name"])
        except errors.NotFound:
            return new_lease(self.node, owned=False)
        return new_lease(self.node)

    async def run(self) -> None:
        while True:
            try:
                await self.renew()
            except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("node=%s lease renewal failed: %s", self.node["metadata"]["name"], exc)
            await asyncio.sleep(self.interval)
