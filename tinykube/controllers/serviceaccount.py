"""The serviceaccount controller: every namespace has a ServiceAccount named ``default``.

Pods that name no service account run as ``default``, so it must exist in
every namespace, including ones created a moment ago, and come back if
someone deletes it (upstream ``pkg/controller/serviceaccount``). The key is
the namespace name; the controller wakes when a namespace appears and when a
``default`` ServiceAccount is deleted, and creates what is missing. A
namespace that is terminating gets nothing: the API server would refuse it.
"""

from __future__ import annotations

import logging
from typing import Any

from tinykube.api import errors
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_NAME = "default"


class ServiceAccountController(Controller[str]):
    name = "serviceaccount-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = self.informer("v1", "namespaces")
        self.accounts = self.informer("v1", "serviceaccounts")
        self.namespaces.add_handler(
            on_add=self._namespace_changed, on_update=lambda _old, new: self._namespace_changed(new)
        )
        self.accounts.add_handler(on_delete=self._account_deleted)

    def _namespace_changed(self, ns: Obj) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _account_deleted(self, sa: Obj) -> None:
        meta = sa.get("metadata") or {}
        if meta.get("name") == DEFAULT_NAME:
            self.queue.add(meta.get("namespace", ""))

    async def reconcile(self, key: str) -> Requeue | None:
        ns = self.namespaces.get(key)
        if ns is None or _terminating(ns):
            return None
        if self.accounts.get_by_name(key, DEFAULT_NAME) is not None:
            return None
        body = {"metadata": {"name": DEFAULT_NAME, "namespace": key}}
        try:
            await self.client.create("v1", "serviceaccounts", body, key)
        except errors.AlreadyExists:
            return None  # the cache was behind; it exists
        except errors.Forbidden:
            return None  # the namespace started terminating in the meantime
        log.info("controller=%s created serviceaccount %s/%s", self.name, key, DEFAULT_NAME)
        return None


def _terminating(ns: Obj) -> bool:
    return bool((ns.get("metadata") or {}).get("deletionTimestamp")) or (
        (ns.get("status") or {}).get("phase") == "Terminating"
    )
