"""VolumeBinding: claims must exist and be bound (or bindable on the node) before a pod fits."""

from __future__ import annotations

from typing import Any

import pytest
from harness import filter_all, snapshot

from tinykube.scheduler import config
from tinykube.scheduler.framework import (
    Code,
    CycleState,
    FitError,
    PodInfo,
    StaticVolumes,
)
from tinykube.scheduler.runtime import Framework
from tinykube.scheduler.schedule_one import Algorithm

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def node(name: str, **labels: str) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    }


def pod(*claims: str, ephemeral: str = "") -> Obj:
    volumes: list[Obj] = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
    if ephemeral:
        volumes.append({"name": ephemeral, "ephemeral": {"volumeClaimTemplate": {}}})
    return {
        "metadata": {"name": "app", "namespace": "ns", "uid": "u"},
        "spec": {"containers": [{"name": "c", "image": "x"}], "volumes": volumes},
    }


def claim(name: str, volume: str = "", sc: str = "", **meta: Any) -> Obj:
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": sc,
    }
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "ns", **meta}, "spec": spec}


def volume(name: str, on: str = "", sc: str = "", size: str = "1Gi") -> Obj:
    spec: Obj = {
        "capacity": {"storage": size},
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": sc,
    }
    if on:
        term = {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [on]}
            ]
        }
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": "Available"}}


def klass(name: str, mode: str = "Immediate", provisioner: str = "tinykube.io/hostpath") -> Obj:
    return {"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode}


def store(
    claims: list[Obj] = (), volumes: list[Obj] = (), classes: list[Obj] = ()
) -> StaticVolumes:  # type: ignore[assignment]
    return StaticVolumes(
        {f"ns/{c['metadata']['name']}": c for c in claims},
        {v["metadata"]["name"]: v for v in volumes},
        {c["metadata"]["name"]: c for c in classes},
    )


NODES = [node("a"), node("b")]


def verdicts(p: Obj, volumes: StaticVolumes) -> dict[str, tuple[Code, tuple[str, ...]]]:
    statuses = filter_all("VolumeBinding", p, NODES, volumes=volumes)
    return {name: (s.code, tuple(s.reasons)) for name, s in statuses.items()}


def everywhere(code: Code, reason: str) -> dict[str, tuple[Code, tuple[str, ...]]]:
    return {"a": (code, (reason,)), "b": (code, (reason,))}


OK = {"a": (Code.SUCCESS, ()), "b": (Code.SUCCESS, ())}
UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize(
    ("p", "volumes", "expected"),
    [
        pytest.param(pod(), store(), OK, id="no-claims"),
        pytest.param(
            pod("data"),
            store(),
            everywhere(UNRESOLVABLE, 'persistentvolumeclaim "data" not found'),
            id="missing-claim",
        ),
        pytest.param(
            pod(ephemeral="scratch"),
            store(),
            everywhere(UNRESOLVABLE, 'persistentvolumeclaim "app-scratch" not found'),
            id="ephemeral-claim-name",
        ),
        pytest.param(
            pod("data"),
            store([claim("data", deletionTimestamp="2025-01-01T00:00:00Z")]),
            everywhere(UNRESOLVABLE, 'persistentvolumeclaim "data" is being deleted'),
            id="deleting-claim",
        ),
        pytest.param(
            pod("data"),
            store([claim("data")]),
            everywhere(UNRESOLVABLE, "pod has unbound immediate PersistentVolumeClaims"),
            id="unbound-no-class",
        ),
        pytest.param(
            pod("data"),
            store([claim("data", sc="std")], classes=[klass("std")]),
            everywhere(UNRESOLVABLE, "pod has unbound immediate PersistentVolumeClaims"),
            id="unbound-immediate",
        ),
        pytest.param(pod("data"), store([claim("data", "pv")], [volume("pv")]), OK, id="bound"),
        pytest.param(
            pod("data"),
            store([claim("data", "pv")]),
            everywhere(
                UNRESOLVABLE,
                "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)",
            ),
            id="bound-volume-missing",
        ),
        pytest.param(
            pod("data"),
            store([claim("data", "pv")], [volume("pv", on="b")]),
            {
                "a": (UNRESOLVABLE, ("node(s) had volume node affinity conflict",)),
                "b": (Code.SUCCESS, ()),
            },
            id="volume-node-affinity",
        ),
        pytest.param(
            pod("data"),
            store([claim("data", sc="wait")], classes=[klass("wait", "WaitForFirstConsumer")]),
            OK,
            id="delayed-provisionable",
        ),
        pytest.param(
            pod("data"),
            store(
                [claim("data", sc="local")],
                [volume("pv", on="a", sc="local")],
                [klass("local", "WaitForFirstConsumer", "kubernetes.io/no-provisioner")],
            ),
            {
                "a": (Code.SUCCESS, ()),
                "b": (
                    Code.UNSCHEDULABLE,
                    ("node(s) didn't find available persistent volumes to bind",),
                ),
            },
            id="delayed-local-volume",
        ),
    ],
)
def test_volume_binding_filter(p: Obj, volumes: StaticVolumes, expected: dict) -> None:
    assert verdicts(p, volumes) == expected


def test_unbound_claim_message_as_kube_scheduler_words_it() -> None:
    snap = snapshot(NODES)
    fwk = Framework(config.default_profile(), lambda: snap, volumes=store([claim("data")]))
    state, info = CycleState(), PodInfo(pod("data"))
    with pytest.raises(FitError) as caught:
        Algorithm().schedule(fwk, state, info)
    err = caught.value
    status, _ = fwk.run_post_filter(state, info, err.statuses)
    err.post_filter_msg = status.message
    assert str(err) == (
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )
    assert {s.plugin for s in err.statuses.values()} == {"VolumeBinding"}
