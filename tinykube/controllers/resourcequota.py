"""The resourcequota controller: keep each ResourceQuota's status true to its namespace.

``status.hard`` is copied from ``spec.hard`` and ``status.used`` is counted
again from the namespace's objects, with the same evaluators the API
server's ResourceQuota admission charges with (``api.quota``), as upstream's
``pkg/controller/resourcequota`` does. Admission adds to ``status.used`` as
objects are created; this controller is what gives usage back when they go
away, and what corrects a charge for a create that failed after admission.

Which events lead to a recount, following upstream:

- a quota is added, or its ``spec.hard`` changes (its status is then missing
  or stale);
- a pod, service or claim changes in a way that changes what it costs (a
  pod reaching Succeeded or Failed, a service changing type, a claim being
  resized), or is deleted; a configmap, secret, replication controller or
  quota is deleted. Creates are not recounted: admission charged them, and
  a recount from a cache that has not seen a create yet would undercount;
- every five minutes, every quota (upstream ``--resource-quota-sync-period``),
  through one key that requeues itself.

Pods, services, claims, configmaps, secrets, replication controllers,
quotas and the apps and batch workloads are read from shared informers (a
delete of any of them replenishes); other ``count/<resource>.<group>``
resources are listed from the API server when a quota names them, and are
given back at the next resync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from tinykube.api import errors, quota, resources
from tinykube.api.quantity import Quantity
from tinykube.controllers.podutil import meta
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "resourcequota-controller"  # upstream --controllers name; alias "resourcequota"
RESYNC = "<resync>"  # the work-queue key of the periodic recount of every quota
SYNC_PERIOD = 300.0  # seconds (upstream --resource-quota-sync-period, 5m)
# (group, plural) -> apiVersion of the kinds read from informers.
WATCHED = {
    ("", "pods"): "v1",
    ("", "services"): "v1",
    ("", "persistentvolumeclaims"): "v1",
    ("", "configmaps"): "v1",
    ("", "secrets"): "v1",
    ("", "replicationcontrollers"): "v1",
    # Counted by ``count/<resource>.<group>`` in many a quota; their controllers
    # watch them anyway, so the informers are shared, not extra watches.
    ("apps", "deployments"): "apps/v1",
    ("apps", "replicasets"): "apps/v1",
    ("apps", "statefulsets"): "apps/v1",
    ("apps", "daemonsets"): "apps/v1",
    ("batch", "jobs"): "batch/v1",
    ("batch", "cronjobs"): "batch/v1",
}


def desired_status(q: Obj, used: dict[str, Quantity]) -> Obj:
    """``status`` as it should read: hard from spec, used for each hard resource counted."""
    hard = dict((q.get("spec") or {}).get("hard") or {})
    return {"hard": hard, "used": quota.format_list({n: used[n] for n in hard if n in used})}


def usage_of(q: Obj, kinds: dict[tuple[str, str], list[Obj]], now: datetime) -> dict[str, Quantity]:
    """What the objects in ``kinds`` use of the resources ``q`` limits, zero where none."""
    hard = list((q.get("spec") or {}).get("hard") or {})
    selectors = quota.scope_selectors(q)
    total: dict[str, Quantity] = {}
    for (group, plural), objs in kinds.items():
        tracked = quota.matching_resources(plural, group, hard)
        if not tracked:
            continue
        total = quota.add(total, {n: Quantity(Fraction(0)) for n in tracked})
        for obj in objs:
            if not all(quota.matches_scope(plural, group, s, obj) for s in selectors):
                continue
            cost = quota.usage(plural, group, obj, now)
            total = quota.add(total, {n: v for n, v in cost.items() if n in tracked})
    return total


def counted_kinds(hard: list[str]) -> set[tuple[str, str]]:
    """The (group, plural) of every kind a quota's hard resources count."""
    kinds = {k for k in WATCHED if quota.matching_resources(k[1], k[0], hard)}
    if "resourcequotas" in hard or "count/resourcequotas" in hard:
        kinds.add(("", "resourcequotas"))
    for name in hard:
        if name.startswith("count/"):
            plural, _, group = name.removeprefix("count/").partition(".")
            kinds.add((group, plural))
    return kinds


def cost_changed(plural: str, old: Obj, new: Obj) -> bool:
    """Whether an update changes what the object costs (upstream's replenishment check)."""
    return quota.usage(plural, "", old) != quota.usage(plural, "", new)


def api_version_of(group: str, plural: str) -> str:
    """The first served version of ``plural.group``, or "" when the server does not know it."""
    for g, version in resources.group_versions():
        if g == group and any(r.plural == plural for r in resources.resources_in(g, version)):
            return f"{g}/{version}" if g else version
    return ""


class ResourceQuotaController(Controller[str]):
    """Recounts each quota's ``status.used`` when what it counts may have changed."""

    name = NAME
    default_workers = 5
    workers_flag = "concurrent-resource-quota-syncs"

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.quotas = self.informer("v1", "resourcequotas")
        self.quotas.add_handler(on_add=self.enqueue, on_update=self._quota_updated)
        self.watched = {k: self.informer(v, k[1]) for k, v in WATCHED.items()}
        for (group, plural), inf in self.watched.items():
            inf.add_handler(
                on_update=lambda o, n, g=group, p=plural: self._object_updated(g, p, o, n),
                on_delete=self._replenish,
            )
        self.quotas.add_handler(on_delete=self._replenish)
        self.queue.add(RESYNC)

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        spec_hard = (new.get("spec") or {}).get("hard") or {}
        if spec_hard != ((old.get("spec") or {}).get("hard") or {}) or spec_hard != (
            (new.get("status") or {}).get("hard") or {}
        ):
            self.enqueue(new)

    def _object_updated(self, group: str, plural: str, old: Obj, new: Obj) -> None:
        if (
            group == ""
            and plural in ("pods", "services", "persistentvolumeclaims")
            and cost_changed(plural, old, new)
        ):
            self._replenish(new)

    def _replenish(self, obj: Obj) -> None:
        for q in self.quotas.list(meta(obj).get("namespace", "")):
            self.enqueue(q)

    async def reconcile(self, key: str) -> Requeue | None:
        if key == RESYNC:
            for q in self.quotas.list():
                self.enqueue(q)
            return Requeue(after=SYNC_PERIOD)
        cached = self.quotas.get(key)
        if cached is None:
            return None
        namespace = meta(cached).get("namespace", "")
        hard = list((cached.get("spec") or {}).get("hard") or {})
        kinds = {k: await self._objects(k, namespace) for k in counted_kinds(hard)}
        status = desired_status(cached, usage_of(cached, kinds, self.now()))
        if status == cached.get("status"):
            return None
        fresh = dict(cached, status=status)
        try:
            await self.client.update_status("v1", "resourcequotas", fresh)
        except errors.NotFound:
            return None
        log.debug("controller=%s key=%s status updated", self.name, key)
        return None

    async def _objects(self, kind: tuple[str, str], namespace: str) -> list[Obj]:
        if kind in self.watched:
            return self.watched[kind].list(namespace)
        if kind == ("", "resourcequotas"):
            return self.quotas.list(namespace)
        group, plural = kind
        api_version = api_version_of(group, plural)
        if not api_version:
            return []
        listed = await self.client.list(api_version, plural, namespace)
        return list(listed.get("items") or [])


def new(ctx: ControllerContext) -> ResourceQuotaController:
    """The factory the controller manager calls for ``--controllers=resourcequota-controller``."""
    return ResourceQuotaController(ctx)
