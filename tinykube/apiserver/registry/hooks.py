"""The per-resource steps of the write pipeline: defaults, admission, validation,
allocation, managedFields, graceful deletion and namespace lifecycle.

``generic.Registry`` calls these at fixed points for every resource; the
resource-specific parts are looked up here by plural so that a new rule is
one entry, not a new code path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tinykube.api import defaults, duration, errors, validation
from tinykube.api import schema as api_schema
from tinykube.api.resources import Resource, lookup
from tinykube.apiserver import admission, crd, webhooks
from tinykube.apiserver.admission import resourcequota
from tinykube.apiserver.allocators import (
    ClusterIPAllocator,
    NodePortAllocator,
    allocate_for_service,
    release_for_service,
    rollback_for_service,
)
from tinykube.patch.managedfields import update_managed_fields

if TYPE_CHECKING:
    from tinykube.apiserver.registry.generic import DeleteOptions, Registry, WriteOptions
    from tinykube.apiserver.watchcache import WatchCache

log = logging.getLogger(__name__)

NAMESPACES = lookup("", "v1", "namespaces")
PRIORITY_CLASSES = lookup("scheduling.k8s.io", "v1", "priorityclasses")
STORAGE_CLASSES = lookup("storage.k8s.io", "v1", "storageclasses")
INGRESS_CLASSES = lookup("networking.k8s.io", "v1", "ingressclasses")
LIMIT_RANGES = lookup("", "v1", "limitranges")
RESOURCE_QUOTAS = lookup("", "v1", "resourcequotas")
QUOTA_FIELD_MANAGER = "kube-apiserver"
TERMINAL_PHASES = ("Succeeded", "Failed")


def _noop() -> None:
    return None


class Hooks:
    def __init__(
        self, cache: WatchCache, ips: ClusterIPAllocator, ports: NodePortAllocator
    ) -> None:
        self.cache = cache
        self.ips = ips
        self.ports = ports
        # Set when RBAC is on: (res, obj, user) -> None, or 403 for an escalation.
        self.escalation_check: Callable[[Resource, dict[str, Any], Any], None] | None = None
        # The registry these hooks serve; ResourceQuota admission writes quota status through it.
        self.registry: Registry | None = None
        # MutatingAdmissionWebhook and ValidatingAdmissionWebhook.
        self.webhooks = webhooks.Dispatcher(cache)

    # ---- create / update ------------------------------------------------
    async def before_create(self, res: Resource, obj: dict[str, Any], opts: WriteOptions) -> None:
        if res.namespaced:
            meta = obj["metadata"]
            await self._check_namespace(res, meta.get("namespace", ""), meta.get("name", ""))
        defaults.apply_defaults(res, obj)
        if res.plural == "certificatesigningrequests" and res.group == "certificates.k8s.io":
            _set_requestor(obj, opts.user)
        initial = getattr(defaults, "initial_status", None)
        if initial is not None and res.has_status and "status" not in obj:
            initial(res, obj)
        self._admit(res, obj, None)
        await self.webhooks.mutate(res, obj, None, opts, "CREATE")
        if self.escalation_check is not None:
            self.escalation_check(res, obj, opts.user)
        problems = validation.validate(res, obj, None) + self._extension_problems(res, obj, None)
        if problems:
            raise errors.invalid_object(
                res.kind, res.group, obj["metadata"].get("name", ""), problems
            )
        await self.webhooks.validate(res, obj, None, opts, "CREATE")
        await self._charge_quota(res, obj, None, opts)

    async def before_update(
        self, res: Resource, new: dict[str, Any], old: dict[str, Any], opts: WriteOptions
    ) -> None:
        defaults.apply_defaults(res, new)
        self._admit(res, new, old)
        await self.webhooks.mutate(res, new, old, opts, "UPDATE")
        if self.escalation_check is not None:
            self.escalation_check(res, new, opts.user)
        problems = validation.validate(res, new, old) + self._extension_problems(res, new, old)
        if problems:
            raise errors.invalid_object(res.kind, res.group, old["metadata"]["name"], problems)
        await self.webhooks.validate(res, new, old, opts, "UPDATE")
        await self._charge_quota(res, new, old, opts)

    def _extension_problems(
        self, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[errors.FieldError]:
        """CRDs and custom objects: defaults and checks that live with the CRD code."""
        if res is crd.CRDS:
            crd.apply_crd_defaults(obj)
            if old is None:
                obj["status"] = crd.initial_status(obj)
            return crd.validate_crd(obj, old)
        if not res.crd:
            return []
        if old is None:
            definition = self.cache.get(crd.CRDS.key("", res.crd))
            if definition is None or definition["metadata"].get("deletionTimestamp"):
                raise errors.MethodNotAllowed(
                    "create not allowed while custom resource definition is terminating",
                    kind=res.plural,
                    group=res.group,
                )
        return crd.admit_custom(res, obj)

    def _admit(self, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        problems = admission.admit(
            res,
            obj,
            old,
            lookup_priority_class=self._priority_class,
            list_storage_classes=self._storage_classes,
            list_ingress_classes=self._ingress_classes,
            list_limit_ranges=self._limit_ranges,
        )
        if problems:
            raise errors.invalid_object(
                res.kind, res.group, obj["metadata"].get("name", ""), problems
            )

    def _priority_class(self, name: str) -> dict[str, Any] | None:
        """By name; for "" the globalDefault class (the lowest value if several are)."""
        assert PRIORITY_CLASSES is not None
        if name:
            return self.cache.get(PRIORITY_CLASSES.key("", name))
        defaults = [
            pc for pc in self.cache.items(PRIORITY_CLASSES.list_prefix()) if pc.get("globalDefault")
        ]
        return min(defaults, key=lambda pc: int(pc.get("value") or 0), default=None)

    def _storage_classes(self) -> list[dict[str, Any]]:
        assert STORAGE_CLASSES is not None
        return self.cache.items(STORAGE_CLASSES.list_prefix())

    def _ingress_classes(self) -> list[dict[str, Any]]:
        assert INGRESS_CLASSES is not None
        return self.cache.items(INGRESS_CLASSES.list_prefix())

    def _limit_ranges(self, namespace: str) -> list[dict[str, Any]]:
        assert LIMIT_RANGES is not None
        return self.cache.items(LIMIT_RANGES.list_prefix(namespace))

    async def _charge_quota(
        self, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None, opts: WriteOptions
    ) -> None:
        """ResourceQuota admission: refuse, or add the write's usage to each quota's status."""
        if self.registry is None or not res.namespaced:
            return
        if not resourcequota.handles(res.plural, res.group, obj, old, opts.subresource):
            return
        assert RESOURCE_QUOTAS is not None
        namespace = obj["metadata"].get("namespace", "")
        quotas = self.cache.items(RESOURCE_QUOTAS.list_prefix(namespace))
        if not quotas:
            return
        now = datetime.now(UTC)
        charges = resourcequota.check(quotas, res.plural, res.group, obj, old, now)
        if opts.dry_run:
            return
        from tinykube.apiserver.registry.generic import WriteOptions

        for name, delta in charges:

            def add(fresh: dict[str, Any], delta: Any = delta) -> dict[str, Any]:
                return resourcequota.charge(fresh, delta, res.plural, res.group, obj)

            try:
                await self.registry.update(
                    RESOURCE_QUOTAS,
                    namespace,
                    name,
                    add,
                    WriteOptions(subresource="status", field_manager=QUOTA_FIELD_MANAGER),
                )
            except errors.NotFound:
                continue  # deleted since: nothing left to charge

    async def _check_namespace(self, res: Resource, namespace: str, name: str) -> None:
        assert NAMESPACES is not None
        key = NAMESPACES.key("", namespace)
        ns = self.cache.get(key)
        if ns is None:
            # A namespace created a moment ago (or through another API server) may
            # not have reached the cache yet: look again at a consistent point.
            await self.cache.sync()
            ns = self.cache.get(key)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp") and res.plural != "events":
            raise errors.Forbidden(
                f'{res.qualified} "{name}" is forbidden: unable to create new '
                f"content in namespace {namespace} because it is being terminated",
                group=res.group,
                kind=res.plural,
                causes=[
                    errors.Cause(
                        "NamespaceTerminating",
                        f"namespace {namespace} is being terminated",
                        "metadata.namespace",
                    )
                ],
            )

    async def allocate(
        self,
        res: Resource,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        opts: WriteOptions,
    ) -> Callable[[], None]:
        """Service IPs and node ports; returns how to give them back if the write fails."""
        if res.plural != "services" or res.group:
            return _noop
        problems = allocate_for_service(obj, old, self.ips, self.ports)
        if problems:
            raise errors.invalid_object(
                res.kind, res.group, obj["metadata"].get("name", ""), problems
            )

        def undo() -> None:
            rollback_for_service(obj, old, self.ips, self.ports)

        return undo

    def record_managed_fields(
        self,
        res: Resource,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        opts: WriteOptions,
    ) -> None:
        if opts.operation == "Apply":
            return  # server-side apply recorded ownership itself
        try:
            node = api_schema.for_kind(res.group, res.version, res.kind)
        except Exception:
            node = None
        subresource = (
            opts.subresource if opts.subresource in ("status", "scale", "approval") else ""
        )
        update_managed_fields(
            old,
            new,
            manager=opts.field_manager or "unknown",
            operation="Update",
            api_version=res.api_version,
            time=duration.now_rfc3339(),
            schema=node,
            subresource=subresource,
            ignore_paths=ignored_paths(res, subresource),
        )

    async def after_update(self, res: Resource, new: dict[str, Any], old: dict[str, Any]) -> None:
        return None

    # ---- delete ---------------------------------------------------------
    async def before_delete(self, res: Resource, obj: dict[str, Any], opts: DeleteOptions) -> None:
        """Admission of a DELETE: webhooks see the stored object as oldObject."""
        await self.webhooks.mutate(res, None, obj, opts, "DELETE")
        await self.webhooks.validate(res, None, obj, opts, "DELETE")

    def prepare_delete(
        self, res: Resource, obj: dict[str, Any], opts: DeleteOptions, now: str
    ) -> dict[str, Any] | None:
        """The object as it stays while deletion is pending, or None to delete now."""
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        policy = opts.propagation
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        grace = self._grace_period(res, obj, opts)
        if (
            res is crd.CRDS
            and not meta.get("deletionTimestamp")
            and crd.FINALIZER not in finalizers
        ):
            # The cleanup controller deletes the custom objects before the CRD goes.
            finalizers.append(crd.FINALIZER)
        if res.plural == "namespaces" and not res.group:
            if not finalizers and not (obj.get("spec") or {}).get("finalizers"):
                return None
            return _terminating_namespace(obj, now) if not meta.get("deletionTimestamp") else obj
        if meta.get("deletionTimestamp"):
            # Already being deleted: only a shorter grace period changes anything.
            current = meta.get("deletionGracePeriodSeconds")
            if grace == 0 and not finalizers:
                return None
            if current is not None and grace is not None and grace < current:
                meta["deletionGracePeriodSeconds"] = grace
                meta["deletionTimestamp"] = _plus(now, grace)
            return obj
        if not finalizers and not grace:
            return None
        meta["finalizers"] = finalizers if finalizers else meta.get("finalizers")
        if not meta["finalizers"]:
            meta.pop("finalizers")
        meta["deletionTimestamp"] = _plus(now, grace or 0)
        meta["deletionGracePeriodSeconds"] = grace or 0
        if meta.get("generation"):
            meta["generation"] += 1
        return obj

    def _grace_period(self, res: Resource, obj: dict[str, Any], opts: DeleteOptions) -> int:
        if res.plural != "pods" or res.group:
            return 0
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in TERMINAL_PHASES:
            return 0
        if opts.grace_period is not None:
            return max(0, opts.grace_period)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    async def after_delete(self, res: Resource, obj: dict[str, Any]) -> None:
        if res.plural == "services" and not res.group:
            release_for_service(obj, self.ips, self.ports)


def _set_requestor(csr: dict[str, Any], user: Any) -> None:
    """A CSR names who asked for it, from the request's own credentials, never the body's."""
    spec = csr.setdefault("spec", {})
    for field in ("username", "uid", "groups", "extra"):
        spec.pop(field, None)
    if user is None:
        return
    spec["username"] = user.username
    if user.uid:
        spec["uid"] = user.uid
    if user.groups:
        spec["groups"] = list(user.groups)
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra.items()}


def ignored_paths(res: Resource, subresource: str) -> tuple[str, ...]:
    """Fields a write through this endpoint cannot change, so nobody owns them there."""
    if subresource in ("status", "approval"):
        return ("spec",)
    if res.has_status and subresource == "":
        return ("status",)
    return ()


def _terminating_namespace(obj: dict[str, Any], now: str) -> dict[str, Any]:
    obj["metadata"]["deletionTimestamp"] = now
    obj["metadata"]["deletionGracePeriodSeconds"] = 0
    obj.setdefault("status", {})["phase"] = "Terminating"
    return obj


def _plus(now: str, seconds: int) -> str:
    moment = duration.parse_time(now)
    assert moment is not None
    return duration.format_time(moment + timedelta(seconds=seconds))
