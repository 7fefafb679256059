"""The node lifecycle controller's decisions, and its syncs on a fake clock.

The pure functions (which taints a Node should carry, what "Unknown" looks
like, how long a Pod may stay) are tables; the syncs run against the
recording client with the informer caches filled by hand and time moved with
``FakeClock.advance``, so a 40-second grace period costs nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from recording_client import context

from tinykube.controllers.nodelifecycle import (
    NO_EXECUTE,
    NO_SCHEDULE,
    NOT_READY,
    STATUS_UNKNOWN,
    UNREACHABLE,
    UNSCHEDULABLE,
    Disruption,
    NodeLifecycleController,
    desired_taints,
    disruption,
    eviction_delay,
    gate_no_execute,
    is_lost,
    observe,
    reconcile_taints,
    seconds_setting,
    unknown_conditions,
    zone_ready_counts,
)
from tinykube.controllers.runtime import Requeue

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
WHEN = "2026-01-01T12:00:00Z"


def node(
    name: str = "a",
    ready: str | None = "True",
    heartbeat: str = "2026-01-01T11:59:50Z",
    taints: list[Obj] | None = None,
    unschedulable: bool = False,
) -> Obj:
    conditions = []
    if ready is not None:
        conditions.append(
            {
                "type": "Ready",
                "status": ready,
                "reason": "KubeletReady",
                "lastHeartbeatTime": heartbeat,
            }
        )
    conditions.append({"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": heartbeat})
    spec: Obj = {"taints": taints} if taints else {}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "5"},
        "spec": spec,
        "status": {"conditions": conditions},
    }


def lease(name: str = "a", renew: str = "2026-01-01T11:59:55.000000Z") -> Obj:
    return {
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "renewTime": renew},
    }


def pod(name: str, node_name: str = "a", tolerations: list[Obj] | None = None) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
        "spec": {"nodeName": node_name, "tolerations": tolerations or []},
        "status": {"phase": "Running"},
    }


def tol(key: str = UNREACHABLE, seconds: int | None = None, effect: str = NO_EXECUTE) -> Obj:
    out: Obj = {"key": key, "operator": "Exists", "effect": effect}
    if seconds is not None:
        out["tolerationSeconds"] = seconds
    return out


UNREACHABLE_TAINTS = [
    {"key": UNREACHABLE, "effect": NO_SCHEDULE},
    {"key": UNREACHABLE, "effect": NO_EXECUTE, "timeAdded": WHEN},
]

# ---- which taints ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (node(ready="True"), set()),
        (node(ready="False"), {(NOT_READY, NO_SCHEDULE), (NOT_READY, NO_EXECUTE)}),
        (node(ready="Unknown"), {(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE)}),
        (node(ready=None), set()),
        (node(unschedulable=True), {(UNSCHEDULABLE, NO_SCHEDULE)}),
        (
            node(ready="Unknown", unschedulable=True),
            {(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE), (UNSCHEDULABLE, NO_SCHEDULE)},
        ),
    ],
    ids=["ready", "not-ready", "unknown", "never-posted", "cordoned", "unknown-and-cordoned"],
)
def test_desired_taints(n: Obj, expected: set[tuple[str, str]]) -> None:
    assert desired_taints(n) == expected


def test_new_taints_are_added_and_no_execute_ones_stamped() -> None:
    wanted = {(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE)}
    out = reconcile_taints(
        [{"key": "dedicated", "value": "db", "effect": NO_SCHEDULE}], wanted, WHEN
    )
    assert out == [
        {"key": "dedicated", "value": "db", "effect": NO_SCHEDULE},
        {"key": UNREACHABLE, "effect": NO_EXECUTE, "timeAdded": WHEN},
        {"key": UNREACHABLE, "effect": NO_SCHEDULE},
    ]


def test_taints_already_right_are_no_change() -> None:
    wanted = {(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE)}
    assert reconcile_taints(UNREACHABLE_TAINTS, wanted, "later") is None


def test_a_healthy_node_loses_only_the_managed_taints() -> None:
    foreign = {"key": "dedicated", "effect": NO_EXECUTE}
    assert reconcile_taints([*UNREACHABLE_TAINTS, foreign], set(), WHEN) == [foreign]


def test_not_ready_swaps_for_unreachable_keeping_nothing_stale() -> None:
    wanted = {(NOT_READY, NO_SCHEDULE), (NOT_READY, NO_EXECUTE)}
    out = reconcile_taints(UNREACHABLE_TAINTS, wanted, WHEN)
    assert out is not None
    assert {(t["key"], t["effect"]) for t in out} == wanted


def zoned(name: str, zone: str, ready: str = "True") -> Obj:
    n = node(name, ready=ready)
    n["metadata"]["labels"] = {"topology.kubernetes.io/zone": zone}
    return n


@pytest.mark.parametrize(
    ("cluster", "fresh", "expected"),
    [
        ([zoned("a", "z1")], zoned("a", "z1", "Unknown"), Disruption(True, True)),
        (
            [zoned("a", "z1"), zoned("b", "z1")],
            zoned("a", "z1", "Unknown"),
            Disruption(False, False),
        ),
        (
            [zoned("a", "z1"), zoned("b", "z2")],
            zoned("a", "z1", "Unknown"),
            Disruption(True, False),
        ),
        (
            [zoned("a", "z1", "Unknown"), zoned("b", "z1", "False")],
            zoned("a", "z1", "Unknown"),
            Disruption(True, True),
        ),
    ],
    ids=["last-node-lost", "one-of-two", "whole-zone", "nothing-ready"],
)
def test_disruption_counts_the_fresh_copy(
    cluster: list[Obj], fresh: Obj, expected: Disruption
) -> None:
    cached = next(n for n in cluster if n["metadata"]["name"] == fresh["metadata"]["name"])
    assert disruption(zone_ready_counts(cluster), cached, fresh) == expected


UNREACHABLE_BOTH = {(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE)}


@pytest.mark.parametrize(
    ("current", "state", "expected"),
    [
        (set(), Disruption(False, False), UNREACHABLE_BOTH),
        (set(), Disruption(True, False), {(UNREACHABLE, NO_SCHEDULE)}),
        (UNREACHABLE_BOTH, Disruption(True, False), UNREACHABLE_BOTH),
        (UNREACHABLE_BOTH, Disruption(True, True), {(UNREACHABLE, NO_SCHEDULE)}),
    ],
    ids=["normal", "zone-down-adds-none", "zone-down-keeps", "all-down-lifts"],
)
def test_no_execute_gated_by_disruption(
    current: set[tuple[str, str]], state: Disruption, expected: set[tuple[str, str]]
) -> None:
    assert gate_no_execute(UNREACHABLE_BOTH, current, state) == expected


# ---- what Unknown looks like --------------------------------------------------------


def test_every_condition_becomes_unknown_and_missing_ones_are_added() -> None:
    out = unknown_conditions(node(), WHEN)
    assert out is not None
    by_type = {c["type"]: c for c in out}
    assert set(by_type) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    assert all(c["status"] == "Unknown" for c in out)
    ready = by_type["Ready"]
    assert ready["reason"] == STATUS_UNKNOWN
    assert ready["message"] == "Kubelet stopped posting node status."
    assert ready["lastHeartbeatTime"] == "2026-01-01T11:59:50Z"  # when the kubelet last spoke
    assert ready["lastTransitionTime"] == WHEN
    assert by_type["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"


def test_a_node_already_unknown_is_not_rewritten() -> None:
    first = unknown_conditions(node(), WHEN)
    again = {"metadata": {"name": "a"}, "status": {"conditions": first}}
    assert unknown_conditions(again, "later") is None


def test_health_is_judged_on_when_the_heartbeat_changed() -> None:
    h = observe(None, ("hb1", "r1"), 100.0)
    h = observe(h, ("hb1", "r1"), 130.0)  # nothing new: the probe time stays
    assert h.probed_at == 100.0
    assert is_lost(h, 141.0, grace=40.0)
    h = observe(h, ("hb1", "r2"), 141.0)  # the lease moved
    assert not is_lost(h, 150.0, grace=40.0)


# ---- eviction delay -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("taints", "tolerations", "expected"),
    [
        ([{"key": UNREACHABLE, "effect": NO_EXECUTE}], [], 0.0),
        ([{"key": UNREACHABLE, "effect": NO_EXECUTE}], [tol(seconds=300)], 300.0),
        ([{"key": UNREACHABLE, "effect": NO_EXECUTE}], [tol()], None),
        ([{"key": UNREACHABLE, "effect": NO_EXECUTE}], [tol(NOT_READY, 300)], 0.0),
        ([{"key": UNREACHABLE, "effect": NO_EXECUTE}], [tol(seconds=-5)], 0.0),
        ([{"key": UNREACHABLE, "effect": NO_EXECUTE}], [tol(), tol(seconds=20)], 20.0),
        (
            [{"key": UNREACHABLE, "effect": NO_EXECUTE}, {"key": "x", "effect": NO_EXECUTE}],
            [tol(seconds=300), tol("x", 60)],
            60.0,
        ),
        (
            [{"key": UNREACHABLE, "effect": NO_EXECUTE}, {"key": "x", "effect": NO_EXECUTE}],
            [tol(seconds=300)],
            0.0,
        ),
        ([{"key": UNREACHABLE, "effect": NO_EXECUTE}], [{"operator": "Exists"}], None),
        ([], [], None),
    ],
    ids=[
        "untolerated",
        "default-300s",
        "forever",
        "other-key",
        "negative",
        "min-of-used",
        "min-over-taints",
        "one-untolerated",
        "tolerate-everything",
        "no-taints",
    ],
)
def test_eviction_delay(taints: list[Obj], tolerations: list[Obj], expected: float | None) -> None:
    assert eviction_delay(taints, tolerations) == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 40.0), ("3s", 3.0), ("500ms", 0.5), (2, 2.0), ("1m30s", 90.0), ("2.5", 2.5)],
)
def test_seconds_setting(value: object, seconds: float) -> None:
    assert seconds_setting(value, 40.0) == seconds


# ---- syncs on a fake clock ----------------------------------------------------------


def setup(nodes: list[Obj], leases: list[Obj], pods: list[Obj] | None = None):  # type: ignore[no-untyped-def]
    ctx, client, clock = context()
    controller = NodeLifecycleController(ctx)
    controller.nodes.replace(nodes, "1")
    controller.leases.replace(leases, "1")
    controller.pods.replace(pods or [], "1")
    return controller, client, clock


async def test_a_node_whose_lease_stops_becomes_unknown_and_unreachable() -> None:
    controller, client, clock = setup([node()], [lease()])
    assert await controller.reconcile(("Node", "a")) == Requeue(after=5.0)
    await clock.advance(40)
    await controller.reconcile(("Node", "a"))
    assert client.calls == []  # exactly the grace period: not yet
    await clock.advance(1)
    await controller.reconcile(("Node", "a"))
    assert client.calls == [("update_status", "nodes", "a"), ("update", "nodes", "a")]
    assert {c["status"] for c in client.last_status["conditions"]} == {"Unknown"}


async def test_pods_on_a_lost_node_are_marked_not_ready() -> None:
    ready = pod("ready")
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    controller, client, clock = setup([node()], [lease()], [ready, pod("pending")])
    await controller.reconcile(("Node", "a"))
    await clock.advance(41)
    await controller.reconcile(("Node", "a"))
    assert client.verbs("patch", "pods") == ["ready"]


def capture_updates(client: Any) -> list[Obj]:
    bodies: list[Obj] = []
    update = client.update

    async def recording(api_version: str, resource: str, obj: Obj, *a: Any, **kw: Any) -> Obj:
        bodies.append(obj)
        return await update(api_version, resource, obj, *a, **kw)

    client.update = recording
    return bodies


async def test_a_lost_node_beside_a_ready_one_is_tainted_no_execute() -> None:
    controller, client, clock = setup([node("a"), node("b")], [lease("a"), lease("b")])
    bodies = capture_updates(client)
    await controller.reconcile(("Node", "a"))
    await clock.advance(41)
    await controller.reconcile(("Node", "a"))
    assert {(t["key"], t["effect"]) for t in bodies[-1]["spec"]["taints"]} == UNREACHABLE_BOTH


async def test_the_last_node_of_a_cluster_is_not_tainted_no_execute() -> None:
    controller, client, clock = setup([node("a")], [lease("a")])
    bodies = capture_updates(client)
    await controller.reconcile(("Node", "a"))
    await clock.advance(41)
    await controller.reconcile(("Node", "a"))
    assert bodies[-1]["spec"]["taints"] == [{"key": UNREACHABLE, "effect": NO_SCHEDULE}]


async def test_a_renewed_lease_keeps_the_node_alive() -> None:
    controller, client, clock = setup([node()], [lease()])
    await controller.reconcile(("Node", "a"))
    await clock.advance(30)
    controller.leases.add(lease(renew="2026-01-01T12:00:25.000000Z"))
    await controller.reconcile(("Node", "a"))
    await clock.advance(30)  # 60 s since the first look, 30 s since the renewal
    await controller.reconcile(("Node", "a"))
    assert client.calls == []


async def test_a_node_healthy_again_loses_its_taints() -> None:
    controller, client, _ = setup([node(taints=UNREACHABLE_TAINTS)], [lease()])
    await controller.reconcile(("Node", "a"))
    assert client.calls == [("update", "nodes", "a")]


async def test_a_cordoned_node_is_tainted_unschedulable() -> None:
    controller, client, _ = setup([node(unschedulable=True)], [lease()])
    await controller.reconcile(("Node", "a"))
    assert client.calls == [("update", "nodes", "a")]


async def test_pods_without_a_toleration_are_evicted_at_once() -> None:
    tainted = node(ready="Unknown", taints=UNREACHABLE_TAINTS)
    controller, client, _ = setup([tainted], [lease()], [pod("p")])
    assert await controller.reconcile(("Pod", "ns/p")) is None
    assert client.verbs("delete", "pods") == ["p"]


async def test_pods_tolerating_for_a_while_are_evicted_after_it() -> None:
    tainted = node(ready="Unknown", taints=UNREACHABLE_TAINTS)
    controller, client, clock = setup(
        [tainted], [lease()], [pod("p", tolerations=[tol(seconds=300)])]
    )
    assert await controller.reconcile(("Pod", "ns/p")) == Requeue(after=300.0)
    await clock.advance(200)
    assert await controller.reconcile(("Pod", "ns/p")) == Requeue(after=100.0)  # the clock runs on
    await clock.advance(100)
    await controller.reconcile(("Pod", "ns/p"))
    assert client.verbs("delete", "pods") == ["p"]


async def test_a_new_pod_of_the_same_name_starts_its_own_countdown() -> None:
    tainted = node(ready="Unknown", taints=UNREACHABLE_TAINTS)
    first = pod("p", tolerations=[tol(seconds=300)])
    controller, client, clock = setup([tainted], [lease()], [first])
    await controller.reconcile(("Pod", "ns/p"))
    await clock.advance(250)
    again = pod("p", tolerations=[tol(seconds=300)])
    again["metadata"]["uid"] = "uid-p-2"
    controller.pods.add(again)
    assert await controller.reconcile(("Pod", "ns/p")) == Requeue(after=300.0)
    assert client.calls == []


async def test_pods_tolerating_forever_stay() -> None:
    tainted = node(ready="Unknown", taints=UNREACHABLE_TAINTS)
    controller, client, clock = setup([tainted], [lease()], [pod("p", tolerations=[tol()])])
    assert await controller.reconcile(("Pod", "ns/p")) is None
    await clock.advance(10_000)
    assert await controller.reconcile(("Pod", "ns/p")) is None
    assert client.calls == []


async def test_a_taint_removed_in_time_cancels_the_eviction() -> None:
    tainted = node(ready="Unknown", taints=UNREACHABLE_TAINTS)
    controller, client, clock = setup(
        [tainted], [lease()], [pod("p", tolerations=[tol(seconds=300)])]
    )
    await controller.reconcile(("Pod", "ns/p"))
    await clock.advance(200)
    controller.nodes.add(node())  # back, untainted
    assert await controller.reconcile(("Pod", "ns/p")) is None
    assert controller.tainted_since == {}
    await clock.advance(200)
    assert client.calls == []


async def test_taint_changes_enqueue_the_pods_on_the_node() -> None:
    controller, _, _ = setup([node()], [lease()], [pod("p"), pod("q", node_name="b")])
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())
    controller.nodes.add(node(ready="Unknown", taints=UNREACHABLE_TAINTS))
    keys = set()
    while len(controller.queue):
        key = await controller.queue.get()
        keys.add(key)
        controller.queue.done(key)
    assert keys == {("Node", "a"), ("Pod", "ns/p")}
