"""managedFields for create/update/patch: what each write records, and what it leaves alone."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from test_fieldpath import CONFIGMAP, DEPLOYMENT, REAL_FIELDS_V1, compact

from tinykube.patch.fieldpath import FieldSet
from tinykube.patch.managedfields import (
    ManagedEntry,
    cap_update_managers,
    compare,
    decode_managed_fields,
    encode_managed_fields,
    manager_from_user_agent,
    update_managed_fields,
)

pytestmark = pytest.mark.unit

T0, T1, T2 = "2026-07-23T07:00:00Z", "2026-07-23T07:01:00Z", "2026-07-23T07:02:00Z"


def stored_deployment() -> dict[str, Any]:
    """`kubectl create deployment nginx --image=nginx` after defaulting (no strategy)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx",
            "namespace": "default",
            "uid": "8d6f",
            "resourceVersion": "1",
            "generation": 1,
            "creationTimestamp": T0,
            "labels": {"app": "nginx"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "nginx"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx",
                            "imagePullPolicy": "Always",
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                        }
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                },
            },
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
        },
        "status": {},
    }


def write(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    time: str,
    *,
    subresource: str = "",
    ignore: tuple[str, ...] = ("status",),
) -> dict[str, Any]:
    """Record an Update of ``new`` over ``old`` as the API server would, and return ``new``."""
    update_managed_fields(
        old,
        new,
        manager=manager,
        operation="Update",
        api_version="apps/v1",
        time=time,
        schema=DEPLOYMENT,
        subresource=subresource,
        ignore_paths=ignore,
    )
    return new


def created() -> dict[str, Any]:
    return write(None, stored_deployment(), "kubectl-create", T0)


def entries(obj: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["manager"], e["operation"], e.get("time")) for e in obj["metadata"]["managedFields"]]


def owned(obj: dict[str, Any], manager: str) -> set[tuple[str, ...]]:
    for entry in decode_managed_fields(obj["metadata"]["managedFields"]).values():
        if entry.manager == manager:
            return set(entry.fields)
    return set()


