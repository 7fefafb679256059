"""``/portForward/<namespace>/<pod>`` on the kubelet: TCP connections into a pod.

The API server forwards ``pods/portforward`` here as a WebSocket and lets
the two ends agree on the subprotocol. Two protocols are spoken:

- ``SPDY/3.1+portforward.k8s.io`` (kubectl 1.31 and later): the WebSocket's
  binary messages carry a byte stream of SPDY frames (``api.spdy``). For
  each local connection kubectl opens an "error" stream and a "data" stream
  with the same ``requestid`` header and the remote ``port``; once both are
  here the kubelet dials the pod and copies bytes between the data stream
  and the socket. A failure is written as text on the error stream; both
  streams are then half-closed, which is how kubectl learns the connection
  is over. Many connections share one WebSocket.
- ``v4.channel.k8s.io`` (and its base64 twin; the Python client): the ports
  come from the ``port`` query parameter; port i owns channel 2i (data) and
  2i+1 (error), each opened by a frame carrying the port as two bytes, little
  endian. One connection per port per WebSocket.

The dial goes to the pod's IP, which the kubelet knows from the sandbox
(a bridge address as root, a loopback address in the non-root fallback); no
container is involved. As containerd does, once the pod side has closed the
other direction gets a short grace before everything is torn down, so a
client can still read what the pod sent last.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from tinykube.api import spdy
from tinykube.kubelet import nsconnect

if TYPE_CHECKING:
    from tinykube.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
V4_BINARY = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
PROTOCOLS = (TUNNEL_PROTOCOL, V4_BINARY, V4_BASE64)

STREAM_CREATION_TIMEOUT = 30.0  # both streams of a pair must arrive within this
DIAL_TIMEOUT = 10.0
CLOSE_GRACE = 1.0  # after the pod closes, as containerd waits for the other direction
READ_CHUNK = 32 * 1024


@dataclass
class Target:
    """Where forwarded connections go, and the names an error message carries."""

    ip: str
    sandbox_id: str
    netns: str = ""  # the pod's network namespace; "" when it shares the host's

    def address(self, port: int) -> str:
        return f"[{self.ip}]:{port}" if ":" in self.ip else f"{self.ip}:{port}"

    async def dial(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect, or raise ``OSError`` with the message the client will print.

        In a pod of its own network, the connection goes to the pod's localhost
        from inside that namespace (as containerd does); otherwise to its IP.
        """
        try:
            async with asyncio.timeout(DIAL_TIMEOUT):
                if self.netns:
                    return await nsconnect.open_connection(self.netns, port, DIAL_TIMEOUT)
                return await asyncio.open_connection(self.ip, port)
        except (OSError, TimeoutError) as exc:
            code = getattr(exc, "errno", None)
            why = os.strerror(code).lower() if code else "i/o timeout"
            family = "tcp6" if ":" in self.ip else "tcp4"
            raise OSError(
                code or errno.ETIMEDOUT,
                f"failed to connect to {self.address(port)} in pod sandbox {self.sandbox_id}: "
                f"dial {family} {self.address(port)}: connect: {why}",
            ) from None

    def failure(self, port: int, exc: OSError) -> str:
        # The kubelet's wording; with a CRI runtime the "pod" is the sandbox and uid is empty.
        return f"error forwarding port {port} to pod {self.sandbox_id}, uid : {exc.strerror}"


def handler(kubelet: Kubelet) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route's handler, bound to this kubelet."""

    async def portforward(request: web.Request) -> web.StreamResponse:
        return await serve_portforward(kubelet, request)

    return portforward


async def serve_portforward(kubelet: Kubelet, request: web.Request) -> web.StreamResponse:
    from tinykube.kubelet.server import status_response

    ns, name = request.match_info["namespace"], request.match_info["pod"]
    worker = kubelet.find_worker(ns, name)
    if worker is None:
        return status_response(404, "NotFound", "pod does not exist")
    if not worker.sandbox_id or not worker.pod_ip:
        uid = worker.pod["metadata"].get("uid", "")
        return status_response(
            500, "InternalError", f"failed to find sandboxID for pod {name}_{ns}({uid})"
        )
    netns = ""
    with contextlib.suppress(Exception):
        netns = (await kubelet.runtime.pod_sandbox_status(worker.sandbox_id)).netns
    target = Target(worker.pod_ip, worker.sandbox_id, netns)
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    chosen = next((p for p in offered if p in PROTOCOLS), "")
    ports: list[int] = []
    if chosen != TUNNEL_PROTOCOL:
        try:
            ports = query_ports(request.query.getall("port", []))
        except ValueError as exc:
            return status_response(400, "BadRequest", str(exc))
    ws = web.WebSocketResponse(protocols=[chosen] if chosen else ())
    if not ws.can_prepare(request).ok:
        return status_response(400, "BadRequest", "Upgrade request required")
    await ws.prepare(request)
    try:
        if chosen == TUNNEL_PROTOCOL:
            await TunnelSession(ws, target).run()
        else:
            await serve_channels(ws, target, ports, text=chosen == V4_BASE64)
    finally:
        await ws.close()
    return ws


