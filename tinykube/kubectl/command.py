"""``tinykube kubectl ...``: hands everything after ``kubectl`` to tkctl's main.

kubectl parses its own flags (pflag rules, see ``flags``), so argparse must
not look at them: the subcommand takes the rest of the line verbatim.
"""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from tinykube.kubectl.main import main

    return main(list(args.kubectl_args))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``kubectl`` subcommand to the ``tinykube`` command line."""
    p = subparsers.add_parser(
        "kubectl", help="the kubectl command line, in Python", add_help=False, prefix_chars="\0"
    )
    p.add_argument("kubectl_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=_run)
