"""ReplicaSet syncs against a recording client: the exact writes each sync makes, with the
cache held still, so expectations and slow start are visible."""

from __future__ import annotations

import pytest
from recording_client import context
from workload_builders import pod, replica_set

from tinykube.api import errors
from tinykube.controllers.replicaset import ReplicaSetController

pytestmark = pytest.mark.unit


def member(name: str, **kw: object) -> dict:
    """A Pod of the ReplicaSet "web": its labels and its controller reference."""
    p = pod(name, labels={"app": "web", "pod-template-hash": "hweb"}, owner_uid="uid-web", **kw)  # type: ignore[arg-type]
    p["metadata"]["ownerReferences"][0]["name"] = "web"
    return p


def setup(replicas: int, pods: list[dict] | None = None):  # type: ignore[no-untyped-def]
    ctx, client, clock = context()
    controller = ReplicaSetController(ctx)
    rs = replica_set("web", replicas)
    rs["status"] = {}
    controller.sets.replace([rs], "1")
    controller.pods.replace(pods or [], "1")
    return controller, client, clock, rs


async def test_writes_in_flight_are_not_repeated() -> None:
    controller, client, _, _ = setup(3)
    await controller.reconcile("ns/web")
    created = client.verbs("create", "pods")
    assert len(created) == 3
    await controller.reconcile("ns/web")  # the cache has not seen the Pods yet
    assert len(client.verbs("create", "pods")) == 3
    for name in created:
        controller.pods.add(member(name))
    assert controller.expectations.satisfied("ns/web")
    await controller.reconcile("ns/web")
    assert len(client.verbs("create", "pods")) == 3
    assert client.last_status["replicas"] == 3


async def test_a_deleted_pod_is_replaced_once_observed() -> None:
    mine = [member(f"web-{i}") for i in range(3)]
    controller, client, _, _ = setup(3, mine)
    await controller.reconcile("ns/web")
    assert client.verbs("create", "pods") == []
    controller.pods.delete(mine[0])
    await controller.reconcile("ns/web")
    assert len(client.verbs("create", "pods")) == 1


async def test_scale_down_deletes_the_cheapest_pods_and_waits_for_them() -> None:
    ready = [member(f"ready-{i}", node="n", ready_for=600) for i in range(2)]
    pending = member("pending", phase="Pending")
    controller, client, _, _ = setup(1, [*ready, pending])
    await controller.reconcile("ns/web")
    deleted = client.verbs("delete", "pods")
    assert deleted[0] == "pending" and len(deleted) == 2
    await controller.reconcile("ns/web")  # deletions not observed yet
    assert len(client.verbs("delete", "pods")) == 2
    controller.pods.delete(pending)
    assert not controller.expectations.satisfied("ns/web")  # one deletion still unseen


async def test_failing_creates_stop_after_the_first_batch() -> None:
    controller, client, _, _ = setup(50)
    client.fail_creates = errors.Forbidden('pods "web" is forbidden: exceeded quota')
    with pytest.raises(errors.Forbidden):
        await controller.reconcile("ns/web")
    assert len(client.verbs("create", "pods")) == 1  # slow start: one, not fifty
    (cond,) = client.last_status["conditions"]
    assert (cond["type"], cond["reason"]) == ("ReplicaFailure", "FailedCreate")
    assert controller.expectations.satisfied("ns/web")  # nothing left in flight
