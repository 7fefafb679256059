"""DaemonSet decisions as pure functions: which nodes run a daemon, the daemon Pod, the
rolling update plan, history and status."""

from __future__ import annotations

import pytest
from workload_builders import NOW, pod

from tinykube.controllers import history
from tinykube.controllers.daemonset import update, util
from tinykube.controllers.schedulingutil import required_affinity_matches

pytestmark = pytest.mark.unit


def node(name: str = "n1", labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def ds(**spec: object) -> dict:
    template_spec = {"containers": [{"name": "c", "image": "agent:1"}], **spec.pop("pod", {})}  # type: ignore[dict-item]
    return {
        "metadata": {"name": "agent", "namespace": "ns", "uid": "uid-agent", "generation": 1},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": template_spec},
            **spec,
        },
    }


def taint(effect: str, key: str = "k") -> dict:
    return {"key": key, "value": "v", "effect": effect}


@pytest.mark.parametrize(
    ("the_node", "the_ds", "expected"),
    [
        pytest.param(node(), ds(), (True, True), id="plain"),
        pytest.param(
            node(labels={"disk": "ssd"}),
            ds(pod={"nodeSelector": {"disk": "ssd"}}),
            (True, True),
            id="selector-match",
        ),
        pytest.param(
            node(), ds(pod={"nodeSelector": {"disk": "ssd"}}), (False, False), id="selector-miss"
        ),
        pytest.param(
            node(taints=[taint("NoSchedule")]), ds(), (False, True), id="noschedule-keeps-running"
        ),
        pytest.param(
            node(taints=[taint("NoExecute")]), ds(), (False, False), id="noexecute-evicts"
        ),
        pytest.param(
            node(taints=[taint("PreferNoSchedule")]), ds(), (True, True), id="prefer-is-ignored"
        ),
        pytest.param(
            node(taints=[taint("NoSchedule", "node.kubernetes.io/unschedulable")]),
            ds(),
            (True, True),
            id="cordoned-still-gets-daemons",
        ),
        pytest.param(
            node(taints=[taint("NoExecute", "node.kubernetes.io/unreachable")]),
            ds(),
            (True, True),
            id="unreachable-tolerated",
        ),
        pytest.param(
            node(taints=[taint("NoExecute")]),
            ds(pod={"tolerations": [{"key": "k", "operator": "Exists"}]}),
            (True, True),
            id="own-toleration",
        ),
        pytest.param(node("a"), ds(pod={"nodeName": "b"}), (False, False), id="other-node-name"),
        pytest.param(
            node(labels={"zone": "1"}),
            ds(
                pod={
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {"key": "zone", "operator": "In", "values": ["2"]}
                                        ]
                                    }
                                ]
                            }
                        }
                    }
                }
            ),
            (False, False),
            id="affinity-miss",
        ),
    ],
)
def test_should_run(the_node: dict, the_ds: dict, expected: tuple[bool, bool]) -> None:
    assert util.should_run(the_node, the_ds) == expected


@pytest.mark.parametrize(
    ("requirement", "labels", "matches"),
    [
        ({"key": "n", "operator": "Gt", "values": ["3"]}, {"n": "4"}, True),
        ({"key": "n", "operator": "Lt", "values": ["3"]}, {"n": "4"}, False),
        ({"key": "n", "operator": "Exists"}, {}, False),
        ({"key": "n", "operator": "DoesNotExist"}, {}, True),
        ({"key": "n", "operator": "NotIn", "values": ["a"]}, {}, True),
    ],
)
def test_node_selector_operators(requirement: dict, labels: dict, matches: bool) -> None:
    spec = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [requirement]}]
                }
            }
        }
    }
    assert required_affinity_matches(spec, node(labels=labels)) is matches


