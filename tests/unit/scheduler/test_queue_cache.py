"""The scheduling queue (priority order, backoff, unschedulable moves) and the cache
(assume, confirm, forget, expire). Time is a FakeClock; nothing sleeps for real."""

from __future__ import annotations

import asyncio

import pytest
from builders import MakeNode, MakePod

from tinykube.client.clock import FakeClock
from tinykube.scheduler.cache import Cache, pod_key
from tinykube.scheduler.framework import PodInfo
from tinykube.scheduler.queue import SchedulingQueue

pytestmark = pytest.mark.unit


async def pop_names(q: SchedulingQueue, n: int) -> list[str]:
    out = []
    for _ in range(n):
        queued = await asyncio.wait_for(q.pop(), 1)
        out.append(queued.pod["metadata"]["name"])
        q.done(queued.key)
    return out


async def test_active_queue_orders_by_priority_then_arrival() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock)
    for name, prio in (("low-1", 0), ("high", 100), ("low-2", 0), ("mid", 50)):
        q.add(MakePod().name(name).priority(prio).obj())
        await clock.advance(1)
    assert await pop_names(q, 4) == ["high", "mid", "low-1", "low-2"]


async def test_adds_fold_and_deletes_drop() -> None:
    q = SchedulingQueue(FakeClock())
    a, b = MakePod().name("a").obj(), MakePod().name("b").obj()
    q.add(a)
    q.add(a)
    q.add(b)
    q.delete(a)
    assert len(q) == 1
    assert await pop_names(q, 1) == ["b"]


async def test_unschedulable_waits_for_an_event_then_backs_off() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock)
    q.add(MakePod().name("p").obj())
    queued = await q.pop()
    q.add_unschedulable(queued, q.scheduling_cycle)
    assert q.counts()["unschedulable"] == 1
    assert q.move_all("NodeAdd") == 1
    assert q.counts()["backoff"] == 1  # first failure: 1 s backoff not over yet
    await clock.advance(1.0)
    q.flush_backoff()
    assert q.counts()["active"] == 1
    assert await pop_names(q, 1) == ["p"]


async def test_backoff_doubles_to_ten_seconds() -> None:
    q = SchedulingQueue(FakeClock())
    q.add(MakePod().name("p").obj())
    queued = await q.pop()
    durations = []
    for attempts in range(1, 8):
        queued.attempts = attempts
        durations.append(q.backoff_duration(queued))
    assert durations == [1, 2, 4, 8, 10, 10, 10]


async def test_event_during_cycle_sends_failure_to_backoff_not_unschedulable() -> None:
    q = SchedulingQueue(FakeClock())
    q.add(MakePod().name("p").obj())
    queued = await q.pop()
    cycle = q.scheduling_cycle
    q.move_all("NodeAdd")  # a node arrived while "p" was being scheduled
    q.add_unschedulable(queued, cycle)
    assert q.counts() == {"active": 0, "backoff": 1, "unschedulable": 0}


async def test_irrelevant_event_during_cycle_does_not_force_backoff() -> None:
    q = SchedulingQueue(FakeClock())
    q.add(MakePod().name("p").obj())
    queued = await q.pop()
    cycle = q.scheduling_cycle
    q.move_all("AssignedPodAdd", {"InterPodAffinity"})  # cannot help a pod short of cpu
    queued.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(queued, cycle)
    assert q.counts()["unschedulable"] == 1


async def test_move_hints_skip_pods_the_event_cannot_help() -> None:
    q = SchedulingQueue(FakeClock())
    q.add(MakePod().name("cpu").obj())
    q.add(MakePod().name("affinity").obj())
    for _ in range(2):
        queued = await q.pop()
        name = queued.pod["metadata"]["name"]
        queued.unschedulable_plugins = {
            "cpu": {"NodeResourcesFit"},
            "affinity": {"InterPodAffinity"},
        }[name]
        q.add_unschedulable(queued, q.scheduling_cycle)
    assert q.move_all("AssignedPodAdd", {"InterPodAffinity", "PodTopologySpread"}) == 1
    assert q.where(pod_key(MakePod().name("x").obj())) is None
    assert q.counts()["unschedulable"] == 1


