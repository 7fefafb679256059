"""The ingress controller's control loop: informers in, a routing table and statuses out.

Five informers feed it: IngressClasses (which classes are ours), Ingresses,
Secrets of type ``kubernetes.io/tls`` (certificates), Services and
EndpointSlices (backends, and the address to publish). A change to any of
the first four, or to the published Service, only marks the state dirty; the
loop then rebuilds the whole table from the caches (the served Ingresses,
their routes, their certificates) and writes the Ingress statuses that
differ. Rebuilding everything keeps the loop level-triggered, as kube-proxy's
is: a lost or reordered event cannot leave a stale route behind.

Endpoints are not part of the table: the proxy reads them from the caches on
every request (a dictionary lookup through the slices' service index), so a
pod that turns ready takes traffic without waiting for a rebuild.

The listeners open only after the caches synced and the first table was
built, so the pod's readiness probe (a TCP connect) means "routing".

Each served Ingress gets a ``Sync`` Event ("Scheduled for sync") when the
controller first serves it and after each change of its spec (a new
generation), as ingress-nginx posts one, so ``kubectl describe ingress``
shows which controller took it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tinykube.client.events import NORMAL, EventRecorder
from tinykube.client.informers import InformerFactory, key_of
from tinykube.ingress import certs, routes, status
from tinykube.ingress.proxy import IngressProxy
from tinykube.ingress.routes import Backend, Routes

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NETWORKING = "networking.k8s.io/v1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SERVICE_INDEX = "service"
TLS_SECRETS = "type=kubernetes.io/tls"
RETRY_AFTER_FAILURE = 1.0
RESYNC_PERIOD = 30.0
COMPONENT = "tinykube-ingress-controller"
REASON_SYNC = "Sync"
MESSAGE_SYNC = "Scheduled for sync"


@dataclass
class Options:
    controller_class: str = "tinykube.io/ingress"
    publish_service: str = ""  # namespace/name
    publish_status_address: str = ""  # comma-separated, overrides publish_service
    bind_address: str = "0.0.0.0"
    http_port: int = 80
    https_port: int = 443


def _slice_service(es: Obj) -> list[str]:
    meta = es.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace', '')}/{svc}"] if svc else []


class IngressController:
    """Serves the Ingresses of ``options.controller_class`` until cancelled."""

    def __init__(self, client: Any, options: Options) -> None:
        self.client = client
        self.options = options
        self.factory = InformerFactory(client)
        self.classes = self.factory.get(NETWORKING, "ingressclasses")
        self.ingresses = self.factory.get(NETWORKING, "ingresses")
        self.secrets = self.factory.get("v1", "secrets", field_selector=TLS_SECRETS)
        self.services = self.factory.get("v1", "services")
        self.slices = self.factory.get("discovery.k8s.io/v1", "endpointslices")
        self.slices.add_indexers({SERVICE_INDEX: _slice_service})
        self._dirty = asyncio.Event()
        for inf in (self.classes, self.ingresses, self.secrets):
            inf.add_handler(self._changed, lambda _o, _n: self._changed(), self._changed)
        self.services.add_handler(
            self._service_changed, self._service_updated, self._service_changed
        )
        self.routes = Routes()
        self.certs = certs.CertStore()
        self.proxy = IngressProxy(self)
        self.ready = asyncio.Event()
        self.recorder = EventRecorder(client, COMPONENT)
        self._announced: dict[str, tuple[str, int]] = {}  # key -> (uid, generation)

    # ---- events ----

    def _changed(self, _obj: Any = None) -> None:
        self._dirty.set()

    def _service_changed(self, svc: Obj) -> None:
        if key_of(svc) == self.options.publish_service:
            self._dirty.set()

    def _service_updated(self, _old: Obj, new: Obj) -> None:
        self._service_changed(new)

    # ---- the Lookup the proxy asks ----

    def backend(self, host: str, path: str) -> tuple[Backend, str] | None:
        return self.routes.resolve(host, path)

    def endpoints(self, backend: Backend) -> list[tuple[str, int]]:
        svc = self.services.get_by_name(backend.namespace, backend.service)
        key = f"{backend.namespace}/{backend.service}"
        return routes.endpoints_for(svc, backend.port, self.slices.by_index(SERVICE_INDEX, key))

    # ---- state ----

    def served(self) -> list[Obj]:
        classes = self.classes.list()
        mine = self.options.controller_class
        return [ing for ing in self.ingresses.list() if routes.serves(ing, classes, mine)]

    def published_points(self) -> list[Obj]:
        if self.options.publish_status_address:
            parts = self.options.publish_status_address.split(",")
            return status.status_points(p.strip() for p in parts if p.strip())
        if not self.options.publish_service:
            return []
        svc = self.services.get(self.options.publish_service)
        return status.status_points(status.service_addresses(svc))

    def rebuild(self) -> list[Obj]:
        """Rebuild the table and certificates from the caches; the served Ingresses."""
        served = self.served()
        self.routes = routes.build_routes(served)
        self.certs.refresh(served, self.secrets.get_by_name)
        return served

    # ---- running ----

    async def run(self) -> None:
        log.info("component=ingress class=%s starting", self.options.controller_class)
        try:
            async with asyncio.TaskGroup() as tg:
                self.factory.start(tg)
                tg.create_task(self.recorder.run())
                await self.factory.wait_synced()
                self.rebuild()
                log.info("component=ingress caches synced")
                runner = await self._listen()
                try:
                    self.ready.set()
                    await self._sync_loop()
                finally:
                    await runner.cleanup()
        finally:
            await self.proxy.close()
            log.info("component=ingress stopped")

    async def _listen(self) -> web.BaseRunner:
        opts = self.options
        runner = web.ServerRunner(web.Server(self.proxy.handle), handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, opts.bind_address, opts.http_port).start()
        tls = web.TCPSite(
            runner, opts.bind_address, opts.https_port, ssl_context=self.certs.default
        )
        await tls.start()
        log.info(
            "component=ingress listening http=%s:%d https=%s:%d",
            opts.bind_address,
            opts.http_port,
            opts.bind_address,
            opts.https_port,
        )
        return runner

    def _announce(self, served: list[Obj]) -> None:
        """A Sync Event for each Ingress served for the first time or with a new spec."""
        seen: dict[str, tuple[str, int]] = {}
        for ing in served:
            meta = ing["metadata"]
            mark = (meta.get("uid", ""), int(meta.get("generation") or 0))
            seen[key_of(ing)] = mark
            if self._announced.get(key_of(ing)) != mark:
                self.recorder.event(ing, NORMAL, REASON_SYNC, MESSAGE_SYNC)
        self._announced = seen

    async def _sync_loop(self) -> None:
        while True:
            self._dirty.clear()
            served = self.rebuild()
            self._announce(served)
            keys = {key_of(ing) for ing in served}
            ok = await status.sync_status(
                self.client, self.ingresses.list(), keys, self.published_points()
            )
            log.debug("component=ingress synced ingresses=%d", len(served))
            if not ok:
                await asyncio.sleep(RETRY_AFTER_FAILURE)
                self._dirty.set()
            try:
                async with asyncio.timeout(RESYNC_PERIOD):
                    await self._dirty.wait()
            except TimeoutError:
                pass
