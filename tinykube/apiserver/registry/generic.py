"""Generic create/get/list/update/delete over storage, shared by every resource.

This is ``k8s.io/apiserver/pkg/registry/generic/registry/store.go`` in our
terms. Reads come from the watch cache after it has caught up with storage
(consistent reads); writes go to storage as compare-and-swap on the
resourceVersion, retried when the caller did not ask for a precondition (the
"guaranteed update" loop). Storage errors become API errors here and nowhere
else.

Every write runs the same pipeline, so that PUT, PATCH, apply, /status,
/scale and /binding cannot disagree::

    mutate(old) → strategy (server fields, status split, generation)
      → defaults → admission → mutating webhooks → validation
      → validating webhooks → quota (charged to its status)
      → service allocation → managedFields → no-op check
      → store CAS (or nothing, for dryRun)

A client's DELETE asks the admission webhooks too, before anything is marked
or removed.
"""

from __future__ import annotations

import base64
import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tinykube.api import errors, eventsview, hpaview
from tinykube.api.duration import now_rfc3339
from tinykube.api.resources import Resource, lookup
from tinykube.apiserver.registry import strategy
from tinykube.apiserver.registry.hooks import Hooks
from tinykube.apiserver.watchcache import WatchCache, decode
from tinykube.store.errors import Compacted, KeyExists, NotFoundError, RevisionConflict
from tinykube.store.interface import Store

log = logging.getLogger(__name__)

MAX_RETRIES = 1000  # every round one racing writer wins, so this always ends
_CORE_EVENTS = lookup("", "v1", "events")
assert _CORE_EVENTS is not None
CORE_EVENTS: Resource = _CORE_EVENTS
_HPA_V2 = lookup("autoscaling", "v2", "horizontalpodautoscalers")
assert _HPA_V2 is not None
HPA_V2: Resource = _HPA_V2
EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token "
    "in this response to retrieve the remainder of the results. Continuing with the "
    "provided token results in an inconsistent list - objects that were created, modified, "
    "or deleted between the time the first chunk was returned and now may show up in the list."
)

Mutator = Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    subresource: str = ""
    operation: str = "Update"  # the managedFields operation ("Apply" for server-side apply)
    warnings: list[str] = field(default_factory=list)
    user: Any = None  # who asked (None: the server itself); RBAC's escalation check needs it
    # A client's write asks admission webhooks; the server's own writes (bootstrap objects,
    # quota charges, CRD status) do not, so an unreachable webhook cannot stop start-up.
    admit: bool = False


@dataclass
class DeleteOptions:
    grace_period: int | None = None
    propagation: str = ""
    uid: str = ""
    resource_version: str = ""
    dry_run: bool = False
    user: Any = None  # who asked, for admission webhooks
    # A client's DELETE asks admission webhooks; the server's own deletes (eviction's,
    # event expiry, CRD cleanup) do not, as upstream's internal deletes do not.
    admit: bool = False


@dataclass
class ListResult:
    items: list[dict[str, Any]]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


def encode(obj: dict[str, Any]) -> bytes:
    """Objects are stored without resourceVersion: it is the store revision."""
    meta = obj.get("metadata") or {}
    rv = meta.pop("resourceVersion", None)
    try:
        return orjson.dumps(obj)
    finally:
        if rv is not None:
            meta["resourceVersion"] = rv


