"""The PV controller's decisions: which volume a claim binds to, and what each sync writes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from recording_client import RecordingClient, context

from tinykube.api import errors
from tinykube.controllers import pvmatch
from tinykube.controllers.hostpathprovisioner import HostPathProvisioner
from tinykube.controllers.persistentvolume import NO_CLASS, PersistentVolumeController

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def pv(name: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), **kw: Any) -> Obj:
    spec: Obj = {
        "capacity": {"storage": size},
        "accessModes": list(modes),
        "hostPath": {"path": f"/tmp/{name}"},
        "persistentVolumeReclaimPolicy": kw.pop("policy", "Retain"),
    }
    if "sc" in kw:
        spec["storageClassName"] = kw.pop("sc")
    if "ref" in kw:
        spec["claimRef"] = kw.pop("ref")
    if "mode" in kw:
        spec["volumeMode"] = kw.pop("mode")
    meta: Obj = {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"}
    meta["labels"] = kw.pop("labels", {})
    meta["annotations"] = kw.pop("annotations", {})
    return {"metadata": meta, "spec": spec, "status": {"phase": kw.pop("phase", "Available")}}


def pvc(
    name: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), **kw: Any
) -> Obj:
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if "sc" in kw:
        spec["storageClassName"] = kw.pop("sc")
    if "selector" in kw:
        spec["selector"] = kw.pop("selector")
    if "volume" in kw:
        spec["volumeName"] = kw.pop("volume")
    if "mode" in kw:
        spec["volumeMode"] = kw.pop("mode")
    meta = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "resourceVersion": "1",
        "annotations": kw.pop("annotations", {}),
    }
    return {"metadata": meta, "spec": spec, "status": {"phase": "Pending"}}


def is_dir(path: Path) -> bool:
    return path.is_dir()


def ref(claim: Obj, uid: bool = True) -> Obj:
    out = pvmatch.claim_ref(claim)
    if not uid:
        out.pop("uid")
    return out


# ---- matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "volumes", "chosen"),
    [
        pytest.param(
            pvc("c", "1Gi", sc=""),
            [pv("big", "10Gi", sc=""), pv("small", "2Gi", sc="")],
            "small",
            id="smallest-that-fits",
        ),
        pytest.param(pvc("c", "5Gi", sc=""), [pv("small", "2Gi", sc="")], None, id="too-small"),
        pytest.param(pvc("c", "1G", sc=""), [pv("exact", "1G", sc="")], "exact", id="exact-size"),
        pytest.param(
            pvc("c", sc="", modes=("ReadWriteMany",)),
            [pv("rwo", sc="")],
            None,
            id="access-mode-missing",
        ),
        pytest.param(
            pvc("c", sc="", modes=("ReadWriteOnce",)),
            [pv("both", sc="", modes=("ReadWriteOnce", "ReadOnlyMany"))],
            "both",
            id="access-modes-superset",
        ),
        pytest.param(
            pvc("c", sc=""), [pv("fast", sc="fast")], None, id="empty-class-matches-only-empty"
        ),
        pytest.param(
            pvc("c", sc="fast"), [pv("none", sc=""), pv("fast", sc="fast")], "fast", id="same-class"
        ),
        pytest.param(
            pvc("c", sc="", selector={"matchLabels": {"tier": "db"}}),
            [
                pv("web", sc="", labels={"tier": "web"}),
                pv("db", "5Gi", sc="", labels={"tier": "db"}),
            ],
            "db",
            id="selector",
        ),
        pytest.param(
            pvc("c", sc="", mode="Block"), [pv("fs", sc="")], None, id="volume-mode-differs"
        ),
        pytest.param(
            pvc("c", sc=""),
            [pv("taken", sc="", ref=ref(pvc("other")))],
            None,
            id="bound-to-another-claim",
        ),
        pytest.param(
            pvc("c", "1Gi", sc=""),
            [pv("small", "1Gi", sc=""), pv("mine", "5Gi", sc="", ref=ref(pvc("c"), uid=False))],
            "mine",
            id="pre-bound-wins",
        ),
        pytest.param(
            pvc("c", sc=""),
            [pv("released", sc="", phase="Released")],
            None,
            id="released-is-not-available",
        ),
    ],
)
def test_best_match(claim: Obj, volumes: list[Obj], chosen: str | None) -> None:
    match = pvmatch.best_match(claim, volumes)
    assert (match["metadata"]["name"] if match else None) == chosen


def test_beta_annotation_wins_over_the_class_field() -> None:
    claim = pvc("c", sc="fast", annotations={pvmatch.BETA_CLASS: "slow"})
    assert pvmatch.storage_class_of(claim) == "slow"


def test_default_class_is_the_newest_marked_one() -> None:
    def sc(name: str, created: str, default: bool) -> Obj:
        ann = {pvmatch.DEFAULT_CLASS_ANNOTATIONS[0]: "true"} if default else {}
        return {"metadata": {"name": name, "creationTimestamp": created, "annotations": ann}}

    classes = [sc("old", "2024-01-01T00:00:00Z", True), sc("new", "2025-01-01T00:00:00Z", True)]
    assert pvmatch.default_class([*classes, sc("x", "2026-01-01T00:00:00Z", False)]) == classes[1]
    assert pvmatch.default_class([sc("x", "2026-01-01T00:00:00Z", False)]) is None


# ---- syncs ----------------------------------------------------------------------------


class Client(RecordingClient):
    """Also keeps what was written, and answers GETs of claims from a table."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[str, str, Obj]] = []
        self.claims: dict[str, Obj] = {}

    async def update(self, api_version: str, resource: str, obj: Obj, *a: Any, **kw: Any) -> Obj:
        self.written.append(("update", resource, copy.deepcopy(obj)))
        return await super().update(api_version, resource, obj)

    async def update_status(self, api_version: str, resource: str, obj: Obj, **kw: Any) -> Obj:
        self.written.append(("update_status", resource, copy.deepcopy(obj)))
        return await super().update_status(api_version, resource, obj)

    async def create(
        self, api_version: str, resource: str, obj: Obj, namespace: str = "", **kw: Any
    ) -> Obj:
        self.written.append(("create", resource, copy.deepcopy(obj)))
        return await super().create(api_version, resource, obj, namespace)

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> Obj:
        if f"{namespace}/{name}" in self.claims:
            return self.claims[f"{namespace}/{name}"]
        raise errors.not_found(resource, "", name)


