"""Keeps served custom resources in step with the stored CRDs, on every API server.

Upstream runs several controllers inside apiextensions-apiserver; here one
object plays them:

- registration (the CRD handler): on each CRD event from this server's own
  watch cache, synchronously, the CRD's rows enter or leave the resource
  table. Doing it from cache events rather than in the request handler is
  what lets every API server of an HA cluster serve the kind;
- naming and establishing: the CRD's status gets ``acceptedNames``,
  ``storedVersions`` and the NamesAccepted / Established conditions (or
  NamesAccepted=False with the conflict, and Established=False);
- finalizing: a deleted CRD carries ``customresourcecleanup.apiextensions.k8s.io``
  (the registry adds it); every custom object is deleted, and when none is
  left the finalizer goes and with it the CRD, whose DELETED event then
  unregisters the kind.

Status and cleanup writes are async, so events only put CRD names on a
queue; ``run`` works through it. Every server does this work; the writes
are idempotent, so two servers racing only cost a retried write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tinykube.api import errors, resources
from tinykube.api.duration import now_rfc3339
from tinykube.apiserver.crd import definition, naming
from tinykube.apiserver.crd.definition import CRDS, FINALIZER
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.registry.generic import DeleteOptions, WriteOptions
from tinykube.apiserver.watchcache import CachedEvent

log = logging.getLogger(__name__)

MANAGER = "kube-apiserver"
RESYNC_SECONDS = 60.0
ESTABLISHED = ("True", "InitialNamesAccepted", "the initial names have been accepted")
NOT_ESTABLISHED = ("False", "NotAccepted", "not all names are accepted")
TERMINATING = ("True", "InstanceDeletionInProgress", "CustomResource deletion is in progress")
BUCKET = CRDS.storage_prefix().split("/")[2]


class CRDController:
    """Registration from cache events, then status and cleanup from a queue of CRD names."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._terminating: set[str] = set()
        ctx.cache.add_listener(self._on_event)

    def load(self) -> None:
        """Serve every stored CRD; called once, before the server listens."""
        for crd in self._all():
            self._register(crd)
            self.queue.put_nowait(crd["metadata"]["name"])

    def _all(self) -> list[dict[str, Any]]:
        return self.ctx.cache.items(CRDS.list_prefix())

    def _on_event(self, ev: CachedEvent) -> None:
        if ev.resource == BUCKET:
            name = ev.obj["metadata"]["name"]
            if ev.type == "DELETED":
                definition.unserve(name)
                self._terminating.discard(name)
            else:
                self._register(ev.obj)
            self.queue.put_nowait(name)
            # A CRD that takes or frees names changes what its group's others may have.
            group = (ev.obj.get("spec") or {}).get("group")
            for other in self._all():
                other_name = other["metadata"]["name"]
                if other_name != name and (other.get("spec") or {}).get("group") == group:
                    self._register(other)
                    self.queue.put_nowait(other_name)
        elif ev.type == "DELETED" and ev.resource in self._terminating:
            self.queue.put_nowait(ev.resource)

    def _register(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        if naming.conflict(crd, self._all()) is not None:
            definition.unserve(name)
            return
        try:
            definition.serve(crd, naming.spec_names(crd))
        except Exception:
            log.exception("component=apiserver crd=%s cannot be served", name)
            definition.unserve(name)

    def resync(self) -> None:
        """Serve exactly the stored CRDs. Events keep this true; a watch-cache reload
        (after falling behind compaction) replaces objects without events, so every
        ``RESYNC_SECONDS`` the whole set is compared again, as informers resync."""
        stored = {crd["metadata"]["name"]: crd for crd in self._all()}
        for name in {r.crd for r in resources.dynamic()} - set(stored):
            definition.unserve(name)
        for name, crd in stored.items():
            self._register(crd)
            self.queue.put_nowait(name)

    async def run(self) -> None:
        while True:
            try:
                name = await asyncio.wait_for(self.queue.get(), RESYNC_SECONDS)
            except TimeoutError:
                self.resync()
                continue
            try:
                await self._reconcile(name)
            except errors.APIError as exc:
                log.debug("component=apiserver crd=%s sync err=%s", name, exc)
            except Exception:
                log.exception("component=apiserver crd sync failed crd=%s", name)

    async def _reconcile(self, name: str) -> None:
        crd = self.ctx.cache.get(CRDS.key("", name))
        if crd is None:
            return
        if crd["metadata"].get("deletionTimestamp"):
            if FINALIZER in (crd["metadata"].get("finalizers") or []):
                self._terminating.add(name)
                await self._finalize(crd)
            return
        desired = self._status(crd)
        if desired != crd.get("status"):
            await self._write_status(name, lambda _old: desired)

    def _status(self, crd: dict[str, Any]) -> dict[str, Any]:
        status = dict(crd.get("status") or {})
        found = naming.conflict(crd, self._all())
        if found is None:
            status["acceptedNames"] = naming.spec_names(crd)
            accepted, established = naming.ACCEPTED, ESTABLISHED
        else:
            status.setdefault("acceptedNames", {"plural": "", "kind": ""})
            accepted, established = ("False", *found), NOT_ESTABLISHED
        conditions = list(status.get("conditions") or [])
        conditions = _set_condition(conditions, "NamesAccepted", accepted)
        conditions = _set_condition(conditions, "Established", established)
        status["conditions"] = conditions
        stored = list(status.get("storedVersions") or [])
        version = definition.storage_version(crd)
        if version and version not in stored:
            stored.append(version)
        status["storedVersions"] = stored
        return status

    async def _write_status(self, name: str, status: Any) -> None:
        def mutate(old: dict[str, Any]) -> dict[str, Any]:
            old["status"] = status(old)
            return old

        opts = WriteOptions(field_manager=MANAGER, subresource="status")
        with contextlib.suppress(errors.NotFound):
            await self.ctx.registry.update(CRDS, "", name, mutate, opts)

    async def _finalize(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        conditions = (crd.get("status") or {}).get("conditions") or []
        if not any(
            c.get("type") == "Terminating" and c.get("status") == "True" for c in conditions
        ):
            await self._write_status(
                name,
                lambda old: {
                    **(old.get("status") or {}),
                    "conditions": _set_condition(
                        list((old.get("status") or {}).get("conditions") or []),
                        "Terminating",
                        TERMINATING,
                    ),
                },
            )
        rows = definition.rows(crd, naming.spec_names(crd))
        if rows:
            res = rows[0]
            left = self.ctx.cache.items(res.storage_prefix())
            for obj in left:
                meta = obj["metadata"]
                if meta.get("deletionTimestamp"):
                    continue
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await self.ctx.registry.delete(
                        res, meta.get("namespace", ""), meta["name"], DeleteOptions()
                    )
            await self.ctx.cache.sync()
            if self.ctx.cache.items(res.storage_prefix()):
                return  # the DELETED events of the rest bring us back
        await self._remove_finalizer(name)

    async def _remove_finalizer(self, name: str) -> None:
        def mutate(old: dict[str, Any]) -> dict[str, Any]:
            meta = old["metadata"]
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
            if not meta["finalizers"]:
                del meta["finalizers"]
            return old

        opts = WriteOptions(field_manager=MANAGER)
        with contextlib.suppress(errors.NotFound):
            await self.ctx.registry.update(CRDS, "", name, mutate, opts)
        log.info("component=apiserver crd=%s custom objects removed; finalizer released", name)


def _set_condition(
    conditions: list[dict[str, Any]], type_: str, value: tuple[str, str, str]
) -> list[dict[str, Any]]:
    """Set one condition, keeping lastTransitionTime when the status does not change."""
    status = value[0]
    for i, cond in enumerate(conditions):
        if cond.get("type") == type_:
            if (cond.get("status"), cond.get("reason"), cond.get("message")) == value:
                return conditions
            stamp = cond.get("lastTransitionTime") if cond.get("status") == status else None
            conditions[i] = _condition(type_, value, stamp or now_rfc3339())
            return conditions
    conditions.append(_condition(type_, value, now_rfc3339()))
    return conditions


def _condition(type_: str, value: tuple[str, str, str], stamp: str) -> dict[str, Any]:
    status, reason, message = value
    return {
        "type": type_,
        "status": status,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }
