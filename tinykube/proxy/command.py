"""``tinykube proxy`` (kube-proxy) and ``tinykube dns`` (cluster DNS): their command lines.

``register`` adds both subcommands to the ``tinykube`` parser; ``cli.py``
calls it. Flags keep upstream's names: kube-proxy's ``--kubeconfig``,
``--hostname-override``, ``--master`` (overrides the kubeconfig's server,
which is how a kube-proxy pod on the host network reaches the API server
before the ``kubernetes`` Service it would otherwise use can work: that
Service is made to work by kube-proxy itself) and ``--cleanup``; CoreDNS's
cluster domain and upstream resolv.conf become ``--cluster-domain`` and
``--resolv-conf``, as the kubelet names them.

Without ``--kubeconfig`` both use the in-cluster config (the pod's service
account), which is what the ``kube-proxy`` DaemonSet and the ``coredns``
Deployment of ``tinykube.cluster.addons`` rely on.

A kube-proxy serves only once it holds its cluster's host lock
(``hostlock.py``): with several nodes on one host, one proxy serves the
host and the others stand by to take over. ``--host-lock=false`` skips it
(one proxy per host, as upstream).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from tinykube import runner

log = logging.getLogger(__name__)

USER_AGENT = "kube-proxy/tinykube"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("proxy", help="run kube-proxy (Service addresses -> pods)")
    p.add_argument("--kubeconfig", type=Path, default=None)
    p.add_argument("--master", default="", help="API server URL; overrides the kubeconfig")
    p.add_argument("--hostname-override", dest="node_name", default="")
    p.add_argument(
        "--service-interface",
        default="tk-svc",
        help="dummy link that carries non-loopback Service addresses (root only)",
    )
    p.add_argument("--min-sync-period", type=float, default=0.05, help="seconds")
    p.add_argument("--sync-period", type=float, default=30.0, help="seconds")
    p.add_argument("--cleanup", action="store_true", help="remove the service interface and exit")
    p.add_argument(
        "--host-lock",
        nargs="?",
        const=True,
        default=True,
        type=_flag_bool,
        help="serve only while holding this host's lock for the cluster (default true)",
    )
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=2)
    p.set_defaults(func=cmd_proxy)
    d = subparsers.add_parser("dns", help="run the cluster DNS server (what coredns does)")
    d.add_argument("--kubeconfig", type=Path, default=None)
    d.add_argument("--master", default="", help="API server URL; overrides the kubeconfig")
    d.add_argument("--bind-address", default="0.0.0.0")
    d.add_argument("--port", "--dns-port", dest="port", type=int, default=53)
    d.add_argument("--cluster-domain", default="cluster.local")
    d.add_argument("--resolv-conf", type=Path, default=Path("/etc/resolv.conf"))
    d.add_argument(
        "--conf",
        "-conf",
        type=Path,
        default=None,
        help="a Corefile (CoreDNS's -conf): cluster domain, upstreams, stub domains, hosts",
    )
    d.add_argument("-v", "--v", dest="verbosity", type=int, default=2)
    d.set_defaults(func=cmd_dns)


def _flag_bool(value: str) -> bool:
    """Go-style boolean flag values: ``--host-lock=false``."""
    if value.lower() in ("true", "1", "t"):
        return True
    if value.lower() in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


async def make_client(kubeconfig: Path | None, master: str, user_agent: str) -> Any:
    """A client from the kubeconfig (or in-cluster config), pointed at ``--master`` if set."""
    from tinykube.client import Client, load

    config = load(kubeconfig)
    if master:
        config = dataclasses.replace(config, server=master.rstrip("/"))
    return Client(config, user_agent)


def cmd_proxy(args: argparse.Namespace) -> int:
    from tinykube.proxy.netif import ServiceInterface
    from tinykube.proxy.server import ProxyServer
    from tinykube.proxy.userspace import UserspaceProxier

    runner.setup_logging(args.verbosity)
    if args.cleanup:
        return runner.run(ServiceInterface(args.service_interface).cleanup())
    node = args.node_name or socket.gethostname().lower()

    async def main() -> None:
        client = await make_client(args.kubeconfig, args.master, USER_AGENT)
        lock = None
        try:
            if args.host_lock:
                lock = await take_host_lock(client, args.service_interface, node)
            proxier = UserspaceProxier(ServiceInterface(args.service_interface))
            server = ProxyServer(
                client,
                node,
                proxier,
                min_sync_period=args.min_sync_period,
                sync_period=args.sync_period,
            )
            await server.run()
        finally:
            if lock is not None:
                lock.release()
            await client.close()

    return runner.run(main())


async def take_host_lock(client: Any, interface: str, node: str) -> Any:
    """Wait until this proxy may serve the host (see ``hostlock``); the lock it holds."""
    from tinykube.proxy.hostlock import HostLock, lock_dir, lock_name

    key = await kubernetes_service_ip(client)
    lock = HostLock(lock_dir() / lock_name(interface, key))
    owner = node
    if not await asyncio.to_thread(lock.try_acquire, owner):
        log.info(
            "component=kube-proxy node=%s standing by: the host's lock is held for node %s (%s)",
            node,
            lock.holder() or "?",
            lock.path,
        )
        await lock.acquire(owner)
    log.info("component=kube-proxy node=%s serving this host (lock %s)", node, lock.path)
    return lock


async def kubernetes_service_ip(client: Any) -> str:
    """The ClusterIP of ``default/kubernetes``: the service range's first address.

    Listed, not read: the node-proxier role may list and watch Services only."""
    from tinykube.client.backoff import Backoff

    retry = Backoff(initial=0.2, cap=5.0)
    while True:
        try:
            listed = await client.list(
                "v1", "services", "default", field_selector="metadata.name=kubernetes"
            )
            for item in listed.get("items") or []:
                if ip := (item.get("spec") or {}).get("clusterIP"):
                    return str(ip)
        except Exception as exc:  # the API server may not answer yet: try again
            log.info("component=kube-proxy cannot read the kubernetes Service: %s", exc)
        await retry.sleep()


def cmd_dns(args: argparse.Namespace) -> int:
    from tinykube.proxy.dnsserver import run_dns

    runner.setup_logging(args.verbosity)

    async def main() -> None:
        client = await make_client(args.kubeconfig, args.master, "coredns/tinykube")
        try:
            await run_dns(
                client,
                host=args.bind_address,
                port=args.port,
                domain=args.cluster_domain,
                resolv_conf=args.resolv_conf,
                conf=args.conf,
            )
        finally:
            await client.close()

    return runner.run(main())


def main(argv: list[str] | None = None) -> int:
    """``python -m tinykube.proxy.command proxy|dns ...``: what the add-on pods run.

    The same subcommands ``tinykube`` has once ``cli.py`` registers them; the
    add-on manifests use this entry so they do not depend on that wiring.
    """
    parser = argparse.ArgumentParser(prog="tinykube")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
