"""The ``tinykube.io/hostpath`` provisioner: a directory on the host per claim.

Every tinykube node runs on one host, so a directory there serves a pod on
any node: this is what kind's ``standard`` class and k3s' ``local-path``
class do for a single machine. For a claim whose StorageClass names this
provisioner, the PV controller asks ``provision`` for a volume: a PV named
``pvc-<claim uid>`` whose ``hostPath`` is
``<--hostpath-provisioner-dir>/pvc-<uid>_<namespace>_<name>`` (k3s' naming,
so an operator can tell whose data a directory holds), sized and moded as
the claim asks, with the class's reclaim policy and mount options, and
``claimRef`` already naming the claim so the binder pairs exactly these two.

``delete`` removes the directory of a released volume with the Delete policy.
It refuses a path outside its own directory: a PV is user-editable, and a
reclaim must never become ``rm -rf`` of something else.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from tinykube.controllers import pvmatch

Obj = dict[str, Any]

NAME = "tinykube.io/hostpath"
DEFAULT_DIR = "/var/lib/tinykube/volumes"
FLAG = "hostpath-provisioner-dir"


class ProvisionerError(Exception):
    """The volume could not be created or removed; the message goes into an Event."""


class HostPathProvisioner:
    """Creates and deletes hostPath volumes under one root directory."""

    name = NAME

    def __init__(self, root: str | Path = DEFAULT_DIR) -> None:
        self.root = Path(os.path.abspath(root))

    def directory_for(self, pvc: Obj) -> Path:
        meta = pvc.get("metadata") or {}
        leaf = f"pvc-{meta.get('uid', '')}_{meta.get('namespace', '')}_{meta.get('name', '')}"
        return self.root / leaf

    def volume_for(self, pvc: Obj, sc: Obj) -> Obj:
        """The PV for ``pvc`` from class ``sc`` (pure: no directory is made)."""
        spec = pvc.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
        pv_spec: Obj = {
            "capacity": {"storage": storage},
            "accessModes": list(spec.get("accessModes") or []),
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": (sc.get("metadata") or {}).get("name", ""),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": str(self.directory_for(pvc)), "type": "DirectoryOrCreate"},
            "claimRef": pvmatch.claim_ref(pvc),
        }
        if sc.get("mountOptions"):
            pv_spec["mountOptions"] = list(sc["mountOptions"])
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": f"pvc-{(pvc.get('metadata') or {}).get('uid', '')}",
                "annotations": {
                    pvmatch.ANN_PROVISIONED_BY: NAME,
                    pvmatch.ANN_BOUND_BY_CONTROLLER: "yes",
                },
            },
            "spec": pv_spec,
        }

    async def provision(self, pvc: Obj, sc: Obj) -> Obj:
        """Make the claim's directory (world-writable, as local-path does) and its PV."""
        if (pvc.get("spec") or {}).get("volumeMode") == "Block":
            raise ProvisionerError(f"{NAME} does not support block volumes")
        volume = self.volume_for(pvc, sc)
        path = Path(volume["spec"]["hostPath"]["path"])
        try:
            await asyncio.to_thread(_make_directory, path)
        except OSError as exc:
            raise ProvisionerError(f"failed to create volume directory {path}: {exc}") from exc
        return volume

    def owns(self, pv: Obj) -> bool:
        """Was ``pv`` made by this provisioner, under its own directory?"""
        if pvmatch.annotations(pv).get(pvmatch.ANN_PROVISIONED_BY) != NAME:
            return False
        path = ((pv.get("spec") or {}).get("hostPath") or {}).get("path", "")
        return self._inside(path)

    def _inside(self, path: str) -> bool:
        if not path:
            return False
        resolved = Path(os.path.abspath(path))
        return resolved != self.root and self.root in resolved.parents

    async def delete(self, pv: Obj) -> None:
        """Remove the volume's directory (gone already is fine)."""
        path = ((pv.get("spec") or {}).get("hostPath") or {}).get("path", "")
        if not self._inside(path):
            raise ProvisionerError(f"volume path {path!r} is not under {self.root}")
        try:
            await asyncio.to_thread(_remove_directory, Path(path))
        except OSError as exc:
            raise ProvisionerError(f"failed to delete volume directory {path}: {exc}") from exc


def _make_directory(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)


def _remove_directory(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
