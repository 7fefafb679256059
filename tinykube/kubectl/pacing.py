"""Waiting inside commands that usually run without an event loop.

Most tkctl commands are a few sequential requests, so ``main`` drives their
coroutines directly and never imports asyncio (a tenth of a second of
start-up). Commands that need real concurrency or timeouts (rollout status,
wait, drain, edit, diff) declare ``USES_EVENT_LOOP`` and run under
``asyncio.run``. ``pause`` works in both worlds.
"""

from __future__ import annotations

import sys
import time


def loop_running() -> bool:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _block(seconds: float) -> None:
    time.sleep(seconds)


async def pause(seconds: float) -> None:
    """Sleep: on the event loop when there is one, else plainly."""
    if loop_running():
        import asyncio

        await asyncio.sleep(seconds)
    else:
        _block(seconds)