def changed(obj: dict[str, Any], edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    edit(new)
    return new


def test_create_records_what_a_real_cluster_records() -> None:
    real = json.loads(REAL_FIELDS_V1["kubectl-create"])
    del real["f:spec"][
        "f:strategy"
    ]  # our object has no strategy (pointer structs are the known gap)
    [entry] = created()["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": real,
    }
    assert compact(entry["fieldsV1"]) == compact(real)


def test_update_moves_changed_fields_to_the_writer() -> None:
    live = created()
    new = write(live, changed(live, lambda o: o["spec"].update(replicas=3)), "kubectl-scale", T1)
    assert entries(new) == [("kubectl-create", "Update", T0), ("kubectl-scale", "Update", T1)]
    assert owned(new, "kubectl-scale") == {("f:spec", "f:replicas")}
    assert ("f:spec", "f:replicas") not in owned(new, "kubectl-create")


def test_same_manager_entries_merge_and_take_the_new_time() -> None:
    live = write(None, stored_deployment(), "kubectl-edit", T0)
    before = owned(live, "kubectl-edit")
    new = write(
        live,
        changed(live, lambda o: o["metadata"]["labels"].update(tier="web")),
        "kubectl-edit",
        T1,
    )
    assert entries(new) == [("kubectl-edit", "Update", T1)]
    assert owned(new, "kubectl-edit") == before | {("f:metadata", "f:labels", "f:tier")}


def test_noop_update_keeps_managed_fields_identical() -> None:
    live = created()
    new = write(live, copy.deepcopy(live), "kubectl-edit", T2)
    assert new["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_removed_field_leaves_every_manager_and_empty_entries_go() -> None:
    live = created()
    live = write(
        live, changed(live, lambda o: o["metadata"]["labels"].update(tier="web")), "labeler", T1
    )
    new = write(
        live, changed(live, lambda o: o["metadata"]["labels"].pop("tier")), "kubectl-edit", T2
    )
    assert [e[0] for e in entries(new)] == ["kubectl-create"]


def test_server_owned_fields_are_never_recorded() -> None:
    live = created()

    def bump(o: dict[str, Any]) -> None:
        o["metadata"].update(resourceVersion="2", generation=2, name="nginx", uid="8d6f")
        o["status"] = {"replicas": 1}  # reset by the strategy: ignored

    new = write(live, changed(live, bump), "kube-controller-manager", T1)
    assert new["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    assert all(p[0] not in ("f:apiVersion", "f:kind") for p in owned(new, "kubectl-create"))
    assert ("f:metadata", "f:name") not in owned(new, "kubectl-create")


def test_status_subresource_gets_its_own_entry_and_ignores_sent_managed_fields() -> None:
    live = created()

    def report(o: dict[str, Any]) -> None:
        o["status"] = {
            "observedGeneration": 1,
            "conditions": [{"type": "Available", "status": "True"}],
        }
        o["metadata"]["managedFields"] = []  # a status write cannot reset ownership

    new = write(
        live,
        changed(live, report),
        "kube-controller-manager",
        T1,
        subresource="status",
        ignore=("spec",),
    )
    status_entry = new["metadata"]["managedFields"][1]
    assert status_entry["subresource"] == "status"
    assert status_entry["fieldsV1"] == {
        "f:status": {
            "f:conditions": {
                ".": {},
                'k:{"type":"Available"}': {".": {}, "f:status": {}, "f:type": {}},
            },
            "f:observedGeneration": {},
        }
    }
    assert new["metadata"]["managedFields"][0] == live["metadata"]["managedFields"][0]


def test_managed_fields_sent_in_an_update_replace_the_stored_ones() -> None:
    live = created()
    sent = [
        {
            "manager": "migrated",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    ]
    new = write(
        live, changed(live, lambda o: o["metadata"].update(managedFields=sent)), "kubectl-edit", T1
    )
    assert new["metadata"]["managedFields"] == sent


@pytest.mark.parametrize("reset", [[], [{}]], ids=["empty-list", "one-empty-entry"])
def test_reset_managed_fields_leaves_the_object_untracked(reset: list[Any]) -> None:
    live = created()
    new = write(
        live, changed(live, lambda o: o["metadata"].update(managedFields=reset)), "kubectl-edit", T1
    )
    assert "managedFields" not in new["metadata"]
    again = write(new, changed(new, lambda o: o["spec"].update(replicas=5)), "kubectl-scale", T2)
    assert "managedFields" not in again["metadata"]


def test_invalid_sent_managed_fields_fall_back_to_stored() -> None:
    live = created()
    bad = [
        {"manager": "x", "operation": "Delete", "apiVersion": "apps/v1", "fieldsType": "FieldsV1"}
    ]
    new = write(
        live, changed(live, lambda o: o["metadata"].update(managedFields=bad)), "kubectl-edit", T1
    )
    assert entries(new) == entries(live)


def test_object_that_does_not_fit_the_schema_keeps_stored_managed_fields() -> None:
    live = created()
    broken = changed(
        live, lambda o: o["spec"]["template"]["spec"]["containers"].append({"image": "no-name"})
    )
    new = write(live, broken, "kubectl-edit", T1)
    assert new["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_empty_manager_is_unknown() -> None:
    assert entries(write(None, stored_deployment(), "", T0)) == [("unknown", "Update", T0)]


def test_apply_is_not_an_update_operation() -> None:
    with pytest.raises(ValueError, match="server_side_apply"):
        update_managed_fields(
            None, {}, manager="m", operation="Apply", api_version="v1", time=T0, schema=None
        )


def test_untyped_object_tracks_every_map_node() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    update_managed_fields(
        None,
        cm,
        manager="kubectl-create",
        operation="Update",
        api_version="v1",
        time=T0,
        schema=None,
    )
    assert cm["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}
    typed = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    update_managed_fields(
        None,
        typed,
        manager="kubectl-create",
        operation="Update",
        api_version="v1",
        time=T0,
        schema=CONFIGMAP,
    )
    assert typed["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}


def test_more_than_ten_update_managers_fold_into_ancient_changes() -> None:
    managers = {}
    for i in range(12):
        entry = ManagedEntry(
            f"m{i:02d}",
            "Update",
            "apps/v1",
            FieldSet([("f:spec", f"f:f{i}")]),
            time=f"2026-07-23T07:{i:02d}:00Z",
        )
        managers[entry.identity] = entry
    capped = cap_update_managers(managers)
    names = sorted(e.manager for e in capped.values())
    assert names == ["ancient-changes"] + [f"m{i:02d}" for i in range(3, 12)]
    [bucket] = [e for e in capped.values() if e.manager == "ancient-changes"]
    assert set(bucket.fields) == {("f:spec", "f:f0"), ("f:spec", "f:f1"), ("f:spec", "f:f2")}
    assert bucket.time == "2026-07-23T07:02:00Z"


def test_encoding_sorts_apply_first_then_by_time() -> None:
    def entry(manager: str, op: str, time: str) -> ManagedEntry:
        return ManagedEntry(manager, op, "apps/v1", FieldSet([("f:a",)]), time=time)

    managers = {
        e.identity: e
        for e in [entry("z", "Update", T0), entry("b", "Update", T1), entry("y", "Apply", T2)]
    }
    assert [e["manager"] for e in encode_managed_fields(managers)] == ["y", "z", "b"]


def test_decode_then_encode_is_identity_for_real_entries() -> None:
    raw = [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": json.loads(REAL_FIELDS_V1["ssa-deployment"]),
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": json.loads(REAL_FIELDS_V1["controller-status"]),
            "subresource": "status",
        },
    ]
    assert encode_managed_fields(decode_managed_fields(raw)) == raw


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        pytest.param(
            ManagedEntry("kubectl", "Apply", "apps/v1", FieldSet()), '"kubectl"', id="applier"
        ),
        pytest.param(
            ManagedEntry("kubectl-patch", "Update", "apps/v1", FieldSet()),
            '"kubectl-patch" using apps/v1',
            id="updater",
        ),
        pytest.param(
            ManagedEntry("kcm", "Update", "apps/v1", FieldSet(), "status"),
            '"kcm" with subresource "status" using apps/v1',
            id="subresource",
        ),
    ],
)
def test_manager_description_in_conflicts(entry: ManagedEntry, text: str) -> None:
    assert entry.describe() == text


def test_identity_is_upstream_manager_json() -> None:
    assert ManagedEntry("m", "Update", "v1", FieldSet(), "status").identity == (
        '{"manager":"m","operation":"Update","apiVersion":"v1","subresource":"status"}'
    )
    assert (
        ManagedEntry("m", "Apply", "v1", FieldSet()).identity
        == '{"manager":"m","operation":"Apply"}'
    )


@pytest.mark.parametrize(
    ("user_agent", "manager"),
    [
        pytest.param("kubectl/v1.37.1 (linux/amd64) kubernetes/abc1234", "kubectl", id="kubectl"),
        pytest.param("OpenAPI-Generator/33.1.0/python", "OpenAPI-Generator", id="python-client"),
        pytest.param(
            "kube-controller-manager/v1.37.1 (linux/amd64)", "kube-controller-manager", id="kcm"
        ),
        pytest.param("plain", "plain", id="no-slash"),
        pytest.param("", "", id="empty"),
        pytest.param("bad\x00name/1", "badname", id="unprintable-dropped"),
        pytest.param("x" * 200, "x" * 128, id="cut-to-128"),
    ],
)
def test_manager_from_user_agent(user_agent: str, manager: str) -> None:
    assert manager_from_user_agent(user_agent) == manager


@pytest.mark.parametrize(
    ("old", "new", "added", "modified", "removed"),
    [
        pytest.param(
            {"spec": {"replicas": 1}},
            {"spec": {"replicas": 2}},
            set(),
            {"spec.replicas"},
            set(),
            id="modified",
        ),
        pytest.param(
            {},
            {"spec": {"paused": True}},
            {"spec", "spec.paused"},
            set(),
            set(),
            id="new-node-is-added",
        ),
        pytest.param(
            {"spec": {"paused": True}}, {}, set(), set(), {"spec", "spec.paused"}, id="removed-node"
        ),
        pytest.param(
            {"spec": {"paused": 1}},
            {"spec": {"paused": True}},
            set(),
            {"spec.paused"},
            set(),
            id="true-is-not-1",
        ),
        pytest.param(
            {"spec": {"replicas": 1}},
            {"spec": {"replicas": 1.0}},
            set(),
            set(),
            set(),
            id="1-equals-1.0",
        ),
    ],
)
def test_compare(
    old: Any, new: Any, added: set[str], modified: set[str], removed: set[str]
) -> None:
    def dotted(fs: FieldSet) -> set[str]:
        return {".".join(e[2:] for e in p) for p in fs}

    result = compare(old, new, DEPLOYMENT)
    assert (dotted(result.added), dotted(result.modified), dotted(result.removed)) == (
        added,
        modified,
        removed,
    )


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        pytest.param(
            "2026-07-23T07:00:00+00:00", "2026-07-23T07:00:00Z", id="python-client-offset"
        ),
        pytest.param("2026-07-23T09:00:00+02:00", "2026-07-23T07:00:00Z", id="other-zone"),
        pytest.param("2026-07-23T07:00:00Z", "2026-07-23T07:00:00Z", id="already-rfc3339"),
    ],
)
def test_entry_times_are_stored_as_rfc3339_utc(sent: str, stored: str) -> None:
    raw = [
        {
            "manager": "m",
            "operation": "Update",
            "apiVersion": "v1",
            "time": sent,
            "fieldsType": "FieldsV1",
        }
    ]
    [entry] = decode_managed_fields(raw).values()
    assert entry.time == stored
