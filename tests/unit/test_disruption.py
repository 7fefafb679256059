"""The disruption controller's arithmetic and one reconcile against fakes.

The pure functions are checked against the cases upstream's
``disruption_test.go`` and the policy/v1 documentation spell out (integer and
percentage budgets, rounding up, disruptedPods expiry, the DisruptionAllowed
condition); the reconcile tests assert the exact status a sync writes, found
from cached pods and their controllers.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.api.duration import format_time
from tinykube.client.clock import FakeClock
from tinykube.client.informers import InformerFactory
from tinykube.controllers import disruption as dc
from tinykube.controllers import disruptionutil as du
from tinykube.controllers.runtime import ControllerContext, Requeue

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NOW_TEXT = format_time(NOW)


def pod(name: str, ready: bool = True, owner: Obj | None = None, **meta: Any) -> Obj:
    metadata: Obj = {"name": name, "namespace": "ns", "labels": {"app": "web"}, **meta}
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]},
    }


def pdb(spec: Obj, status: Obj | None = None, generation: int = 1) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": "budget",
            "namespace": "ns",
            "uid": "pdb-uid",
            "generation": generation,
            "resourceVersion": "7",
        },
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
        "status": status or {},
    }


def ref(kind: str, name: str, uid: str, api_version: str = "apps/v1") -> Obj:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True}


# ---- the arithmetic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "matching", "scale", "expected"),
    [
        pytest.param({"minAvailable": 2}, 3, 0, (3, 2), id="int-min-counts-matching-pods"),
        pytest.param({"minAvailable": 5}, 3, 0, (3, 5), id="int-min-above-pods"),
        pytest.param({"minAvailable": "50%"}, 3, 3, (3, 2), id="percent-min-rounds-up"),
        pytest.param({"minAvailable": "100%"}, 2, 4, (4, 4), id="percent-min-uses-scale"),
        pytest.param({"maxUnavailable": 1}, 3, 3, (3, 2), id="int-max"),
        pytest.param({"maxUnavailable": "50%"}, 3, 3, (3, 1), id="percent-max-rounds-up"),
        pytest.param({"maxUnavailable": 5}, 3, 3, (3, 0), id="max-above-scale-floors-at-0"),
        pytest.param({}, 3, 0, (0, 0), id="neither-field-expects-nothing"),
    ],
)
def test_expected_and_desired(spec: Obj, matching: int, scale: int, expected: tuple) -> None:
    assert du.expected_and_desired(spec, matching, scale) == expected


def test_bad_percentage_is_a_sync_error() -> None:
    with pytest.raises(du.SyncError, match="not a percentage"):
        du.expected_and_desired({"minAvailable": "5"}, 3, 3)


@pytest.mark.parametrize(
    ("spec", "uses"),
    [({"minAvailable": 1}, False), ({"minAvailable": "10%"}, True), ({"maxUnavailable": 0}, True)],
)
def test_only_integer_min_available_skips_the_scale(spec: Obj, uses: bool) -> None:
    assert du.uses_scale(spec) is uses


@pytest.mark.parametrize(
    ("current", "desired", "expected", "allowed"),
    [(3, 2, 3, 1), (2, 2, 3, 0), (1, 2, 3, 0), (3, 0, 0, 0)],
    ids=["one-spare", "exactly-enough", "short", "nothing-expected"],
)
def test_disruptions_allowed(current: int, desired: int, expected: int, allowed: int) -> None:
    assert du.disruptions_allowed(current, desired, expected) == allowed


def test_healthy_excludes_unready_terminating_and_recently_evicted() -> None:
    pods = [
        pod("ready"),
        pod("unready", ready=False),
        pod("going", deletionTimestamp=NOW_TEXT),
        pod("evicted"),
        pod("evicted-long-ago"),
    ]
    disrupted = {
        "evicted": format_time(NOW - timedelta(seconds=30)),
        "evicted-long-ago": format_time(NOW - timedelta(minutes=3)),
    }
    assert du.count_healthy(pods, disrupted, NOW) == 2  # ready, evicted-long-ago


def test_disrupted_pods_keep_only_pending_deletions() -> None:
    recent = format_time(NOW - timedelta(seconds=30))
    old = format_time(NOW - timedelta(minutes=3))
    pods = [pod("recent"), pod("stale"), pod("terminating", deletionTimestamp=NOW_TEXT)]
    recorded = {"recent": recent, "stale": old, "terminating": recent, "gone": recent}
    kept, recheck, expired = du.live_disruptions(pods, recorded, NOW)
    assert kept == {"recent": recent}
    assert recheck == NOW - timedelta(seconds=30) + du.DELETION_TIMEOUT
    assert [p["metadata"]["name"] for p in expired] == ["stale"]


def test_selector_semantics_of_policy_v1() -> None:
    everything = pdb({})
    everything["spec"]["selector"] = {}
    missing = pdb({})
    del missing["spec"]["selector"]
    other = pdb({})
    other["spec"]["selector"] = {"matchLabels": {"app": "db"}}
    found = du.budgets_for_pod([everything, missing, other], pod("p"))
    assert found == [everything]


def test_condition_follows_disruptions_allowed() -> None:
    status = du.budget_status(pdb({"minAvailable": 2}), 3, 2, 3, {}, NOW_TEXT)
    assert status == {
        "observedGeneration": 1,
        "disruptionsAllowed": 1,
        "currentHealthy": 3,
        "desiredHealthy": 2,
        "expectedPods": 3,
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": "True",
                "observedGeneration": 1,
                "lastTransitionTime": NOW_TEXT,
                "reason": "SufficientPods",
                "message": "",
            }
        ],
    }
    later = format_time(NOW + timedelta(minutes=1))
    short = du.budget_status(pdb({"minAvailable": 2}, status), 2, 2, 3, {}, later)
    assert short is not None
    (cond,) = short["conditions"]
    assert (cond["status"], cond["reason"], cond["lastTransitionTime"]) == (
        "False",
        "InsufficientPods",
        later,
    )


def test_up_to_date_status_is_not_written_again() -> None:
    status = du.budget_status(pdb({"minAvailable": 2}), 3, 2, 3, {}, NOW_TEXT)
    later = format_time(NOW + timedelta(minutes=1))
    assert du.budget_status(pdb({"minAvailable": 2}, status), 3, 2, 3, {}, later) is None
    # a new generation must be observed even when the counts stay the same
    assert du.budget_status(pdb({"minAvailable": 2}, status, 2), 3, 2, 3, {}, later) is not None


def test_fail_safe_allows_nothing() -> None:
    stored = du.budget_status(pdb({"maxUnavailable": 1}), 3, 2, 3, {}, NOW_TEXT)
    status = du.fail_safe_status(pdb({"maxUnavailable": 1}, stored), "boom", NOW_TEXT)
    assert status["disruptionsAllowed"] == 0
    assert status["currentHealthy"] == 3
    (cond,) = status["conditions"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "SyncFailed", "boom")


# ---- reconcile against fakes -----------------------------------------------------------


class FakeClient:
    """Answers GETs from ``objects`` by path and records status writes."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.statuses: list[Obj] = []

    async def request(self, method: str, path: str, **_: Any) -> Obj:
        try:
            return copy.deepcopy(self.objects[path])
        except KeyError:
            raise errors.NotFound(f"{path} not found") from None

    async def update_status(self, api_version: str, resource: str, obj: Obj, **_: Any) -> Obj:
        self.statuses.append(obj["status"])
        return obj


