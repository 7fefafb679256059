"""The kubelet as a user meets it through the real kubectl: admission and node events.

One cluster (``tinykube up``) for the module. A pod bound straight to the node
with ``spec.nodeName`` (no scheduler to stop it) that asks for more cpu than
the node has is refused by the kubelet: it fails with reason ``OutOfcpu`` and
upstream's message, and the Warning event says why. ``kubectl describe node``
shows the kubelet's own events, and a cordon and an uncordon show up there as
``NodeNotSchedulable`` and ``NodeSchedulable`` once the kubelet's next status
pass (every 10 s) has seen them. A Node a user deletes is not registered again
while its kubelet runs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from cluster import ApiServer, run_kubectl

pytestmark = pytest.mark.e2e

NS = "e2e-kubelet"
NODE = "controlplane"
T = TypeVar("T")

GREEDY_POD = f"""
apiVersion: v1
kind: Pod
metadata:
  name: greedy
  namespace: {NS}
spec:
  nodeName: {NODE}
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
    resources:
      requests:
        cpu: "64"
"""

REJECTED = re.compile(
    r"^Pod was rejected: Node didn't have enough resource: cpu, requested: 64000, "
    r"used: \d+, capacity: \d+$"
)


def kubectl(server: ApiServer, *args: str, input: str | None = None) -> str:
    result = run_kubectl(server, *args, input=input, timeout=120)
    assert result.returncode == 0, f"kubectl {args}: {result.stdout}{result.stderr}"
    return result.stdout


def eventually(check: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.5)


def describe_node(server: ApiServer) -> str:
    return kubectl(server, "describe", "node", NODE)


def node_event_row(reason: str, message: str) -> re.Pattern[str]:
    """An Events row of ``kubectl describe``: Type, Reason, Age, From, Message."""
    return re.compile(rf"Normal\s+{reason}\s+.*\bkubelet\s+{re.escape(message)}$", re.M)


def test_a_pod_bound_beyond_allocatable_is_rejected(apiserver: ApiServer) -> None:
    kubectl(apiserver, "create", "namespace", NS)
    kubectl(apiserver, "create", "-f", "-", input=GREEDY_POD)

    def failed() -> dict[str, str] | None:
        pod = json.loads(kubectl(apiserver, "-n", NS, "get", "pod", "greedy", "-o", "json"))
        status = pod.get("status") or {}
        return status if status.get("phase") == "Failed" else None

    status = eventually(failed)
    assert status["reason"] == "OutOfcpu"
    assert REJECTED.match(status["message"]), status["message"]
    assert "containerStatuses" not in status
    row = kubectl(apiserver, "-n", NS, "get", "pod", "greedy", "--no-headers").split()
    assert row[:3] == ["greedy", "0/1", "OutOfcpu"]

    def warning() -> list[dict[str, object]]:
        out = kubectl(
            apiserver,
            "-n",
            NS,
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=greedy,reason=OutOfcpu",
            "-o",
            "json",
        )
        return list(json.loads(out)["items"])

    [event] = eventually(warning)
    assert event["type"] == "Warning"
    assert event["source"] == {"component": "kubelet", "host": NODE}
    message = str(event["message"])
    assert REJECTED.match("Pod was rejected: " + message), message


def test_describe_node_shows_the_kubelets_events(apiserver: ApiServer) -> None:
    out = eventually(
        lambda: (text := describe_node(apiserver)) and "NodeAllocatableEnforced" in text and text
    )
    for reason, message in [
        ("Starting", "Starting kubelet."),
        ("NodeHasSufficientMemory", f"Node {NODE} status is now: NodeHasSufficientMemory"),
        ("NodeHasNoDiskPressure", f"Node {NODE} status is now: NodeHasNoDiskPressure"),
        ("NodeHasSufficientPID", f"Node {NODE} status is now: NodeHasSufficientPID"),
        ("NodeReady", f"Node {NODE} status is now: NodeReady"),
        ("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods"),
    ]:
        assert node_event_row(reason, message).search(out), f"{reason} missing:\n{out}"


def test_tkctl_describe_node_shows_the_same_events(apiserver: ApiServer) -> None:
    """The kubelet names the node by its name as uid; describe searches both uids."""
    import os
    import subprocess

    from cluster import BIN

    eventually(lambda: "NodeAllocatableEnforced" in describe_node(apiserver))
    env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig)}
    ours = subprocess.run(
        [str(BIN / "tkctl"), "describe", "node", NODE], capture_output=True, text=True, env=env
    ).stdout
    assert "Starting kubelet." in ours and "NodeAllocatableEnforced" in ours, ours


def test_cordon_and_uncordon_are_recorded_by_the_kubelet(apiserver: ApiServer) -> None:
    not_schedulable = node_event_row(
        "NodeNotSchedulable", f"Node {NODE} status is now: NodeNotSchedulable"
    )
    schedulable = node_event_row("NodeSchedulable", f"Node {NODE} status is now: NodeSchedulable")
    assert kubectl(apiserver, "cordon", NODE).strip() == f"node/{NODE} cordoned"
    try:
        eventually(lambda: not_schedulable.search(describe_node(apiserver)))
    finally:
        assert kubectl(apiserver, "uncordon", NODE).strip() == f"node/{NODE} uncordoned"
    eventually(lambda: schedulable.search(describe_node(apiserver)))


def test_a_deleted_node_stays_deleted_while_its_kubelet_runs(apiserver: ApiServer) -> None:
    """Upstream's kubelet registers once per start. Last in the module: the node is gone."""
    assert kubectl(apiserver, "delete", "node", NODE).strip() == f'node "{NODE}" deleted'
    time.sleep(13)  # past a status pass (10 s); tinykube used to register it again within one
    result = run_kubectl(apiserver, "get", "node", NODE)
    assert result.returncode == 1
    assert f'nodes "{NODE}" not found' in result.stderr
