"""The ``tinykube`` command: one subcommand per component, flags named as Kubernetes names them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tinykube import runner


def _apiserver_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default="data", type=Path)
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--port", "--secure-port", dest="port", type=int, default=6443)
    p.add_argument(
        "--insecure", action="store_true", help="serve plain HTTP without authentication"
    )
    p.add_argument(
        "--storage",
        "--etcd-servers",
        dest="storage",
        default="",
        help="storage URL: sqlite:///path (default), memory://, or etcd members "
        "(https://127.0.0.1:2379,...)",
    )
    p.add_argument("--etcd-cafile", type=Path, default=None, help="CA of https etcd members")
    p.add_argument("--etcd-certfile", type=Path, default=None, help="client cert for etcd")
    p.add_argument("--etcd-keyfile", type=Path, default=None, help="client key for etcd")
    p.add_argument(
        "--service-cluster-ip-range",
        default=None,
        help="default 10.96.0.0/12; without root 127.96.0.0/16 (loopback addresses need no link)",
    )
    p.add_argument("--service-node-port-range", default="30000-32767")
    p.add_argument("--token-auth-file", type=Path, default=None)
    p.add_argument(
        "--authorization-mode",
        default="Node,RBAC",
        help="Node,RBAC (default, as kubeadm) or AlwaysAllow (no authorization)",
    )
    p.add_argument("--advertise-address", default="")
    p.add_argument("--event-ttl", type=int, default=3600, help="seconds events are kept")
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=2)


def service_range(args: argparse.Namespace) -> str:
    """The Service range: as given, else kubeadm's, else (without root) a loopback one.

    Without root nothing can put service addresses on a host link, but every
    127.x.y.z address is local already, so kube-proxy can serve them there and
    pods on the host network reach them."""
    if args.service_cluster_ip_range:
        return str(args.service_cluster_ip_range)
    return "10.96.0.0/12" if os.geteuid() == 0 else "127.96.0.0/16"


def _config(args: argparse.Namespace) -> object:
    from tinykube.apiserver.config import ServerConfig

    return ServerConfig(
        data_dir=args.data_dir,
        bind_address=args.bind_address,
        port=args.port,
        secure=not args.insecure,
        storage_url=args.storage,
        etcd_cafile=args.etcd_cafile,
        etcd_certfile=args.etcd_certfile,
        etcd_keyfile=args.etcd_keyfile,
        service_cluster_ip_range=service_range(args),
        service_node_port_range=args.service_node_port_range,
        token_auth_file=args.token_auth_file,
        authorization_mode=args.authorization_mode,
        advertise_address=args.advertise_address,
        event_ttl_seconds=args.event_ttl,
    )


def cmd_apiserver(args: argparse.Namespace) -> int:
    from tinykube.apiserver.server import serve

    runner.setup_logging(args.verbosity)
    config = _config(args)
    return runner.run(serve(config))  # type: ignore[arg-type]


def cmd_up(args: argparse.Namespace) -> int:
    """The whole cluster, in the foreground or with ``-d`` in the background
    (see tinykube.cluster.up and tinykube.cluster.daemon)."""
    from tinykube.cluster import daemon
    from tinykube.cluster.up import run

    if (problem := _etcd_problem(args)) is not None:
        print(f"tinykube: {problem}", file=sys.stderr)
        return 1
    if args.detach:
        argv = [a for a in args.argv if a not in ("-d", "--detach")]
        return daemon.start_detached(argv, Path(args.data_dir))
    runner.setup_logging(args.verbosity)
    cfg = _up_config(args)
    try:
        return runner.run(run(cfg))  # type: ignore[arg-type]
    except daemon.AlreadyRunning as exc:
        print(f"tinykube: {exc}", file=sys.stderr)
        return 1


def _etcd_problem(args: argparse.Namespace) -> str | None:
    """Why ``--etcd`` cannot work here (checked before anything starts), or None."""
    if not args.etcd:
        return None
    from tinykube.cluster import etcd

    if args.storage:
        return "--etcd runs its own etcd; it cannot be combined with --storage/--etcd-servers"
    return etcd.missing_binary()


def cmd_down(args: argparse.Namespace) -> int:
    """Stop the cluster an ``up`` (``-d`` or not) runs from the data directory."""
    from tinykube.cluster import daemon

    return daemon.down(Path(args.data_dir))


def _up_config(args: argparse.Namespace) -> object:
    from tinykube.cluster.up import UpConfig

    passthrough = [
        "--service-cluster-ip-range",
        service_range(args),
        "--service-node-port-range",
        args.service_node_port_range,
    ]
    if args.storage:
        passthrough += ["--storage", args.storage]
    for flag in ("etcd_cafile", "etcd_certfile", "etcd_keyfile"):
        if getattr(args, flag) is not None:
            passthrough += ["--" + flag.replace("_", "-"), str(getattr(args, flag).resolve())]
    return UpConfig(
        data_dir=args.data_dir,
        port=args.port,
        bind_address=args.bind_address,
        apiserver_args=passthrough,
        node_name=args.node_name,
        runtime=args.runtime,
        simulated_nodes=args.simulated_nodes,
        kubelet_port=args.kubelet_port,
        scheduler_port=args.scheduler_secure_port,
        controller_manager_port=args.controller_manager_secure_port,
        pod_cidr=args.pod_cidr,
        service_cidr=service_range(args),
        nodes=args.nodes,
        shutdown_grace_period=args.shutdown_grace_period,
        shutdown_grace_period_critical_pods=args.shutdown_grace_period_critical_pods,
        notify_fd=getattr(args, "notify_fd", None),
        etcd=args.etcd,
        etcd_port=args.etcd_port,
        etcd_peer_port=args.etcd_peer_port or args.etcd_port + 1,
        etcd_metrics_port=args.etcd_metrics_port or args.etcd_port + 2,
    )


def cmd_init(args: argparse.Namespace) -> int:
    """The first half of ``up``: certificates, kubeconfigs and static pod manifests."""
    from tinykube.cluster.up import init

    if (problem := _etcd_problem(args)) is not None:
        print(f"tinykube: {problem}", file=sys.stderr)
        return 1
    init(_up_config(args))  # type: ignore[arg-type]
    print(f"tinykube: initialised {Path(args.data_dir).resolve()}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """Remove a cluster's data directory (stop the cluster first)."""
    import shutil

    from tinykube.cluster import daemon

    target = Path(args.data_dir)
    pid = daemon.running_pid(target)
    if pid is not None:
        print(
            f"tinykube: a cluster is running from {target} (pid {pid}); "
            f"stop it first: tinykube down --data-dir {target}",
            file=sys.stderr,
        )
        return 1
    if not (target / "manifests").exists() and not (target / "pki").exists():
        print(f"tinykube: {target} does not hold a cluster; nothing removed", file=sys.stderr)
        return 1
    shutil.rmtree(target)
    print(f"tinykube: removed {target.resolve()}")
    return 0


