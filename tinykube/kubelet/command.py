"""``tinykube kubelet`` and ``tinykube simulated-nodes``: the node agents' command lines.

Flags keep the kubelet's names where it has one (``--kubeconfig``,
``--hostname-override``, ``--root-dir``, ``--pod-cidr``, ``--port``,
``--pod-manifest-path``, ``--register-with-taints``, ``--node-labels``,
``--node-ip``, ``--tls-cert-file``, ``--client-ca-file``). The graceful node
shutdown settings, which upstream reads from its config file
(``shutdownGracePeriod``, ``shutdownGracePeriodCriticalPods``), are the flags
``--shutdown-grace-period`` and ``--shutdown-grace-period-critical-pods``
(seconds, ``30`` or ``30s``; zero, the default, kills containers at once).
``register`` adds both subcommands to the ``tinykube`` parser; ``cli.py``
calls it.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

from tinykube import runner
from tinykube.kubelet.runtime import RUNTIMES


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("kubelet", help="run a node agent (kubelet)")
    _kubelet_args(p)
    p.set_defaults(func=cmd_kubelet)
    s = subparsers.add_parser(
        "simulated-nodes", help="serve N simulated nodes from one process (KWOK-like)"
    )
    s.add_argument("--kubeconfig", type=Path, default=None)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--prefix", default="sim-node-", help="node names: <prefix>0001 ...")
    s.add_argument(
        "--pod-cidr-base", default="10.192.0.0/11", help="each node gets a /24 of this range"
    )
    s.add_argument(
        "--run-seconds",
        type=float,
        default=5.0,
        help="how long finite (Never/OnFailure) simulated pods run",
    )
    s.add_argument("-v", "--v", dest="verbosity", type=int, default=2)
    s.set_defaults(func=cmd_simulated_nodes)


def _kubelet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None)
    p.add_argument("--hostname-override", "--node-name", dest="node_name", default="")
    p.add_argument("--root-dir", type=Path, default=Path("kubelet"))
    p.add_argument("--runtime", choices=sorted(RUNTIMES), default="process")
    p.add_argument("--pod-cidr", default="")
    p.add_argument("--node-ip", default="127.0.0.1")
    p.add_argument("--port", type=int, default=10250)
    p.add_argument("--pod-manifest-path", type=Path, default=None)
    p.add_argument("--register-with-taints", default="", help="comma-separated key[=value]:Effect")
    p.add_argument("--node-labels", default="", help="comma-separated key=value")
    p.add_argument(
        "--control-plane",
        action="store_true",
        help="label the node node-role.kubernetes.io/control-plane",
    )
    p.add_argument(
        "--image-dir",
        type=Path,
        default=None,
        help="local image store (<dir>/<image>/rootfs); default <root-dir>/images",
    )
    p.add_argument(
        "--rootless",
        action="store_true",
        help="force the unprivileged mode (host network, no cgroups) even as root",
    )
    p.add_argument("--tls-cert-file", type=Path, default=None)
    p.add_argument("--tls-private-key-file", type=Path, default=None)
    p.add_argument("--client-ca-file", type=Path, default=None)
    p.add_argument("--simulated-run-seconds", type=float, default=5.0)
    p.add_argument("--cluster-dns", default="", help="comma-separated DNS server IPs for pods")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--shutdown-grace-period", type=_seconds, default=0.0, help="e.g. 5s")
    p.add_argument(
        "--shutdown-grace-period-critical-pods",
        type=_seconds,
        default=0.0,
        help="the part of --shutdown-grace-period kept for critical pods, e.g. 2s",
    )
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=2)


def _seconds(text: str) -> float:
    """``5``, ``5s`` or ``1.5s``: a duration in seconds."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: want seconds, e.g. 5s"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must not be negative")
    return value


def kubelet_config(args: argparse.Namespace) -> Any:
    from tinykube.kubelet.kubelet import KubeletConfig
    from tinykube.kubelet.nodestatus import parse_labels, parse_taint

    root = args.root_dir.resolve()
    taints = [parse_taint(t) for t in args.register_with_taints.split(",") if t.strip()]
    return KubeletConfig(
        node_name=args.node_name or socket.gethostname().lower(),
        root_dir=root,
        runtime=args.runtime,
        pod_cidr=args.pod_cidr,
        node_ip=args.node_ip,
        port=args.port,
        pod_manifest_path=args.pod_manifest_path.resolve() if args.pod_manifest_path else None,
        labels=parse_labels(args.node_labels),
        taints=taints,
        control_plane=args.control_plane,
        image_dir=(args.image_dir or root / "images").resolve(),
        rootless=args.rootless,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file,
        simulated_run_seconds=args.simulated_run_seconds,
        cluster_dns=[ip.strip() for ip in args.cluster_dns.split(",") if ip.strip()],
        cluster_domain=args.cluster_domain,
        shutdown_grace_period=args.shutdown_grace_period,
        shutdown_grace_period_critical_pods=args.shutdown_grace_period_critical_pods,
    )


def cmd_kubelet(args: argparse.Namespace) -> int:
    runner.setup_logging(args.verbosity)
    config = kubelet_config(args)

    async def main() -> None:
        from tinykube.client import Client
        from tinykube.kubelet.kubelet import Kubelet

        client = await Client.from_kubeconfig(args.kubeconfig, user_agent="kubelet/tinykube")
        try:
            await Kubelet(config, client).run()
        finally:
            await client.close()

    return runner.run(main())


def cmd_simulated_nodes(args: argparse.Namespace) -> int:
    runner.setup_logging(args.verbosity)

    async def main() -> None:
        from tinykube.client import Client
        from tinykube.kubelet.simnodes import SimulatedNodes

        client = await Client.from_kubeconfig(args.kubeconfig, user_agent="kubelet/simulated")
        try:
            await SimulatedNodes(
                client, args.count, args.prefix, args.pod_cidr_base, args.run_seconds
            ).run()
        finally:
            await client.close()

    return runner.run(main())


def main(argv: list[str] | None = None) -> int:
    """Run the kubelet commands on their own (``python -m tinykube.kubelet.command``)."""
    parser = argparse.ArgumentParser(prog="tinykube")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
