"""The garbage collector: objects whose owners are gone go too.

A ReplicaSet's pods, a Deployment's ReplicaSets, a Job's pods all carry
``metadata.ownerReferences`` naming their owner by kind, name and UID. When
an owner is deleted the API server does nothing to its dependents; this
controller (upstream ``pkg/controller/garbagecollector``) does, according to
the deletion's ``propagationPolicy``:

- **Background** (the default): the owner is deleted at once. Each dependent
  whose owners are now *all* gone is deleted in turn (with its own dependents
  following the same way).
- **Foreground**: the API server keeps the owner, with ``deletionTimestamp``
  and the ``foregroundDeletion`` finalizer. The collector deletes the
  dependents, those with ``blockOwnerDeletion: true`` first, and removes the
  finalizer once no blocking dependent is left, so the owner disappears last.
- **Orphan**: the owner is kept with the ``orphan`` finalizer. The collector
  removes the ownerReference from every dependent, then the finalizer; the
  dependents live on without an owner.

The ownership graph is not a separate structure: the collector watches every
stored kind that can be deleted (custom kinds too, found by discovery every
30 seconds) (through the shared informer factory, so the
kinds other controllers watch cost nothing extra) and indexes each cache by
owner UID. "The dependents of X" is one index look-up per kind; "is the
owner still there" is a cache look-up, confirmed with a live GET before
anything is deleted, because an owner created a moment ago may not have
reached the cache yet. UIDs that a GET proved absent are remembered (a UID
never comes back), so a large orphaned set costs one GET per owner.

A dependent is classified against each owner as *solid* (exists and is not
waiting for its dependents), *dangling* (gone, or replaced by a new object
with another UID) or *waiting* (foreground deletion in progress):

- some solid owner: the dependent stays; dangling references are removed and
  references to waiting owners stop blocking them, as upstream does;
- no solid owner, some waiting: delete it (Foreground if it has dependents of
  its own, so the chain unwinds bottom-up);
- only dangling owners: delete it with its own policy.

Every write carries a precondition (UID on delete, resourceVersion on patch),
so a decision made on a stale cache fails with Conflict and is retried, never
applied to the wrong object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Any

from tinykube.api import errors
from tinykube.api import resources as table
from tinykube.client.informers import SharedInformer
from tinykube.controllers import discovery
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
OWNER_UID_INDEX = "gc-owner-uid"
RESYNC_PERIOD = 60.0  # seconds between full re-checks of every owned object
DISCOVERY_PERIOD = 30.0  # seconds between looks for new custom kinds (upstream's default)
REDISCOVER_AFTER = 5.0  # an owner of an unknown kind prompts a new look, this often at most
ABSENT_CACHE_SIZE = 10000
# Events are never owners or dependents worth collecting (upstream ignores them too).
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})

SOLID, DANGLING, WAITING = "solid", "dangling", "waiting"


@dataclass(frozen=True)
class Ref:
    """An object the collector should look at, as a work queue key."""

    api_version: str
    resource: str
    namespace: str
    name: str
    uid: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.resource}.{self.api_version} {where}"


def gc_resources() -> list[table.Resource]:
    """The kinds the collector watches: stored, listable, watchable and deletable."""
    out = []
    for res in table.RESOURCES:
        if (res.group, res.plural) in IGNORED or not table.is_stored(res):
            continue
        if res.storage_resource:
            continue  # a second view of objects another row already follows (autoscaling/v1)
        if not {"list", "watch", "delete"} <= set(res.verbs):
            continue
        out.append(res)
    return out


def owner_uids(obj: Obj) -> list[str]:
    """Index function: the UIDs this object names as owners."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [r["uid"] for r in refs if r.get("uid")]


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _finalizers(obj: Obj) -> list[str]:
    return list(_meta(obj).get("finalizers") or [])


def _deleting_with(obj: Obj, finalizer: str) -> bool:
    return bool(_meta(obj).get("deletionTimestamp")) and finalizer in _finalizers(obj)


def _needs_look(obj: Obj) -> bool:
    return bool(owner_uids(obj)) or _deleting_with(obj, ORPHAN) or _deleting_with(obj, FOREGROUND)


class GarbageCollector(Controller[Ref]):
    name = "garbage-collector-controller"
    default_workers = 20
    workers_flag = "concurrent-gc-syncs"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.kinds: dict[tuple[str, str], tuple[table.Resource, SharedInformer]] = {}
        self._uids: dict[str, Ref] = {}
        self._absent: OrderedDict[str, None] = OrderedDict()
        # Custom kinds found by discovery, by (apiVersion, kind), to resolve owner references.
        self._custom: dict[tuple[str, str], table.Resource] = {}
        self._discovered_at = float("-inf")
        for res in gc_resources():
            self._watch(res, self.informer(res.api_version, res.plural))

    def _watch(self, res: table.Resource, inf: SharedInformer) -> None:
        inf.add_indexers({OWNER_UID_INDEX: owner_uids})
        inf.add_handler(
            on_add=partial(self._on_add, res),
            on_update=partial(self._on_update, res),
            on_delete=partial(self._on_delete, res),
        )
        self.kinds[(res.api_version, res.plural)] = (res, inf)

    async def _discover(self) -> None:
        """Watch custom kinds too, as upstream's collector follows discovery."""
        for res in await discovery.custom_resources(self.client):
            if (res.api_version, res.plural) in self.kinds:
                continue
            if not {"list", "watch", "delete"} <= set(res.verbs):
                continue
            self._custom[(res.api_version, res.kind)] = res
            self._watch(res, self.ctx.factory.get(res.api_version, res.plural))
            log.info("controller=%s now follows %s", self.name, res.qualified)

    async def _custom_kind(self, api_version: str, kind: str) -> table.Resource | None:
        """A custom owner kind, looking again at discovery (at most every few seconds)."""
        found = self._custom.get((api_version, kind))
        now = self.ctx.clock.now()
        if found is None and now - self._discovered_at >= REDISCOVER_AFTER:
            self._discovered_at = now
            # Discovery failing (server busy, a client without raw requests) never
            # decides anything: the owner is then of an unknown kind and kept.
            with contextlib.suppress(Exception):
                await self._discover()
            found = self._custom.get((api_version, kind))
        return found

    async def run(self, workers: int | None = None) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(super().run(workers))
            tg.create_task(self._resync_loop())
            tg.create_task(self._discovery_loop())

    async def _discovery_loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self._discover()
            await self.ctx.clock.sleep(DISCOVERY_PERIOD)

    # ---- events -> queue ----

    def _ref(self, res: table.Resource, obj: Obj) -> Ref:
        meta = _meta(obj)
        return Ref(
            res.api_version,
            res.plural,
            meta.get("namespace") or "",
            meta.get("name", ""),
            meta.get("uid", ""),
        )

    def _on_add(self, res: table.Resource, obj: Obj) -> None:
        ref = self._ref(res, obj)
        self._uids[ref.uid] = ref
        if _needs_look(obj):
            self.queue.add(ref)

    def _on_update(self, res: table.Resource, old: Obj, new: Obj) -> None:
        ref = self._ref(res, new)
        self._uids[ref.uid] = ref
        old_owners, new_owners = set(owner_uids(old)), set(owner_uids(new))
        changed = (
            old is new  # a resync
            or old_owners != new_owners
            or _meta(old).get("deletionTimestamp") != _meta(new).get("deletionTimestamp")
            or _finalizers(old) != _finalizers(new)
        )
        if changed and _needs_look(new):
            self.queue.add(ref)
        # An owner this object no longer names may be waiting for it to go.
        for uid in old_owners - new_owners:
            self._enqueue_uid(uid)

    def _on_delete(self, res: table.Resource, obj: Obj) -> None:
        uid = _meta(obj).get("uid", "")
        self._uids.pop(uid, None)
        for dep_res, dep in self.dependents(uid):
            self.queue.add(self._ref(dep_res, dep))
        for owner in owner_uids(obj):
            self._enqueue_uid(owner)  # a foreground owner may be waiting for exactly this

    def _enqueue_uid(self, uid: str) -> None:
        ref = self._uids.get(uid)
        if ref is not None:
            self.queue.add(ref)

    async def _resync_loop(self) -> None:
        while True:
            await self.ctx.clock.sleep(RESYNC_PERIOD)
            for res, inf in self.kinds.values():
                for obj in inf.list():
                    if _needs_look(obj):
                        self.queue.add(self._ref(res, obj))

    # ---- graph look-ups ----

    def dependents(self, uid: str) -> list[tuple[table.Resource, Obj]]:
        """Every cached object that names ``uid`` as an owner."""
        out = []
        for res, inf in self.kinds.values():
            for key in sorted(inf.indexer.index_keys(OWNER_UID_INDEX, uid)):
                obj = inf.get(key)
                if obj is not None:
                    out.append((res, obj))
        return out

    def cached(self, ref: Ref) -> Obj | None:
        entry = self.kinds.get((ref.api_version, ref.resource))
        if entry is None:
            return None
        obj = entry[1].get_by_name(ref.namespace, ref.name)
        if obj is None or _meta(obj).get("uid") != ref.uid:
            return None
        return obj

    # ---- reconcile ----

    async def reconcile(self, key: Ref) -> Requeue | None:
        obj = self.cached(key)
        if obj is None:
            return None  # gone; its dependents were queued by the delete event
        if _deleting_with(obj, ORPHAN):
            await self._orphan_dependents(key)
        elif _deleting_with(obj, FOREGROUND):
            await self._delete_dependents(key)
        elif owner_uids(obj) and not _meta(obj).get("deletionTimestamp"):
            await self._attempt_to_delete(key, obj)
        return None

    async def _orphan_dependents(self, owner: Ref) -> None:
        """Orphan: drop the reference from every dependent, then the finalizer."""
        for res, dep in self.dependents(owner.uid):
            refs = _meta(dep).get("ownerReferences") or []
            await self._patch_owner_refs(res, dep, [r for r in refs if r.get("uid") != owner.uid])
        await self._remove_finalizer(owner, ORPHAN)

    async def _delete_dependents(self, owner: Ref) -> None:
        """Foreground: have the dependents deleted; finish once no blocking one is left."""
        deps = self.dependents(owner.uid)
        blocking = [(r, d) for r, d in deps if _blocks(d, owner.uid)]
        others = [(r, d) for r, d in deps if not _blocks(d, owner.uid)]
        for res, dep in blocking + others:  # blocking ones first
            self.queue.add(self._ref(res, dep))
        if not blocking:
            await self._remove_finalizer(owner, FOREGROUND)

    async def _attempt_to_delete(self, ref: Ref, obj: Obj) -> None:
        states: dict[str, str] = {}
        for oref in _meta(obj).get("ownerReferences") or []:
            states[oref.get("uid", "")] = await self._owner_state(obj, oref)
        values = set(states.values())
        if SOLID in values:
            if values != {SOLID}:
                await self._drop_dangling(ref, obj, states)
            return
        if WAITING in values and self.dependents(ref.uid):
            policy = "Foreground"  # unwind the chain bottom-up
        else:
            policy = _own_policy(obj)
        log.debug("controller=%s deleting %s (%s)", self.name, ref, policy)
        # NotFound: already gone; Conflict: replaced by a new object of the same name.
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                ref.api_version,
                ref.resource,
                ref.name,
                ref.namespace,
                propagation_policy=policy,
                preconditions={"uid": ref.uid},
            )

    async def _owner_state(self, obj: Obj, oref: Obj) -> str:
        uid = oref.get("uid", "")
        if uid in self._absent:
            return DANGLING
        res = table.by_api_version(oref.get("apiVersion", ""), oref.get("kind", ""))
        if res is None:
            res = await self._custom_kind(oref.get("apiVersion", ""), oref.get("kind", ""))
        if res is None:
            return SOLID  # a kind we do not know: never delete on a guess
        namespace = _meta(obj).get("namespace") or ""
        if res.namespaced and not namespace:
            return DANGLING  # a cluster-scoped object cannot be owned by a namespaced one
        namespace = namespace if res.namespaced else ""
        entry = self.kinds.get((res.api_version, res.plural))
        owner = entry[1].get_by_name(namespace, oref.get("name", "")) if entry else None
        if owner is None or _meta(owner).get("uid") != uid:
            owner = await self._live_owner(res, namespace, oref)
        if owner is None:
            self._remember_absent(uid)
            return DANGLING
        return WAITING if _deleting_with(owner, FOREGROUND) else SOLID

    async def _live_owner(self, res: table.Resource, namespace: str, oref: Obj) -> Obj | None:
        """The owner as the API server has it now (the cache may not have it yet)."""
        try:
            owner = await self.client.get(
                res.api_version, res.plural, oref.get("name", ""), namespace
            )
        except errors.NotFound:
            return None
        return owner if _meta(owner).get("uid") == oref.get("uid") else None

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        while len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    # ---- writes ----

    async def _drop_dangling(self, ref: Ref, obj: Obj, states: dict[str, str]) -> None:
        """Keep a dependent that has a live owner, minus references that are dead or waiting."""
        refs = []
        for oref in _meta(obj).get("ownerReferences") or []:
            state = states.get(oref.get("uid", ""))
            if state == DANGLING:
                continue
            if state == WAITING and oref.get("blockOwnerDeletion"):
                oref = {**oref, "blockOwnerDeletion": False}
            refs.append(oref)
        entry = self.kinds[(ref.api_version, ref.resource)]
        await self._patch_owner_refs(entry[0], obj, refs)

    async def _patch_owner_refs(self, res: table.Resource, obj: Obj, refs: list[Obj]) -> None:
        meta = _meta(obj)
        # A merge patch replaces the whole list; the resourceVersion makes it a
        # compare-and-swap, so a concurrent change to the references is not lost.
        patch = {
            "metadata": {
                "ownerReferences": refs or None,
                "resourceVersion": meta.get("resourceVersion"),
            }
        }
        with contextlib.suppress(errors.NotFound):
            await self.client.patch(
                res.api_version,
                res.plural,
                meta.get("name", ""),
                patch,
                meta.get("namespace") or "",
            )

    async def _remove_finalizer(self, ref: Ref, finalizer: str) -> None:
        try:
            live = await self.client.get(ref.api_version, ref.resource, ref.name, ref.namespace)
        except errors.NotFound:
            return
        meta = _meta(live)
        if meta.get("uid") != ref.uid or finalizer not in _finalizers(live):
            return
        remaining = [f for f in _finalizers(live) if f != finalizer]
        patch = {
            "metadata": {
                "finalizers": remaining or None,
                "resourceVersion": meta.get("resourceVersion"),
            }
        }
        try:
            await self.client.patch(ref.api_version, ref.resource, ref.name, patch, ref.namespace)
        except errors.NotFound:
            return
        log.debug("controller=%s removed %s from %s", self.name, finalizer, ref)


def _blocks(dep: Obj, owner_uid: str) -> bool:
    for oref in _meta(dep).get("ownerReferences") or []:
        if oref.get("uid") == owner_uid:
            return bool(oref.get("blockOwnerDeletion"))
    return False


def _own_policy(obj: Obj) -> str:
    """The policy an object's own finalizers ask for, else Background."""
    fins = _finalizers(obj)
    if ORPHAN in fins:
        return "Orphan"
    if FOREGROUND in fins:
        return "Foreground"
    return "Background"
