"""The controller skeleton and the first controllers, against fakes: the worker loop's
forget/backoff/requeue rules, the garbage collector's decisions (asserted as the exact
API calls a reconcile made, as sample-controller's fixture does), namespace conditions and
the manager's flag parsing.

(These exercise tinykube.controllers; they live here until tests/unit/controllers exists.)
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.client.clock import FakeClock, settle
from tinykube.client.informers import InformerFactory
from tinykube.client.workqueue import ItemExponentialRateLimiter, WorkQueue
from tinykube.controllers.garbagecollector import GarbageCollector, Ref
from tinykube.controllers.manager import (
    CONTROLLERS,
    ConfigError,
    parse_duration,
    select_controllers,
)
from tinykube.controllers.namespace import Remaining, conditions, namespaced_resources
from tinykube.controllers.runtime import ControllerContext, Requeue, worker

pytestmark = pytest.mark.unit


# ---- the worker loop ----------------------------------------------------------------


async def run_worker(queue: WorkQueue[str], reconcile: Any) -> asyncio.Task[None]:
    task = asyncio.create_task(worker("test", queue, reconcile))
    await settle()
    return task


async def test_success_forgets_the_key() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock, rate_limiter=ItemExponentialRateLimiter(1, 100))
    calls: list[str] = []

    async def reconcile(key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            raise errors.Conflict("stale cache")

    task = await run_worker(q, reconcile)
    q.add("a")
    await settle()
    assert calls == ["a"] and q.num_requeues("a") == 1  # failed: backing off
    await clock.advance(1)
    assert calls == ["a", "a"] and q.num_requeues("a") == 0  # succeeded: forgotten
    q.shutdown()
    await asyncio.wait_for(task, 1)


async def test_failures_back_off_exponentially() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock, rate_limiter=ItemExponentialRateLimiter(1, 100))
    calls: list[float] = []

    async def reconcile(key: str) -> None:
        calls.append(clock.now())
        raise RuntimeError("always")

    task = await run_worker(q, reconcile)
    start = clock.now()
    q.add("a")
    await clock.advance(7)
    assert [t - start for t in calls] == [0, 1, 3, 7]  # waits of 1, 2, 4 seconds
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_requeue_after_is_honoured() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    calls: list[float] = []

    async def reconcile(key: str) -> Requeue | None:
        calls.append(clock.now())
        return Requeue(after=30) if len(calls) == 1 else None

    task = await run_worker(q, reconcile)
    q.add("a")
    await clock.advance(29)
    assert len(calls) == 1
    await clock.advance(1)
    assert len(calls) == 2
    await clock.advance(100)
    assert len(calls) == 2
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_key_added_during_reconcile_runs_again_after() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    release = asyncio.Event()
    calls = 0

    async def reconcile(key: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()

    tasks = [await run_worker(q, reconcile) for _ in range(3)]
    q.add("a")
    await settle()
    q.add("a")  # while the first pass is still running
    await settle()
    assert calls == 1  # not handed to a second worker
    release.set()
    await settle()
    assert calls == 2
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# ---- the garbage collector -------------------------------------------------------------


class FakeClient:
    """Records every write; reads come from ``objects`` keyed by (resource, ns, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []

    async def get(self, api_version: str, resource: str, name: str, ns: str = "") -> dict:
        self.calls.append(("get", resource, ns, name))
        try:
            return copy.deepcopy(self.objects[(resource, ns, name)])
        except KeyError:
            raise errors.NotFound(f'{resource} "{name}" not found') from None

    async def delete(self, api_version: str, resource: str, name: str, ns: str = "", **kw: Any):  # type: ignore[no-untyped-def]
        self.calls.append(
            ("delete", resource, ns, name, kw.get("propagation_policy"), kw.get("preconditions"))
        )
        return {}

    async def patch(
        self, api_version: str, resource: str, name: str, patch: Any, ns: str = "", **kw: Any
    ):  # type: ignore[no-untyped-def]
        self.calls.append(("patch", resource, ns, name, patch))
        return {}

    def writes(self) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] != "get"]


