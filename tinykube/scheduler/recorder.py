"""Scheduler events through the events.k8s.io/v1 API, as kube-scheduler writes them.

kube-scheduler records with the new events library: ``reportingController``
is the scheduling profile's ``schedulerName`` (``default-scheduler``, or
``my-scheduler`` for a pod of a second profile: each upstream profile has a
recorder of its own, so ``kubectl describe pod`` names the scheduler that
placed it), an ``action`` (``Scheduling``, ``Binding``, ``Preempting``),
a ``reason`` (``FailedScheduling``, ``Scheduled``, ``Preempted``), the pod as
``regarding`` and the text as ``note``; ``kubectl get events`` and ``kubectl
describe pod`` show them like any other event.

A repeat of the same (pod, reason, note) becomes an ``EventSeries`` update
(``series.count``, ``series.lastObservedTime``) instead of a new object, so a
pod that stays unschedulable for an hour has one FailedScheduling event.
Recording never blocks a scheduling cycle: events go on a bounded queue that
``run`` drains; a full queue drops (and logs) the event.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tinykube.api import errors
from tinykube.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
EVENTS = ("events.k8s.io/v1", "events")
QUEUE_SIZE = 4096
MEMORY = 4096


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def reference(pod: Obj) -> Obj:
    meta = pod.get("metadata") or {}
    ref = {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {k: v for k, v in ref.items() if v}


class Recorder:
    """Posts events.k8s.io/v1 Events, by default as ``controller`` (``default-scheduler``)."""

    def __init__(self, client: Client, controller: str, instance: str = "") -> None:
        self.client = client
        self.controller = controller
        self.instance = instance
        self._queue: asyncio.Queue[tuple[Obj, str, str, str, str, str]] = asyncio.Queue(QUEUE_SIZE)
        self._posted: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()
        self.dropped = 0

    def event(
        self, pod: Obj, type_: str, reason: str, action: str, note: str, controller: str = ""
    ) -> None:
        """Queue an Event; ``controller`` (a profile's schedulerName) overrides the default."""
        try:
            self._queue.put_nowait(
                (pod, type_, reason, action, note, controller or self.controller)
            )
        except asyncio.QueueFull:
            # Under a burst the API server's write rate, not this queue, is the limit;
            # say so once per thousand drops rather than once per event.
            if self.dropped % 1000 == 0:
                log.warning("component=scheduler events queue full; %d dropped", self.dropped + 1)
            self.dropped += 1

    async def run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self.emit(*item)
            except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("component=scheduler event %s not recorded: %s", item[2], exc)

    async def drain(self) -> None:
        """Post everything queued now (tests and shutdown)."""
        while not self._queue.empty():
            item = self._queue.get_nowait()
            try:
                await self.emit(*item)
            except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("component=scheduler event %s not recorded: %s", item[2], exc)

    async def emit(
        self, pod: Obj, type_: str, reason: str, action: str, note: str, controller: str = ""
    ) -> Obj:
        controller = controller or self.controller
        ref = reference(pod)
        key = (
            controller,
            ref.get("uid", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            type_,
            reason,
            note,
        )
        posted = self._posted.get(key)
        if posted is not None:
            try:
                return await self._bump(key, *posted)
            except errors.NotFound:
                pass
        namespace = ref.get("namespace") or "default"
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "name": f"{ref.get('name', 'pod')}.{time.time_ns():x}",
                "namespace": namespace,
            },
            "eventTime": micro_time(),
            "reportingController": controller,
            "reportingInstance": self.instance or f"{controller}-{socket.gethostname()}",
            "action": action,
            "reason": reason,
            "regarding": ref,
            "note": note[:1024],
            "type": type_,
        }
        stored = await self.client.create(*EVENTS, body, namespace)
        self._remember(key, (namespace, stored["metadata"]["name"], 1))
        return stored

    async def _bump(self, key: tuple[str, ...], namespace: str, name: str, count: int) -> Obj:
        count += 1
        patch = {"series": {"count": count, "lastObservedTime": micro_time()}}
        stored = await self.client.patch(*EVENTS, name, patch, namespace)
        self._remember(key, (namespace, name, count))
        return stored

    def _remember(self, key: tuple[str, ...], value: tuple[str, str, int]) -> None:
        self._posted[key] = value
        self._posted.move_to_end(key)
        while len(self._posted) > MEMORY:
            self._posted.popitem(last=False)
