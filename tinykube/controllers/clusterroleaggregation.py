"""The clusterrole-aggregation controller: fill aggregated ClusterRoles' rules.

A ClusterRole with an ``aggregationRule`` holds the rules of every ClusterRole
its ``clusterRoleSelectors`` match (upstream
``pkg/controller/clusterroleaggregation``): that is how ``admin``, ``edit``
and ``view`` gain the permissions of ``system:aggregate-to-*`` and of any
role a user labels ``rbac.authorization.k8s.io/aggregate-to-view: "true"``.
Matched roles are taken in name order and a rule already present is not
repeated, so the result is stable and an unchanged role is never written.
Any ClusterRole change re-queues every aggregated role; chains (``view`` is
aggregated into ``edit``, ``edit`` into ``admin``) settle as each write
triggers the next pass.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import errors
from tinykube.api.selectors import label_selector_as_selector
from tinykube.controllers.podutil import meta
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

Obj = dict[str, Any]

NAME = "clusterrole-aggregation-controller"  # alias "clusterrole-aggregation"
RBAC = "rbac.authorization.k8s.io/v1"


def aggregated_rules(role: Obj, roles: list[Obj]) -> list[Obj]:
    """The rules ``role``'s aggregationRule selects, in name order, without repeats."""
    selectors = [
        label_selector_as_selector(s)
        for s in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    ]
    rules: list[Obj] = []
    for other in sorted(roles, key=lambda r: meta(r).get("name", "")):
        if meta(other).get("name") == meta(role).get("name"):
            continue
        labels = meta(other).get("labels") or {}
        if not any(sel.matches(labels) for sel in selectors):
            continue
        for rule in other.get("rules") or []:
            if rule not in rules:
                rules.append(rule)
    return rules


class ClusterRoleAggregationController(Controller[str]):
    name = NAME

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.roles = self.informer(RBAC, "clusterroles")
        self.roles.add_handler(
            on_add=self._changed,
            on_update=lambda _o, n: self._changed(n),
            on_delete=self._changed,
        )

    def _changed(self, _role: Obj) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule"):
                self.enqueue(role)

    async def reconcile(self, key: str) -> Requeue | None:
        role = self.roles.get(key)
        if role is None or not role.get("aggregationRule"):
            return None
        rules = aggregated_rules(role, self.roles.list())
        if rules == (role.get("rules") or []):
            return None
        try:
            await self.client.update(RBAC, "clusterroles", {**role, "rules": rules})
        except errors.Conflict:
            return Requeue(after=0.1)
        except errors.NotFound:
            return None
        return None


def new(ctx: ControllerContext) -> ClusterRoleAggregationController:
    return ClusterRoleAggregationController(ctx)