class Registry:
    """CRUD for every stored resource; ``hooks`` adds the per-resource behaviour."""

    def __init__(self, store: Store, cache: WatchCache, hooks: Hooks) -> None:
        self.store = store
        self.cache = cache
        self.hooks = hooks
        hooks.registry = self

    # ---- public entry points: views (events.k8s.io) over stored resources ----
    async def get(self, res: Resource, namespace: str, name: str) -> dict[str, Any]:
        stored, out, _ = view(res)
        return out(await self._get(stored, namespace, name))

    async def list(self, res: Resource, namespace: str, **kwargs: Any) -> ListResult:
        stored, out, _ = view(res)
        result = await self._list(stored, namespace, **kwargs)
        if out is not identity:
            result.items = [out(o) for o in result.items]
        return result

    async def create(
        self, res: Resource, namespace: str, obj: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        stored, out, into = view(res)
        return out(await self._create(stored, namespace, into(obj), opts))

    async def update(
        self,
        res: Resource,
        namespace: str,
        name: str,
        mutate: Mutator,
        opts: WriteOptions,
        **kwargs: Any,
    ) -> tuple[dict[str, Any], bool]:
        stored, out, into = view(res)
        if out is not identity:
            inner = mutate

            async def mutate(old: dict[str, Any]) -> dict[str, Any]:  # type: ignore[misc]
                new = inner(out(old))
                return into(new if isinstance(new, dict) else await new)

        obj, created = await self._update(stored, namespace, name, mutate, opts, **kwargs)
        return (obj if created else out(obj)), created

    async def delete(
        self, res: Resource, namespace: str, name: str, opts: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        stored, out, _ = view(res)
        obj, gone = await self._delete(stored, namespace, name, opts)
        return out(obj), gone

    # ---- reads ----------------------------------------------------------
    async def _get(self, res: Resource, namespace: str, name: str) -> dict[str, Any]:
        await self._sync()
        obj = self.cache.get(res.key(namespace, name))
        if obj is None:
            raise errors.not_found(res.plural, res.group, name)
        return obj

    async def _sync(self) -> None:
        try:
            await self.cache.sync()
        except TimeoutError as exc:
            raise errors.Timeout("Timeout: Too large resource version") from exc

    async def _list(
        self,
        res: Resource,
        namespace: str,
        *,
        match: Callable[[dict[str, Any]], bool] | None = None,
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        exact: bool = False,
    ) -> ListResult:
        prefix = res.list_prefix(namespace)
        if continue_token:
            rev, start = _decode_continue(continue_token)
            return await self._list_from_store(res, prefix, match, limit, start, rev)
        if exact and resource_version not in ("", "0"):
            return await self._list_from_store(res, prefix, match, limit, "", int(resource_version))
        if resource_version in ("", "0") or not resource_version.isdigit():
            if resource_version != "0":
                await self._sync()
        else:
            try:
                await self.cache.wait_until(int(resource_version), timeout=3.0)
            except TimeoutError as exc:
                raise errors.Timeout(
                    f"Timeout: Too large resource version: {resource_version}, "
                    f"current: {self.cache.revision}",
                    retry_after=1,
                ) from exc
        revision = self.cache.revision
        pairs = self.cache.keyed_items(prefix)
        if match is not None:
            pairs = [(k, o) for k, o in pairs if match(o)]
        if limit and len(pairs) > limit and resource_version != "0":
            page = pairs[:limit]
            token = _encode_continue(revision, page[-1][0])
            return ListResult([o for _, o in page], revision, token, len(pairs) - limit)
        return ListResult([o for _, o in pairs], revision)

    async def _list_from_store(
        self,
        res: Resource,
        prefix: str,
        match: Callable[[dict[str, Any]], bool] | None,
        limit: int,
        start: str,
        revision: int,
    ) -> ListResult:
        out: list[dict[str, Any]] = []
        last = start
        try:
            while True:
                page = await self.store.list(
                    prefix, limit=limit or 0, start_after=last, revision=revision
                )
                for kv in page.items:
                    obj = decode(kv)
                    last = kv.key
                    if match is None or match(obj):
                        out.append(obj)
                        if limit and len(out) >= limit:
                            break
                if not page.more or (limit and len(out) >= limit):
                    break
        except Compacted as exc:
            raise errors.Expired(EXPIRED_CONTINUE) from exc
        more = bool(limit) and len(out) >= limit and await self._has_more(prefix, last, revision)
        token = _encode_continue(revision, last) if more else ""
        return ListResult(out, revision, token)

    async def _has_more(self, prefix: str, last: str, revision: int) -> bool:
        page = await self.store.list(prefix, limit=1, start_after=last, revision=revision)
        return bool(page.items)

    # ---- create ---------------------------------------------------------
    async def _create(
        self, res: Resource, namespace: str, obj: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        generated = not meta.get("name") and bool(meta.get("generateName"))
        strategy.prepare_for_create(res, obj, now_rfc3339())
        for _attempt in range(8 if generated else 1):
            if generated:
                meta["name"] = strategy.generate_name(meta["generateName"])
            name = meta.get("name", "")
            await self.hooks.before_create(res, obj, opts)
            try:
                return await self._commit_create(res, obj, opts)
            except KeyExists:
                if not generated:
                    raise errors.already_exists(res.plural, res.group, name) from None
        raise errors.AlreadyExists(
            f'{res.qualified} "{meta["name"]}" already exists, the server was not able to '
            "generate a unique name for the object",
            name=meta["name"],
            group=res.group,
            kind=res.plural,
            retry_after=1,
        )

    async def _commit_create(
        self, res: Resource, obj: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        undo = await self.hooks.allocate(res, obj, None, opts)
        try:
            self.hooks.record_managed_fields(res, None, obj, opts)
            if opts.dry_run:
                undo()
                return obj
            kv = await self.store.create(
                res.key(obj["metadata"].get("namespace", ""), obj["metadata"]["name"]), encode(obj)
            )
        except BaseException:
            undo()
            raise
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return obj

    # ---- update ---------------------------------------------------------
    async def _update(
        self,
        res: Resource,
        namespace: str,
        name: str,
        mutate: Mutator,
        opts: WriteOptions,
        *,
        create_missing: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        precondition_rv: Callable[[dict[str, Any]], str] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Read, mutate, write with compare-and-swap; retry on a race unless
        ``precondition_rv`` names a resourceVersion (then a stale one is a 409).

        Returns (object, created)."""
        key = res.key(namespace, name)
        for _attempt in range(MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                if create_missing is not None:
                    return await create_missing(), True
                raise errors.not_found(res.plural, res.group, name)
            old = decode(kv)
            new = mutate(copy.deepcopy(old))
            if not isinstance(new, dict):
                new = await new
            # Only a version the caller named is a precondition; a mutator that starts
            # from the stored object carries that object's version, and a race with
            # another writer is then retried, not reported.
            asked_rv = precondition_rv(new) if precondition_rv is not None else ""
            if asked_rv and asked_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
            asked_uid = (new.get("metadata") or {}).get("uid")
            if asked_uid and asked_uid != old["metadata"].get("uid"):
                raise errors.conflict(
                    res.plural,
                    res.group,
                    name,
                    f"Precondition failed: UID in precondition: {asked_uid}, "
                    f"UID in object meta: {old['metadata'].get('uid')}",
                )
            try:
                return await self._commit_update(res, key, new, old, kv.mod_revision, opts), False
            except RevisionConflict:
                if asked_rv:
                    raise errors.conflict(res.plural, res.group, name) from None
                continue
            except NotFoundError:
                # Deleted between our read and our write: the next read decides.
                continue
        raise errors.conflict(res.plural, res.group, name, "too many concurrent updates")

    async def _commit_update(
        self,
        res: Resource,
        key: str,
        new: dict[str, Any],
        old: dict[str, Any],
        revision: int,
        opts: WriteOptions,
    ) -> dict[str, Any]:
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        if meta.get("name", old_meta["name"]) != old_meta["name"]:
            raise errors.BadRequest(
                f"the name of the object ({meta.get('name')}) does not match the name on "
                f"the URL ({old_meta['name']})"
            )
        meta["name"] = old_meta["name"]
        if res.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        if opts.subresource == "status":
            strategy.prepare_for_status_update(res, new, old)
        elif opts.subresource == "binding":
            # A binding sets spec.nodeName and the PodScheduled condition together.
            status = new.get("status")
            strategy.prepare_for_update(res, new, old)
            if status is not None:
                new["status"] = status
        elif opts.subresource == "approval":
            strategy.prepare_for_status_update(res, new, old)
        elif opts.subresource not in ("", "scale", "binding", "finalize"):
            pass
        else:
            strategy.prepare_for_update(res, new, old)
        if res.plural == strategy.CSRS and res.group == "certificates.k8s.io":
            strategy.prepare_csr_update(new, old, opts.subresource, now_rfc3339())
        # The status strategies rebuild the object from the old one: its metadata is a new dict.
        meta = new["metadata"]
        await self.hooks.before_update(res, new, old, opts)
        undo = await self.hooks.allocate(res, new, old, opts)
        try:
            self.hooks.record_managed_fields(res, old, new, opts)
            meta["resourceVersion"] = old_meta["resourceVersion"]
            if _same(new, old):
                undo()
                return old
            if opts.dry_run:
                undo()
                return new
            if _finalized(res, new):
                kv = await self.store.delete(key, revision)
                deleted = decode(kv, kv.mod_revision)
                await self.hooks.after_delete(res, deleted)
                return deleted
            kv = await self.store.update(key, encode(new), revision)
        except BaseException:
            undo()
            raise
        await self.hooks.after_update(res, new, old)
        meta["resourceVersion"] = str(kv.mod_revision)
        return new

    # ---- delete ---------------------------------------------------------
    async def _delete(
        self, res: Resource, namespace: str, name: str, opts: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Delete now, or mark for deletion (grace period, finalizers).

        Returns (object, gone): ``gone`` is False when the object still exists
        with a deletionTimestamp."""
        key = res.key(namespace, name)
        for _attempt in range(MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise errors.not_found(res.plural, res.group, name)
            obj = decode(kv)
            _check_preconditions(res, obj, opts)
            if opts.admit:
                await self.hooks.before_delete(res, obj, opts)
            pending = self.hooks.prepare_delete(res, copy.deepcopy(obj), opts, now_rfc3339())
            try:
                if pending is not None:
                    if opts.dry_run or _same(pending, obj):
                        return pending, False
                    kv2 = await self.store.update(key, encode(pending), kv.mod_revision)
                    pending["metadata"]["resourceVersion"] = str(kv2.mod_revision)
                    return pending, False
                if opts.dry_run:
                    return obj, True
                kv2 = await self.store.delete(key, kv.mod_revision)
            except RevisionConflict:
                continue
            except NotFoundError:
                raise errors.not_found(res.plural, res.group, name) from None
            gone = decode(kv2, kv2.mod_revision)
            await self.hooks.after_delete(res, gone)
            return gone, True
        raise errors.conflict(res.plural, res.group, name, "too many concurrent updates")


def identity(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def view(
    res: Resource,
) -> tuple[
    Resource, Callable[[dict[str, Any]], dict[str, Any]], Callable[[dict[str, Any]], dict[str, Any]]
]:
    """(stored resource, to-view, from-view): events.k8s.io Events are stored as core Events;
    custom objects are stored in their CRD's storage version and served in any."""
    if res.group == "events.k8s.io":
        return CORE_EVENTS, eventsview.to_events_v1, eventsview.to_core
    if res.group == "autoscaling" and res.version == "v1":
        return HPA_V2, hpaview.to_v1, hpaview.to_v2
    if res.crd and res.storage_version and res.storage_version != res.version:
        stored = f"{res.group}/{res.storage_version}"
        return res, _as_version(res.api_version), _as_version(stored)
    return res, identity, identity


def _as_version(api_version: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Conversion strategy None: only apiVersion changes, every field is kept."""

    def convert(obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("apiVersion") == api_version:
            return obj
        return {**obj, "apiVersion": api_version}

    return convert


def _same(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """A write that changes nothing is not a write (no new resourceVersion, no event).

    managedFields timestamps alone do not count as a change."""
    if new == old:
        return True
    a = {k: v for k, v in new.items() if k != "metadata"}
    b = {k: v for k, v in old.items() if k != "metadata"}
    if a != b:
        return False
    ma = {k: v for k, v in new["metadata"].items() if k != "managedFields"}
    mb = {k: v for k, v in old["metadata"].items() if k != "managedFields"}
    if ma != mb:
        return False
    return _strip_times(new["metadata"].get("managedFields")) == _strip_times(
        old["metadata"].get("managedFields")
    )


def _strip_times(entries: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "time"} for e in entries or []]


def _finalized(res: Resource, obj: dict[str, Any]) -> bool:
    """A deleting object whose last finalizer was just removed is deleted for real."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if res.plural == "namespaces" and (obj.get("spec") or {}).get("finalizers"):
        return False
    # A pod waiting for its kubelet (grace period) is finalized by a DELETE, not an update.
    return not (res.plural == "pods" and meta.get("deletionGracePeriodSeconds"))


def _check_preconditions(res: Resource, obj: dict[str, Any], opts: DeleteOptions) -> None:
    meta = obj["metadata"]
    if opts.uid and opts.uid != meta.get("uid"):
        raise errors.conflict(
            res.plural,
            res.group,
            meta["name"],
            f"Precondition failed: UID in precondition: {opts.uid}, UID in object meta: "
            f"{meta.get('uid')}",
        )
    if opts.resource_version and opts.resource_version != meta.get("resourceVersion"):
        raise errors.conflict(
            res.plural,
            res.group,
            meta["name"],
            "Precondition failed: ResourceVersion in precondition: "
            f"{opts.resource_version}, ResourceVersion in object meta: "
            f"{meta.get('resourceVersion')}",
        )


def _encode_continue(revision: int, key: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        return int(data["rv"]), str(data["start"])
    except Exception as exc:
        raise errors.BadRequest(f"invalid continue token: {exc}") from None
