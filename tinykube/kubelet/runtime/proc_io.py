"""Container logs in the CRI file format, and images from the local image store.

Logs: a container's stdout and stderr are pipes read by the runtime, which
writes each line to the container's log file as the CRI runtimes do:
``<RFC3339Nano timestamp> <stdout|stderr> <F|P> <text>``. The timestamp is
what ``kubectl logs --timestamps`` and ``--since`` need, the stream what
``--stream`` needs; a real process writing straight to a file could give
neither. A file past ``MAX_LOG_BYTES`` is rotated to ``<file>.1``.

Attach: the same pump hands every chunk, as it is read, to the container's
``OutputFanout``, which copies it to each attached client; a client sees
output from the moment it attaches, never the log's past. A container with
a terminal is one stream, read from the terminal's master side
(``pty_reader``) and logged as stdout, as CRI runtimes log a TTY.

Images: ``<image-dir>/<name>/rootfs`` holds an unpacked root filesystem,
``<image-dir>/<name>/config.json`` (optional) the OCI image config with its
Entrypoint, Cmd, Env and WorkingDir. ``<name>`` is the image reference as
written in the pod (``busybox:1.36``) or without its tag (``busybox``), and
``docker.io/library/`` is ignored, so a pod that names ``busybox`` finds an
image imported as ``docker.io/library/busybox:latest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import struct
import termios
from datetime import UTC, datetime
from pathlib import Path

from tinykube.kubelet.runtime.interface import ImageInfo, ImagePullError

MAX_LOG_BYTES = 10 * 1024 * 1024
READ_CHUNK = 64 * 1024
# Chunks one attached client may fall behind by before it is dropped: a stalled client
# must not hold the container's output (and its log) back, nor grow without bound.
MAX_PENDING_CHUNKS = 4096

Chunk = tuple[str, bytes]


def cri_timestamp(when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def format_lines(stream: str, data: bytes) -> bytes:
    """Complete lines of ``data`` as CRI log records (``data`` ends with a newline)."""
    stamp = cri_timestamp().encode()
    prefix = stamp + b" " + stream.encode() + b" F "
    return b"".join(prefix + line + b"\n" for line in data.split(b"\n")[:-1])


class LogWriter:
    """Appends CRI records to one file, from any number of streams, in a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def write(self, record: bytes) -> None:
        async with self._lock:
            await asyncio.to_thread(self._append, record)

    def _append(self, record: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(record)
            size = f.tell()
        if size > MAX_LOG_BYTES:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))


