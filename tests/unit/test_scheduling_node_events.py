"""What `kubectl describe` shows when a Node is registered, goes silent and its Pods go.

The node lifecycle controller runs on the recording client with a fake clock
(as in tests/unit/controllers), and the Events it hands its recorders are read
back from their queues: which component says it (the From column), the type,
the reason and the message, each as upstream words them. Static pods are
checked for the toleration upstream's kubelet gives every one of them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "controllers"))

from recording_client import context

from tinykube.controllers.nodelifecycle import NodeLifecycleController
from tinykube.kubelet import staticpods

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def node(name: str) -> Obj:
    heartbeat = "2026-01-01T11:59:50Z"
    ready = {"type": "Ready", "status": "True", "lastHeartbeatTime": heartbeat}
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "5"},
        "spec": {},
        "status": {"conditions": [ready]},
    }


def lease(name: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "renewTime": "2026-01-01T11:59:55.000000Z"},
    }


def running_pod(name: str, node_name: str, tolerations: list[Obj] | None = None) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
        "spec": {"nodeName": node_name, "tolerations": tolerations or []},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def recorded(controller: NodeLifecycleController) -> list[tuple[str, str, str, str, str]]:
    """(component, object name, type, reason, message) of every Event queued so far."""
    out = []
    for recorder in controller.ctx.recorders:
        while not recorder._queue.empty():
            obj, type_, reason, message = recorder._queue.get_nowait()
            out.append((recorder.component, obj["metadata"]["name"], type_, reason, message))
    return out


def setup(nodes: list[Obj], pods: list[Obj]):  # type: ignore[no-untyped-def]
    ctx, client, clock = context()
    controller = NodeLifecycleController(ctx)
    controller.nodes.replace(nodes, "1")
    controller.leases.replace([lease(n["metadata"]["name"]) for n in nodes], "1")
    controller.pods.replace(pods, "1")
    return controller, client, clock


async def test_a_node_seen_first_is_registered_once_by_the_node_controller() -> None:
    controller, _, _ = setup([node("node01")], [])
    await controller.reconcile(("Node", "node01"))
    await controller.reconcile(("Node", "node01"))
    assert recorded(controller) == [
        (
            "node-controller",
            "node01",
            "Normal",
            "RegisteredNode",
            "Node node01 event: Registered Node node01 in Controller",
        )
    ]


async def test_a_silent_node_and_each_of_its_ready_pods_are_told_not_ready() -> None:
    pods = [running_pod("web", "node02"), running_pod("elsewhere", "node01")]
    controller, client, clock = setup([node("node01"), node("node02")], pods)
    await controller.reconcile(("Node", "node02"))
    recorded(controller)  # the registration
    await clock.advance(41)
    await controller.reconcile(("Node", "node02"))
    assert client.verbs("patch", "pods") == ["web"]
    assert recorded(controller) == [
        (
            "node-controller",
            "node02",
            "Normal",
            "NodeNotReady",
            "Node node02 status is now: NodeNotReady",
        ),
        ("node-controller", "web", "Warning", "NodeNotReady", "Node is not ready"),
    ]


async def test_evictions_are_told_by_the_taint_eviction_controller() -> None:
    tainted = node("node02")
    tainted["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    controller, client, _ = setup([tainted], [running_pod("web", "node02")])
    await controller.reconcile(("Pod", "ns/web"))
    assert client.verbs("delete", "pods") == ["web"]
    assert recorded(controller) == [
        (
            "taint-eviction-controller",
            "web",
            "Normal",
            "TaintManagerEviction",
            "Marking for deletion Pod ns/web",
        )
    ]


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        ([], [{"operator": "Exists", "effect": "NoExecute"}]),
        (
            [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}],
            [
                {"key": "a", "operator": "Exists", "effect": "NoSchedule"},
                {"operator": "Exists", "effect": "NoExecute"},
            ],
        ),
        (
            [{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}],
            [{"operator": "Exists", "effect": "NoExecute"}],
        ),
    ],
    ids=["none", "kept-beside-others", "seconds-dropped"],
)
def test_static_pods_tolerate_every_no_execute_taint(
    tmp_path: Path, tolerations: list[Obj], expected: list[Obj]
) -> None:
    spec = {"containers": [{"name": "c", "image": "busybox"}], "tolerations": tolerations}
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}
    (tmp_path / "web.yaml").write_text(staticpods.yaml.safe_dump(manifest))
    (pod,) = staticpods.load_manifests(tmp_path, "node01").values()
    assert pod["spec"]["tolerations"] == expected
    mirror = staticpods.mirror_of(pod, None)
    assert mirror["spec"]["tolerations"] == expected


def unreachable_node(name: str) -> Obj:
    tainted = node(name)
    tainted["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    return tainted


def tolerating(name: str, seconds: int) -> Obj:
    toleration = {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": seconds,
    }
    return running_pod(name, "node02", [toleration])


CANCELLED = (
    "taint-eviction-controller",
    "web",
    "Normal",
    "TaintManagerEviction",
    "Cancelling deletion of Pod ns/web",
)


async def test_a_node_back_in_time_cancels_the_countdown_with_an_event() -> None:
    controller, client, clock = setup([unreachable_node("node02")], [tolerating("web", 300)])
    assert await controller.reconcile(("Pod", "ns/web")) is not None
    await clock.advance(100)
    controller.nodes.add(node("node02"))
    await controller.reconcile(("Pod", "ns/web"))
    await controller.reconcile(("Pod", "ns/web"))  # said once
    assert recorded(controller) == [CANCELLED]
    assert client.verbs("delete", "pods") == []


async def test_a_pod_deleted_during_its_countdown_is_cancelled() -> None:
    web = tolerating("web", 300)
    controller, _, _ = setup([unreachable_node("node02")], [web])
    await controller.reconcile(("Pod", "ns/web"))
    controller.pods.delete(web)
    controller._pod_deleted(web)
    assert recorded(controller) == [CANCELLED]


async def test_a_pod_evicted_when_its_time_is_up_is_not_also_cancelled() -> None:
    web = tolerating("web", 300)
    controller, client, clock = setup([unreachable_node("node02")], [web])
    await controller.reconcile(("Pod", "ns/web"))
    await clock.advance(300)
    await controller.reconcile(("Pod", "ns/web"))
    assert client.verbs("delete", "pods") == ["web"]
    controller._pod_deleted(web)  # the Pod goes once its kubelet or the GC finishes it
    assert [reason_and_message[4] for reason_and_message in recorded(controller)] == [
        "Marking for deletion Pod ns/web"
    ]


async def test_a_pod_with_no_countdown_is_never_cancelled() -> None:
    controller, _, _ = setup([node("node02")], [running_pod("web", "node02")])
    await controller.reconcile(("Pod", "ns/web"))
    controller._pod_deleted(running_pod("web", "node02"))
    assert [e for e in recorded(controller) if e[3] == "TaintManagerEviction"] == []


async def test_a_known_node_deleted_is_removed_by_the_node_controller() -> None:
    gone = node("node02")
    controller, _, _ = setup([gone], [])
    controller._node_deleted(gone)  # never seen by a sync: nothing to say
    assert recorded(controller) == []
    controller.nodes.add(gone)
    await controller.reconcile(("Node", "node02"))
    recorded(controller)  # the registration
    controller._node_deleted(gone)
    assert recorded(controller) == [
        (
            "node-controller",
            "node02",
            "Normal",
            "RemovingNode",
            "Node node02 event: Removing Node node02 from Controller",
        )
    ]


async def test_an_evicted_pod_is_marked_a_disruption_target_before_it_is_deleted() -> None:
    controller, client, _ = setup([unreachable_node("node02")], [running_pod("web", "node02")])
    patches: list[tuple[str, Any, dict[str, Any]]] = []
    patch = client.patch

    async def recording(api_version: str, resource: str, name: str, body: Any, *a: Any, **kw: Any):  # type: ignore[no-untyped-def]
        patches.append((name, body, kw))
        return await patch(api_version, resource, name, body, *a, **kw)

    client.patch = recording
    await controller.reconcile(("Pod", "ns/web"))
    assert [c[0] for c in client.calls if c[1] == "pods"] == ["patch", "delete"]
    [(name, body, options)] = patches
    assert (name, options["subresource"]) == ("web", "status")
    assert body["metadata"] == {"uid": "uid-web"}  # a new Pod of the same name is not touched
    [condition] = body["status"]["conditions"]
    assert {k: v for k, v in condition.items() if k != "lastTransitionTime"} == {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
    }
