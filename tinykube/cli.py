"""The ``tinykube`` command: one subcommand per component, flags named as Kubernetes names them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path


def _setup_logging(verbosity: int) -> None:
    level = logging.DEBUG if verbosity >= 4 else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def _run(coro_factory: object) -> int:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(coro_factory())  # type: ignore[operator]
    return 0


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
        help="storage URL: sqlite:///path (default) or memory://",
    )
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    p.add_argument("--service-node-port-range", default="30000-32767")
    p.add_argument("--token-auth-file", type=Path, default=None)
    p.add_argument("--advertise-address", default="")
    p.add_argument("--event-ttl", type=int, default=3600, help="seconds events are kept")
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=2)


def _config(args: argparse.Namespace) -> object:
    from tinykube.apiserver.config import ServerConfig

    return ServerConfig(
        data_dir=args.data_dir,
        bind_address=args.bind_address,
        port=args.port,
        secure=not args.insecure,
        storage_url=args.storage,
        service_cluster_ip_range=args.service_cluster_ip_range,
        service_node_port_range=args.service_node_port_range,
        token_auth_file=args.token_auth_file,
        advertise_address=args.advertise_address,
        event_ttl_seconds=args.event_ttl,
    )


def cmd_apiserver(args: argparse.Namespace) -> int:
    from tinykube.apiserver.server import serve

    _setup_logging(args.verbosity)
    config = _config(args)
    return _run(lambda: serve(config))  # type: ignore[arg-type]


def cmd_up(args: argparse.Namespace) -> int:
    """The whole cluster; until the other components land it is the API server alone."""
    from tinykube.apiserver.server import serve

    _setup_logging(args.verbosity)
    config = _config(args)
    kubeconfig = Path(args.data_dir) / "admin.kubeconfig"
    print(
        f"tinykube: starting; kubeconfig: export KUBECONFIG={kubeconfig.resolve()}", file=sys.stderr
    )
    return _run(lambda: serve(config))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinykube", description="Kubernetes, written in Python.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("apiserver", help="run kube-apiserver")
    _apiserver_args(p)
    p.set_defaults(func=cmd_apiserver)
    p = sub.add_parser("up", help="start a cluster in the foreground")
    _apiserver_args(p)
    p.set_defaults(func=cmd_up)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
