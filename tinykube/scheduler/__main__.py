"""``python -m tinykube.scheduler``: the scheduler command without the ``tinykube`` wrapper."""

import argparse
import sys

from tinykube.scheduler import command


def _main() -> int:
    parser = argparse.ArgumentParser(prog="tinykube")
    sub = parser.add_subparsers(dest="command", required=True)
    command.register(sub)
    return int(command.main(parser.parse_args(["scheduler", *sys.argv[1:]])))


if __name__ == "__main__":
    sys.exit(_main())