def query_ports(values: list[str]) -> list[int]:
    """The ``port`` parameters (repeated or comma-separated), checked as the kubelet does."""
    if not values:
        raise ValueError('query parameter "port" is required')
    ports = []
    for value in values:
        if not value:
            raise ValueError('query parameter "port" cannot be empty')
        for part in value.split(","):
            if not part.isdigit() or int(part) > 65535:
                raise ValueError(f'unable to parse "{value}" as a port')
            if int(part) < 1:
                raise ValueError(f'port "{value}" must be > 0')
            ports.append(int(part))
    return ports


# ---- copying -------------------------------------------------------------------


async def pump(
    dial: Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]],
    incoming: asyncio.Queue[bytes | None],
    send: Callable[[bytes], Awaitable[None]],
    finish: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Copy between one client stream and one pod connection until either side ends.

    ``incoming`` yields the client's bytes and ``None`` at its end of data;
    ``send`` writes toward the client, ``finish`` ends that direction, and
    ``stop`` is set when the client abandons the stream (RST_STREAM, or the
    WebSocket going away).
    """
    reader, writer = await dial()

    async def upstream() -> None:
        while (chunk := await incoming.get()) is not None:
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # the client is done sending: half-close toward the pod

    async def downstream() -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(READ_CHUNK):
                await send(chunk)
        await finish()

    tasks = [asyncio.ensure_future(f()) for f in (upstream, downstream, stop.wait)]
    up, down, stopped = tasks
    try:
        await asyncio.wait([down, stopped], return_when=asyncio.FIRST_COMPLETED)
        if not stopped.done():
            await asyncio.wait([up, stopped], timeout=CLOSE_GRACE)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# ---- SPDY over WebSocket ---------------------------------------------------------


@dataclass
class _Stream:
    sid: int
    headers: spdy.Headers
    incoming: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    reset: asyncio.Event = field(default_factory=asyncio.Event)
    sent_fin: bool = False

    def header(self, name: str) -> str:
        return (self.headers.get(name) or [""])[0]


@dataclass
class _Pair:
    request_id: str
    data: _Stream | None = None
    error: _Stream | None = None
    complete: asyncio.Event = field(default_factory=asyncio.Event)


class TunnelSession:
    """The server end of one tunnelled SPDY connection (kubectl's ``httpstream`` peer)."""

    def __init__(self, ws: web.WebSocketResponse, target: Target) -> None:
        self.ws = ws
        self.target = target
        self.encoder = spdy.Encoder()
        self.decoder = spdy.Decoder()
        self.streams: dict[int, _Stream] = {}
        self.pairs: dict[str, _Pair] = {}
        self.last_stream_id = 0
        self.gone_away = False
        self.write_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, frame: spdy.Frame) -> None:
        # One lock around encode+send: header compression state must follow wire order.
        async with self.write_lock:
            await self.ws.send_bytes(self.encoder.encode(frame))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            try:
                await self._read(group)
            finally:
                for stream in self.streams.values():
                    stream.reset.set()
                for task in self.tasks:
                    task.cancel()

    async def _read(self, group: asyncio.TaskGroup) -> None:
        async for msg in self.ws:
            if msg.type != WSMsgType.BINARY:
                return
            try:
                frames = self.decoder.feed(msg.data)
            except spdy.ProtocolError as exc:
                log.info("port-forward: dropping connection: %s", exc)
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.send(spdy.GoAway(self.last_stream_id, spdy.GOAWAY_PROTOCOL_ERROR))
                return
            for frame in frames:
                await self._handle(frame, group)

    def _spawn(self, group: asyncio.TaskGroup, coro: Awaitable[None]) -> None:
        task = group.create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, frame: spdy.Frame, group: asyncio.TaskGroup) -> None:
        match frame:
            case spdy.SynStream():
                await self._open(frame, group)
            case spdy.Data(sid, data, _):
                stream = self.streams.get(sid)
                if stream is not None:
                    if data:
                        stream.incoming.put_nowait(data)
                    if frame.fin:
                        stream.incoming.put_nowait(None)
            case spdy.RstStream(sid, _):
                stream = self.streams.pop(sid, None)
                if stream is not None:
                    stream.reset.set()
                    stream.incoming.put_nowait(None)
            case spdy.Ping(ping_id) if ping_id % 2 == 1:
                await self.send(frame)  # the client's ping (odd id): echo it
            case spdy.GoAway():
                self.gone_away = True
            case _:
                pass  # SETTINGS, WINDOW_UPDATE, HEADERS, our own ping's echo: nothing to do

    async def _open(self, frame: spdy.SynStream, group: asyncio.TaskGroup) -> None:
        sid = frame.stream_id
        if self.gone_away or sid % 2 == 0 or sid <= self.last_stream_id:
            await self.send(spdy.RstStream(sid, spdy.PROTOCOL_ERROR))
            return
        self.last_stream_id = sid
        stream = _Stream(sid, frame.headers)
        problem = _check_headers(stream)
        if problem:
            log.info("port-forward: stream rejected: %s", problem)
            await self.send(spdy.RstStream(sid, spdy.CANCEL))
            return
        self.streams[sid] = stream
        if frame.fin:
            stream.incoming.put_nowait(None)
        await self.send(spdy.SynReply(sid, {}))
        request_id = stream.header("requestid") or _legacy_request_id(stream)
        pair = self.pairs.get(request_id)
        if pair is None:
            pair = self.pairs[request_id] = _Pair(request_id)
            self._spawn(group, self._expire(pair))
        kind = stream.header("streamtype")
        if getattr(pair, kind) is not None:
            message = (
                f"error processing stream for request {request_id}: {kind} stream already assigned"
            )
            await self._write_error(pair, message)
            return
        setattr(pair, kind, stream)
        if pair.data is not None and pair.error is not None:
            pair.complete.set()
            self._spawn(group, self._forward(pair))

    async def _expire(self, pair: _Pair) -> None:
        """A pair whose second stream never comes is dropped, with a word on its error stream."""
        try:
            async with asyncio.timeout(STREAM_CREATION_TIMEOUT):
                await pair.complete.wait()
        except TimeoutError:
            message = f"(request={pair.request_id}) timed out waiting for streams"
            await self._write_error(pair, message)
            if pair.error is not None:
                await self._fin(pair.error)
        finally:
            self.pairs.pop(pair.request_id, None)

    async def _forward(self, pair: _Pair) -> None:
        data, error = pair.data, pair.error
        assert data is not None and error is not None
        port = int(data.header("port"))
        try:
            await pump(
                lambda: self.target.dial(port),
                data.incoming,
                lambda chunk: self._data(data, chunk),
                lambda: self._fin(data),
                data.reset,
            )
        except OSError as exc:
            log.info("port-forward: %s", self.target.failure(port, exc))
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._data(error, self.target.failure(port, exc).encode())
        except Exception:  # one connection's failure must not end the others
            log.exception("port-forward: request %s failed", pair.request_id)
        finally:
            # As the kubelet's deferred closes do: the error stream first, then the data stream.
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._fin(error)
                await self._fin(data)
            self.streams.pop(data.sid, None)
            self.streams.pop(error.sid, None)

    async def _write_error(self, pair: _Pair, message: str) -> None:
        if pair.error is not None:
            await self._data(pair.error, message.encode())

    async def _data(self, stream: _Stream, chunk: bytes) -> None:
        if not stream.reset.is_set() and not stream.sent_fin:
            await self.send(spdy.Data(stream.sid, chunk))

    async def _fin(self, stream: _Stream) -> None:
        if not stream.reset.is_set() and not stream.sent_fin:
            stream.sent_fin = True
            await self.send(spdy.Data(stream.sid, b"", spdy.FLAG_FIN))


