"""The namespace controller: empty a terminating namespace, then let it go.

Deleting a namespace only marks it: the API server sets ``deletionTimestamp``
and phase ``Terminating`` and keeps it while ``spec.finalizers`` holds
``kubernetes``. This controller (upstream ``pkg/controller/namespace``) then:

1. deletes every namespaced object in it, resource by resource (the built-in
   kinds and, from discovery, every custom resource the server serves), with
   ``deletecollection`` (falling back to list + delete per object where a
   resource does not offer it);
2. lists again to see what remains: objects still inside their grace period,
   or held by finalizers;
3. reports that in the namespace's status conditions, with upstream's types,
   reasons and messages, so ``kubectl describe ns`` explains a namespace stuck
   in Terminating;
4. when nothing remains, removes ``kubernetes`` from ``spec.finalizers``
   through ``PUT /api/v1/namespaces/<n>/finalize``, and the API server deletes
   the namespace.

Content that remains is looked at again after a short delay (``Requeue``);
failures are retried with backoff by the worker loop. The namespace is read
live rather than from the cache: finalizing on a stale copy would fail its
resourceVersion check anyway.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api import resources as table
from tinykube.controllers import discovery
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
FINALIZER = "kubernetes"
REMAINING_RECHECK = 2.0  # seconds before looking again at content that is still going away

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"


def namespaced_resources() -> list[table.Resource]:
    """Every stored, namespaced, deletable resource, once per storage location."""
    out = []
    for res in table.RESOURCES:
        if not res.namespaced or not table.is_stored(res) or "delete" not in res.verbs:
            continue
        if res.storage_resource:
            continue  # a second view of another resource's storage (events.k8s.io Events)
        if "list" not in res.verbs:
            continue
        out.append(res)
    return out


@dataclass
class Remaining:
    """What a deletion pass left behind, per resource and per finalizer."""

    counts: dict[str, int] = field(default_factory=dict)  # "pods." -> n
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer -> n objects
    failures: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.counts)


class NamespaceController(Controller[str]):
    name = "namespace-controller"
    default_workers = 10
    workers_flag = "concurrent-namespace-syncs"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = self.informer("v1", "namespaces")
        self.namespaces.add_handler(
            on_add=self._changed, on_update=lambda _old, new: self._changed(new)
        )
        self.resources = namespaced_resources()

    def _changed(self, ns: Obj) -> None:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    async def reconcile(self, key: str) -> Requeue | None:
        try:
            ns = await self.client.get("v1", "namespaces", key)
        except errors.NotFound:
            return None
        if not ns["metadata"].get("deletionTimestamp"):
            return None
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None  # our part is done; other finalizers are someone else's
        kinds = await self._all_resources()  # one discovery per pass serves both steps
        await self._delete_content(key, kinds)
        remaining = await self._remaining(key, kinds)
        ns = await self._update_conditions(ns, remaining)
        if remaining.failures:
            raise RuntimeError(f"deleting content of namespace {key}: {remaining.failures[0]}")
        if remaining:
            log.debug(
                "controller=%s namespace=%s content remains: %s", self.name, key, remaining.counts
            )
            return Requeue(after=REMAINING_RECHECK)
        await self._finalize(ns)
        return None

    # ---- steps ----

    async def _all_resources(self) -> list[table.Resource]:
        """The built-in namespaced kinds, then the custom ones the server serves now."""
        custom = [
            res
            for res in await discovery.custom_resources(self.client)
            if res.namespaced and {"list", "delete"} <= set(res.verbs)
        ]
        return self.resources + custom

    async def _delete_content(self, namespace: str, kinds: list[table.Resource]) -> None:
        for res in kinds:
            try:
                await self._delete_all(res, namespace)
            except (errors.NotFound, errors.MethodNotAllowed):
                continue  # nothing there, or not deletable here
            except errors.APIError as exc:
                # Keep going: one resource that refuses must not stop the others;
                # the remaining-content pass reports it.
                log.info(
                    "controller=%s namespace=%s deleting %s: %s",
                    self.name,
                    namespace,
                    res.qualified,
                    exc,
                )

    async def _delete_all(self, res: table.Resource, namespace: str) -> None:
        if "deletecollection" in res.verbs:
            await self.client.delete_collection(res.api_version, res.plural, namespace)
            return
        listed = await self.client.list(res.api_version, res.plural, namespace)
        for item in listed.get("items") or []:
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(
                    res.api_version, res.plural, item["metadata"]["name"], namespace
                )

    async def _remaining(self, namespace: str, kinds: list[table.Resource]) -> Remaining:
        out = Remaining()
        for res in kinds:
            try:
                listed = await self.client.list(res.api_version, res.plural, namespace)
            except errors.NotFound:
                continue
            except errors.APIError as exc:
                out.failures.append(f"{res.qualified}: {exc}")
                continue
            items = listed.get("items") or []
            if items:
                out.counts[f"{res.plural}.{res.group}"] = len(items)
            for item in items:
                for fin in (item.get("metadata") or {}).get("finalizers") or []:
                    out.finalizers[fin] = out.finalizers.get(fin, 0) + 1
        return out

    async def _update_conditions(self, ns: Obj, remaining: Remaining) -> Obj:
        status = ns.setdefault("status", {})
        old = status.get("conditions") or []
        new = conditions(remaining, old)
        if _strip_times(new) == _strip_times(old):
            return ns
        status["conditions"] = new
        try:
            return await self.client.update_status("v1", "namespaces", ns)
        except errors.Conflict:
            return await self.client.get("v1", "namespaces", ns["metadata"]["name"])

    async def _finalize(self, ns: Obj) -> None:
        spec = ns.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        name = ns["metadata"]["name"]
        await self.client.update_subresource("v1", "namespaces", name, "finalize", ns)
        log.info("controller=%s namespace=%s finalized", self.name, name)


# ---- conditions, as upstream's namespace deleter writes them ---------------------


Row = tuple[str, bool, str, str]  # type, status, reason, message

# The condition rows when all is well; a pass that finds trouble replaces some.
ALL_CLEAR: dict[str, Row] = {
    DISCOVERY_FAILURE: (DISCOVERY_FAILURE, False, "ResourcesDiscovered",
                        "All resources successfully discovered"),
    PARSING_FAILURE: (PARSING_FAILURE, False, "ParsedGroupVersions",
                      "All legacy kube types successfully parsed"),
    CONTENT_FAILURE: (CONTENT_FAILURE, False, "ContentDeleted",
                      "All content successfully deleted, may be waiting on finalization"),
    CONTENT_REMAINING: (CONTENT_REMAINING, False, "ContentRemoved",
                        "All content successfully removed"),
    FINALIZERS_REMAINING: (FINALIZERS_REMAINING, False, "ContentHasNoFinalizers",
                           "All content-preserving finalizers finished"),
}  # fmt: skip


def _rows(remaining: Remaining) -> list[Row]:
    rows = dict(ALL_CLEAR)
    if remaining.failures:
        why = "Failed to delete all resource types, " + "; ".join(remaining.failures)
        rows[CONTENT_FAILURE] = (CONTENT_FAILURE, True, "ContentDeletionFailed", why)
    if remaining.counts:
        listed = ", ".join(
            f"{r} has {n} resource instances" for r, n in sorted(remaining.counts.items())
        )
        rows[CONTENT_REMAINING] = (CONTENT_REMAINING, True, "SomeResourcesRemain",
                                   f"Some resources are remaining: {listed}")  # fmt: skip
    if remaining.finalizers:
        listed = ", ".join(
            f"{f} in {n} resource instances" for f, n in sorted(remaining.finalizers.items())
        )
        rows[FINALIZERS_REMAINING] = (
            FINALIZERS_REMAINING, True, "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {listed}",
        )  # fmt: skip
    return list(rows.values())


def conditions(remaining: Remaining, old: list[Obj]) -> list[Obj]:
    """The five deletion conditions for one pass, keeping transition times that held."""
    previous = {c.get("type"): c for c in old}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for type_, value, reason, message in _rows(remaining):
        status = "True" if value else "False"
        before = previous.get(type_) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        out.append({"type": type_, "status": status, "lastTransitionTime": since or now,
                    "reason": reason, "message": message})  # fmt: skip
    return out


def _strip_times(conds: list[Obj]) -> list[Obj]:
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conds]