def controller(*cached: Obj) -> tuple[dc.DisruptionController, FakeClient]:
    client = FakeClient()
    ctx = ControllerContext(client, InformerFactory(client), clock=FakeClock())  # type: ignore[arg-type]
    ctrl = dc.DisruptionController(ctx, now=lambda: NOW)
    informers = {
        "PodDisruptionBudget": ctrl.pdbs,
        "Pod": ctrl.pods,
        "ReplicaSet": ctrl.rss,
        "Deployment": ctrl.deployments,
        "StatefulSet": ctrl.statefulsets,
        "ReplicationController": ctrl.rcs,
    }
    for kind, inf in informers.items():
        inf.replace([copy.deepcopy(o) for o in cached if o["kind"] == kind], "5")
    return ctrl, client


def workload(kind: str, name: str, uid: str, replicas: int, owner: Obj | None = None) -> Obj:
    metadata: Obj = {"name": name, "namespace": "ns", "uid": uid}
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    api_version = "v1" if kind == "ReplicationController" else "apps/v1"
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata,
            "spec": {"replicas": replicas}}  # fmt: skip


async def test_deployment_pods_count_against_the_deployment_scale() -> None:
    deploy = workload("Deployment", "web", "d-uid", 4)
    rs = workload("ReplicaSet", "web-1", "rs-uid", 4, ref("Deployment", "web", "d-uid"))
    owner = ref("ReplicaSet", "web-1", "rs-uid")
    pods = [pod("a", owner=owner), pod("b", owner=owner), pod("c", ready=False, owner=owner)]
    ctrl, client = controller(pdb({"maxUnavailable": "25%"}), deploy, rs, *pods)
    assert await ctrl.reconcile("ns/budget") is None
    (status,) = client.statuses
    # 4 expected, 25% of 4 = 1 may be down, so 3 must be healthy; only 2 are
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (4, 3, 2)
    assert status["disruptionsAllowed"] == 0