def _check_headers(stream: _Stream) -> str:
    """Why a stream is refused, as the kubelet's ``httpStreamReceived`` says it, or ''."""
    port = stream.header("port")
    if not port:
        return '"port" header is required'
    if not port.isdigit() or int(port) > 65535:
        return f'unable to parse "{port}" as a port'
    if int(port) < 1:
        return f'port "{port}" must be > 0'
    kind = stream.header("streamtype")
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f'invalid stream type "{kind}"'
    return ""


def _legacy_request_id(stream: _Stream) -> str:
    # Clients older than the requestid header: the error stream comes first, the data
    # stream two ids later (the kubelet's best-effort pairing).
    offset = 0 if stream.header("streamtype") == "error" else 2
    return str(stream.sid - offset)


# ---- v4 channel protocol ---------------------------------------------------------


async def serve_channels(
    ws: web.WebSocketResponse, target: Target, ports: list[int], text: bool
) -> None:
    """One connection per port; ends when every port's connection has ended."""

    async def send(channel: int, payload: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            if text:
                await ws.send_str(str(channel) + base64.b64encode(payload).decode())
            else:
                await ws.send_bytes(bytes([channel]) + payload)

    queues: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
    stop = asyncio.Event()
    for i, port in enumerate(ports):
        await send(2 * i, port.to_bytes(2, "little"))
        await send(2 * i + 1, port.to_bytes(2, "little"))

    async def forward(i: int, port: int) -> None:
        async def deliver(chunk: bytes) -> None:
            await send(2 * i, chunk)

        async def finish() -> None:
            return None

        try:
            await pump(lambda: target.dial(port), queues[i], deliver, finish, stop)
        except OSError as exc:
            await send(2 * i + 1, target.failure(port, exc).encode())

    async def receive() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                channel, payload = (msg.data[0], msg.data[1:]) if msg.data else (-1, b"")
            elif msg.type == WSMsgType.TEXT and msg.data[:1].isdigit():
                channel, payload = int(msg.data[0]), base64.b64decode(msg.data[1:])
            else:
                continue
            if channel % 2 == 0 and 0 <= channel // 2 < len(ports) and payload:
                queues[channel // 2].put_nowait(payload)
        stop.set()

    reading = asyncio.ensure_future(receive())
    try:
        await asyncio.gather(*(forward(i, port) for i, port in enumerate(ports)))
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
