"""State the API server keeps true by itself, as kube-apiserver's bootstrap
controllers do: the system namespaces and priority classes, the ``kubernetes``
Service with its Endpoints and EndpointSlice pointing at this server, the
``kube-root-ca.crt`` ConfigMap in every namespace, and the one-hour lifetime
of Events.

All of it goes through the same registry as user requests, so defaults,
validation and watch events apply unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tinykube.api import duration, errors
from tinykube.api.resources import lookup
from tinykube.apiserver.authz import policy
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.registry.generic import DeleteOptions, WriteOptions
from tinykube.apiserver.watchcache import CachedEvent

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ROOT_CA = "kube-root-ca.crt"
MANAGER = "kube-apiserver"


def _res(group: str, version: str, plural: str) -> Any:
    res = lookup(group, version, plural)
    assert res is not None
    return res


NAMESPACES = _res("", "v1", "namespaces")
SERVICES = _res("", "v1", "services")
ENDPOINTS = _res("", "v1", "endpoints")
SLICES = _res("discovery.k8s.io", "v1", "endpointslices")
CONFIGMAPS = _res("", "v1", "configmaps")
EVENTS = _res("", "v1", "events")
PRIORITY_CLASSES = _res("scheduling.k8s.io", "v1", "priorityclasses")
# kube-apiserver's scheduling bootstrap: the two classes critical add-ons name.
SYSTEM_PRIORITY_CLASSES = (
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
)


def _opts() -> WriteOptions:
    return WriteOptions(field_manager=MANAGER)


async def ensure(ctx: ServerContext, res: Any, namespace: str, obj: dict[str, Any]) -> None:
    """Create ``obj`` unless an object of that name exists."""
    if ctx.cache.get(res.key(namespace, obj["metadata"]["name"])) is not None:
        return
    obj.setdefault("apiVersion", res.api_version)
    obj.setdefault("kind", res.kind)
    with contextlib.suppress(errors.AlreadyExists):
        await ctx.registry.create(res, namespace, obj, _opts())


async def ensure_system_state(ctx: ServerContext, first_ip: str) -> None:
    for name in SYSTEM_NAMESPACES:
        await ensure(ctx, NAMESPACES, "", {"metadata": {"name": name}})
    for name, value, description in SYSTEM_PRIORITY_CLASSES:
        pc = {"metadata": {"name": name}, "value": value, "description": description}
        await ensure(ctx, PRIORITY_CLASSES, "", pc)
    await ensure(
        ctx,
        SERVICES,
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": first_ip,
                "ports": [
                    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": ctx.config.port}
                ],
                "sessionAffinity": "None",
            },
        },
    )
    await reconcile_endpoints(ctx)


def _advertised(ctx: ServerContext) -> str:
    cfg = ctx.config
    addr = cfg.advertise_address or cfg.bind_address
    return "127.0.0.1" if addr in ("0.0.0.0", "::", "") else addr


async def reconcile_endpoints(ctx: ServerContext) -> None:
    """The ``kubernetes`` Endpoints and EndpointSlice name this server's address."""
    address, port = _advertised(ctx), ctx.config.port
    endpoints = {
        "metadata": {
            "name": "kubernetes",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }
    slice_ = {
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    for res, desired in ((ENDPOINTS, endpoints), (SLICES, slice_)):
        await _put(ctx, res, "default", desired)


async def _put(ctx: ServerContext, res: Any, namespace: str, desired: dict[str, Any]) -> None:
    name = desired["metadata"]["name"]
    desired = {"apiVersion": res.api_version, "kind": res.kind, **desired}

    def mutate(old: dict[str, Any]) -> dict[str, Any]:
        new = {**old, **{k: v for k, v in desired.items() if k != "metadata"}}
        new["metadata"] = {**old["metadata"], "labels": desired["metadata"]["labels"]}
        return new

    async def create() -> dict[str, Any]:
        return await ctx.registry.create(res, namespace, dict(desired), _opts())

    await ctx.registry.update(res, namespace, name, mutate, _opts(), create_missing=create)


class RootCAPublisher:
    """Puts ``kube-root-ca.crt`` into every namespace, and back when it is deleted."""

    def __init__(self, ctx: ServerContext, ca_pem: str) -> None:
        self.ctx = ctx
        self.ca_pem = ca_pem
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        ctx.cache.add_listener(self._on_event)

    def _on_event(self, ev: CachedEvent) -> None:
        if ev.resource == "namespaces" and ev.type != "DELETED":
            if not ev.obj["metadata"].get("deletionTimestamp"):
                self.queue.put_nowait(ev.obj["metadata"]["name"])
        elif ev.resource == "configmaps" and ev.key.endswith("/" + ROOT_CA):
            ns = ev.obj["metadata"].get("namespace", "")
            if ev.type == "DELETED" or (ev.obj.get("data") or {}).get("ca.crt") != self.ca_pem:
                self.queue.put_nowait(ns)

    async def run(self) -> None:
        for ns in list(self._namespaces()):
            self.queue.put_nowait(ns)
        while True:
            ns = await self.queue.get()
            try:
                await self._publish(ns)
            except errors.APIError as exc:
                log.debug("component=apiserver root-ca publish ns=%s err=%s", ns, exc)
            except Exception:
                log.exception("component=apiserver root-ca publish failed ns=%s", ns)

    def _namespaces(self) -> list[str]:
        return [o["metadata"]["name"] for o in self.ctx.cache.items(NAMESPACES.list_prefix())]

    async def _publish(self, namespace: str) -> None:
        ns = self.ctx.cache.get(NAMESPACES.key("", namespace))
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        desired = {"metadata": {"name": ROOT_CA, "labels": {}}, "data": {"ca.crt": self.ca_pem}}
        await _put(self.ctx, CONFIGMAPS, namespace, desired)


def _event_time(ev: dict[str, Any]) -> str:
    series = ev.get("series") or {}
    return (
        series.get("lastObservedTime")
        or ev.get("lastTimestamp")
        or ev.get("eventTime")
        or ev["metadata"].get("creationTimestamp", "")
    )


def _parse(ts: str) -> datetime | None:
    try:
        return duration.parse_time(ts)
    except ValueError:
        return None


async def expire_events(ctx: ServerContext, ttl_seconds: int) -> None:
    """Events live for ``--event-ttl`` (one hour) after their last occurrence."""
    interval = min(60.0, max(0.5, ttl_seconds / 2))
    while True:
        cutoff = datetime.now(UTC) - timedelta(seconds=ttl_seconds)
        for ev in ctx.cache.items(EVENTS.list_prefix()):
            when = _parse(_event_time(ev))
            if when is not None and when < cutoff:
                meta = ev["metadata"]
                with contextlib.suppress(errors.APIError):
                    await ctx.registry.delete(
                        EVENTS, meta.get("namespace", ""), meta["name"], DeleteOptions()
                    )
        await asyncio.sleep(interval)


CLUSTER_ROLES = _res("rbac.authorization.k8s.io", "v1", "clusterroles")
CLUSTER_ROLE_BINDINGS = _res("rbac.authorization.k8s.io", "v1", "clusterrolebindings")


def _reconciled(live: dict[str, Any], default: dict[str, Any], field: str) -> dict[str, Any] | None:
    """``live`` with the default's missing list items added, or None when nothing is missing."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    if annotations.get(policy.AUTOUPDATE) == "false":
        return None
    have = list(live.get(field) or [])
    missing = [item for item in default.get(field) or [] if item not in have]
    extra: dict[str, Any] = {}
    if "aggregationRule" in default and "aggregationRule" not in live:
        extra["aggregationRule"] = default["aggregationRule"]
    if not missing and not extra:
        return None
    return {**live, **extra, field: have + missing}


async def ensure_policy(ctx: ServerContext) -> None:
    """Create the default RBAC objects, and give back what a default one has lost.

    As kube-apiserver's ``rbac/bootstrap-roles`` post-start hook: objects a user
    deleted come back; rules or subjects removed from a default object are
    added again unless its ``rbac.authorization.kubernetes.io/autoupdate``
    annotation is ``"false"``; nothing a user added is taken away.
    """
    for res, objects, field in (
        (CLUSTER_ROLES, policy.cluster_roles(), "rules"),
        (CLUSTER_ROLE_BINDINGS, policy.cluster_role_bindings(), "subjects"),
    ):
        for obj in objects:
            name = obj["metadata"]["name"]
            live = ctx.cache.get(res.key("", name))
            if live is None:
                await ensure(ctx, res, "", obj)
                continue
            if _reconciled(live, obj, field) is None:
                continue

            def mutate(
                old: dict[str, Any], obj: dict[str, Any] = obj, field: str = field
            ) -> dict[str, Any]:
                return _reconciled(old, obj, field) or old

            with contextlib.suppress(errors.NotFound):
                await ctx.registry.update(res, "", name, mutate, _opts())
