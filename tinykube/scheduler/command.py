"""``tinykube scheduler``: kube-scheduler as a standalone process.

Flags keep kube-scheduler's names: ``--kubeconfig``, ``--config`` (a
KubeSchedulerConfiguration), ``--leader-elect`` (default true, as upstream;
the Lease is ``kube-system/kube-scheduler``) and ``-v``. With leader election
the informers start at once (a standby keeps a warm cache) and the scheduling
loop runs only while this process holds the Lease; losing it ends the process,
as kube-scheduler exits, so the supervisor restarts it as a clean candidate.
SIGTERM (the kubelet stopping the static pod after a manifest edit) and
SIGINT cancel the work, so a leader releases its Lease on the way out, as
kube-scheduler's ReleaseOnCancel does, and its successor takes over at once
instead of waiting out the lease duration.
``--secure-port`` (10259) and ``--bind-address`` serve ``/healthz``, ``/livez``
and ``/readyz`` (``client/healthz.py``).

``cli.py`` wires this in with ``command.register(subparsers)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable

from tinykube import runner as process
from tinykube.client import healthz
from tinykube.scheduler.config import ConfigError, SchedulerConfig, load

log = logging.getLogger(__name__)


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add the ``scheduler`` subcommand to the ``tinykube`` parser."""
    p = subparsers.add_parser("scheduler", help="run kube-scheduler")
    p.add_argument("--kubeconfig", default=None, help="kubeconfig of the API server")
    p.add_argument("--config", default=None, help="KubeSchedulerConfiguration file")
    p.add_argument(
        "--leader-elect",
        type=_bool,
        nargs="?",
        const=True,
        default=None,
        help="hold the kube-system/kube-scheduler Lease before scheduling (default true)",
    )
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=2)
    healthz.add_flags(p, healthz.SCHEDULER_PORT)
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """The entry function: parse the configuration, then run until interrupted."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load(args.config)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.leader_elect is not None:
        config.leader_elect = args.leader_elect
    try:
        health = healthz.from_args(args, "kube-scheduler")
    except healthz.ListenError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        work = serve(args.kubeconfig, config, health)
        if runner(until_signalled(healthz.alongside(health, work))) == LEADERSHIP_LOST:
            return 1  # as kube-scheduler: exit, and let the supervisor start a fresh candidate
    return 0


LEADERSHIP_LOST = "leadership lost"


async def until_signalled(work: Awaitable[str | None]) -> str | None:
    """What ``work`` returns; None when a signal cancelled it (its cleanup has run)."""
    outcome: list[str | None] = []

    async def keep() -> None:
        outcome.append(await work)

    await process.until_signalled(keep())
    return outcome[0] if outcome else None


async def serve(
    kubeconfig: str | None, config: SchedulerConfig, health: healthz.HealthServer | None = None
) -> str | None:
    """Run the scheduler (behind leader election when configured) until cancelled;
    returns ``LEADERSHIP_LOST`` if it stopped because another candidate took over.
    ``health`` (the bound --secure-port) gets the leader-election check."""
    from tinykube.client.rest import Client
    from tinykube.scheduler.scheduler import Scheduler

    async with await Client.from_kubeconfig(kubeconfig, user_agent="kube-scheduler") as client:
        scheduler = Scheduler(client, config)
        if not config.leader_elect:
            await scheduler.run()
            return None
        from tinykube.client.leaderelection import Callbacks, LeaderElector

        elector = LeaderElector(client, config.lease_namespace, config.lease_name)
        if health is not None:
            health.add(healthz.leader_election(elector))
        async with asyncio.TaskGroup() as tg:
            informers = tg.create_task(scheduler.factory.run(), name="scheduler informers")
            await elector.run(Callbacks(lambda: scheduler.run(run_informers=False)))
            log.info("component=scheduler leadership lost; exiting")
            informers.cancel()
        return LEADERSHIP_LOST
