"""kube-controller-manager: many controllers, one process, one leader.

``tinykube controller-manager --kubeconfig FILE`` builds one REST client and
one ``InformerFactory`` shared by every controller (two controllers that
watch Pods share one watch and one cache), then, if ``--leader-elect`` (the
default, as upstream), waits to hold the Lease ``kube-system/kube-controller-
manager`` before starting anything. Several managers can run; only the
leader's controllers act. A leader that loses its lease exits (upstream
``klog.Fatalf("leaderelection lost")``): whoever supervises it restarts it as
a follower, and no controller is ever half-stopped.

``--controllers`` takes upstream's syntax: ``*`` is every controller that is
on by default, ``name`` turns one on, ``-name`` turns one off, e.g.
``--controllers '*,-serviceaccount'``. The table ``CONTROLLERS`` maps names
to classes; a new controller is one row.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinykube import __version__
from tinykube.client import healthz
from tinykube.client.informers import InformerFactory
from tinykube.client.leaderelection import Callbacks, LeaderElector, default_identity
from tinykube.client.rest import Client
from tinykube.controllers import (
    clusterroleaggregation,
    cronjob,
    csrsigning,
    daemonset,
    deployment,
    disruption,
    endpoints,
    endpointslice,
    job,
    nodelifecycle,
    persistentvolume,
    podautoscaler,
    podgc,
    replicaset,
    replicationcontroller,
    resourcequota,
    servicelb,
    statefulset,
    ttlafterfinished,
    volumeprotection,
)
from tinykube.controllers.garbagecollector import GarbageCollector
from tinykube.controllers.namespace import NamespaceController
from tinykube.controllers.runtime import Controller, ControllerContext
from tinykube.controllers.serviceaccount import ServiceAccountController

log = logging.getLogger(__name__)

USER_AGENT = f"tinykube-controller-manager/{__version__}"
LEASE_NAME = "kube-controller-manager"
LEASE_NAMESPACE = "kube-system"

ControllerFactory = Callable[[ControllerContext], Controller[Any]]

# name -> constructor, sorted; names are upstream's --controllers names.
CONTROLLERS: dict[str, ControllerFactory] = {
    podautoscaler.NAME: podautoscaler.new,
    csrsigning.NAME: csrsigning.new,
    clusterroleaggregation.NAME: clusterroleaggregation.new,
    cronjob.NAME: cronjob.new,
    daemonset.NAME: daemonset.new,
    deployment.NAME: deployment.new,
    disruption.NAME: disruption.new,
    endpoints.NAME: endpoints.new,
    endpointslice.NAME: endpointslice.new,
    "garbage-collector-controller": GarbageCollector,
    job.NAME: job.new,
    "namespace-controller": NamespaceController,
    nodelifecycle.NAME: nodelifecycle.new,
    persistentvolume.NAME: persistentvolume.new,
    volumeprotection.PVC_NAME: volumeprotection.new_pvc_protection,
    volumeprotection.PV_NAME: volumeprotection.new_pv_protection,
    podgc.NAME: podgc.new,
    replicaset.NAME: replicaset.new,
    replicationcontroller.NAME: replicationcontroller.new,
    resourcequota.NAME: resourcequota.new,
    servicelb.NAME: servicelb.new,
    "serviceaccount-controller": ServiceAccountController,
    statefulset.NAME: statefulset.new,
    ttlafterfinished.NAME: ttlafterfinished.new,
}
# Upstream still accepts the older short names.
ALIASES = {
    "horizontalpodautoscaling": podautoscaler.NAME,
    "csrsigning": csrsigning.NAME,
    "clusterrole-aggregation": clusterroleaggregation.NAME,
    "cronjob": cronjob.NAME,
    "daemonset": daemonset.NAME,
    "deployment": deployment.NAME,
    "disruption": disruption.NAME,
    "endpoint": endpoints.NAME,
    "endpointslice": endpointslice.NAME,
    "garbagecollector": "garbage-collector-controller",
    "job": job.NAME,
    "namespace": "namespace-controller",
    "nodelifecycle": nodelifecycle.NAME,
    "persistentvolume-binder": persistentvolume.NAME,
    "pvc-protection": volumeprotection.PVC_NAME,
    "pv-protection": volumeprotection.PV_NAME,
    "podgc": podgc.NAME,
    "replicaset": replicaset.NAME,
    "replicationcontroller": replicationcontroller.NAME,
    "resourcequota": resourcequota.NAME,
    "serviceaccount": "serviceaccount-controller",
    "statefulset": statefulset.NAME,
    "ttl-after-finished": ttlafterfinished.NAME,
}
DISABLED_BY_DEFAULT: frozenset[str] = frozenset()


class ConfigError(ValueError):
    """A flag value the manager cannot use."""


def select_controllers(spec: str) -> list[str]:
    """Resolve ``--controllers`` (``*``, ``name``, ``-name``, comma-separated) to names."""
    wanted: set[str] = set()
    removed: set[str] = set()
    star = False
    for raw in (part.strip() for part in spec.split(",")):
        if not raw:
            continue
        if raw == "*":
            star = True
            continue
        negate = raw.startswith("-")
        name = ALIASES.get(raw.lstrip("-"), raw.lstrip("-"))
        if name not in CONTROLLERS:
            raise ConfigError(f'"{raw.lstrip("-")}" is not in the list of known controllers')
        (removed if negate else wanted).add(name)
    if star:
        wanted |= set(CONTROLLERS) - DISABLED_BY_DEFAULT
    return sorted(wanted - removed)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration (``15s``, ``1m30s``, ``500ms``) or plain seconds, in seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if not text or _DURATION.sub("", text):
        raise ConfigError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))


@dataclass
class Options:
    """The manager's flags, named as kube-controller-manager names them."""

    kubeconfig: Path | None = None
    controllers: str = "*"
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    lease_name: str = LEASE_NAME
    lease_namespace: str = LEASE_NAMESPACE
    identity: str = ""
    controller_options: dict[str, Any] = field(default_factory=dict)
    health: healthz.HealthServer | None = None  # the bound --secure-port, if serving