def controller(
    tmp_path: Path, volumes: list[Obj], claims: list[Obj], classes: list[Obj] = ()
) -> tuple[PersistentVolumeController, Client]:  # type: ignore[assignment]
    ctx, _, _ = context()
    client = Client()
    ctx.client = client  # type: ignore[assignment]
    ctx.options["hostpath-provisioner-dir"] = str(tmp_path / "volumes")
    ctrl = PersistentVolumeController(ctx)
    ctrl.volumes.replace(volumes, "1")
    ctrl.claims.replace(claims, "1")
    ctrl.classes.replace(list(classes), "1")
    return ctrl, client


def events(ctrl: PersistentVolumeController) -> list[tuple[str, str, str]]:
    out = []
    while not ctrl.recorder._queue.empty():
        _obj, type_, reason, message = ctrl.recorder._queue.get_nowait()
        out.append((type_, reason, message))
    return out


async def test_binding_writes_both_sides_in_order(tmp_path: Path) -> None:
    claim = pvc("data", "1Gi", sc="")
    ctrl, client = controller(tmp_path, [pv("v1", "2Gi", sc="")], [claim])
    await ctrl.sync_claim(claim)
    steps = [(verb, res) for verb, res, _ in client.written]
    assert steps == [
        ("update", "persistentvolumes"),
        ("update_status", "persistentvolumes"),
        ("update", "persistentvolumeclaims"),
        ("update_status", "persistentvolumeclaims"),
    ]
    volume, phase, bound_claim, status = (obj for _, _, obj in client.written)
    assert volume["spec"]["claimRef"]["uid"] == "uid-data"
    assert volume["metadata"]["annotations"][pvmatch.ANN_BOUND_BY_CONTROLLER] == "yes"
    assert phase["status"]["phase"] == "Bound"
    assert bound_claim["spec"]["volumeName"] == "v1"
    assert bound_claim["metadata"]["annotations"] == {
        pvmatch.ANN_BIND_COMPLETED: "yes",
        pvmatch.ANN_BOUND_BY_CONTROLLER: "yes",
    }
    assert status["status"] == {
        "phase": "Bound",
        "capacity": {"storage": "2Gi"},
        "accessModes": ["ReadWriteOnce"],
    }


