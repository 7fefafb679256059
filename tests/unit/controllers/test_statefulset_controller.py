"""StatefulSet decisions as pure functions: ordered creation, ordered scale-down, partitioned
rolling updates, identity and storage of each Pod, status by revision."""

from __future__ import annotations

import pytest
from workload_builders import NOW, pod

from tinykube.controllers.statefulset import control, identity

pytestmark = pytest.mark.unit


def sts(replicas: int = 3, **spec: object) -> dict:
    return {
        "metadata": {"name": "db", "namespace": "ns", "uid": "uid-db", "generation": 1},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "pg"}]},
            },
            **spec,
        },
    }


def member(
    ordinal: int,
    revision: str = "new",
    ready: bool = True,
    phase: str = "Running",
    deleting: bool = False,
) -> dict:
    p = pod(
        f"db-{ordinal}",
        labels={"app": "db", "controller-revision-hash": revision},
        ready_for=100 if ready else None,
        phase=phase,
        deleting=deleting,
    )
    return p


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize(
    ("the_sts", "pods", "create", "delete"),
    [
        pytest.param(sts(), [], [0], [], id="first-pod-first"),
        pytest.param(sts(), [member(0, ready=False)], [], [], id="waits-for-ready"),
        pytest.param(sts(), [member(0)], [1], [], id="then-the-next"),
        pytest.param(
            sts(podManagementPolicy="Parallel"), [], [0, 1, 2], [], id="parallel-all-at-once"
        ),
        pytest.param(
            sts(1), [member(0), member(1), member(2)], [], ["db-2"], id="scale-down-highest-first"
        ),
        pytest.param(
            sts(1), [member(0), member(1), member(2, deleting=True)], [], [], id="one-at-a-time"
        ),
        pytest.param(
            sts(),
            [member(0), member(1, phase="Failed"), member(2)],
            [],
            ["db-1"],
            id="failed-is-replaced",
        ),
        pytest.param(
            sts(2), [member(0, "old"), member(1, "old")], [], ["db-1"], id="update-highest-first"
        ),
        pytest.param(
            sts(2),
            [member(0, "old"), member(1, "new", ready=False)],
            [],
            [],
            id="update-waits-for-health",
        ),
        pytest.param(
            sts(3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}),
            [member(0, "old"), member(1, "old"), member(2)],
            [],
            [],
            id="partition-stops-the-update",
        ),
        pytest.param(
            sts(2, updateStrategy={"type": "OnDelete"}),
            [member(0, "old"), member(1, "old")],
            [],
            [],
            id="on-delete-waits",
        ),
    ],
)
def test_plan(the_sts: dict, pods: list[dict], create: list[int], delete: list[str]) -> None:
    step = control.plan(the_sts, pods, "new", NOW)
    assert step.create == create
    assert names(step.delete) == delete


def test_pod_identity_and_claims() -> None:
    the_sts = sts(
        volumeClaimTemplates=[
            {
                "metadata": {"name": "data", "labels": {"x": "y"}},
                "spec": {"accessModes": ["ReadWriteOnce"]},
            }
        ]
    )
    body = identity.new_pod(the_sts, the_sts, "db-abc", 2)
    assert body["metadata"]["name"] == "db-2"
    assert body["metadata"]["labels"] == {
        "app": "db",
        "statefulset.kubernetes.io/pod-name": "db-2",
        "apps.kubernetes.io/pod-index": "2",
        "controller-revision-hash": "db-abc",
    }
    assert body["spec"]["hostname"] == "db-2" and body["spec"]["subdomain"] == "db"
    assert body["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-2"}}
    ]
    (claim,) = identity.new_claims(the_sts, 2)
    assert claim["metadata"]["name"] == "data-db-2"
    assert claim["metadata"]["labels"] == {"x": "y", "app": "db"}


def test_status_completes_the_rollout_when_all_pods_are_updated() -> None:
    rolling = control.statefulset_status(
        sts(2), [member(0, "old"), member(1, "new")], "old", "new", NOW
    )
    assert (rolling["currentReplicas"], rolling["updatedReplicas"], rolling["currentRevision"]) == (
        1,
        1,
        "old",
    )
    done = control.statefulset_status(
        sts(2), [member(0, "new"), member(1, "new")], "old", "new", NOW
    )
    assert (
        done["currentRevision"] == "new"
        and done["currentReplicas"] == 2
        and done["readyReplicas"] == 2
    )


def test_ordinals_only_for_our_names() -> None:
    the_sts = sts()
    assert identity.ordinal_of(the_sts, pod("db-12")) == 12
    assert identity.ordinal_of(the_sts, pod("dbx-1")) is None
    assert identity.ordinal_of(the_sts, pod("db-1-x")) is None


def claim(refs: list[dict] | None = None) -> dict:
    return {"metadata": {"name": "data-db-2", "ownerReferences": refs or []}}


@pytest.mark.parametrize(
    ("policy", "scaled_down", "owner"),
    [
        ({}, False, None),
        ({"whenDeleted": "Delete"}, False, "StatefulSet"),
        ({"whenDeleted": "Delete"}, True, None),
        ({"whenScaled": "Delete"}, True, "Pod"),
        ({"whenScaled": "Delete"}, False, None),
        ({"whenDeleted": "Delete", "whenScaled": "Delete"}, True, "Pod"),
    ],
)
def test_claim_retention_owner(policy: dict, scaled_down: bool, owner: str | None) -> None:
    the_sts = sts(persistentVolumeClaimRetentionPolicy=policy)
    refs = identity.claim_owner_refs(claim(), the_sts, member(2), scaled_down)
    kinds = [r["kind"] for r in refs or []]
    assert kinds == ([owner] if owner else [])


def test_a_claim_controlled_by_someone_else_is_left_alone() -> None:
    foreign = [{"kind": "Other", "uid": "x", "controller": True}]
    the_sts = sts(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete"})
    assert identity.claim_owner_refs(claim(foreign), the_sts, member(2), False) is None
