"""When a deleted claim or volume may finally go: in-use checks and finalizer removal."""

from __future__ import annotations

from typing import Any

import pytest
from recording_client import RecordingClient, context

from tinykube.controllers.volumeprotection import (
    PV_FINALIZER,
    PVC_FINALIZER,
    PVCProtectionController,
    PVProtectionController,
    pod_uses_claim,
)

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
GONE = "2025-01-01T00:00:00Z"


def pod(node: str = "n1", phase: str = "Running", **volume: Any) -> Obj:
    return {
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"nodeName": node, "volumes": [{"name": "v", **volume}]},
        "status": {"phase": phase},
    }


@pytest.mark.parametrize(
    ("p", "used"),
    [
        (pod(persistentVolumeClaim={"claimName": "data"}), True),
        (pod(persistentVolumeClaim={"claimName": "other"}), False),
        (pod(node="", persistentVolumeClaim={"claimName": "data"}), False),
        (pod(phase="Succeeded", persistentVolumeClaim={"claimName": "data"}), True),
        (pod(ephemeral={"volumeClaimTemplate": {}}), False),
    ],
    ids=["uses", "other-claim", "unscheduled", "completed-pod-still-holds", "ephemeral-other"],
)
def test_pod_uses_claim(p: Obj, used: bool) -> None:
    assert pod_uses_claim(p, "data") is used


def test_ephemeral_claim_is_held_only_while_the_pod_runs() -> None:
    running = pod(ephemeral={"volumeClaimTemplate": {}})
    assert pod_uses_claim(running, "app-v")
    assert not pod_uses_claim(pod(phase="Failed", ephemeral={"volumeClaimTemplate": {}}), "app-v")


class Client(RecordingClient):
    def __init__(self, pods: list[Obj]) -> None:
        super().__init__()
        self.pods = pods
        self.updated: list[Obj] = []

    async def list(self, api_version: str, resource: str, namespace: str = "", **kw: Any) -> Obj:
        return {"items": [p for p in self.pods if p["metadata"]["namespace"] == namespace]}

    async def update(self, api_version: str, resource: str, obj: Obj, *a: Any, **kw: Any) -> Obj:
        self.updated.append(obj)
        return await super().update(api_version, resource, obj)


def deleting_claim() -> Obj:
    meta = {"name": "data", "namespace": "ns", "deletionTimestamp": GONE}
    return {"metadata": {**meta, "finalizers": [PVC_FINALIZER, "x/y"]}, "spec": {}}


@pytest.mark.parametrize(
    ("cached", "live", "released"),
    [([], [], True), ([], [pod(persistentVolumeClaim={"claimName": "data"})], False)],
    ids=["unused", "pod-not-yet-in-cache"],
)
async def test_claim_finalizer_goes_only_when_no_pod_uses_it(
    cached: list[Obj], live: list[Obj], released: bool
) -> None:
    ctx, _, _ = context()
    client = Client(live)
    ctx.client = client  # type: ignore[assignment]
    ctrl = PVCProtectionController(ctx)
    ctrl.claims.replace([deleting_claim()], "1")
    ctrl.pods.replace(cached, "1")
    await ctrl.reconcile("ns/data")
    if released:
        [update] = client.updated
        assert update["metadata"]["finalizers"] == ["x/y"]
    else:
        assert client.updated == []


@pytest.mark.parametrize(("phase", "released"), [("Bound", False), ("Released", True)])
async def test_volume_finalizer_goes_once_it_is_not_bound(phase: str, released: bool) -> None:
    ctx, _, _ = context()
    client = Client([])
    ctx.client = client  # type: ignore[assignment]
    ctrl = PVProtectionController(ctx)
    meta = {"name": "v", "deletionTimestamp": GONE, "finalizers": [PV_FINALIZER]}
    ctrl.volumes.replace([{"metadata": meta, "status": {"phase": phase}}], "1")
    await ctrl.reconcile("v")
    assert [u["metadata"]["finalizers"] for u in client.updated] == ([[]] if released else [])
