"""``proc_spawn``: host processes started with vfork behave as asyncio's subprocesses do.

Each check runs on asyncio's own loop and on uvloop (the loop every component
process runs on), since each loop reaps and closes descriptors its own way.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from tinykube.kubelet.runtime import proc_spawn

pytestmark = pytest.mark.integration

Check = Callable[[], Awaitable[None]]


async def output_exit_code_and_input() -> None:
    proc = await proc_spawn.spawn(
        "sh",
        "-c",
        "cat; echo oops >&2; exit 3",
        stdin=proc_spawn.PIPE,
        stdout=proc_spawn.PIPE,
        stderr=proc_spawn.PIPE,
    )
    # More than a pipe holds: the writer has to wait for the reader.
    out, err = await proc.communicate(b"line\n" * 50_000)
    assert (len(out), err, proc.returncode) == (250_000, b"oops\n", 3)


async def killed_by_a_signal() -> None:
    proc = await proc_spawn.spawn("sleep", "30", stdout=proc_spawn.PIPE)
    assert proc.returncode is None
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == -signal.SIGTERM
    assert proc.stdout is not None and await proc.stdout.read() == b""
    proc.kill()  # after the exit: nothing happens (its pid may belong to another process)


async def missing_program_raises() -> None:
    with pytest.raises(FileNotFoundError):
        await proc_spawn.spawn("/nonexistent/program")


async def no_descriptor_leaks() -> None:
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(20):
        proc = await proc_spawn.spawn(
            "echo", "hi", stdin=proc_spawn.PIPE, stdout=proc_spawn.PIPE, stderr=proc_spawn.PIPE
        )
        assert await proc.communicate() == (b"hi\n", b"")
    assert set(os.listdir("/proc/self/fd")) <= before


CHECKS = [output_exit_code_and_input, killed_by_a_signal, missing_program_raises]


@pytest.mark.parametrize("check", [*CHECKS, no_descriptor_leaks], ids=lambda c: c.__name__)
async def test_on_asyncio(check: Check) -> None:
    async with asyncio.timeout(30):
        await check()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_on_uvloop(check: Check) -> None:
    await asyncio.wait_for(asyncio.to_thread(uvloop.run, check()), 30)