async def test_unschedulable_leftovers_are_retried_after_five_minutes() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock)
    q.add(MakePod().name("p").obj())
    q.add_unschedulable(await q.pop(), q.scheduling_cycle)
    await clock.advance(299)
    q.flush_unschedulable_leftover()
    assert q.counts()["unschedulable"] == 1
    await clock.advance(2)
    q.flush_unschedulable_leftover()
    assert q.counts()["unschedulable"] == 0


# ---- cache ----


def cpu_node(name: str = "n1", cpu: str = "2") -> dict:
    return MakeNode().name(name).capacity(cpu=cpu).obj()


def test_assumed_pod_takes_room_until_forgotten() -> None:
    cache = Cache(FakeClock())
    cache.add_node(cpu_node())
    info = PodInfo(MakePod().req(cpu="2").obj())
    cache.assume_pod(info, "n1")
    node = cache.node("n1")
    assert node is not None
    assert node.requested["cpu"] == 2000
    assert cache.is_assumed(info.key)
    cache.forget_pod(info.key)
    assert node.requested["cpu"] == 0


def test_informer_confirms_assumption_without_double_counting() -> None:
    cache = Cache(FakeClock())
    cache.add_node(cpu_node())
    pod = MakePod().req(cpu="1").obj()
    cache.assume_pod(PodInfo(pod), "n1")
    bound = MakePod().req(cpu="1").node("n1").obj()
    bound["metadata"] = pod["metadata"]
    cache.add_pod(bound)
    node = cache.node("n1")
    assert node is not None
    assert node.requested["cpu"] == 1000
    assert len(node.pods) == 1
    assert not cache.is_assumed(pod_key(pod))


async def test_assumed_pod_expires_only_after_binding_finished() -> None:
    clock = FakeClock()
    cache = Cache(clock, ttl=30)
    cache.add_node(cpu_node())
    info = PodInfo(MakePod().req(cpu="1").obj())
    cache.assume_pod(info, "n1")
    await clock.advance(100)
    assert cache.cleanup_expired() == 0  # still binding
    cache.finish_binding(info.key)
    await clock.advance(29)
    assert cache.cleanup_expired() == 0
    await clock.advance(2)
    assert cache.cleanup_expired() == 1
    node = cache.node("n1")
    assert node is not None
    assert node.requested.get("cpu") == 0


def test_terminal_pods_free_their_room() -> None:
    cache = Cache(FakeClock())
    cache.add_node(cpu_node())
    pod = MakePod().req(cpu="1").node("n1").obj()
    cache.add_pod(pod)
    done = MakePod().req(cpu="1").node("n1").phase("Succeeded").obj()
    done["metadata"] = pod["metadata"]
    cache.update_pod(done)
    node = cache.node("n1")
    assert node is not None
    assert not node.pods


def test_pods_before_their_node_and_node_removal() -> None:
    cache = Cache(FakeClock())
    cache.add_pod(MakePod().req(cpu="1").node("late").obj())
    assert len(cache.snapshot()) == 0  # no Node object yet: not schedulable
    cache.add_node(cpu_node("late"))
    snap = cache.snapshot()
    assert [n.name for n in snap] == ["late"]
    assert snap.node_infos[0].requested["cpu"] == 1000
    cache.remove_node(cpu_node("late"))
    assert len(cache.snapshot()) == 0


def test_snapshot_affinity_index_follows_pod_changes() -> None:
    cache = Cache(FakeClock())
    cache.add_node(cpu_node("a"))
    cache.add_node(cpu_node("b"))
    snap = cache.snapshot()
    assert snap.have_pods_with_required_anti_affinity() == []
    pod = MakePod().label("app", "x").pod_anti_affinity({"app": "x"}, "kubernetes.io/hostname")
    obj = pod.node("b").obj()
    cache.add_pod(obj)
    assert [n.name for n in snap.have_pods_with_required_anti_affinity()] == ["b"]
    assert [n.name for n in snap.have_pods_with_affinity()] == ["b"]
    cache.remove_pod(obj)
    assert snap.have_pods_with_required_anti_affinity() == []
