"""ResourceQuota: what objects cost, admission's refusals and charges, the controller's recount."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tinykube.api import errors, quota
from tinykube.apiserver.admission import resourcequota
from tinykube.client.clock import FakeClock
from tinykube.client.informers import InformerFactory
from tinykube.controllers.resourcequota import (
    RESYNC,
    SYNC_PERIOD,
    ResourceQuotaController,
    counted_kinds,
    desired_status,
    usage_of,
)
from tinykube.controllers.runtime import ControllerContext, Requeue

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def pod(
    name: str = "x", requests: Obj | None = None, limits: Obj | None = None, **spec: Any
) -> Obj:
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    containers = [{"name": "c", "image": "busybox", "resources": resources}]
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"containers": containers, **spec},
    }


def rq(hard: Obj, used: Obj | None = None, name: str = "q1", **spec: Any) -> Obj:
    status: Obj = {"hard": dict(hard)}
    if used is not None:
        status["used"] = used
    return {
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "5"},
        "spec": {"hard": dict(hard), **spec},
        "status": status,
    }


def text(usage: quota.Usage) -> dict[str, str]:
    return quota.format_list(usage)


# ---- usage ------------------------------------------------------------------------------


def test_pod_usage_sums_containers_and_counts_the_pod() -> None:
    p = pod(requests={"cpu": "250m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "128Mi"})
    p["spec"]["containers"].append(
        {"name": "d", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}
    )
    assert text(quota.pod_usage(p)) == {
        "count/pods": "1",
        "pods": "1",
        "cpu": "500m",
        "requests.cpu": "500m",
        "memory": "128Mi",
        "requests.memory": "128Mi",
        "limits.cpu": "500m",
        "limits.memory": "128Mi",
    }


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_terminal_pod_costs_only_its_count(phase: str) -> None:
    p = pod(requests={"cpu": "1"})
    p["status"] = {"phase": phase}
    assert text(quota.pod_usage(p)) == {"count/pods": "1"}


@pytest.mark.parametrize(("seconds_later", "charged"), [(10, True), (61, False)])
def test_pod_stuck_past_its_grace_period_is_free(seconds_later: int, charged: bool) -> None:
    p = pod(requests={"cpu": "1"})
    p["metadata"].update(deletionTimestamp="2026-01-01T00:00:30Z", deletionGracePeriodSeconds=30)
    now = NOW.replace(minute=0, second=30) + timedelta(seconds=seconds_later)
    assert ("requests.cpu" in quota.pod_usage(p, now)) is charged


def test_service_usage_by_type() -> None:
    ports = [{"port": 80}, {"port": 443}]
    assert text(quota.service_usage({"spec": {"type": "NodePort", "ports": ports}})) == {
        "count/services": "1",
        "services": "1",
        "services.loadbalancers": "0",
        "services.nodeports": "2",
    }
    lb = quota.service_usage({"spec": {"type": "LoadBalancer", "ports": ports}})
    assert text(lb)["services.loadbalancers"] == "1"
    assert text(quota.service_usage({"spec": {"ports": ports}}))["services.nodeports"] == "0"


def test_claim_usage_charges_its_storage_class() -> None:
    claim = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}
    assert text(quota.claim_usage(claim)) == {
        "persistentvolumeclaims": "1",
        "count/persistentvolumeclaims": "1",
        "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "requests.storage": "1Gi",
        "fast.storageclass.storage.k8s.io/requests.storage": "1Gi",
    }


def test_other_kinds_cost_their_count_and_legacy_name() -> None:
    assert text(quota.usage("configmaps", "", {})) == {"count/configmaps": "1", "configmaps": "1"}
    assert text(quota.usage("deployments", "apps", {})) == {"count/deployments.apps": "1"}


@pytest.mark.parametrize(
    ("scope", "p", "expected"),
    [
        ("BestEffort", pod(), True),
        ("BestEffort", pod(requests={"cpu": "1"}), False),
        ("NotBestEffort", pod(requests={"memory": "1Mi"}), True),
        ("Terminating", pod(activeDeadlineSeconds=30), True),
        ("NotTerminating", pod(activeDeadlineSeconds=30), False),
        ("PriorityClass", pod(priorityClassName="high"), True),
        ("PriorityClass", pod(), False),
    ],
)
def test_scopes(scope: str, p: Obj, expected: bool) -> None:
    assert (
        quota.matches_scope("pods", "", {"scopeName": scope, "operator": "Exists"}, p) is expected
    )


def test_priority_class_selector_in() -> None:
    selector = {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}
    assert quota.matches_scope("pods", "", selector, pod(priorityClassName="high"))
    assert not quota.matches_scope("pods", "", selector, pod(priorityClassName="low"))


def test_scoped_quota_matches_no_other_kind() -> None:
    q = rq({"count/configmaps": "1"}, scopes=["BestEffort"])
    assert not quota.matches(q, "configmaps", "", {})


# ---- admission ------------------------------------------------------------------------------


def test_exceeding_pods_is_refused_with_upstream_message() -> None:
    q = rq({"pods": "2"}, {"pods": "2"})
    with pytest.raises(errors.Forbidden) as caught:
        resourcequota.check([q], "pods", "", pod(), None, NOW)
    assert caught.value.message == (
        'pods "x" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=2, '
        "limited: pods=2"
    )


def test_within_quota_charges_only_hard_resources() -> None:
    q = rq({"pods": "2", "requests.cpu": "1"}, {"pods": "1", "requests.cpu": "500m"})
    charges = resourcequota.check([q], "pods", "", pod(requests={"cpu": "500m"}), None, NOW)
    assert [(name, text(delta)) for name, delta in charges] == [
        ("q1", {"count/pods": "1", "pods": "1", "cpu": "500m", "requests.cpu": "500m"})
    ]
    assert q["status"]["used"] == {"pods": "1", "requests.cpu": "500m"}  # the cache is untouched
    charged = resourcequota.charge(q, charges[0][1], "pods", "", pod())
    assert charged["status"]["used"] == {"pods": "2", "requests.cpu": "1"}


def test_several_exceeded_resources_are_listed_sorted() -> None:
    q = rq({"pods": "1", "requests.cpu": "1"}, {"pods": "1", "requests.cpu": "800m"})
    with pytest.raises(errors.Forbidden) as caught:
        resourcequota.check([q], "pods", "", pod(requests={"cpu": "500m"}), None, NOW)
    assert caught.value.message.endswith(
        "exceeded quota: q1, requested: pods=1,requests.cpu=500m, "
        "used: pods=1,requests.cpu=800m, limited: pods=1,requests.cpu=1"
    )


def test_cpu_quota_requires_every_container_to_ask() -> None:
    q = rq(
        {"requests.cpu": "1", "limits.memory": "1Gi"}, {"requests.cpu": "0", "limits.memory": "0"}
    )
    with pytest.raises(errors.Forbidden) as caught:
        resourcequota.check([q], "pods", "", pod(), None, NOW)
    assert caught.value.message == (
        'pods "x" is forbidden: failed quota: q1: must specify limits.memory for: c; '
        "requests.cpu for: c"
    )


def test_quota_without_usage_yet_is_refused() -> None:
    q = rq({"pods": "2"}, {})
    with pytest.raises(errors.Forbidden) as caught:
        resourcequota.check([q], "pods", "", pod(), None, NOW)
    assert (
        caught.value.message
        == 'pods "x" is forbidden: status unknown for quota: q1, resources: pods'
    )


def test_quota_the_controller_has_not_seen_does_not_apply() -> None:
    q = rq({"pods": "0"})
    q["status"] = {}
    assert resourcequota.check([q], "pods", "", pod(), None, NOW) == []


def test_scoped_quota_ignores_pods_outside_its_scope() -> None:
    q = rq({"pods": "0"}, {"pods": "0"}, scopes=["BestEffort"])
    assert resourcequota.check([q], "pods", "", pod(requests={"cpu": "1"}), None, NOW) == []
    with pytest.raises(errors.Forbidden):
        resourcequota.check([q], "pods", "", pod(), None, NOW)


def test_service_type_change_charges_the_difference() -> None:
    q = rq({"services.nodeports": "1"}, {"services.nodeports": "0"})
    old = {"metadata": {"name": "s", "resourceVersion": "3"}, "spec": {"ports": [{"port": 80}]}}
    new = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    assert resourcequota.handles("services", "", new, old, "")
    charges = resourcequota.check([q], "services", "", new, old, NOW)
    assert [(n, text(d)) for n, d in charges] == [("q1", {"services.nodeports": "1"})]


def test_pod_updates_are_not_charged_unless_terminating_changes() -> None:
    assert not resourcequota.handles("pods", "", pod(), pod(), "")
    assert resourcequota.handles("pods", "", pod(activeDeadlineSeconds=5), pod(), "")
    assert not resourcequota.handles("pods", "", pod(), None, "status")
    assert not resourcequota.handles("events", "", {}, None, "")


def test_object_count_quota() -> None:
    q = rq({"count/deployments.apps": "1"}, {"count/deployments.apps": "1"})
    deployment = {"metadata": {"name": "web"}}
    with pytest.raises(errors.Forbidden) as caught:
        resourcequota.check([q], "deployments", "apps", deployment, None, NOW)
    assert caught.value.message.startswith('deployments.apps "web" is forbidden: exceeded quota')


# ---- the controller's recount ----------------------------------------------------------------


def test_recount_skips_terminal_pods_and_fills_zeros() -> None:
    running = pod("a", requests={"cpu": "200m"})
    done = pod("b", requests={"cpu": "1"})
    done["status"] = {"phase": "Succeeded"}
    q = rq({"pods": "5", "requests.cpu": "2", "services": "3", "count/pods": "9"})
    kinds = {k: [] for k in counted_kinds(list(q["spec"]["hard"]))}
    kinds[("", "pods")] = [running, done]
    status = desired_status(q, usage_of(q, kinds, NOW))
    assert status == {
        "hard": {"pods": "5", "requests.cpu": "2", "services": "3", "count/pods": "9"},
        "used": {"pods": "1", "requests.cpu": "200m", "services": "0", "count/pods": "2"},
    }


def test_counted_kinds_include_named_counts() -> None:
    assert counted_kinds(["count/deployments.apps", "pods"]) == {
        ("apps", "deployments"),
        ("", "pods"),
    }


class StatusWrites:
    """A client that only records status writes (the controller makes no other call here)."""

    def __init__(self) -> None:
        self.written: list[Obj] = []

    async def update_status(self, api_version: str, resource: str, obj: Obj, **kw: Any) -> Obj:
        self.written.append(obj)
        return obj


def controller() -> tuple[ResourceQuotaController, StatusWrites]:
    client = StatusWrites()
    factory = InformerFactory(client, clock=FakeClock())  # type: ignore[arg-type]
    ctx = ControllerContext(client, factory, clock=FakeClock())  # type: ignore[arg-type]
    return ResourceQuotaController(ctx, now=lambda: NOW), client


async def drain(ctl: ResourceQuotaController) -> list[str]:
    keys = []
    while len(ctl.queue):
        key = await ctl.queue.get()
        ctl.queue.done(key)
        keys.append(key)
    return keys


async def test_reconcile_writes_hard_and_used_once() -> None:
    ctl, client = controller()
    q = rq({"pods": "3", "configmaps": "2"})
    q["status"] = {}
    elsewhere = pod("b")
    elsewhere["metadata"]["namespace"] = "other"
    ctl.quotas.replace([q], "1")
    ctl.watched[("", "pods")].replace([pod("a"), elsewhere], "1")
    ctl.watched[("", "configmaps")].replace([{"metadata": {"name": "c", "namespace": "ns"}}], "1")
    assert await ctl.reconcile("ns/q1") is None
    assert [w["status"] for w in client.written] == [
        {"hard": {"pods": "3", "configmaps": "2"}, "used": {"pods": "1", "configmaps": "1"}}
    ]
    ctl.quotas.replace([client.written[0]], "2")
    await ctl.reconcile("ns/q1")
    assert len(client.written) == 1  # nothing changed, nothing written


async def test_deletes_and_cost_changes_requeue_the_namespace_quotas() -> None:
    ctl, _ = controller()
    ctl.quotas.replace([rq({"pods": "3"}, {"pods": "1"})], "1")
    await drain(ctl)
    ctl._replenish(pod("a"))
    assert await drain(ctl) == ["ns/q1"]
    running, done = pod("a"), pod("a")
    done["status"] = {"phase": "Succeeded"}
    ctl._object_updated("", "pods", running, running)
    assert await drain(ctl) == []
    ctl._object_updated("", "pods", running, done)
    assert await drain(ctl) == ["ns/q1"]


async def test_status_writes_by_admission_do_not_trigger_a_recount() -> None:
    ctl, _ = controller()
    q = rq({"pods": "3"}, {"pods": "1"})
    ctl.quotas.replace([q], "1")
    await drain(ctl)
    charged = rq({"pods": "3"}, {"pods": "2"})
    ctl._quota_updated(q, charged)
    assert await drain(ctl) == []
    raised = rq({"pods": "4"}, {"pods": "2"})
    raised["status"]["hard"] = {"pods": "3"}
    ctl._quota_updated(charged, raised)
    assert await drain(ctl) == ["ns/q1"]


async def test_resync_enqueues_every_quota_and_comes_back() -> None:
    ctl, _ = controller()
    ctl.quotas.replace(
        [rq({"pods": "3"}, {"pods": "0"}), rq({"pods": "1"}, {"pods": "0"}, name="q2")], "1"
    )
    await drain(ctl)
    assert await ctl.reconcile(RESYNC) == Requeue(after=SYNC_PERIOD)
    assert sorted(await drain(ctl)) == ["ns/q1", "ns/q2"]
