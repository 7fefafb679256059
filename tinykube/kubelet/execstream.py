"""``/exec`` on the kubelet: a command in a container, streamed over a WebSocket.

This is the remote-command protocol kubectl speaks (``v5.channel.k8s.io``,
and ``v4.channel.k8s.io`` for older clients): binary messages whose first
byte names a channel: 0 stdin (client to server), 1 stdout, 2 stderr, 3 the
final status (a ``metav1.Status`` JSON, ``NonZeroExitCode`` with the exit
code as a cause), 4 terminal resize (``{"Width":..,"Height":..}``), and in
v5, 255 "close": ``[255, 0]`` is the client's end of stdin. The API server
forwards ``pods/exec`` here; query parameters are the kubelet's
(``command`` repeated, ``input``/``output``/``error``/``tty``) or the API's
(``stdin``/``stdout``/``stderr``), both accepted.

With ``tty`` the process gets a pseudo-terminal: its output (stdout and
stderr together, as on a terminal) goes to channel 1, resizes set the
terminal's window size.

The protocol pieces (``upgrade``, ``send``, ``client_frames``,
``parse_resize``, the status bodies) are shared with ``/attach``
(``tinykube.kubelet.attach``), which speaks the same channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import struct
import termios
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from tinykube.kubelet.runtime.interface import ExecProcess, RuntimeError_

if TYPE_CHECKING:
    from tinykube.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
READ_CHUNK = 32 * 1024


def flag(query: Any, *names: str) -> bool:
    return any((query.get(n) or "").lower() in ("1", "true") for n in names)


SUCCESS: dict[str, Any] = {"metadata": {}, "status": "Success"}


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    if code == 0:
        return SUCCESS
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f"command terminated with non-zero exit code: command '{' '.join(command)}' "
            f"exited with {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}


async def upgrade(request: web.Request) -> web.WebSocketResponse | web.Response:
    """The WebSocket of a stream request, or the error answer for a plain HTTP one."""
    from tinykube.kubelet.server import status_response

    ws = web.WebSocketResponse(protocols=PROTOCOLS)
    if not ws.can_prepare(request).ok:
        return status_response(400, "BadRequest", "Upgrade request required")
    await ws.prepare(request)
    return ws


async def client_frames(ws: web.WebSocketResponse) -> AsyncIterator[tuple[int, bytes]]:
    """``(channel, payload)`` of each binary frame the client sends, until it closes."""
    async for msg in ws:
        if msg.type == WSMsgType.BINARY and msg.data:
            yield msg.data[0], msg.data[1:]


def parse_resize(payload: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a channel-4 message, or None if it is malformed."""
    try:
        size = orjson.loads(payload)
        return int(size["Width"]), int(size["Height"])
    except (ValueError, KeyError, TypeError):
        return None


async def serve_exec(kubelet: Kubelet, request: web.Request) -> web.StreamResponse:
    from tinykube.kubelet.server import status_response

    ns, pod_name = request.match_info["namespace"], request.match_info["pod"]
    name = request.match_info["container"]
    command = request.query.getall("command", [])
    worker = kubelet.find_worker(ns, pod_name)
    if worker is None:
        return status_response(404, "NotFound", f'pods "{pod_name}" not found')
    cid = worker.container_ids.get(name)
    if not command or cid is None:
        return status_response(
            400, "BadRequest", f'container "{name}" in pod "{pod_name}" is not running'
        )
    ws = await upgrade(request)
    if isinstance(ws, web.Response):
        return ws
    tty = flag(request.query, "tty")
    try:
        session = await kubelet.runtime.exec(cid, command, tty)
    except (RuntimeError_, OSError) as exc:
        await send(ws, ERROR, orjson.dumps(failure(str(exc))))
        await ws.close()
        return ws
    try:
        code = await _stream(ws, session, flag(request.query, "input", "stdin"))
        await send(ws, ERROR, orjson.dumps(exit_status(code, command)))
    finally:
        await _reap(session)
        await ws.close()
    return ws


async def send(ws: web.WebSocketResponse, channel: int, data: bytes) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_bytes(bytes([channel]) + data)


async def _stream(ws: web.WebSocketResponse, session: ExecProcess, stdin: bool) -> int:
    """Pump the streams until the process exits; its exit code."""
    proc = session.process
    async with asyncio.TaskGroup() as tg:
        input_task = tg.create_task(_from_client(ws, session, stdin))
        outputs = []
        if session.pty_master is not None:
            outputs.append(tg.create_task(_pump_pty(ws, session.pty_master)))
        else:
            assert proc.stdout is not None and proc.stderr is not None
            outputs.append(tg.create_task(_pump(ws, proc.stdout, STDOUT)))
            outputs.append(tg.create_task(_pump(ws, proc.stderr, STDERR)))
        code = await proc.wait()
        await asyncio.gather(*outputs)
        input_task.cancel()
    return 128 - code if code < 0 else code


async def _pump(ws: web.WebSocketResponse, reader: asyncio.StreamReader, channel: int) -> None:
    while chunk := await reader.read(READ_CHUNK):
        await send(ws, channel, chunk)


async def _pump_pty(ws: web.WebSocketResponse, master: int) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, READ_CHUNK)
        except OSError:
            data = b""  # EIO: the terminal's last user is gone
        if not data:
            loop.remove_reader(master)
        queue.put_nowait(data)

    loop.add_reader(master, readable)
    try:
        while data := await queue.get():
            await send(ws, STDOUT, data)
    finally:
        loop.remove_reader(master)


async def _from_client(ws: web.WebSocketResponse, session: ExecProcess, stdin: bool) -> None:
    proc = session.process
    async for channel, payload in client_frames(ws):
        if channel == STDIN and stdin:
            await _write_stdin(session, payload)
        elif channel == RESIZE and session.pty_master is not None:
            _resize(session.pty_master, payload)
        elif channel == CLOSE and payload[:1] == bytes([STDIN]):
            if session.pty_master is not None:
                await _write_stdin(session, b"\x04")
            elif proc.stdin is not None:
                proc.stdin.close()
    if proc.stdin is not None and session.pty_master is None:
        proc.stdin.close()


async def _write_stdin(session: ExecProcess, data: bytes) -> None:
    if session.pty_master is not None:
        await asyncio.to_thread(os.write, session.pty_master, data)
        return
    stdin = session.process.stdin
    if stdin is not None and not stdin.is_closing():
        stdin.write(data)
        with contextlib.suppress(ConnectionError):
            await stdin.drain()


def _resize(master: int, payload: bytes) -> None:
    size = parse_resize(payload)
    if size is None:
        return
    with contextlib.suppress(OSError, struct.error):
        packed = struct.pack("HHHH", size[1], size[0], 0, 0)
        fcntl.ioctl(master, termios.TIOCSWINSZ, packed)


async def _reap(session: ExecProcess) -> None:
    proc = session.process
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
    if session.pty_master is not None:
        with contextlib.suppress(OSError):
            os.close(session.pty_master)