def obj(
    kind: str, name: str, uid: str, ns: str = "ns", owners: list | None = None, **meta: Any
) -> dict[str, Any]:
    api_version = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1"}.get(kind, "v1")
    metadata = {"name": name, "namespace": ns, "uid": uid, "resourceVersion": "5", **meta}
    if owners:
        metadata["ownerReferences"] = owners
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def ref_to(owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    r = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        r["blockOwnerDeletion"] = True
    return r


def collector(*cached: dict[str, Any]) -> tuple[GarbageCollector, FakeClient]:
    client = FakeClient()
    ctx = ControllerContext(client, InformerFactory(client), clock=FakeClock())  # type: ignore[arg-type]
    gc = GarbageCollector(ctx)
    by_kind: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for o in cached:
        plural = {"Deployment": "deployments", "ConfigMap": "configmaps"}[o["kind"]]
        by_kind.setdefault((o["apiVersion"], plural), []).append(o)
    for (api_version, plural), items in by_kind.items():
        gc.kinds[(api_version, plural)][1].replace(items, "5")
    return gc, client


def cm_ref(o: dict[str, Any]) -> Ref:
    m = o["metadata"]
    return Ref("v1", "configmaps", m["namespace"], m["name"], m["uid"])


def deploy_ref(o: dict[str, Any]) -> Ref:
    m = o["metadata"]
    return Ref("apps/v1", "deployments", m["namespace"], m["name"], m["uid"])


def queued(gc: GarbageCollector) -> list[str]:
    out = []
    while len(gc.queue):
        key = gc.queue._queue.popleft()  # peeking in order without marking processing
        gc.queue._dirty.discard(key)
        out.append(key.name)
    return out


async def test_dependent_of_a_live_owner_is_left_alone() -> None:
    owner = obj("Deployment", "d", "u-d")
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(owner)])
    gc, client = collector(owner, dep)
    await gc.reconcile(cm_ref(dep))
    assert client.calls == []  # decided from the cache alone


async def test_dependent_of_a_gone_owner_is_deleted_with_a_uid_precondition() -> None:
    owner = obj("Deployment", "d", "u-d")
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(owner)])
    gc, client = collector(dep)
    await gc.reconcile(cm_ref(dep))
    assert client.calls == [
        ("get", "deployments", "ns", "d"),  # confirmed live before deleting
        ("delete", "configmaps", "ns", "c", "Background", {"uid": "u-c"}),
    ]
    client.calls.clear()
    await gc.reconcile(cm_ref(dep))  # the owner's absence is remembered
    assert [c[0] for c in client.calls] == ["delete"]


async def test_owner_missing_from_the_cache_but_alive_saves_the_dependent() -> None:
    owner = obj("Deployment", "d", "u-d")
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(owner)])
    gc, client = collector(dep)
    client.objects[("deployments", "ns", "d")] = owner  # created a moment ago
    await gc.reconcile(cm_ref(dep))
    assert client.writes() == []


async def test_owner_replaced_by_a_new_uid_counts_as_gone() -> None:
    owner = obj("Deployment", "d", "u-old")
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(owner)])
    gc, client = collector(obj("Deployment", "d", "u-new"), dep)
    client.objects[("deployments", "ns", "d")] = obj("Deployment", "d", "u-new")
    await gc.reconcile(cm_ref(dep))
    assert client.writes() == [("delete", "configmaps", "ns", "c", "Background", {"uid": "u-c"})]


async def test_dangling_reference_is_dropped_when_another_owner_lives() -> None:
    alive = obj("Deployment", "alive", "u-a")
    dead = obj("Deployment", "dead", "u-x")
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(dead), ref_to(alive)])
    gc, client = collector(alive, dep)
    await gc.reconcile(cm_ref(dep))
    patch = {"metadata": {"ownerReferences": [ref_to(alive)], "resourceVersion": "5"}}
    assert client.writes() == [("patch", "configmaps", "ns", "c", patch)]


async def test_dependent_of_a_foreground_owner_is_deleted() -> None:
    owner = obj(
        "Deployment",
        "d",
        "u-d",
        deletionTimestamp="2026-01-01T00:00:00Z",
        finalizers=["foregroundDeletion"],
    )
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(owner, block=True)])
    gc, client = collector(owner, dep)
    await gc.reconcile(cm_ref(dep))
    assert client.writes() == [("delete", "configmaps", "ns", "c", "Background", {"uid": "u-c"})]


async def test_foreground_owner_queues_blocking_dependents_first_and_waits() -> None:
    owner = obj(
        "Deployment",
        "d",
        "u-d",
        deletionTimestamp="2026-01-01T00:00:00Z",
        finalizers=["foregroundDeletion"],
    )
    plain = obj("ConfigMap", "a-plain", "u-1", owners=[ref_to(owner)])
    blocking = obj("ConfigMap", "z-blocking", "u-2", owners=[ref_to(owner, block=True)])
    gc, client = collector(owner, plain, blocking)
    queued(gc)  # drop what the initial adds queued
    await gc.reconcile(deploy_ref(owner))
    assert client.writes() == []  # a blocking dependent remains: keep the finalizer
    assert queued(gc) == ["z-blocking", "a-plain"]


async def test_foreground_owner_without_blocking_dependents_is_finalized() -> None:
    owner = obj(
        "Deployment",
        "d",
        "u-d",
        deletionTimestamp="2026-01-01T00:00:00Z",
        finalizers=["foregroundDeletion", "example.com/other"],
    )
    gc, client = collector(owner)
    client.objects[("deployments", "ns", "d")] = owner
    await gc.reconcile(deploy_ref(owner))
    patch = {"metadata": {"finalizers": ["example.com/other"], "resourceVersion": "5"}}
    assert client.writes() == [("patch", "deployments", "ns", "d", patch)]


