"""Starting host processes cheaply from a big, busy asyncio process.

The kubelet runs on uvloop, whose ``subprocess_exec`` forks the whole
interpreter with ``fork()``: for a process of ~100 MB that copies page tables
and blocks the event loop for ~8 ms per child, while ``subprocess.Popen``
starts a child with ``vfork()`` in well under a millisecond. When a hundred
pods arrived at once, pod start-up (then four children per pod: network,
sandbox, container) spent most of its time there.

``spawn`` therefore starts the child with ``Popen`` (in a small thread pool:
vfork suspends the calling thread until the child exec'd, which on a busy
machine means waiting for the scheduler) and watches it the way an
event loop would: a pidfd (``pidfd_open``, Linux 5.3+) in the loop tells when
it exited, its output pipes feed ``StreamReader``s and its stdin pipe is a
``PipeWriter`` (``write``/``drain``/``close``/``is_closing`` of a
``StreamWriter``), all through ``add_reader``/``add_writer`` on descriptors
this module alone closes. The ``HostProcess`` it returns has the part of
``asyncio.subprocess.Process`` the runtime uses (``pid``, ``returncode``,
``stdin``/``stdout``/``stderr``, ``wait``, ``communicate``, ``send_signal``,
``terminate``, ``kill``), so the two are interchangeable. Only this
process's own children are reaped: the pidfd names one pid, and uvloop and
asyncio reap only the children they started themselves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import signal
import subprocess
from collections.abc import Mapping
from typing import IO, Any

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT
STREAM_LIMIT = 2**16  # as asyncio's subprocess streams
READ_CHUNK = 2**16
# Children starting at once: each thread waits (vfork) until its child exec'd.
SPAWN_THREADS = 4

Target = int | IO[Any] | None


class _PipeReader:
    """One output pipe of a child fed into a ``StreamReader``; we alone close the fd.

    Not ``loop.connect_read_pipe``: uvloop closes the descriptor in libuv and
    then closes the file object too, and in between another thread may have
    been handed the same descriptor number (a file it is reading), which that
    second close then takes away from it.
    """

    def __init__(self, fd: int, reader: asyncio.StreamReader) -> None:
        self._fd = fd
        self._reader = reader
        self._loop = asyncio.get_running_loop()
        self._paused = False
        os.set_blocking(fd, False)
        reader.set_transport(self)  # type: ignore[arg-type]
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._reader.feed_data(data)
        else:
            self.close()
            self._reader.feed_eof()

    # The transport methods a StreamReader calls for flow control.
    def pause_reading(self) -> None:
        if not self._paused and self._fd >= 0:
            self._paused = True
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if self._paused and self._fd >= 0:
            self._paused = False
            self._loop.add_reader(self._fd, self._readable)

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


class PipeWriter:
    """A child's stdin pipe, with the ``StreamWriter`` calls the runtime makes."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._drained: asyncio.Future[None] | None = None
        self._error: OSError | None = None
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        if self._fd < 0:
            return
        was_empty = not self._buffer
        self._buffer += data
        if was_empty:
            self._flush()
            if self._buffer and self._fd >= 0:
                self._loop.add_writer(self._fd, self._flush)

    def _flush(self) -> None:
        try:
            while self._buffer:
                del self._buffer[: os.write(self._fd, self._buffer)]
        except BlockingIOError:
            return
        except OSError as exc:  # the child closed its end (it exited)
            self._error = exc
            self._close_fd()
            return
        self._loop.remove_writer(self._fd)
        self._wake()

    def _wake(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    async def drain(self) -> None:
        """Wait until everything written reached the pipe; BrokenPipe once it is gone."""
        if self._buffer and self._fd >= 0:
            self._drained = self._drained or self._loop.create_future()
            await self._drained
        if self._error is not None:
            raise ConnectionResetError(str(self._error))

    def is_closing(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        self._close_fd()

    async def wait_closed(self) -> None:
        return None

    def _close_fd(self) -> None:
        if self._fd >= 0:
            self._loop.remove_writer(self._fd)
            os.close(self._fd)
            self._fd = -1
            self._buffer.clear()
            self._wake()


class HostProcess:
    """A child started by ``spawn``: asyncio's ``Process`` surface over ``Popen``."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stdin: PipeWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        try:
            pidfd = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):
            # No pidfds (an old kernel): a thread waits instead.
            waiter = loop.run_in_executor(None, popen.wait)
            waiter.add_done_callback(lambda _f: self._set_exited())
        else:
            loop.add_reader(pidfd, self._reap, loop, pidfd)

    def __repr__(self) -> str:
        return f"<HostProcess {self.pid} returncode={self.returncode}>"

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped; ``-N`` when signal ``N`` ended it (as asyncio)."""
        return self._popen.returncode

    def _reap(self, loop: asyncio.AbstractEventLoop, pidfd: int) -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        self._popen.poll()
        self._set_exited()

    def _set_exited(self) -> None:
        if self.stdin is not None:
            # Nobody reads it any more; writers get BrokenPipe instead of blocking.
            self.stdin.close()
        if not self._exited.done():
            self._exited.set_result(self._popen.returncode or 0)

    async def wait(self) -> int:
        await asyncio.shield(self._exited)
        return self._popen.returncode if self._popen.returncode is not None else 0

    def send_signal(self, sig: int) -> None:
        """Signal the child; nothing once it has been reaped (its pid may be reused)."""
        if self._popen.returncode is None:
            self._popen.send_signal(sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def communicate(self, input: bytes | None = None) -> tuple[bytes, bytes]:
        """Feed ``input``, read stdout and stderr to their end, wait for the exit."""

        async def feed() -> None:
            if self.stdin is None:
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if input:
                    self.stdin.write(input)
                    await self.stdin.drain()
            self.stdin.close()

        async def read(stream: asyncio.StreamReader | None) -> bytes:
            return b"" if stream is None else await stream.read()

        _, out, err = await asyncio.gather(feed(), read(self.stdout), read(self.stderr))
        await self.wait()
        return out, err


async def spawn(
    *argv: str,
    stdin: Target = None,
    stdout: Target = None,
    stderr: Target = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    start_new_session: bool = False,
) -> HostProcess:
    """Start ``argv`` as ``asyncio.create_subprocess_exec`` would, without forking us.

    Raises what ``Popen`` raises when the program cannot be run
    (``FileNotFoundError``, ``PermissionError``), as asyncio does.
    """
    start = functools.partial(_start, argv, (stdin, stdout, stderr), env, cwd, start_new_session)
    # vfork suspends the calling thread until the child exec'd, which on a busy
    # machine waits for the scheduler: in a thread, the event loop runs on meanwhile.
    future = asyncio.get_running_loop().run_in_executor(_spawner(), start)
    try:
        popen, ours = await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_kill_orphan)
        raise
    proc = HostProcess(popen)
    fds = iter(ours)
    if stdin == PIPE:
        proc.stdin = PipeWriter(next(fds))
    if stdout == PIPE:
        proc.stdout = _reader(next(fds))
    if stderr == PIPE:
        proc.stderr = _reader(next(fds))
    return proc


def _start(
    argv: tuple[str, ...],
    targets: tuple[Target, Target, Target],
    env: Mapping[str, str] | None,
    cwd: str | None,
    start_new_session: bool,
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Make the pipes and start the child (in a thread); our ends of the pipes, in order."""
    ours: list[int] = []
    theirs: list[int] = []  # the child's ends: closed here once it has them

    def pipe_for(target: Target, child_reads: bool) -> Target:
        if target != PIPE:
            return target
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        ours.append(write_end if child_reads else read_end)
        theirs.append(read_end if child_reads else write_end)
        return theirs[-1]

    stdin, stdout, stderr = targets
    try:
        popen = subprocess.Popen(
            argv,
            stdin=pipe_for(stdin, True),
            stdout=pipe_for(stdout, False),
            stderr=STDOUT if stderr == STDOUT else pipe_for(stderr, False),
            env=env,
            cwd=cwd,
            start_new_session=start_new_session,
        )
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return popen, ours


def _kill_orphan(future: asyncio.Future[tuple[subprocess.Popen[bytes], list[int]]]) -> None:
    """The caller was cancelled while its child started: nobody will own the child."""
    if future.cancelled() or future.exception() is not None:
        return
    popen, ours = future.result()
    popen.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(1)  # rare, and brief after SIGKILL: reaped, not left as a zombie
    for fd in ours:
        os.close(fd)


_SPAWNER: concurrent.futures.ThreadPoolExecutor | None = None


def _spawner() -> concurrent.futures.ThreadPoolExecutor:
    global _SPAWNER
    if _SPAWNER is None:
        _SPAWNER = concurrent.futures.ThreadPoolExecutor(SPAWN_THREADS, "spawn")
    return _SPAWNER


def _reader(fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=STREAM_LIMIT)
    _PipeReader(fd, reader)
    return reader