async def test_statefulset_and_bare_replicaset_scales_add_up() -> None:
    ss = workload("StatefulSet", "db", "ss-uid", 2)
    rs = workload("ReplicaSet", "cache", "rs-uid", 3)
    pods = [pod("db-0", owner=ref("StatefulSet", "db", "ss-uid")),
            pod("cache-x", owner=ref("ReplicaSet", "cache", "rs-uid"))]  # fmt: skip
    ctrl, client = controller(pdb({"minAvailable": "50%"}), ss, rs, *pods)
    await ctrl.reconcile("ns/budget")
    (status,) = client.statuses
    assert (status["expectedPods"], status["desiredHealthy"]) == (5, 3)


async def test_unmanaged_pods_are_left_out_of_the_scale() -> None:
    rc = workload("ReplicationController", "old", "rc-uid", 2)
    pods = [pod("x", owner=ref("ReplicationController", "old", "rc-uid", "v1")), pod("bare")]
    ctrl, client = controller(pdb({"maxUnavailable": 1}), rc, *pods)
    await ctrl.reconcile("ns/budget")
    (status,) = client.statuses
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (2, 1, 2)
    assert status["disruptionsAllowed"] == 1


async def test_owner_without_scale_fails_safe() -> None:
    job_ref = ref("Job", "batch-1", "job-uid", "batch/v1")
    stored = {"disruptionsAllowed": 2, "currentHealthy": 3, "desiredHealthy": 1,
              "expectedPods": 3, "observedGeneration": 1}  # fmt: skip
    ctrl, client = controller(pdb({"maxUnavailable": 2}, stored), pod("j", owner=job_ref))
    client.objects["/apis/batch/v1"] = {
        "resources": [{"name": "jobs", "kind": "Job"}, {"name": "jobs/status", "kind": "Job"}]
    }
    await ctrl.reconcile("ns/budget")
    (status,) = client.statuses
    assert status["disruptionsAllowed"] == 0
    (cond,) = status["conditions"]
    assert (cond["reason"], cond["message"]) == (
        "SyncFailed",
        "jobs.batch does not implement the scale subresource",
    )


async def test_custom_resource_scale_is_read_from_its_subresource() -> None:
    owner = ref("Widget", "w", "w-uid", "example.com/v1")
    ctrl, client = controller(pdb({"maxUnavailable": 0}), pod("w-0", owner=owner))
    client.objects["/apis/example.com/v1"] = {
        "resources": [{"name": "widgets", "kind": "Widget"},
                      {"name": "widgets/scale", "kind": "Scale", "group": "autoscaling"}]
    }  # fmt: skip
    client.objects["/apis/example.com/v1/namespaces/ns/widgets/w/scale"] = {
        "kind": "Scale",
        "metadata": {"name": "w", "uid": "w-uid"},
        "spec": {"replicas": 3},
    }
    await ctrl.reconcile("ns/budget")
    (status,) = client.statuses
    assert (status["expectedPods"], status["desiredHealthy"]) == (3, 3)