async def test_orphan_owner_releases_dependents_then_its_finalizer() -> None:
    owner = obj(
        "Deployment", "d", "u-d", deletionTimestamp="2026-01-01T00:00:00Z", finalizers=["orphan"]
    )
    other = obj("Deployment", "other", "u-o")
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(owner), ref_to(other)])
    gc, client = collector(owner, other, dep)
    client.objects[("deployments", "ns", "d")] = owner
    await gc.reconcile(deploy_ref(owner))
    assert client.writes() == [
        (
            "patch",
            "configmaps",
            "ns",
            "c",
            {"metadata": {"ownerReferences": [ref_to(other)], "resourceVersion": "5"}},
        ),
        (
            "patch",
            "deployments",
            "ns",
            "d",
            {"metadata": {"finalizers": None, "resourceVersion": "5"}},
        ),
    ]


async def test_deleting_an_owner_queues_its_dependents() -> None:
    owner = obj("Deployment", "d", "u-d")
    dep = obj("ConfigMap", "c", "u-c", owners=[ref_to(owner)])
    unrelated = obj("ConfigMap", "u", "u-u")
    gc, _ = collector(owner, dep, unrelated)
    queued(gc)
    gc.kinds[("apps/v1", "deployments")][1].delete(owner)
    assert queued(gc) == ["c"]


async def test_unknown_owner_kind_is_never_collected() -> None:
    ref = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "u-w"}
    dep = obj("ConfigMap", "c", "u-c", owners=[ref])
    gc, client = collector(dep)
    await gc.reconcile(cm_ref(dep))
    assert client.calls == []


# ---- namespace conditions and resources ----------------------------------------------


def test_conditions_when_content_remains() -> None:
    remaining = Remaining(counts={"pods.": 2}, finalizers={"example.com/x": 1})
    by_type = {c["type"]: c for c in conditions(remaining, [])}
    assert by_type["NamespaceContentRemaining"]["status"] == "True"
    assert by_type["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: pods. has 2 resource instances"
    )
    assert by_type["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert by_type["NamespaceDeletionContentFailure"]["status"] == "False"
    assert len(by_type) == 5


def test_conditions_keep_transition_times_that_held() -> None:
    first = conditions(Remaining(counts={"pods.": 1}), [])
    for c in first:
        c["lastTransitionTime"] = "2000-01-01T00:00:00Z"
    second = {c["type"]: c for c in conditions(Remaining(), first)}
    assert second["NamespaceDeletionDiscoveryFailure"]["lastTransitionTime"].startswith("2000")
    assert not second["NamespaceContentRemaining"]["lastTransitionTime"].startswith("2000")


def test_namespaced_resources_cover_the_table_once() -> None:
    names = {(r.group, r.plural) for r in namespaced_resources()}
    assert ("", "pods") in names and ("apps", "deployments") in names
    assert ("", "events") in names and ("events.k8s.io", "events") not in names
    assert ("", "namespaces") not in names and ("", "bindings") not in names


# ---- manager flags ------------------------------------------------------------------------


ALL = sorted(CONTROLLERS)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("*", ALL),
        ("*,-serviceaccount", [n for n in ALL if n != "serviceaccount-controller"]),
        (
            "*,-garbage-collector-controller",
            [n for n in ALL if n != "garbage-collector-controller"],
        ),
        ("namespace", ["namespace-controller"]),
        (
            "garbagecollector,namespace-controller",
            ["garbage-collector-controller", "namespace-controller"],
        ),
        ("replicaset,deployment", ["deployment-controller", "replicaset-controller"]),
        ("", []),
    ],
    ids=["star", "star-minus-alias", "star-minus-name", "one-alias", "two", "workloads", "none"],
)
def test_select_controllers(spec: str, expected: list[str]) -> None:
    assert select_controllers(spec) == expected


def test_every_controller_builds_on_one_factory() -> None:
    client = FakeClient()
    ctx = ControllerContext(client, InformerFactory(client), clock=FakeClock())  # type: ignore[arg-type]
    controllers = [CONTROLLERS[name](ctx) for name in ALL]
    assert len({c.name for c in controllers}) == len(ALL)
    # shared informers: one per collection however many controllers watch it
    keys = [(i.api_version, i.resource, i.namespace) for i in ctx.factory.informers()]
    assert len(keys) == len(set(keys))


def test_unknown_controller_is_refused() -> None:
    with pytest.raises(ConfigError, match="not in the list of known controllers"):
        select_controllers("*,nope")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("1m30s", 90), ("500ms", 0.5), ("2", 2), ("1h", 3600)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "15x", "s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)
