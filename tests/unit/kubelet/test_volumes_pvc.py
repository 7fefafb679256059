"""A persistentVolumeClaim volume is the bound PV's host path, and waits while unbound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.kubelet import volumes

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


class Client:
    """Answers GETs from a table of (resource, namespace, name) -> object."""

    def __init__(self, objects: dict[tuple[str, str, str], Obj]) -> None:
        self.objects = objects

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> Obj:
        try:
            return self.objects[(resource, namespace, name)]
        except KeyError:
            raise errors.not_found(resource, "", name) from None


def pod(read_only: bool = False) -> Obj:
    return {
        "metadata": {"name": "app", "namespace": "ns", "uid": "pod-uid"},
        "spec": {
            "volumes": [
                {
                    "name": "data",
                    "persistentVolumeClaim": {"claimName": "data", "readOnly": read_only},
                }
            ],
            "containers": [{"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        },
    }


def claim(phase: str = "Bound", volume: str = "pv-1", **meta: Any) -> Obj:
    return {
        "metadata": {"name": "data", "namespace": "ns", **meta},
        "spec": {"volumeName": volume} if volume else {},
        "status": {"phase": phase},
    }


def volume(path: Path, kind: str = "hostPath") -> Obj:
    source = (
        {"path": str(path), "type": "DirectoryOrCreate"}
        if kind == "hostPath"
        else {"path": str(path)}
    )
    return {"metadata": {"name": "pv-1"}, "spec": {kind: source}}


def manager(tmp_path: Path, objects: dict[tuple[str, str, str], Obj]) -> volumes.VolumeManager:
    return volumes.VolumeManager(Client(objects), tmp_path / "kubelet", {})


def write(path: Path, text: str) -> None:
    path.write_text(text)


def read(path: Path) -> str:
    return path.read_text()


async def test_bound_claim_mounts_the_volume_path_and_data_outlives_the_pod(tmp_path: Path) -> None:
    data = tmp_path / "volumes" / "pv-1"
    objects = {
        ("persistentvolumeclaims", "ns", "data"): claim(),
        ("persistentvolumes", "", "pv-1"): volume(data),
    }
    vm = manager(tmp_path, objects)
    paths = await vm.setup(pod(), privileged=False)
    assert paths["data"] == data
    mounts = volumes.container_mounts(pod()["spec"]["containers"][0], paths, {})
    assert [(m.host_path, m.container_path, m.read_only) for m in mounts] == [
        (data, "/data", False)
    ]
    write(data / "file", "kept")
    await vm.teardown("pod-uid")
    assert read(data / "file") == "kept"


async def test_read_only_claim_mounts_read_only(tmp_path: Path) -> None:
    data = tmp_path / "local"
    data.mkdir()
    objects = {
        ("persistentvolumeclaims", "ns", "data"): claim(),
        ("persistentvolumes", "", "pv-1"): volume(data, "local"),
    }
    paths = await manager(tmp_path, objects).setup(pod(read_only=True), privileged=False)
    mounts = volumes.container_mounts(pod()["spec"]["containers"][0], paths, {})
    assert mounts[0].read_only is True
    assert mounts[0].host_path == data


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        pytest.param(
            {},
            'error processing PVC ns/data: failed to fetch PVC from API server: persistentvolumeclaims "data" not found',
            id="missing",
        ),
        pytest.param(
            {("persistentvolumeclaims", "ns", "data"): claim("Pending", "")},
            "error processing PVC ns/data: PVC is not bound",
            id="unbound",
        ),
        pytest.param(
            {
                ("persistentvolumeclaims", "ns", "data"): claim(
                    deletionTimestamp="2025-01-01T00:00:00Z"
                )
            },
            "error processing PVC ns/data: can't start pod because PVC is being deleted",
            id="deleting",
        ),
        pytest.param(
            {("persistentvolumeclaims", "ns", "data"): claim()},
            'error processing PVC ns/data: failed to fetch PV "pv-1" from API server: persistentvolumes "pv-1" not found',
            id="volume-missing",
        ),
    ],
)
async def test_claim_not_ready_is_a_volume_error(
    tmp_path: Path, objects: dict, message: str
) -> None:
    with pytest.raises(volumes.VolumeError) as exc:
        await manager(tmp_path, objects).setup(pod(), privileged=False)
    assert str(exc.value) == message
