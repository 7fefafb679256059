"""MemoryStore and SqliteStore give the same answer to the same random history.

The conformance suite checks chosen cases; this drives both drivers through
seeded random sequences of writes (right and wrong revisions), reads at random
revisions, pages, compactions and watches from random revisions, and requires
identical outcomes, exceptions included. A difference names the step.
"""

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from tinykube.store.errors import Compacted
from tinykube.store.interface import Event, Store
from tinykube.store.memory import MemoryStore
from tinykube.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

KEYS = [f"/registry/{r}/{ns}/{n}" for r in ("pods", "podsx") for ns in ("a", "ab") for n in "xyz"]
PREFIXES = ["", "/registry/", "/registry/pods/", "/registry/pods/a/", "/registry/pods/ab/"]


async def outcome(call: Any) -> Any:
    try:
        return await call
    except Exception as exc:  # the outcome is what is compared
        return (type(exc).__name__, getattr(exc, "current", None))


async def watch_all(store: Store, prefix: str, after: int, marker: str) -> Any:
    """Every event a watch from ``after`` delivers, through a marker written now."""
    end = await outcome(store.create(prefix + marker, b"m"))
    watch = store.watch(prefix, after)
    events: list[Event] = []
    try:
        async with asyncio.timeout(10):
            while not events or events[-1].kv.key != prefix + marker:
                events.append(await anext(watch))
    except Compacted:
        return "Compacted", end
    finally:
        await watch.aclose()  # type: ignore[attr-defined]
    return events


async def step(store: Store, rng: random.Random, kind: str, rev_hint: int) -> Any:
    key = rng.choice(KEYS)
    revision = rng.choice([0, rng.randint(0, rev_hint + 2)])
    if kind == "create":
        return await outcome(store.create(key, rng.randbytes(rng.randint(0, 8))))
    if kind == "update":
        return await outcome(store.update(key, rng.randbytes(3), await mod_revision(store, key)))
    if kind == "update-stale":
        return await outcome(store.update(key, b"stale", revision or 1))
    if kind == "delete":
        return await outcome(store.delete(key, rng.choice([0, await mod_revision(store, key)])))
    if kind == "get":
        return await outcome(store.get(key, revision))
    if kind == "list":
        prefix, limit = rng.choice(PREFIXES), rng.choice([0, 1, 2, 5])
        after = rng.choice(["", key])
        return await outcome(store.list(prefix, limit=limit, start_after=after, revision=revision))
    if kind == "compact":
        return await outcome(store.compact(rng.randint(0, rev_hint)))
    marker = f"~marker-{rev_hint}"
    return await watch_all(store, rng.choice(PREFIXES), rng.randint(0, rev_hint), marker)


async def mod_revision(store: Store, key: str) -> int:
    kv = await store.get(key)
    return kv.mod_revision if kv else 0


KINDS = ["create"] * 4 + ["update"] * 4 + ["update-stale", "delete", "delete", "get", "get"]
KINDS += ["list", "list", "compact", "watch"]


@pytest.mark.parametrize("seed", range(8))
async def test_drivers_agree_on_random_histories(tmp_path: Path, seed: int) -> None:
    memory, sqlite = MemoryStore(), SqliteStore(tmp_path / "state.db")
    rng_m, rng_s, plan = random.Random(seed), random.Random(seed), random.Random(seed + 1000)
    try:
        for i in range(300):
            kind = plan.choice(KINDS) if i % 60 else "compact"
            rev = await memory.current_revision()
            got_m = await step(memory, rng_m, kind, rev)
            got_s = await step(sqlite, rng_s, kind, rev)
            assert got_m == got_s, f"step {i} ({kind})"
        assert await memory.list("") == await sqlite.list("")
        assert await memory.compacted_revision() == await sqlite.compacted_revision()
    finally:
        await memory.close()
        await sqlite.close()