async def test_missing_controller_fails_safe() -> None:
    owner = ref("ReplicaSet", "gone", "rs-uid")
    ctrl, client = controller(pdb({"maxUnavailable": 1}), pod("orphaned", owner=owner))
    client.objects["/apis/apps/v1"] = {
        "resources": [{"name": "replicasets", "kind": "ReplicaSet"},
                      {"name": "replicasets/scale", "kind": "Scale"}]
    }  # fmt: skip
    await ctrl.reconcile("ns/budget")
    (status,) = client.statuses
    assert status["conditions"][0]["message"] == 'found no controllers for pod "orphaned"'


async def test_eviction_record_is_kept_and_rechecked() -> None:
    evicted = format_time(NOW - timedelta(seconds=60))
    stored = {"disruptedPods": {"a": evicted}, "disruptionsAllowed": 0, "observedGeneration": 1}
    ctrl, client = controller(pdb({"minAvailable": 1}, stored), pod("a"), pod("b"))
    result = await ctrl.reconcile("ns/budget")
    (status,) = client.statuses
    assert status["disruptedPods"] == {"a": evicted}
    assert (status["currentHealthy"], status["disruptionsAllowed"]) == (1, 0)
    assert isinstance(result, Requeue)
    assert 60 <= result.after <= 62


async def test_deleted_budget_is_done() -> None:
    ctrl, client = controller()
    assert await ctrl.reconcile("ns/budget") is None
    assert client.statuses == []


async def test_pod_events_enqueue_matching_budgets() -> None:
    other = pdb({"minAvailable": 1})
    other["metadata"]["name"] = "other"
    other["spec"]["selector"] = {"matchLabels": {"app": "db"}}
    ctrl, _ = controller(pdb({"minAvailable": 1}), other)
    moved = pod("p")
    moved["metadata"]["labels"] = {"app": "db"}
    ctrl._pod_updated(pod("p"), moved)
    assert sorted([await ctrl.queue.get(), await ctrl.queue.get()]) == ["ns/budget", "ns/other"]


# ---- stale DisruptionTarget conditions -------------------------------------------------


def marked(since: datetime, **meta: Any) -> Obj:
    p = pod("evicted", **meta)
    p["metadata"]["resourceVersion"] = "9"
    p["status"]["conditions"].append(
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
         "message": "Eviction API: evicting", "lastTransitionTime": format_time(since)}
    )  # fmt: skip
    return p


@pytest.mark.parametrize(
    ("p", "wait"),
    [
        pytest.param(marked(NOW - timedelta(seconds=30)), 90.0, id="fresh"),
        pytest.param(marked(NOW - timedelta(minutes=5)), 0.0, id="stale"),
        pytest.param(marked(NOW, deletionTimestamp=NOW_TEXT), None, id="terminating"),
        pytest.param(pod("plain"), None, id="no-condition"),
    ],
)
def test_stale_disruption_wait(p: Obj, wait: float | None) -> None:
    assert du.stale_disruption_wait(p, NOW) == wait


def test_kubelet_disruption_is_never_stale() -> None:
    p = marked(NOW - timedelta(hours=1))
    p["status"]["conditions"][-1]["reason"] = "TerminationByKubelet"
    assert du.stale_disruption_wait(p, NOW) is None


async def test_stale_disruption_target_is_reset_to_false() -> None:
    ctrl, client = controller(marked(NOW - timedelta(minutes=3)))
    assert await ctrl.reconcile("pod:ns/evicted") is None
    (status,) = client.statuses
    ready, target = status["conditions"]
    assert ready == {"type": "Ready", "status": "True"}
    assert target == {"type": "DisruptionTarget", "status": "False", "lastProbeTime": None,
                      "lastTransitionTime": NOW_TEXT}  # fmt: skip


async def test_fresh_disruption_target_is_looked_at_when_it_turns_stale() -> None:
    ctrl, client = controller(marked(NOW - timedelta(seconds=100)))
    assert await ctrl.reconcile("pod:ns/evicted") == Requeue(after=20.0)
    assert client.statuses == []
