"""Start kube-apiserver: storage, watch cache, TLS, bootstrap state, HTTP.

Order matters and is explicit: storage opens, the watch cache loads (every
read is served from it), the allocators learn which addresses and ports are
taken, the system objects are made true, and only then does the socket
listen and ``ready`` fire — so a client never sees a half-started server.

Storage may not answer yet: the kubelet starts a stacked etcd and the API
server as static pods at the same moment, so the server waits for the store,
retrying with a capped exponential back-off and saying so in its log,
instead of exiting and being restarted into the same race.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import random
import socket
from typing import Any

from aiohttp import web

from tinykube.api.resources import lookup
from tinykube.apiserver import bootstrap
from tinykube.apiserver.allocators import ClusterIPAllocator, NodePortAllocator, mark_service_used
from tinykube.apiserver.app import build_app
from tinykube.apiserver.authz import escalation
from tinykube.apiserver.authz.rbac import Authorizer
from tinykube.apiserver.config import ServerConfig
from tinykube.apiserver.crd.controller import CRDController
from tinykube.apiserver.handlers.context import ServerContext
from tinykube.apiserver.registry.generic import Registry
from tinykube.apiserver.registry.hooks import Hooks
from tinykube.apiserver.watchcache import WatchCache
from tinykube.store.compactor import run_compactor
from tinykube.store.interface import Store
from tinykube.store.registry import open_store

log = logging.getLogger(__name__)

STORE_WAIT_INITIAL = 0.2  # seconds before the first retry of an unreachable store
STORE_WAIT_CAP = 5.0
STORE_WAIT_ATTEMPT = 3.0  # seconds one try may take


def first_service_ip(cidr: str) -> str:
    net = ipaddress.ip_network(cidr, strict=False)
    return str(net.network_address + 1)


def _mark_allocations(cache: WatchCache, ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
    services = lookup("", "v1", "services")
    assert services is not None
    for svc in cache.items(services.list_prefix()):
        mark_service_used(svc, ips, ports)


def _setup_tls(ctx: ServerContext) -> Any:
    from tinykube.apiserver.auth import Authenticator
    from tinykube.apiserver.kubeconfig import write_admin_kubeconfig
    from tinykube.apiserver.tls import ensure_pki, server_ssl_context

    cfg = ctx.config
    hosts = [socket.gethostname()]
    addrs = [
        a for a in (cfg.advertise_address, cfg.bind_address) if a and a not in ("0.0.0.0", "::")
    ]
    pki = ensure_pki(
        cfg.data_dir, hosts=hosts, ips=addrs, service_cidr=cfg.service_cluster_ip_range
    )
    ctx.pki = pki
    ctx.authenticator = Authenticator(pki, cfg.token_auth_file)
    write_admin_kubeconfig(cfg.data_dir, cfg.url, pki)
    return server_ssl_context(pki)


async def wait_for_store(store: Store, name: str) -> None:
    """Return once the store answers a read; retry with a capped, jittered back-off.

    (The client's ``Backoff`` helper is out of reach: the API server may not
    import the client package.)"""
    delay = STORE_WAIT_INITIAL
    attempt = 0
    while True:
        try:
            # Each try is short, so that the log says what is going on while the
            # store's own retries (up to 15 s for etcd) would still be quiet.
            async with asyncio.timeout(STORE_WAIT_ATTEMPT):
                await store.current_revision()
        except Exception as exc:  # the loop boundary: any failure means "not yet"
            attempt += 1
            log.warning(
                "component=apiserver storage not reachable yet storage=%s attempt=%d "
                "retry_in=%.1fs error=%s",
                name,
                attempt,
                delay,
                exc or type(exc).__name__,
            )
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, STORE_WAIT_CAP)
        else:
            if attempt:
                log.info("component=apiserver storage reachable storage=%s", name)
            return


async def serve(config: ServerConfig, ready: asyncio.Event | None = None) -> None:
    """Run the API server until cancelled."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(
        config.storage,
        etcd_cafile=config.etcd_cafile,
        etcd_certfile=config.etcd_certfile,
        etcd_keyfile=config.etcd_keyfile,
    )
    cache = WatchCache(store)
    runner: web.AppRunner | None = None
    try:
        await wait_for_store(store, config.storage.split("://")[0])
        async with asyncio.TaskGroup() as tg:
            tg.create_task(cache.run(), name="watch-cache")
            await asyncio.wait_for(cache.ready.wait(), 60)
            ips = ClusterIPAllocator(config.service_cluster_ip_range)
            ports = NodePortAllocator(config.service_node_port_range)
            _mark_allocations(cache, ips, ports)
            ctx = ServerContext(config, Registry(store, cache, Hooks(cache, ips, ports)), cache)
            ssl_ctx = _setup_tls(ctx) if config.secure else None
            await bootstrap.ensure_system_state(
                ctx, first_service_ip(config.service_cluster_ip_range)
            )
            await bootstrap.ensure_policy(ctx)
            if config.secure and "RBAC" in config.authorization_mode.split(","):
                ctx.authorizer = Authorizer(cache)
                ctx.registry.hooks.escalation_check = functools.partial(
                    escalation.check, ctx.authorizer
                )
            crds = CRDController(ctx)
            crds.load()
            tg.create_task(crds.run(), name="crd-controller")
            if ctx.pki is not None:
                publisher = bootstrap.RootCAPublisher(ctx, ctx.pki.ca_pem.decode())
                tg.create_task(publisher.run(), name="root-ca-publisher")
            tg.create_task(bootstrap.expire_events(ctx, config.event_ttl_seconds))
            tg.create_task(run_compactor(store, config.compaction_interval))
            # On shutdown open watches end at once (upstream's watch-termination grace period
            # defaults to 0); aiohttp's default would wait a minute for them to finish.
            runner = web.AppRunner(
                build_app(ctx), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
            )
            await runner.setup()
            site = web.TCPSite(
                runner,
                config.bind_address,
                config.port,
                ssl_context=ssl_ctx,
                reuse_address=True,
                backlog=1024,
            )
            await site.start()
            log.info(
                "component=apiserver listening url=%s storage=%s",
                config.url,
                config.storage.split("://")[0],
            )
            if ready is not None:
                ready.set()
    finally:
        if runner is not None:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        await store.close()