def _up_args(p: argparse.ArgumentParser) -> None:
    _apiserver_args(p)
    p.add_argument("--node-name", default="controlplane")
    p.add_argument("--runtime", default="process", choices=["process", "simulated"])
    p.add_argument("--kubelet-port", type=int, default=10250)
    # The static pods' health ports (their --secure-port); the API server probes them too.
    p.add_argument("--scheduler-secure-port", type=int, default=10259)
    p.add_argument("--controller-manager-secure-port", type=int, default=10257)
    p.add_argument("--pod-cidr", default="10.244.0.0/24", help="the control-plane node's pods")
    p.add_argument(
        "--etcd",
        action="store_true",
        help="store the cluster in a stacked etcd static pod with its own PKI, as kubeadm does",
    )
    # kubeadm's ports: clients 2379, peers 2380, metrics and health 2381.
    p.add_argument("--etcd-port", type=int, default=2379, help="etcd's client port")
    p.add_argument("--etcd-peer-port", type=int, default=None, help="default: --etcd-port + 1")
    p.add_argument("--etcd-metrics-port", type=int, default=None, help="default: --etcd-port + 2")
    p.add_argument(
        "--simulated-nodes",
        type=int,
        default=0,
        help="also run N simulated nodes (no processes; for scale work)",
    )
    p.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="also run N worker nodes node01, node02, ... (a kubelet process each)",
    )
    p.add_argument(
        "--shutdown-grace-period",
        type=_seconds,
        default=4.0,
        help="how long the kubelets give pods to stop when the cluster stops (e.g. 4s)",
    )
    p.add_argument(
        "--shutdown-grace-period-critical-pods",
        type=_seconds,
        default=2.0,
        help="the part of --shutdown-grace-period kept for critical pods (e.g. 2s)",
    )


