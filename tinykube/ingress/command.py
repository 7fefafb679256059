"""``tinykube ingress-controller``: the command line of the ingress add-on's pod.

Flags keep ingress-nginx's names where it has one: ``--controller-class``
(the ``spec.controller`` of the IngressClasses served), ``--publish-service``
and ``--publish-status-address`` (what goes into the Ingresses' status),
``--http-port`` and ``--https-port``. ``--kubeconfig`` and ``--master`` are
optional; without them the pod's in-cluster config is used, which is what
the add-on Deployment of ``tinykube.cluster.addons`` relies on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from tinykube import runner

USER_AGENT = "ingress-controller/tinykube"
CONTROLLER_CLASS = "tinykube.io/ingress"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ingress-controller", help="run the ingress controller (Ingress -> Service pods)"
    )
    p.add_argument("--kubeconfig", type=Path, default=None)
    p.add_argument("--master", default="", help="API server URL; overrides the kubeconfig")
    p.add_argument("--controller-class", default=CONTROLLER_CLASS)
    p.add_argument(
        "--publish-service", default="", help="namespace/name of the Service in front of us"
    )
    p.add_argument("--publish-status-address", default="", help="address(es) to publish instead")
    p.add_argument("--bind-address", default="0.0.0.0")
    p.add_argument("--http-port", type=int, default=80)
    p.add_argument("--https-port", type=int, default=443)
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=2)
    p.set_defaults(func=cmd_ingress_controller)


def cmd_ingress_controller(args: argparse.Namespace) -> int:
    from tinykube.client import Client, load
    from tinykube.ingress.controller import IngressController, Options

    runner.setup_logging(args.verbosity)
    options = Options(
        controller_class=args.controller_class,
        publish_service=args.publish_service,
        publish_status_address=args.publish_status_address,
        bind_address=args.bind_address,
        http_port=args.http_port,
        https_port=args.https_port,
    )

    async def main() -> None:
        config = load(args.kubeconfig)
        if args.master:
            config = dataclasses.replace(config, server=args.master.rstrip("/"))
        client = Client(config, USER_AGENT)
        try:
            await IngressController(client, options).run()
        finally:
            await client.close()

    return runner.run(main())


def main(argv: list[str] | None = None) -> int:
    """``python -m tinykube.ingress.command ingress-controller ...``: what the add-on pod runs."""
    parser = argparse.ArgumentParser(prog="tinykube")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
