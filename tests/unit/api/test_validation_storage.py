"""PersistentVolume and PersistentVolumeClaim update rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tinykube.api import defaults, validation
from tinykube.api.resources import by_kind

pytestmark = pytest.mark.unit


def errors_of(kind: str, obj: dict[str, Any], old: dict[str, Any]) -> list[str]:
    res = by_kind("", "v1", kind)
    assert res is not None
    defaults.apply_defaults(res, obj)
    defaults.apply_defaults(res, old)
    return [str(e) for e in validation.validate(res, obj, old)]


def volume() -> dict[str, Any]:
    return {
        "metadata": {"name": "pv", "resourceVersion": "1"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/srv/a"},
        },
    }


def claim(**spec: Any) -> dict[str, Any]:
    body = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return {
        "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "1"},
        "spec": {**body, **spec},
    }


def test_volume_may_change_capacity_and_claim_ref_but_not_its_source() -> None:
    old = volume()
    resized = copy.deepcopy(old)
    resized["spec"]["capacity"]["storage"] = "2Gi"
    resized["spec"]["claimRef"] = {"namespace": "ns", "name": "c"}
    assert errors_of("PersistentVolume", resized, old) == []
    moved = copy.deepcopy(old)
    moved["spec"]["hostPath"]["path"] = "/srv/b"
    assert errors_of("PersistentVolume", moved, old) == [
        "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"
    ]
    block = copy.deepcopy(old)
    block["spec"]["volumeMode"] = "Block"
    assert errors_of("PersistentVolume", block, old) == [
        'volumeMode: Invalid value: "Block": field is immutable'
    ]


def test_claim_may_be_given_a_class_once_but_not_change_it() -> None:
    assert errors_of("PersistentVolumeClaim", claim(storageClassName="standard"), claim()) == []
    changed = errors_of(
        "PersistentVolumeClaim", claim(storageClassName="fast"), claim(storageClassName="standard")
    )
    assert len(changed) == 1 and changed[0].startswith("spec: Forbidden: spec is immutable")
    assert errors_of("PersistentVolumeClaim", claim(volumeName="pv"), claim()) == []