async def run_controllers(client: Client, names: list[str], options: dict[str, Any]) -> None:
    """Build the chosen controllers on one factory and run them all until cancelled."""
    factory = InformerFactory(client)
    ctx = ControllerContext(client, factory, options=options)
    controllers = [CONTROLLERS[name](ctx) for name in names]
    log.info("component=kube-controller-manager starting controllers: %s", ", ".join(names))
    async with asyncio.TaskGroup() as tg:
        factory.start(tg)
        for rec in ctx.recorders:
            tg.create_task(rec.run())
        for controller in controllers:
            tg.create_task(controller.run(), name=controller.name)


async def run(options: Options, ready: asyncio.Event | None = None) -> int:
    """The whole manager; returns an exit code (1 when leadership was lost).

    SIGTERM and SIGINT cancel the work, which releases the lease so a standby
    manager takes over at once rather than after the lease expires.
    """
    names = select_controllers(options.controllers)
    client = await Client.from_kubeconfig(options.kubeconfig, user_agent=USER_AGENT)
    work = asyncio.create_task(
        healthz.alongside(options.health, _run_with(client, names, options, ready))
    )
    signalled: list[int] = []

    def stop(sig: int) -> None:
        signalled.append(sig)
        work.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await work
    except asyncio.CancelledError:
        if not signalled:
            raise  # cancelled by our caller: let it know
        log.info("component=kube-controller-manager stopped by signal %d", signalled[0])
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await client.close()


async def _run_with(
    client: Client, names: list[str], options: Options, ready: asyncio.Event | None
) -> int:
    if not options.leader_elect:
        if ready is not None:
            ready.set()
        if options.health is not None:  # upstream: a ping check per started controller
            options.health.add(*map(healthz.ping, names))
        await run_controllers(client, names, options.controller_options)
        return 0
    elector = LeaderElector(
        client,
        options.lease_namespace,
        options.lease_name,
        options.identity or default_identity(),
        lease_duration=options.lease_duration,
        renew_deadline=options.renew_deadline,
        retry_period=options.retry_period,
    )
    if options.health is not None:
        options.health.add(healthz.leader_election(elector))

    async def lead() -> None:
        if ready is not None:
            ready.set()
        if options.health is not None:
            options.health.add(*map(healthz.ping, names))
        await run_controllers(client, names, options.controller_options)

    def new_leader(identity: str) -> None:
        log.info("component=kube-controller-manager new leader: %s", identity)

    await elector.run(Callbacks(lead, on_new_leader=new_leader))
    log.error("component=kube-controller-manager leaderelection lost")
    return 1
