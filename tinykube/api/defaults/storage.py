"""Defaults for ``storage.k8s.io/v1``: StorageClass reclaim and binding modes."""

from __future__ import annotations

from typing import Any


def default_storage_class(sc: dict[str, Any]) -> None:
    sc.setdefault("reclaimPolicy", "Delete")
    sc.setdefault("volumeBindingMode", "Immediate")


DEFAULTERS = {"StorageClass": default_storage_class}