class OutputFanout:
    """A container's live output, copied to every attached client's queue."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Chunk | None]] = set()
        self.ended = False

    def subscribe(self) -> asyncio.Queue[Chunk | None]:
        queue: asyncio.Queue[Chunk | None] = asyncio.Queue()
        if self.ended:
            queue.put_nowait(None)
        else:
            self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Chunk | None]) -> None:
        self._queues.discard(queue)

    def publish(self, stream: str, data: bytes) -> None:
        for queue in list(self._queues):
            if queue.qsize() >= MAX_PENDING_CHUNKS:
                self._queues.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait((stream, data))

    def end(self) -> None:
        """The output is over (the container exited): every client sees ``None``."""
        self.ended = True
        for queue in self._queues:
            queue.put_nowait(None)
        self._queues.clear()


def pty_reader(master: int) -> asyncio.StreamReader:
    """A terminal's master side as a stream; EOF once no process holds the slave side.

    Linux answers EIO (not an empty read) when the last slave descriptor is
    closed, so that is the end of the stream here.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)

    def readable() -> None:
        try:
            data = os.read(master, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            reader.feed_data(data)
            return
        loop.remove_reader(master)
        reader.feed_eof()

    os.set_blocking(master, False)
    loop.add_reader(master, readable)
    return reader


def stop_reading(master: int) -> None:
    with contextlib.suppress(ValueError, OSError):
        asyncio.get_running_loop().remove_reader(master)


async def pump(
    reader: asyncio.StreamReader,
    stream: str,
    writer: LogWriter,
    fanout: OutputFanout | None = None,
) -> None:
    """Copy one pipe into the log until EOF; a trailing partial line is kept whole."""
    pending = b""
    while chunk := await reader.read(READ_CHUNK):
        if fanout is not None:
            fanout.publish(stream, chunk)
        pending += chunk
        cut = pending.rfind(b"\n")
        if cut >= 0:
            await writer.write(format_lines(stream, pending[: cut + 1]))
            pending = pending[cut + 1 :]
    if pending:
        await writer.write(format_lines(stream, pending + b"\n"))


# ---- images --------------------------------------------------------------------------


def image_candidates(image: str) -> list[str]:
    """Directory names an image reference may be stored under, most specific first."""
    ref = image.split("@", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    names = [ref]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        names.append(ref.rsplit(":", 1)[0])
    else:
        names.append(ref + ":latest")
    return names


def find_image(image_dir: Path | None, image: str, has_command: bool) -> ImageInfo:
    """The stored image, or the host filesystem for a container that names its command."""
    if image_dir is not None:
        for name in image_candidates(image):
            base = image_dir / name
            if (base / "rootfs").is_dir():
                return _stored_image(image, base)
    if not has_command:
        raise ImagePullError(
            f'image "{image}" is not in the local image store ({image_dir}) and the container '
            "has no command or args to run from the host filesystem (import the image with "
            "`tinykube image import`, or give the container a command)"
        )
    digest = hashlib.sha256(f"host:{image}".encode()).hexdigest()
    return ImageInfo(ref=image, image_id=f"sha256:{digest}")


def _stored_image(image: str, base: Path) -> ImageInfo:
    config: dict[str, object] = {}
    config_path = base / "config.json"
    if config_path.exists():
        doc = json.loads(config_path.read_text())
        config = doc.get("config") or doc if isinstance(doc, dict) else {}
    digest_path = base / "digest"
    if digest_path.exists():
        image_id = digest_path.read_text().strip()
    else:
        image_id = "sha256:" + hashlib.sha256(str(base).encode()).hexdigest()
    return ImageInfo(
        ref=image,
        image_id=image_id,
        rootfs=base / "rootfs",
        entrypoint=list(config.get("Entrypoint") or []),  # type: ignore[call-overload]
        cmd=list(config.get("Cmd") or []),  # type: ignore[call-overload]
        env=list(config.get("Env") or []),  # type: ignore[call-overload]
        working_dir=str(config.get("WorkingDir") or ""),
    )


def container_argv(command: list[str], args: list[str], image: ImageInfo) -> list[str]:
    """Kubernetes' rule: ``command`` replaces the entrypoint, ``args`` replace the cmd."""
    if command:
        return command + args
    return image.entrypoint + (args or image.cmd)


# ---- a container's stdio -------------------------------------------------------------


class ContainerIO:
    """What the runtime holds of one container's stdio, for logs and for attach.

    Without ``tty`` the process gets pipes: stdout and stderr, and a stdin pipe
    only with ``stdin`` (otherwise /dev/null, as CRI runtimes do). With ``tty``
    its stdin, stdout and stderr are the slave side of a new terminal and the
    runtime keeps the master side: output is read from it, input written to
    it, resizes set its window size.
    """

    def __init__(self, tty: bool, stdin: bool) -> None:
        self.tty = tty
        self.stdin = stdin
        self.fanout = OutputFanout()
        self.master: int | None = None
        self._slave: int | None = None
        self._pipe: asyncio.StreamWriter | None = None
        self.stdin_closed = False

    def spawn_args(self) -> dict[str, int]:
        """The ``stdin``/``stdout``/``stderr`` arguments of ``create_subprocess_exec``."""
        if self.tty:
            self.master, self._slave = os.openpty()
            return {"stdin": self._slave, "stdout": self._slave, "stderr": self._slave}
        stdin = asyncio.subprocess.PIPE if self.stdin else asyncio.subprocess.DEVNULL
        return {
            "stdin": stdin,
            "stdout": asyncio.subprocess.PIPE,
            "stderr": asyncio.subprocess.PIPE,
        }

    def spawned(self, proc: asyncio.subprocess.Process | None) -> None:
        """The process started (or, with None, failed to): drop our copy of the slave side."""
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        if proc is None:
            self.release()
            return
        self._pipe = proc.stdin

    def readers(self, proc: asyncio.subprocess.Process) -> list[tuple[asyncio.StreamReader, str]]:
        if self.master is not None:
            return [(pty_reader(self.master), "stdout")]
        assert proc.stdout is not None and proc.stderr is not None
        return [(proc.stdout, "stdout"), (proc.stderr, "stderr")]

    async def write(self, data: bytes) -> None:
        if self.stdin_closed or not self.stdin:
            return
        if self.master is not None:
            with contextlib.suppress(OSError):
                await _write_all(self.master, data)
            return
        pipe = self._pipe
        if pipe is not None and not pipe.is_closing():
            pipe.write(data)
            with contextlib.suppress(ConnectionError):
                await pipe.drain()

    async def close_stdin(self) -> None:
        """No more input, ever (``stdinOnce``): the pipe is closed; a terminal stays open."""
        self.stdin_closed = True
        if self._pipe is not None and not self._pipe.is_closing():
            self._pipe.close()

    def resize(self, width: int, height: int) -> None:
        if self.master is None:
            return
        with contextlib.suppress(OSError, struct.error):
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def release(self) -> None:
        """The container's output ended: end every attached client and free the terminal."""
        self.fanout.end()
        if self._pipe is not None and not self._pipe.is_closing():
            self._pipe.close()
        if self.master is not None:
            stop_reading(self.master)
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None

    def attach(self) -> Attached:
        return Attached(self)


async def _write_all(fd: int, data: bytes) -> None:
    """Write to a non-blocking terminal, waiting while its input queue is full."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await asyncio.sleep(0.01)


class Attached:
    """One client's view of a ``ContainerIO`` (the runtime's ``Attachment``)."""

    def __init__(self, io: ContainerIO) -> None:
        self._io = io
        self.tty = io.tty
        self.stdin = io.stdin
        self._queue = io.fanout.subscribe()

    async def read(self) -> Chunk | None:
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        await self._io.write(data)

    async def close_stdin(self) -> None:
        await self._io.close_stdin()

    def resize(self, width: int, height: int) -> None:
        self._io.resize(width, height)

    def close(self) -> None:
        self._io.fanout.unsubscribe(self._queue)
