"""How every component process runs: one log format, uvloop, and a clean stop on a signal.

Each ``tinykube <component>`` command ends in ``run(coro)``: SIGTERM (a
kubelet stopping a static pod, ``kill``) and SIGINT (Ctrl-C) cancel the
component's main coroutine, so its ``finally`` blocks run — leases released,
addresses and processes cleaned up — before the process exits with 0.
It sits below every component (beside ``tinykube.api``), so none of them
writes this again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(verbosity: int) -> None:
    """Kubernetes' -v levels: 4 and above is DEBUG, below that INFO."""
    logging.basicConfig(
        level=logging.DEBUG if verbosity >= 4 else logging.INFO,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )


def run(coro: Coroutine[Any, Any, Any]) -> int:
    """Run ``coro`` on uvloop (when installed) until it ends or a signal stops it."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a declared dependency
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(until_signalled(coro))
    return 0


async def until_signalled(coro: Coroutine[Any, Any, Any]) -> None:
    """Run ``coro``; SIGTERM and SIGINT cancel it so its cleanup runs."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
