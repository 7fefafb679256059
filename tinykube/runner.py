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
import os
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


# A cleanup that has not finished this long after the signal never will (a task that
# swallowed its cancellation): the process exits anyway, so nothing outlives its supervisor.
STOP_DEADLINE = 30.0


async def until_signalled(coro: Coroutine[Any, Any, Any], deadline: float = STOP_DEADLINE) -> None:
    """Run ``coro``; SIGTERM and SIGINT cancel it so its cleanup runs.

    A second signal, or ``deadline`` seconds without the cleanup ending, ends the
    process at once (status 1), as a second Ctrl-C does for kubectl and friends.
    """
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if task.cancelling():
            _give_up("a second signal")
        task.cancel()
        loop.call_later(deadline, _give_up, f"no clean stop after {deadline:.0f}s")

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _give_up(why: str) -> None:
    logging.getLogger(__name__).error("stopping now: %s", why)
    logging.shutdown()
    os._exit(1)
