"""How a component process stops on a signal: cleanup first, and never a process that
outlives its supervisor because a task swallowed its cancellation."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

PROGRAM = textwrap.dedent(
    """
    import asyncio, sys
    from tinykube import runner

    async def main():
        print("up", flush=True)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            print("cleaning up", flush=True)
            if sys.argv[1] == "stuck":
                while True:  # swallows every cancellation, as a buggy task would
                    try:
                        await asyncio.sleep(3600)
                    except asyncio.CancelledError:
                        pass
            raise

    async def wrapped():
        await runner.until_signalled(main(), deadline=float(sys.argv[2]))

    import uvloop
    uvloop.run(wrapped())
    print("clean exit", flush=True)
    """
)


def start(mode: str, deadline: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, mode, str(deadline)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    return proc


def test_a_signal_runs_the_cleanup_and_exits_cleanly() -> None:
    proc = start("clean", 30)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out == "cleaning up\nclean exit\n"


def test_a_stuck_cleanup_is_cut_short_by_the_deadline() -> None:
    proc = start("stuck", 0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert out == "cleaning up\n"
    assert "stopping now: no clean stop after" in err
    assert time.monotonic() - started < 10


def test_a_second_signal_stops_at_once() -> None:
    proc = start("stuck", 60)
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "cleaning up\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "stopping now: a second signal" in err
