"""Periodic compaction, as kube-apiserver runs it against etcd every 5 minutes.

Without it the log grows by one row per write forever. Each round compacts to
``keep_revisions`` below the current revision, so watchers that fall a little
behind can still resume; one further behind get ``Compacted`` (HTTP 410) and
relist, which is what informers expect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tinykube.store.interface import Store

log = logging.getLogger(__name__)


async def compact_once(store: Store, keep_revisions: int) -> int:
    """Compact to ``current - keep_revisions`` if that moves the horizon; return it."""
    target = await store.current_revision() - keep_revisions
    if target > await store.compacted_revision():
        await store.compact(target)
        log.debug("component=store compacted revision=%d", target)
    return await store.compacted_revision()


async def run_compactor(
    store: Store,
    interval_seconds: float = 300.0,
    keep_revisions: int = 1000,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Compact every ``interval_seconds`` until cancelled. ``sleep`` is the clock
    seam: tests pass one they control instead of waiting."""
    log.info(
        "component=store compactor starting interval=%ss keep=%d", interval_seconds, keep_revisions
    )
    try:
        while True:
            await sleep(interval_seconds)
            try:
                await compact_once(store, keep_revisions)
            except Exception:  # the loop boundary: retry next round
                log.exception("component=store compaction failed")
    finally:
        log.info("component=store compactor stopped")
