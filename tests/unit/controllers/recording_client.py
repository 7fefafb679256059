"""A client that records the writes a sync made, and informers filled by hand.

The fixture of sample-controller's ``controller_test.go`` in our terms: a
controller is built on a ``ControllerContext`` whose client records every
create/update/patch/delete (and can be told to fail creates), and whose
informers are filled directly through their ``replace``/``add``/``delete``
store methods, so a test decides exactly what the cache shows when
``reconcile`` runs. Nothing here opens a socket or starts a task.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from tinykube.client.clock import FakeClock
from tinykube.client.informers import InformerFactory
from tinykube.controllers.runtime import ControllerContext

Obj = dict[str, Any]


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.fail_creates: Exception | None = None
        self._seq = itertools.count(1)

    def _record(self, verb: str, resource: str, name: str) -> None:
        self.calls.append((verb, resource, name))

    def verbs(self, verb: str, resource: str) -> list[str]:
        return [name for v, r, name in self.calls if v == verb and r == resource]

    async def create(
        self, api_version: str, resource: str, obj: Obj, namespace: str = "", **kw: Any
    ) -> Obj:
        out = copy.deepcopy(obj)
        meta = out.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = f"{meta.get('generateName', 'x-')}{next(self._seq):05d}"
        self._record("create", resource, meta["name"])
        if self.fail_creates is not None:
            raise self.fail_creates
        meta.update(
            namespace=namespace or meta.get("namespace"),
            uid=f"uid-{meta['name']}",
            resourceVersion="1",
        )
        return out

    async def update(self, api_version: str, resource: str, obj: Obj, *args: Any, **kw: Any) -> Obj:
        self._record("update", resource, obj["metadata"]["name"])
        return copy.deepcopy(obj)

    async def update_status(self, api_version: str, resource: str, obj: Obj, **kw: Any) -> Obj:
        self._record("update_status", resource, obj["metadata"]["name"])
        self.last_status = copy.deepcopy(obj.get("status"))
        return copy.deepcopy(obj)

    async def patch(
        self, api_version: str, resource: str, name: str, body: Any, namespace: str = "", **kw: Any
    ) -> Obj:
        self._record("patch", resource, name)
        return {"metadata": {"name": name, "namespace": namespace}}

    async def delete(
        self, api_version: str, resource: str, name: str, namespace: str = "", **kw: Any
    ) -> Obj:
        self._record("delete", resource, name)
        return {}

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> Obj:
        raise AssertionError(f"unexpected GET {resource}/{name}")


def context() -> tuple[ControllerContext, RecordingClient, FakeClock]:
    client = RecordingClient()
    clock = FakeClock()
    factory = InformerFactory(client, clock=clock)  # type: ignore[arg-type]
    return ControllerContext(client, factory, clock=clock), client, clock  # type: ignore[arg-type]