def test_daemon_pod_template_and_pinning() -> None:
    the_ds = ds(pod={"hostNetwork": True})
    template = util.daemon_pod_template(the_ds, "abc")
    assert template["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "abc"}
    keys = [(t["key"], t["effect"]) for t in template["spec"]["tolerations"]]
    assert keys == [*util.DAEMON_TOLERATIONS, util.HOST_NETWORK_TOLERATION]
    util.pin_to_node(template["spec"], "n7")
    p = {"metadata": {}, "spec": template["spec"]}
    assert util.target_node(p) == "n7"
    assert "tolerations" not in the_ds["spec"]["template"]["spec"]


def daemon(name: str, node_name: str, hash_: str, ready_for: float | None = 100) -> dict:
    p = pod(name, labels={"app": "agent", "controller-revision-hash": hash_}, ready_for=ready_for)
    p["spec"]["nodeName"] = node_name
    return p


def test_rolling_update_without_surge_respects_max_unavailable() -> None:
    the_ds = ds(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
    nodes = [node(f"n{i}") for i in range(4)]
    by_node = {
        "n0": [daemon("p0", "n0", "old")],
        "n1": [daemon("p1", "n1", "old")],
        "n2": [daemon("p2", "n2", "old", ready_for=None)],  # broken anyway: replaced at once
        "n3": [daemon("p3", "n3", "new")],
    }
    delete, create = update.rolling_update_plan(the_ds, nodes, by_node, "new", NOW)
    assert [p["metadata"]["name"] for p in delete] == ["p2", "p0"]
    assert create == []
    by_node["n3"] = [daemon("p3", "n3", "new", ready_for=None)]  # the new one is not up yet
    delete, _ = update.rolling_update_plan(the_ds, nodes, by_node, "new", NOW)
    assert [p["metadata"]["name"] for p in delete] == ["p2"]


def test_rolling_update_with_surge_starts_new_pods_first() -> None:
    the_ds = ds(
        updateStrategy={
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
    )
    nodes = [node("n0"), node("n1")]
    by_node = {"n0": [daemon("p0", "n0", "old")], "n1": [daemon("p1", "n1", "old")]}
    delete, create = update.rolling_update_plan(the_ds, nodes, by_node, "new", NOW)
    assert delete == [] and create == ["n0"]
    by_node["n0"].append(daemon("p0b", "n0", "new"))
    delete, create = update.rolling_update_plan(the_ds, nodes, by_node, "new", NOW)
    assert [p["metadata"]["name"] for p in delete] == ["p0"] and create == ["n1"]


def test_extra_and_failed_pods_are_pruned() -> None:
    older = daemon("older", "n1", "h")
    older["metadata"]["creationTimestamp"] = "2020-01-01T00:00:00Z"
    failed = daemon("failed", "n1", "h")
    failed["status"]["phase"] = "Failed"
    needs, delete = util.pods_should_be_on_node(
        node("n1"), [daemon("newer", "n1", "h"), older, failed], ds(), "h", NOW
    )
    assert not needs
    assert sorted(p["metadata"]["name"] for p in delete) == ["failed", "newer"]
    assert util.pods_should_be_on_node(node("n1"), [], ds(), "h", NOW) == (True, [])


def test_status_counts() -> None:
    nodes = [node("n1"), node("n2"), node("n3", taints=[taint("NoSchedule")])]
    by_node = {"n1": [daemon("a", "n1", "h")], "n3": [daemon("c", "n3", "old", ready_for=None)]}
    st = util.daemon_status(ds(), nodes, by_node, "h", NOW)
    assert st == {
        "currentNumberScheduled": 1,
        "numberMisscheduled": 1,
        "desiredNumberScheduled": 2,
        "numberReady": 1,
        "updatedNumberScheduled": 1,
        "numberAvailable": 1,
        "numberUnavailable": 1,
    }


def test_revision_history_data_and_cleanup() -> None:
    the_ds = ds(revisionHistoryLimit=1)
    rev = history.new_revision(the_ds, "DaemonSet", 3)
    assert rev["data"]["spec"]["template"]["$patch"] == "replace"
    assert rev["metadata"]["name"] == f"agent-{util.revision_hash(the_ds)}"
    assert rev["metadata"]["labels"]["controller-revision-hash"] == util.revision_hash(the_ds)
    current, old = history.split_history(the_ds, [rev, {"data": {}, "revision": 1}])
    assert current == [rev] and len(old) == 1
    olds = [
        {
            "metadata": {"name": f"r{i}", "labels": {"controller-revision-hash": f"h{i}"}},
            "revision": i,
        }
        for i in (1, 2, 3)
    ]
    victims = history.history_to_delete(
        the_ds, olds, lambda rev: rev["metadata"]["labels"]["controller-revision-hash"] == "h1"
    )
    assert [v["metadata"]["name"] for v in victims] == ["r2", "r3"]


async def test_failed_daemon_pods_are_replaced_with_per_node_backoff() -> None:
    from tinykube.client.clock import FakeClock
    from tinykube.client.informers import InformerFactory
    from tinykube.controllers.daemonset import DaemonSetController
    from tinykube.controllers.runtime import ControllerContext

    clock = FakeClock()
    ctx = ControllerContext(client=None, factory=InformerFactory(None, clock=clock), clock=clock)  # type: ignore[arg-type]
    controller = DaemonSetController(ctx)
    assert controller._failed_pod_backoff("ns/agent", "n1") is None
    assert controller._failed_pod_backoff("ns/agent", "n1") == pytest.approx(1.0)
    assert controller._failed_pod_backoff("ns/agent", "n2") is None  # per node
    await clock.advance(1.0)
    assert controller._failed_pod_backoff("ns/agent", "n1") is None
    assert controller._failed_pod_backoff("ns/agent", "n1") == pytest.approx(2.0)
