"""kube-proxy's control loop: watch Services and endpoints, hand the proxier a table.

Upstream's ``ProxyServer`` runs informers for Services and EndpointSlices
(both filtered by ``SERVICE_SELECTOR``), feeds every change into change
trackers, and calls the proxier's ``syncProxyRules`` through a bounded
frequency runner: at most once per ``minSyncPeriod`` however fast events
come, and at least once per ``syncPeriod`` even when nothing happens. This
loop is the same with the trackers folded away: any event only sets a
"dirty" flag; the loop rebuilds the whole table from the caches (a few
milliseconds for a thousand Services) and gives it to ``Proxier.sync``,
which is idempotent. Rebuilding everything keeps the loop level-triggered:
a lost or reordered event cannot leave a stale rule behind.

Each sync also updates the health-check node ports of LoadBalancer
Services with ``externalTrafficPolicy: Local`` (``healthcheck.py``).

Legacy Endpoints objects are watched too, only for Services without a
selector whose owner wrote Endpoints rather than EndpointSlices (see
``table.build_table``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from tinykube.client.informers import InformerFactory, SharedInformer
from tinykube.client.rest import Client
from tinykube.proxy.healthcheck import HealthCheckServers, health_checks
from tinykube.proxy.proxier import Proxier
from tinykube.proxy.table import (
    SERVICE_SELECTOR,
    RouteCache,
    Table,
    build_table,
    slice_service_key,
)

log = logging.getLogger(__name__)

MIN_SYNC_PERIOD = 0.05  # seconds; upstream's --iptables-min-sync-period defaults to 1s
SYNC_PERIOD = 30.0  # upstream's --iptables-sync-period
RETRY_AFTER_FAILURE = 1.0


class ProxyServer:
    """Keeps a ``Proxier`` in step with the cluster's Services for one node."""

    def __init__(
        self,
        client: Client,
        node_name: str,
        proxier: Proxier,
        *,
        min_sync_period: float = MIN_SYNC_PERIOD,
        sync_period: float = SYNC_PERIOD,
    ) -> None:
        self.node_name = node_name
        self.proxier = proxier
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.factory = InformerFactory(client)
        self.services = self.factory.get("v1", "services", label_selector=SERVICE_SELECTOR)
        self.slices = self.factory.get(
            "discovery.k8s.io/v1", "endpointslices", label_selector=SERVICE_SELECTOR
        )
        self.endpoints = self.factory.get("v1", "endpoints")
        self._dirty = asyncio.Event()
        for inf in (self.services, self.slices, self.endpoints):
            inf.add_handler(self._changed, lambda _o, _n: self._changed(), self._changed)
        self.synced = asyncio.Event()  # set after the first table was applied
        self._routes: RouteCache = {}  # per-Service routes by resourceVersions
        self.health = HealthCheckServers()
        self.last_sync = 0.0

    def _changed(self, _obj: Any = None) -> None:
        self._dirty.set()

    def current_table(self) -> Table:
        """The table the caches describe right now."""
        return table_from(self.services, self.slices, self.endpoints, self.node_name, self._routes)

    async def run(self) -> None:
        """Run informers and the sync loop until cancelled; clean up the proxier after."""
        log.info("component=kube-proxy node=%s starting", self.node_name)
        try:
            async with asyncio.TaskGroup() as tg:
                self.factory.start(tg)
                await self.factory.wait_synced()
                log.info("component=kube-proxy caches synced")
                await self._sync_loop()
        finally:
            self.health.close()
            await self.proxier.cleanup()
            log.info("component=kube-proxy stopped")

    async def _sync_loop(self) -> None:
        while True:
            self._dirty.clear()
            started = time.monotonic()
            table = self.current_table()
            try:
                await self.proxier.sync(table)
                checks = health_checks(
                    self.services.list(), slices_by_service(self.slices), self.node_name
                )
                await self.health.sync(checks)
            except Exception:
                # The data plane refused (an `ip` command failed, say): keep the
                # process and try the whole table again shortly.
                log.exception("component=kube-proxy sync failed; retrying")
                await asyncio.sleep(RETRY_AFTER_FAILURE)
                self._dirty.set()
                continue
            self.last_sync = time.monotonic()
            log.debug(
                "component=kube-proxy synced frontends=%d in %.1f ms",
                len(table),
                (self.last_sync - started) * 1000,
            )
            self.synced.set()
            await asyncio.sleep(self.min_sync_period)
            try:
                async with asyncio.timeout(self.sync_period):
                    await self._dirty.wait()
            except TimeoutError:
                pass


def table_from(
    services: SharedInformer,
    slices: SharedInformer,
    endpoints: SharedInformer,
    node: str,
    cache: RouteCache | None = None,
) -> Table:
    """Group the cached slices and Endpoints by Service, then build the table."""
    slices_of = slices_by_service(slices)
    endpoints_of = {
        f"{e['metadata'].get('namespace', '')}/{e['metadata']['name']}": e for e in endpoints.list()
    }
    return build_table(services.list(), slices_of, node, endpoints_of, cache)


def slices_by_service(slices: SharedInformer) -> dict[str, list[dict[str, Any]]]:
    """The cached EndpointSlices, keyed ``namespace/service``."""
    slices_of: dict[str, list[dict[str, Any]]] = {}
    for es in slices.list():
        key = slice_service_key(es)
        if key is not None:
            slices_of.setdefault(key, []).append(es)
    return slices_of
