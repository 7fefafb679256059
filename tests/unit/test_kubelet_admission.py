"""Kubelet pod admission: what a node refuses, with upstream's reasons and messages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from builders import MakeNode, MakePod, expr

from tinykube.kubelet import admission
from tinykube.kubelet.kubelet import Kubelet, KubeletConfig
from tinykube.kubelet.podworkers import PodWorker

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def node() -> MakeNode:
    return MakeNode().name("n1").label("kubernetes.io/os", "linux").capacity(cpu="2", memory="4Gi")


def bound(pod: MakePod) -> Obj:
    out = pod.obj()
    out["spec"]["nodeName"] = "n1"
    return out


def static(pod: Obj) -> Obj:
    pod["metadata"]["annotations"] = {"kubernetes.io/config.source": "file"}
    return pod


CASES = [
    pytest.param(bound(MakePod().req(cpu="1")), node().obj(), [], None, id="fits"),
    pytest.param(
        bound(MakePod().req(cpu="5")),
        node().obj(),
        [bound(MakePod().req(cpu="200m"))],
        admission.Rejection(
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 5000, used: 200, capacity: 2000",
        ),
        id="cpu-beyond-allocatable",
    ),
    pytest.param(
        bound(MakePod().req(memory="1Gi")),
        node().obj(),
        [bound(MakePod().req(memory="3584Mi"))],
        admission.Rejection(
            "OutOfmemory",
            "Node didn't have enough resource: memory, requested: 1073741824, "
            "used: 3758096384, capacity: 4294967296",
        ),
        id="memory-used-by-admitted-pods",
    ),
    pytest.param(
        bound(MakePod().container()),
        node().capacity(pods="2").obj(),
        [bound(MakePod().container()), bound(MakePod().container())],
        admission.Rejection(
            "OutOfpods",
            "Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2",
        ),
        id="pod-count",
    ),
    pytest.param(
        bound(MakePod().req(cpu="500m").init_req(cpu="1500m")),
        node().obj(),
        [bound(MakePod().req(cpu="1"))],
        admission.Rejection(
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 1500, used: 1000, capacity: 2000",
        ),
        id="largest-init-container-counts",
    ),
    pytest.param(
        bound(MakePod().req(cpu="600m")),
        node().obj(),
        [bound(MakePod().req(cpu="500m").init_req(cpu="1500m"))],
        admission.Rejection(
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000",
        ),
        id="admitted-pods-count-by-init-rule",
    ),
    pytest.param(
        bound(MakePod().req(cpu="3", memory="8Gi")),
        node().obj(),
        [],
        admission.Rejection(
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000",
        ),
        id="first-shortfall-is-reported",
    ),
    pytest.param(
        bound(MakePod().res({"example.com/gpu": "1"})),
        node().obj(),
        [],
        None,
        id="extended-resource-unknown-to-node-is-ignored",
    ),
    pytest.param(
        bound(MakePod().res({"example.com/gpu": "2"})),
        node().resources({"example.com/gpu": "1"}).obj(),
        [],
        admission.Rejection(
            "OutOfexample.com/gpu",
            "Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 1",
        ),
        id="extended-resource-short",
    ),
    pytest.param(
        bound(MakePod().container().node_selector({"disk": "ssd"})),
        node().obj(),
        [],
        admission.Rejection(
            "NodeAffinity",
            "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
        ),
        id="node-selector",
    ),
    pytest.param(
        bound(MakePod().container().node_affinity_required([expr("disk", "In", ["ssd"])])),
        node().label("disk", "ssd").obj(),
        [],
        None,
        id="node-affinity-matches",
    ),
    pytest.param(
        bound(MakePod().host_port(8080)),
        node().obj(),
        [bound(MakePod().host_port(8080, host_ip="10.0.0.1"))],
        admission.Rejection(
            "NodePorts",
            "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports",
        ),
        id="host-port-taken",
    ),
    pytest.param(
        bound(MakePod().host_port(8080, protocol="UDP")),
        node().obj(),
        [bound(MakePod().host_port(8080))],
        None,
        id="host-port-other-protocol",
    ),
    pytest.param(
        bound(MakePod().container()),
        node().taint("dedicated", "db", effect="NoExecute").obj(),
        [],
        admission.Rejection(
            "TaintToleration",
            "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate",
        ),
        id="untolerated-no-execute-taint",
    ),
    pytest.param(
        bound(MakePod().container()),
        node().taint("dedicated", "db", effect="NoSchedule").obj(),
        [],
        None,
        id="no-schedule-taint-is-the-schedulers-business",
    ),
    pytest.param(
        static(bound(MakePod().container())),
        node().taint("dedicated", "db", effect="NoExecute").obj(),
        [],
        None,
        id="static-pod-ignores-taints",
    ),
    pytest.param(
        static(bound(MakePod().req(cpu="3"))),
        node().obj(),
        [],
        admission.Rejection(
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000",
        ),
        id="static-pod-checked-for-resources",
    ),
    pytest.param(
        bound(MakePod().container().label("kubernetes.io/os", "windows")),
        node().obj(),
        [],
        admission.Rejection(
            "PodOSSelectorNodeLabelDoesNotMatch",
            "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label",
        ),
        id="os-label",
    ),
]


@pytest.mark.parametrize(("pod", "node_obj", "admitted", "want"), CASES)
def test_admission(
    pod: Obj, node_obj: Obj, admitted: list[Obj], want: admission.Rejection | None
) -> None:
    assert admission.admit(pod, node_obj, admitted) == want


def test_resources_are_checked_before_affinity() -> None:
    pod = bound(MakePod().req(cpu="3").node_selector({"disk": "ssd"}))
    rejection = admission.admit(pod, node().obj(), [])
    assert rejection is not None
    assert rejection.reason == "OutOfcpu"


def test_overhead_counts() -> None:
    pod = bound(MakePod().req(cpu="1900m").overhead(cpu="200m"))
    rejection = admission.admit(pod, node().obj(), [])
    assert rejection == admission.Rejection(
        "OutOfcpu",
        "Node didn't have enough resource: cpu, requested: 2100, used: 0, capacity: 2000",
    )


# ---- the worker: a refused pod fails at once and never runs ---------------------------


class RefusingHost:
    """Only what a worker touches before admission; ``runtime`` is None, so running
    anything would fail the test."""

    runtime = None
    volumes = None

    def __init__(self, rejection: admission.Rejection | None, writes_fail: int = 0) -> None:
        self.rejection = rejection
        self.writes_fail = writes_fail
        self.events: list[tuple[str, str, str]] = []
        self.statuses: list[Obj] = []

    async def admit(self, pod: Obj) -> admission.Rejection | None:
        return self.rejection

    def event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    async def write_status(self, pod: Obj, status: Obj) -> bool:
        if self.writes_fail:
            self.writes_fail -= 1
            return False
        self.statuses.append(status)
        return True


OUT_OF_CPU = admission.Rejection(
    "OutOfcpu", "Node didn't have enough resource: cpu, requested: 5000, used: 200, capacity: 2000"
)


def test_rejected_pod_fails_with_the_reason_and_a_warning_event() -> None:
    host = RefusingHost(OUT_OF_CPU)
    pod = bound(MakePod().req(cpu="5"))
    worker = PodWorker(host, pod)  # type: ignore[arg-type]
    assert asyncio.run(worker.sync()) is False
    assert host.events == [("Warning", "OutOfcpu", OUT_OF_CPU.message)]
    [written] = host.statuses
    assert written["phase"] == "Failed"
    assert written["reason"] == "OutOfcpu"
    assert written["message"] == "Pod was rejected: " + OUT_OF_CPU.message
    assert written["qosClass"] == "Burstable"
    assert written["startTime"].endswith("Z")
    assert not worker.admitted


def test_rejection_status_is_retried_until_written_and_the_event_sent_once() -> None:
    host = RefusingHost(OUT_OF_CPU, writes_fail=1)
    worker = PodWorker(host, bound(MakePod().req(cpu="5")))  # type: ignore[arg-type]

    async def two_passes() -> None:
        await worker.sync()
        assert host.statuses == []
        await worker.sync()
        await worker.sync()

    asyncio.run(two_passes())
    assert len(host.statuses) == 1
    assert len(host.events) == 1


def test_a_pod_already_failed_is_not_admitted_again() -> None:
    host = RefusingHost(None)
    pod = bound(MakePod().req(cpu="5"))
    pod["status"] = {"phase": "Failed", "reason": "OutOfcpu"}
    worker = PodWorker(host, pod)  # type: ignore[arg-type]
    asyncio.run(worker.sync())
    assert not worker.admitted
    assert host.statuses == []


# ---- the kubelet: which pods count, and a second look at the Node -------------------


class NodeClient:
    """Answers GET of the Node with ``node``."""

    def __init__(self, node: Obj) -> None:
        self.node = node
        self.gets = 0

    async def get(self, version: str, resource: str, name: str, namespace: str = "") -> Obj:
        self.gets += 1
        return self.node


def a_kubelet(tmp_path: Path, node_obj: Obj, fresh: Obj | None = None) -> Kubelet:
    config = KubeletConfig(node_name="n1", root_dir=tmp_path, runtime="simulated")
    kl = Kubelet(config, NodeClient(fresh or node_obj))  # type: ignore[arg-type]
    kl.node = node_obj
    return kl


def running(kl: Kubelet, pod: Obj, **flags: bool) -> PodWorker:
    worker = PodWorker(kl, pod)
    worker.admitted = flags.get("admitted", True)
    worker.terminal = flags.get("terminal", False)
    worker.gone = flags.get("gone", False)
    kl.workers[worker.uid] = worker
    return worker


@pytest.mark.parametrize(
    ("flags", "counted"),
    [
        pytest.param({}, True, id="admitted"),
        pytest.param({"admitted": False}, False, id="not-yet-admitted"),
        pytest.param({"terminal": True}, False, id="finished"),
        pytest.param({"gone": True}, False, id="deleted-or-file-removed"),
    ],
)
def test_which_pods_count_against_the_node(
    tmp_path: Path, flags: dict[str, bool], counted: bool
) -> None:
    kl = a_kubelet(tmp_path, node().obj())
    running(kl, bound(MakePod().req(cpu="1500m")), **flags)
    rejection = asyncio.run(kl.admit(bound(MakePod().req(cpu="1"))))
    assert (rejection is not None) == counted
    if counted:
        assert rejection == admission.Rejection(
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 1000, used: 1500, capacity: 2000",
        )


def test_a_pod_refused_for_affinity_is_checked_against_the_node_read_again(
    tmp_path: Path,
) -> None:
    """The Node the kubelet holds may predate a label the pod selects (upstream looks again)."""
    kl = a_kubelet(tmp_path, node().obj(), fresh=node().label("disk", "ssd").obj())
    pod = bound(MakePod().container().node_selector({"disk": "ssd"}))
    assert asyncio.run(kl.admit(pod)) is None
    assert kl.client.gets == 1  # type: ignore[attr-defined]


def test_resource_refusals_do_not_read_the_node_again(tmp_path: Path) -> None:
    kl = a_kubelet(tmp_path, node().obj())
    assert asyncio.run(kl.admit(bound(MakePod().req(cpu="3")))) is not None
    assert kl.client.gets == 0  # type: ignore[attr-defined]