def _seconds(text: str) -> float:
    """``4``, ``4s`` or ``1.5s``: a duration in seconds."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must not be negative")
    return value


def _flag_bool(value: str) -> bool:
    """Go-style boolean flag values: ``--leader-elect=false``."""
    if value.lower() in ("true", "1", "t", "yes"):
        return True
    if value.lower() in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


_WORKER_FLAGS = (
    "concurrent-cron-job-syncs",
    "concurrent-daemonset-syncs",
    "concurrent-deployment-syncs",
    "concurrent-horizontal-pod-autoscaler-syncs",
    "concurrent-endpoint-syncs",
    "concurrent-gc-syncs",
    "concurrent-job-syncs",
    "concurrent-namespace-syncs",
    "concurrent-rc-syncs",
    "concurrent-replicaset-syncs",
    "concurrent-service-endpoint-syncs",
    "concurrent-statefulset-syncs",
    "concurrent-ttl-after-finished-syncs",
)

# Settings handed to controllers as given (the controller parses durations).
_CONTROLLER_SETTINGS = (
    "node-monitor-grace-period",
    "node-monitor-period",
    "terminated-pod-gc-threshold",
    "load-balancer-ip-range",
    "cluster-signing-cert-file",
    "cluster-signing-key-file",
    "cluster-signing-duration",
    "hostpath-provisioner-dir",
)


def _controller_manager_args(p: argparse.ArgumentParser) -> None:
    from tinykube.client import healthz

    p.add_argument("--kubeconfig", type=Path, default=None)
    healthz.add_flags(p, healthz.CONTROLLER_MANAGER_PORT)
    p.add_argument("--controllers", default="*", help="'*', name, -name; comma-separated")
    p.add_argument("--leader-elect", nargs="?", const=True, default=True, type=_flag_bool)
    p.add_argument("--leader-elect-lease-duration", default="15s")
    p.add_argument("--leader-elect-renew-deadline", default="10s")
    p.add_argument("--leader-elect-retry-period", default="2s")
    p.add_argument("--leader-elect-resource-name", default="kube-controller-manager")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    # Worker counts; unset means each controller's own default (upstream's).
    for flag in _WORKER_FLAGS:
        p.add_argument(f"--{flag}", type=int, default=None)
    # Node lifecycle and pod GC settings (Go durations); unset means upstream's default.
    p.add_argument("--node-monitor-grace-period", default=None, help="e.g. 40s")
    p.add_argument("--node-monitor-period", default=None, help="e.g. 5s")
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=None)
    p.add_argument("--load-balancer-ip-range", default=None, help="LoadBalancer address pool")
    p.add_argument("--cluster-signing-cert-file", default=None, help="CA certificate for CSRs")
    p.add_argument("--cluster-signing-key-file", default=None, help="CA key for CSRs")
    p.add_argument("--cluster-signing-duration", default=None, help="longest lifetime, e.g. 8760h")
    p.add_argument(
        "--hostpath-provisioner-dir",
        default=None,
        help="where tinykube.io/hostpath volumes are made (default /var/lib/tinykube/volumes)",
    )
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=2)


def cmd_controller_manager(args: argparse.Namespace) -> int:
    from tinykube.controllers import manager

    runner.setup_logging(args.verbosity)
    try:
        options = manager.Options(
            kubeconfig=args.kubeconfig,
            controllers=args.controllers,
            leader_elect=args.leader_elect,
            lease_duration=manager.parse_duration(args.leader_elect_lease_duration),
            renew_deadline=manager.parse_duration(args.leader_elect_renew_deadline),
            retry_period=manager.parse_duration(args.leader_elect_retry_period),
            lease_name=args.leader_elect_resource_name,
            lease_namespace=args.leader_elect_resource_namespace,
            controller_options={
                flag: getattr(args, flag.replace("-", "_"))
                for flag in (*_WORKER_FLAGS, *_CONTROLLER_SETTINGS)
                if getattr(args, flag.replace("-", "_")) is not None
            },
        )
        manager.select_controllers(options.controllers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from tinykube.client import healthz

    try:
        options.health = healthz.from_args(args, "kube-controller-manager")
    except healthz.ListenError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    code = 0

    async def main() -> None:
        nonlocal code
        code = await manager.run(options)

    runner.run(main())
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinykube", description="Kubernetes, written in Python.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("apiserver", help="run kube-apiserver")
    _apiserver_args(p)
    p.set_defaults(func=cmd_apiserver)
    p = sub.add_parser("up", help="start a cluster (in the foreground; -d: in the background)")
    _up_args(p)
    p.add_argument(
        "-d",
        "--detach",
        action="store_true",
        help="run in the background; return once the cluster is up (stop: tinykube down)",
    )
    p.add_argument("--notify-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop a cluster started with up (-d)")
    p.add_argument("--data-dir", default="data", type=Path)
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("init", help="write certificates, kubeconfigs and static pod manifests")
    _up_args(p)
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("reset", help="remove a cluster's data directory")
    p.add_argument("--data-dir", default="data", type=Path)
    p.set_defaults(func=cmd_reset)
    p = sub.add_parser("controller-manager", help="run kube-controller-manager")
    _controller_manager_args(p)
    p.set_defaults(func=cmd_controller_manager)
    # Components that own their command line: one explicit table, no import side effects.
    from tinykube.ingress import command as ingress_command
    from tinykube.kubectl import command as kubectl_command
    from tinykube.kubelet import command as kubelet_command
    from tinykube.kubelet import imagecli
    from tinykube.proxy import command as proxy_command
    from tinykube.scheduler import command as scheduler_command

    commands = (
        scheduler_command,
        kubelet_command,
        imagecli,
        proxy_command,
        ingress_command,
        kubectl_command,
    )
    for component in commands:
        component.register(sub)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
