"""The PV controller against a real API server: binding, provisioning, reclaiming.

A ``tinykube apiserver`` process runs over SQLite; the PV controller (and the
PVC/PV protection controllers) run in this process on the real client and informers, as the controller manager
runs it, with its provisioner directory in the test's temporary directory.
``kubectl`` is the real binary, so ``get pv,pvc`` is checked as users see it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cluster import ApiServer, run_kubectl

from tinykube.api import errors
from tinykube.client import Client
from tinykube.client.informers import InformerFactory
from tinykube.controllers import persistentvolume, volumeprotection
from tinykube.controllers.runtime import ControllerContext

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

Obj = dict[str, Any]
NS = "default"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    api = ApiServer(tmp_path_factory.mktemp("storage"))
    api.start()
    try:
        yield api
    finally:
        api.stop()


@contextlib.asynccontextmanager
async def binder(server: ApiServer, volumes_dir: Path) -> AsyncIterator[Client]:
    client = await Client.from_kubeconfig(server.kubeconfig)
    factory = InformerFactory(client)
    ctx = ControllerContext(client, factory, options={"hostpath-provisioner-dir": str(volumes_dir)})
    controllers = [
        persistentvolume.new(ctx),
        volumeprotection.new_pvc_protection(ctx),
        volumeprotection.new_pv_protection(ctx),
    ]
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(factory.run()),
                *(tg.create_task(c.run()) for c in controllers),
                *(tg.create_task(r.run()) for r in ctx.recorders),
            ]
            try:
                yield client
            finally:
                for task in tasks:
                    task.cancel()
    finally:
        await client.close()


async def eventually(check: Callable[[], Any], within: float = 30.0) -> Any:
    last: Any = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while True:
                last = await check()
                if last:
                    return last
                await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met in {within}s; last value: {last!r}")


def volume(name: str, size: str, policy: str = "Retain", sc: str = "") -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": sc,
            "hostPath": {"path": f"/tmp/{name}"},
        },
    }


def claim(name: str, size: str, sc: str | None = "") -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if sc is not None:
        spec["storageClassName"] = sc
    return {"metadata": {"name": name}, "spec": spec}


async def phase_of(client: Client, resource: str, name: str, want: str) -> Obj | None:
    try:
        obj = await client.get("v1", resource, name, NS if resource.endswith("claims") else "")
    except errors.NotFound:
        return None
    return obj if (obj.get("status") or {}).get("phase") == want else None


async def gone(client: Client, resource: str, name: str) -> bool:
    try:
        await client.get("v1", resource, name)
    except errors.NotFound:
        return True
    return False


async def kubectl(server: ApiServer, *args: str) -> str:
    result = await asyncio.to_thread(run_kubectl, server, *args, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def is_dir(path: Path) -> bool:
    return path.is_dir()


async def test_claim_binds_smallest_volume_and_release_keeps_a_retained_one(
    server: ApiServer, tmp_path: Path
) -> None:
    async with binder(server, tmp_path / "volumes") as client:
        await client.create("v1", "persistentvolumes", volume("pv-large", "10Gi"))
        await client.create("v1", "persistentvolumes", volume("pv-small", "2Gi"))
        await client.create("v1", "persistentvolumeclaims", claim("data", "1Gi"), NS)
        pvc = await eventually(lambda: phase_of(client, "persistentvolumeclaims", "data", "Bound"))
        assert pvc["spec"]["volumeName"] == "pv-small"
        assert pvc["status"]["capacity"] == {"storage": "2Gi"}
        annotations = pvc["metadata"]["annotations"]
        assert annotations["pv.kubernetes.io/bind-completed"] == "yes"
        assert annotations["pv.kubernetes.io/bound-by-controller"] == "yes"
        pv = await eventually(lambda: phase_of(client, "persistentvolumes", "pv-small", "Bound"))
        assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
        large = await client.get("v1", "persistentvolumes", "pv-large")
        assert large["status"]["phase"] == "Available"

        lines = (await kubectl(server, "get", "pv", "pv-small")).splitlines()
        assert lines[0].split() == [
            "NAME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "RECLAIM",
            "POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE",
        ]
        assert lines[1].split()[:7] == [
            "pv-small",
            "2Gi",
            "RWO",
            "Retain",
            "Bound",
            "default/data",
            "<unset>",
        ]
        lines = (await kubectl(server, "get", "pvc", "data", "-n", NS)).splitlines()
        assert lines[0].split() == [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
        ]
        assert lines[1].split()[:6] == ["data", "Bound", "pv-small", "2Gi", "RWO", "<unset>"]

        await client.delete("v1", "persistentvolumeclaims", "data", NS)
        pv = await eventually(lambda: phase_of(client, "persistentvolumes", "pv-small", "Released"))
        assert pv["spec"]["claimRef"]["name"] == "data"
        # A new claim of the same name does not get the released volume back.
        await client.create("v1", "persistentvolumeclaims", claim("data", "1Gi"), NS)
        again = await eventually(
            lambda: phase_of(client, "persistentvolumeclaims", "data", "Bound")
        )
        assert again["spec"]["volumeName"] == "pv-large"
        await client.delete("v1", "persistentvolumeclaims", "data", NS)


async def test_storage_class_provisions_and_delete_policy_removes_the_volume(
    server: ApiServer, tmp_path: Path
) -> None:
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "it-hostpath"},
        "provisioner": "tinykube.io/hostpath",
        "reclaimPolicy": "Delete",
    }
    async with binder(server, tmp_path / "volumes") as client:
        await client.create("storage.k8s.io/v1", "storageclasses", sc)
        created = await client.create(
            "v1", "persistentvolumeclaims", claim("dyn", "3Gi", "it-hostpath"), NS
        )
        pvc = await eventually(lambda: phase_of(client, "persistentvolumeclaims", "dyn", "Bound"))
        name = f"pvc-{created['metadata']['uid']}"
        assert pvc["spec"]["volumeName"] == name
        pv = await client.get("v1", "persistentvolumes", name)
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
        assert pv["spec"]["storageClassName"] == "it-hostpath"
        assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == (
            "tinykube.io/hostpath"
        )
        directory = Path(pv["spec"]["hostPath"]["path"])
        assert directory.parent == tmp_path / "volumes"
        assert is_dir(directory)
        events = (await client.list("v1", "events", NS))["items"]
        assert any(
            e["reason"] == "ProvisioningSucceeded" and e["involvedObject"]["name"] == "dyn"
            for e in events
        )

        await client.delete("v1", "persistentvolumeclaims", "dyn", NS)
        await eventually(lambda: gone(client, "persistentvolumes", name))
        assert not is_dir(directory)
        await client.delete("storage.k8s.io/v1", "storageclasses", "it-hostpath")


async def test_claim_with_no_class_and_no_volume_waits(server: ApiServer, tmp_path: Path) -> None:
    async with binder(server, tmp_path / "volumes") as client:
        await client.create("v1", "persistentvolumeclaims", claim("lonely", "50Gi"), NS)

        async def failed_binding() -> Obj | None:
            events = (await client.list("v1", "events", NS))["items"]
            return next(
                (
                    e
                    for e in events
                    if e["involvedObject"]["name"] == "lonely" and e["reason"] == "FailedBinding"
                ),
                None,
            )

        event = await eventually(failed_binding)
        assert event["message"] == (
            "no persistent volumes available for this claim and no storage class is set"
        )
        assert event["source"]["component"] == "persistentvolume-controller"
        pvc = await client.get("v1", "persistentvolumeclaims", "lonely", NS)
        assert pvc["status"]["phase"] == "Pending"
        await client.delete("v1", "persistentvolumeclaims", "lonely", NS)


async def test_default_class_is_filled_in_and_provisions(server: ApiServer, tmp_path: Path) -> None:
    sc = {
        "metadata": {
            "name": "it-default",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "tinykube.io/hostpath",
    }
    async with binder(server, tmp_path / "volumes") as client:
        await client.create("storage.k8s.io/v1", "storageclasses", sc)
        try:
            made = await client.create(
                "v1", "persistentvolumeclaims", claim("auto", "1Gi", None), NS
            )
            assert made["spec"]["storageClassName"] == "it-default"
            explicit = await client.create(
                "v1", "persistentvolumeclaims", claim("none", "1Gi", ""), NS
            )
            assert explicit["spec"]["storageClassName"] == ""
            pvc = await eventually(
                lambda: phase_of(client, "persistentvolumeclaims", "auto", "Bound")
            )
            assert pvc["spec"]["volumeName"] == f"pvc-{made['metadata']['uid']}"
            for name in ("auto", "none"):
                await client.delete("v1", "persistentvolumeclaims", name, NS)
        finally:
            await client.delete("storage.k8s.io/v1", "storageclasses", "it-default")


async def test_claim_in_use_stays_terminating_until_its_pod_goes(
    server: ApiServer, tmp_path: Path
) -> None:
    async with binder(server, tmp_path / "volumes") as client:
        await client.create("v1", "persistentvolumes", volume("pv-guarded", "1Gi"))
        await client.create("v1", "persistentvolumeclaims", claim("guarded", "1Gi"), NS)
        pvc = await eventually(
            lambda: phase_of(client, "persistentvolumeclaims", "guarded", "Bound")
        )
        assert "kubernetes.io/pvc-protection" in pvc["metadata"]["finalizers"]
        pod = {
            "metadata": {"name": "uses-guarded"},
            "spec": {
                "nodeName": "somewhere",
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "guarded"}}],
            },
        }
        await client.create("v1", "pods", pod, NS)
        await client.delete("v1", "persistentvolumeclaims", "guarded", NS)
        await asyncio.sleep(1.0)  # give the protection controller every chance to act wrongly
        held = await client.get("v1", "persistentvolumeclaims", "guarded", NS)
        assert held["metadata"]["deletionTimestamp"]
        pv = await client.get("v1", "persistentvolumes", "pv-guarded")
        assert pv["status"]["phase"] == "Bound"

        await client.delete("v1", "pods", "uses-guarded", NS, grace_period_seconds=0)
        await eventually(lambda: gone_claim(client, "guarded"))
        await eventually(lambda: phase_of(client, "persistentvolumes", "pv-guarded", "Released"))
        # A Released volume has no user left: deleting it finishes at once.
        await client.delete("v1", "persistentvolumes", "pv-guarded")
        await eventually(lambda: gone(client, "persistentvolumes", "pv-guarded"))


async def gone_claim(client: Client, name: str) -> bool:
    try:
        await client.get("v1", "persistentvolumeclaims", name, NS)
    except errors.NotFound:
        return True
    return False