async def test_a_bound_pair_is_left_alone(tmp_path: Path) -> None:
    claim = pvc("data", sc="", volume="v1", annotations={pvmatch.ANN_BIND_COMPLETED: "yes"})
    claim["status"] = {
        "phase": "Bound",
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
    }
    volume = pv("v1", sc="", ref=ref(claim), phase="Bound")
    ctrl, client = controller(tmp_path, [volume], [claim])
    await ctrl.sync_claim(claim)
    await ctrl.sync_volume(volume)
    assert client.written == []


async def test_no_volume_and_no_class_waits_with_failed_binding(tmp_path: Path) -> None:
    claim = pvc("data", sc="")
    ctrl, client = controller(tmp_path, [pv("small", "100Mi", sc="")], [claim])
    await ctrl.sync_claim(claim)
    assert client.written == []  # already Pending
    assert events(ctrl) == [("Normal", "FailedBinding", NO_CLASS)]


async def test_mismatched_prebound_volume_is_reported(tmp_path: Path) -> None:
    claim = pvc("data", "5Gi", sc="", volume="small")
    ctrl, client = controller(tmp_path, [pv("small", "1Gi", sc="")], [claim])
    await ctrl.sync_claim(claim)
    assert client.written == []
    assert events(ctrl) == [
        (
            "Warning",
            "VolumeMismatch",
            'Cannot bind to requested volume "small": requested PV is too small',
        )
    ]


async def test_claim_of_a_provisioning_class_gets_a_hostpath_volume(tmp_path: Path) -> None:
    sc = {
        "metadata": {"name": "standard"},
        "provisioner": "tinykube.io/hostpath",
        "reclaimPolicy": "Delete",
    }
    claim = pvc("data", "3Gi", sc="standard")
    ctrl, client = controller(tmp_path, [], [claim], [sc])
    await ctrl.sync_claim(claim)
    created = [obj for verb, res, obj in client.written if verb == "create"]
    assert len(created) == 1
    volume = created[0]
    assert volume["metadata"]["name"] == "pvc-uid-data"
    assert volume["spec"]["claimRef"]["uid"] == "uid-data"
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert volume["spec"]["capacity"] == {"storage": "3Gi"}
    path = Path(volume["spec"]["hostPath"]["path"])
    assert path == tmp_path / "volumes" / "pvc-uid-data_ns_data"
    assert is_dir(path)
    annotated = next(obj for verb, res, obj in client.written if verb == "update")
    assert (
        annotated["metadata"]["annotations"][pvmatch.ANN_STORAGE_PROVISIONER]
        == "tinykube.io/hostpath"
    )
    assert (
        "Normal",
        "ProvisioningSucceeded",
        "Successfully provisioned volume pvc-uid-data using tinykube.io/hostpath",
    ) in events(ctrl)
    # The provisioned volume is pre-bound to the claim: the next sync binds exactly it.
    ctrl.volumes.replace([volume, pv("other", "3Gi", sc="standard")], "2")
    assert pvmatch.best_match(claim, ctrl.volumes.list()) == volume


async def test_missing_class_is_a_provisioning_failure(tmp_path: Path) -> None:
    claim = pvc("data", sc="gold")
    ctrl, _ = controller(tmp_path, [], [claim])
    await ctrl.sync_claim(claim)
    assert (
        "Warning",
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "gold" not found',
    ) in events(ctrl)


async def test_claim_without_class_gets_the_default_later(tmp_path: Path) -> None:
    sc = {
        "metadata": {
            "name": "standard",
            "annotations": {pvmatch.DEFAULT_CLASS_ANNOTATIONS[0]: "true"},
        },
        "provisioner": "x",
    }
    claim = pvc("data")
    ctrl, client = controller(tmp_path, [], [claim], [sc])
    await ctrl.sync_claim(claim)
    assert client.written[0][2]["spec"]["storageClassName"] == "standard"
    client.written.clear()
    claim["spec"]["storageClassName"] = None  # JSON null is unset too
    await ctrl.sync_claim(claim)
    assert client.written[0][2]["spec"]["storageClassName"] == "standard"


