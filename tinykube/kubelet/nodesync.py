"""The kubelet's Node: registered once per start, then its status kept current.

``NodeSync.run`` retries registration until an API server answers (a
control-plane kubelet runs that API server itself, as a static pod), records
the start-up Events on the Node (``nodeevents.py``), then runs the Lease
heartbeat (``lease.py``) and the status pass every 10 s side by side.

Each status pass reads the Node as the API server has it, computes the status
(``nodestatus.py``), records an Event for every condition whose status moved
and for a cordon or uncordon seen since the last pass, and writes the status
when it changed (or every 5 minutes). Reading the server's copy, not our own,
is what upstream does: after a partition the node lifecycle controller has set
Ready to Unknown, and the next pass puts it back at once (and says NodeReady).

Registration happens once, as upstream's ``registrationCompleted`` makes it:
a Node deleted while the kubelet runs is not created again; each pass fails
(and the kubelet forgets the Node, so no mirror pod is made owned by it) until
the kubelet restarts or someone creates the Node again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from tinykube.api import errors
from tinykube.client.backoff import Backoff
from tinykube.kubelet import lease, nodeevents, nodestatus

if TYPE_CHECKING:
    from tinykube.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

Obj = dict[str, Any]

STATUS_INTERVAL = 10.0
TRANSIENT = (errors.APIError, aiohttp.ClientError, OSError, TimeoutError)


class NodeSync:
    """Registration, start-up events, Lease and status passes for one kubelet."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.client = kubelet.client
        self.name = kubelet.node_name
        self.schedulable = nodeevents.SchedulableWatch()

    async def run(self) -> None:
        retry = Backoff(initial=0.5, cap=10)
        while True:
            try:
                node = await self.register()
                break
            except TRANSIENT as exc:
                log.info("node=%s registration failed, retrying: %s", self.name, exc)
                await retry.sleep()
        self.kubelet.node = node
        self.record_startup_events(node)
        await self.kubelet.adopt_pod_cidr(node)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(lease.LeaseRenewer(self.client, node).run())
            tg.create_task(self.status_loop())

    async def register(self) -> Obj:
        """POST the Node; if it exists already, bring its labels and status up to date."""
        facts = await asyncio.to_thread(nodestatus.host_facts, self.kubelet.config.root_dir)
        self.kubelet.allocatable.update(nodestatus.capacity(facts))
        node = nodestatus.build_node(self.kubelet.node_config(), facts, time.time())
        try:
            created: Obj = await self.client.create("v1", "nodes", node)
            log.info("node=%s registered", self.name)
            return created
        except errors.AlreadyExists:
            pass
        patch = {"metadata": {"labels": node["metadata"]["labels"]}}
        await self.client.patch("v1", "nodes", self.name, patch)
        existing: Obj = await self.client.patch_status(
            "v1", "nodes", self.name, {"status": node["status"]}
        )
        log.info("node=%s registered (existing Node updated)", self.name)
        return existing

    def event(self, reason: str, message: str = "") -> None:
        """A Normal Event on this Node; the message defaults to ``status is now: <reason>``."""
        text = message or nodeevents.status_message(self.name, reason)
        self.kubelet.recorder.event(nodeevents.node_ref(self.name), "Normal", reason, text)

    def record_startup_events(self, node: Obj) -> None:
        """Recorded once registered, not at start: before that there may be no API server
        to take them (upstream's recorder retries for a while; this one does not)."""
        self.event(nodeevents.STARTING, nodeevents.STARTING_MESSAGE)
        conditions = (node.get("status") or {}).get("conditions") or []
        for reason in nodeevents.condition_events([], conditions):
            self.event(reason)
        self.event(nodeevents.ALLOCATABLE_ENFORCED, nodeevents.ALLOCATABLE_ENFORCED_MESSAGE)

    async def status_loop(self) -> None:
        reported = time.monotonic()
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            try:
                reported = await self.sync_status(reported)
            except errors.NotFound:
                self.kubelet.node = None
                log.warning("node=%s status update failed: node %r not found", self.name, self.name)
            except TRANSIENT as exc:
                log.warning("node=%s status update failed: %s", self.name, exc)

    async def sync_status(self, reported: float) -> float:
        """One status pass; returns when the status was last written (monotonic)."""
        current = await self.client.get("v1", "nodes", self.name)
        last: Obj = current.get("status") or {}
        facts = await asyncio.to_thread(nodestatus.host_facts, self.kubelet.config.root_dir)
        new = nodestatus.node_status(self.kubelet.node_config(), facts, last, time.time())
        for reason in nodeevents.condition_events(last.get("conditions") or [], new["conditions"]):
            self.event(reason)
        changed = self.schedulable.observe(current)
        if changed is not None:
            self.event(changed)
        due = time.monotonic() - reported >= nodestatus.REPORT_FREQUENCY
        if due or nodestatus.status_changed(last, new):
            current = await self.client.patch_status("v1", "nodes", self.name, {"status": new})
            reported = time.monotonic()
        self.kubelet.node = current
        await self.kubelet.adopt_pod_cidr(current)
        return reported
