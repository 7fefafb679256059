"""NodeName, NodeUnschedulable and TaintToleration on hand-built nodes (upstream's table tests)."""

from __future__ import annotations

import pytest
from builders import MakeNode, MakePod
from harness import codes, filter_all, reasons, score_all

from tinykube.scheduler.framework import Code
from tinykube.scheduler.plugins import nodename, nodeunschedulable, tainttoleration

pytestmark = pytest.mark.unit

OK = Code.SUCCESS
NO = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize(
    ("pod_node", "want"),
    [
        pytest.param("", OK, id="no-node-name-fits-anywhere"),
        pytest.param("n1", OK, id="same-name"),
        pytest.param("n2", NO, id="other-name"),
    ],
)
def test_node_name(pod_node: str, want: Code) -> None:
    pod = MakePod().node(pod_node).obj() if pod_node else MakePod().obj()
    got = filter_all("NodeName", pod, [MakeNode().name("n1").obj()])
    assert got["n1"].code is want
    if want is NO:
        assert got["n1"].reasons == (nodename.ERR_REASON,)


@pytest.mark.parametrize(
    ("unschedulable", "toleration", "want"),
    [
        pytest.param(False, None, OK, id="schedulable"),
        pytest.param(True, None, NO, id="cordoned"),
        pytest.param(
            True,
            {
                "key": "node.kubernetes.io/unschedulable",
                "operator": "Exists",
                "effect": "NoSchedule",
            },
            OK,
            id="cordoned-tolerated",
        ),
        pytest.param(True, {"operator": "Exists"}, OK, id="cordoned-tolerate-everything"),
    ],
)
def test_node_unschedulable(unschedulable: bool, toleration: dict | None, want: Code) -> None:
    pod = MakePod()
    if toleration:
        pod.toleration(**toleration)
    node = MakeNode().name("n1").unschedulable(unschedulable).obj()
    got = filter_all("NodeUnschedulable", pod.obj(), [node])["n1"]
    assert got.code is want
    if want is NO:
        assert got.reasons == (nodeunschedulable.ERR_REASON_UNSCHEDULABLE,)


CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


@pytest.mark.parametrize(
    ("taints", "tolerations", "want"),
    [
        pytest.param([], [], OK, id="no-taints"),
        pytest.param([(CONTROL_PLANE, "", "NoSchedule")], [], NO, id="untolerated"),
        pytest.param(
            [(CONTROL_PLANE, "", "NoSchedule")],
            [{"key": CONTROL_PLANE, "operator": "Exists", "effect": "NoSchedule"}],
            OK,
            id="exists",
        ),
        pytest.param(
            [("dedicated", "gpu", "NoSchedule")],
            [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
            OK,
            id="equal-value",
        ),
        pytest.param(
            [("dedicated", "gpu", "NoSchedule")],
            [{"key": "dedicated", "value": "cpu", "effect": "NoSchedule"}],
            NO,
            id="wrong-value",
        ),
        pytest.param(
            [("dedicated", "gpu", "NoExecute")],
            [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
            NO,
            id="wrong-effect",
        ),
        pytest.param(
            [("a", "1", "NoSchedule"), ("b", "", "NoExecute")],
            [{"operator": "Exists"}],
            OK,
            id="empty-key-exists-tolerates-everything",
        ),
        pytest.param(
            [("a", "1", "NoSchedule")],
            [{"key": "a", "operator": "Exists"}],
            OK,
            id="empty-effect-matches-all-effects",
        ),
        pytest.param([("a", "1", "PreferNoSchedule")], [], OK, id="prefer-no-schedule-is-soft"),
    ],
)
def test_taint_filter(taints: list, tolerations: list, want: Code) -> None:
    node = MakeNode().name("n1")
    for key, value, effect in taints:
        node.taint(key, value, effect)
    pod = MakePod()
    for t in tolerations:
        pod.toleration(**t)
    assert filter_all("TaintToleration", pod.obj(), [node.obj()])["n1"].code is want


def test_taint_reason_shows_key_and_value() -> None:
    nodes = [
        MakeNode().name("a").taint(CONTROL_PLANE).obj(),
        MakeNode().name("b").taint("dedicated", "gpu").obj(),
    ]
    got = reasons(filter_all("TaintToleration", MakePod().obj(), nodes))
    assert got == {
        "a": ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",),
        "b": ("node(s) had untolerated taint {dedicated: gpu}",),
    }
    assert tainttoleration.untolerated_taint_reason({"key": "k"}) == got["a"][0].replace(
        CONTROL_PLANE, "k"
    )


def test_taint_score_prefers_fewer_untolerated_prefer_no_schedule() -> None:
    nodes = [
        MakeNode().name("clean").obj(),
        MakeNode().name("one").taint("a", "x", "PreferNoSchedule").obj(),
        MakeNode()
        .name("two")
        .taint("a", "x", "PreferNoSchedule")
        .taint("b", "y", "PreferNoSchedule")
        .obj(),
        MakeNode().name("tolerated").taint("c", "z", "PreferNoSchedule").obj(),
    ]
    pod = MakePod().toleration("c", "Equal", "z", "PreferNoSchedule").obj()
    assert score_all("TaintToleration", pod, nodes) == {
        "clean": 100,
        "one": 50,
        "two": 0,
        "tolerated": 100,
    }


def test_taint_score_all_clean_is_all_max() -> None:
    nodes = [MakeNode().name("a").obj(), MakeNode().name("b").obj()]
    assert score_all("TaintToleration", MakePod().obj(), nodes) == {"a": 100, "b": 100}


def test_codes_helper_covers_every_node() -> None:
    nodes = [MakeNode().name("a").obj(), MakeNode().name("b").taint("x").obj()]
    assert codes(filter_all("TaintToleration", MakePod().obj(), nodes)) == {"a": OK, "b": NO}