async def test_released_retain_volume_stays_released(tmp_path: Path) -> None:
    gone = pvc("data", sc="")
    volume = pv("v1", sc="", ref=ref(gone), phase="Bound", policy="Retain")
    ctrl, client = controller(tmp_path, [volume], [])
    await ctrl.sync_volume(volume)
    assert [(v, obj["status"]["phase"]) for v, _, obj in client.written] == [
        ("update_status", "Released")
    ]
    assert client.verbs("delete", "persistentvolumes") == []


async def test_volume_of_a_live_claim_is_not_released_on_a_stale_cache(tmp_path: Path) -> None:
    claim = pvc("data", sc="", volume="v1", annotations={pvmatch.ANN_BIND_COMPLETED: "yes"})
    volume = pv("v1", sc="", ref=ref(claim), phase="Bound")
    ctrl, client = controller(tmp_path, [volume], [])
    client.claims["ns/data"] = claim
    await ctrl.sync_volume(volume)
    assert client.written == []


async def test_released_provisioned_volume_is_deleted_with_its_directory(tmp_path: Path) -> None:
    gone = pvc("data", sc="standard")
    made = HostPathProvisioner(tmp_path / "volumes")
    volume = await made.provision(
        gone, {"metadata": {"name": "standard"}, "reclaimPolicy": "Delete"}
    )
    volume["metadata"].update(uid="uid-v", resourceVersion="1")
    volume["status"] = {"phase": "Bound"}
    directory = Path(volume["spec"]["hostPath"]["path"])
    (directory / "file").write_text("data")
    ctrl, client = controller(tmp_path, [volume], [])
    await ctrl.sync_volume(volume)
    assert client.verbs("delete", "persistentvolumes") == [volume["metadata"]["name"]]
    assert not is_dir(directory)


async def test_released_delete_volume_without_a_deleter_fails(tmp_path: Path) -> None:
    gone = pvc("data", sc="")
    volume = pv("manual", sc="", ref=ref(gone), phase="Bound", policy="Delete")
    ctrl, client = controller(tmp_path, [volume], [])
    await ctrl.sync_volume(volume)
    phases = [obj["status"]["phase"] for _, _, obj in client.written]
    assert phases == ["Released", "Failed"]
    assert client.verbs("delete", "persistentvolumes") == []
    assert [e[1] for e in events(ctrl)] == ["VolumeFailedDelete"]


def test_provisioner_refuses_to_delete_outside_its_directory(tmp_path: Path) -> None:
    made = HostPathProvisioner(tmp_path / "volumes")
    foreign = pv("x", annotations={pvmatch.ANN_PROVISIONED_BY: "tinykube.io/hostpath"})
    foreign["spec"]["hostPath"]["path"] = str(tmp_path)
    assert not made.owns(foreign)
    foreign["spec"]["hostPath"]["path"] = str(tmp_path / "volumes" / ".." / "elsewhere")
    assert not made.owns(foreign)


async def test_wait_for_first_consumer_claim_waits_for_a_scheduled_pod(tmp_path: Path) -> None:
    sc = {
        "metadata": {"name": "local"},
        "provisioner": "tinykube.io/hostpath",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    claim = pvc("data", sc="local")
    ctrl, client = controller(tmp_path, [pv("fits", sc="local")], [claim], [sc])
    await ctrl.sync_claim(claim)
    assert client.written == []
    assert events(ctrl) == [
        (
            "Normal",
            "WaitForFirstConsumer",
            "waiting for first consumer to be created before binding",
        )
    ]
    consumer = {
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {
            "nodeName": "node-1",
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }
    ctrl.pods.replace([consumer], "2")
    await ctrl.sync_claim(claim)
    [(verb, _, chosen)] = client.written
    assert verb == "update"
    assert chosen["metadata"]["annotations"][pvmatch.ANN_SELECTED_NODE] == "node-1"
    client.written.clear()
    await ctrl.sync_claim(chosen)
    assert client.written[0][2]["spec"]["claimRef"]["name"] == "data"  # now it binds
