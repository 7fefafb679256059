"""SPDY/3.1 upgrades of ``pods/exec``, ``pods/attach`` and ``pods/portforward``.

WebSockets became kubectl's default for exec, attach and cp in 1.30 and for
port-forward in 1.31; before that (and later, with
``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`` or
``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``) kubectl sends an HTTP request
with ``Upgrade: SPDY/3.1`` and its protocol versions in repeated
``X-Stream-Protocol-Version`` headers, and after the ``101`` multiplexes
SPDY streams over the raw connection. The kubelet here speaks only
WebSockets, so the API server does what upstream's does in the other
direction: it opens the kubelet's WebSocket and translates.

- exec and attach (``v5``/``v4.channel.k8s.io``; over SPDY the two are the
  same protocol): the client opens one stream per channel, named by its
  ``streamtype`` header (error, stdin, stdout, stderr, resize). Each is
  accepted with a SYN_REPLY. Once all the streams the request implies are
  open, the kubelet's channel messages become data on the matching stream,
  and stdin and resize data become channel messages; a half-closed stdin
  stream becomes the v5 close signal. When the kubelet closes, every
  output stream is half-closed, which is how the client learns the command
  is over.
- port-forward (``portforward.k8s.io``): the kubelet already serves SPDY
  tunnelled in WebSocket binary messages, so the bytes are copied as they
  are and the SPDY session runs end to end between kubectl and the kubelet.

aiohttp upgrades only to WebSocket by itself; after the ``101`` this module
takes the connection's bytes through the protocol's payload-parser slot,
the hook aiohttp's own WebSocket reader uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiohttp
from aiohttp import web

from tinykube.api import errors, spdy

log = logging.getLogger(__name__)

REMOTE_COMMAND = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORT_FORWARD = ("portforward.k8s.io",)
TUNNEL = "SPDY/3.1+portforward.k8s.io"

STREAM_CREATION_TIMEOUT = 30.0  # the kubelet's wait for a client's streams
CLOSE_WAIT = 5.0  # after the last stream is half-closed, for the client to hang up
PAUSE_AT, RESUME_AT = 64, 8  # chunks queued from the client: transport flow control
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHANNELS = {"stdout": STDOUT, "stderr": STDERR, "error": ERROR}


def requested(request: web.Request) -> bool:
    """Whether the request asks for a SPDY connection (not a WebSocket)."""
    connection = request.headers.get("Connection", "").lower()
    upgrade = request.headers.get("Upgrade", "").lower()
    return "upgrade" in connection and upgrade.startswith("spdy/")


def negotiate(request: web.Request, supported: tuple[str, ...]) -> str:
    """The first of the client's protocol versions this server speaks, as httpstream
    picks it; no common one is a 403 naming both lists."""
    offered = [
        p.strip()
        for value in request.headers.getall("X-Stream-Protocol-Version", [])
        for p in value.split(",")
        if p.strip()
    ]
    chosen = next((p for p in offered if p in supported), "")
    if not chosen:
        raise errors.Forbidden(
            "unable to upgrade: unable to negotiate protocol: "
            f"client supports [{' '.join(offered)}], server accepts [{' '.join(supported)}]"
        )
    return chosen


class _Feed:
    """Stands in aiohttp's payload-parser slot: the raw bytes after the ``101``."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport = transport
        self.paused = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        if not self.paused and self.queue.qsize() >= PAUSE_AT:
            self.paused = True
            self.transport.pause_reading()
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(b"")


class Upgraded:
    """The client's connection after ``101 Switching Protocols``: raw bytes both ways."""

    def __init__(self, request: web.Request) -> None:
        protocol, transport = request.protocol, request.transport
        assert protocol is not None and transport is not None
        self._protocol, self._transport = protocol, transport
        self._feed = _Feed(transport)  # type: ignore[arg-type]
        protocol.set_parser(self._feed)  # type: ignore[arg-type]
        self.eof = False

    async def read(self) -> bytes:
        """The next chunk, or ``b""`` once the client has closed."""
        if self.eof:
            return b""
        chunk = await self._feed.queue.get()
        if self._feed.paused and self._feed.queue.qsize() <= RESUME_AT:
            self._feed.paused = False
            with contextlib.suppress(Exception):
                self._transport.resume_reading()
        self.eof = not chunk
        return chunk

    def write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    async def drain(self) -> None:
        await self._protocol._drain_helper()

    def close(self) -> None:
        self._protocol.force_close()
        self._transport.close()


async def switch(request: web.Request, protocol: str) -> tuple[web.StreamResponse, Upgraded]:
    """Answer ``101`` with the chosen protocol version and take over the connection."""
    resp = web.StreamResponse(
        status=101,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": protocol,
        },
    )
    await resp.prepare(request)
    return resp, Upgraded(request)


# ---- port-forward: the bytes as they are --------------------------------------------


async def relay_portforward(
    request: web.Request, upstream: aiohttp.ClientWebSocketResponse, protocol: str
) -> web.StreamResponse:
    """Copy raw SPDY bytes between the client and the kubelet's tunnel."""
    resp, conn = await switch(request, protocol)

    async def up() -> None:
        while chunk := await conn.read():
            await upstream.send_bytes(chunk)

    async def down() -> None:
        async for msg in upstream:
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            conn.write(msg.data)
            await conn.drain()

    await _first_done(up(), down())
    conn.close()
    return resp


async def _first_done(*coros: Any) -> None:
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---- exec and attach: streams to channels -------------------------------------------


def expected_streams(query: Any) -> set[str]:
    """The streams a request implies, as the kubelet counts them."""

    def on(name: str) -> bool:
        return (query.get(name) or "").lower() in ("1", "true")

    tty = on("tty")
    streams = {"error"}
    streams |= {"stdin"} if on("stdin") else set()
    streams |= {"stdout"} if on("stdout") else set()
    streams |= {"stderr"} if on("stderr") and not tty else set()
    streams |= {"resize"} if tty else set()
    return streams


class RemoteCommand:
    """One exec or attach: the client's SPDY streams on one side, the kubelet's channels
    on the other."""

    def __init__(
        self,
        conn: Upgraded,
        upstream: aiohttp.ClientWebSocketResponse,
        expected: set[str],
    ) -> None:
        self.conn, self.upstream, self.expected = conn, upstream, expected
        self.encoder, self.decoder = spdy.Encoder(), spdy.Decoder()
        self.by_type: dict[str, int] = {}  # streamtype -> stream id
        self.by_id: dict[int, str] = {}
        self.ready = asyncio.Event()
        self.resize = b""
        self.v5 = upstream.protocol == REMOTE_COMMAND[0]

    def send(self, frame: spdy.Frame) -> None:
        self.conn.write(self.encoder.encode(frame))

    async def run(self) -> None:
        await _first_done(self._from_client(), self._from_kubelet())
        for sid in self.by_id:
            if self.by_id[sid] in CHANNELS:
                self.send(spdy.Data(sid, b"", spdy.FLAG_FIN))
        with contextlib.suppress(Exception):
            await self.conn.drain()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT):
                while await self.conn.read():
                    pass
        self.conn.close()

    async def _from_client(self) -> None:
        while chunk := await self.conn.read():
            try:
                frames = self.decoder.feed(chunk)
            except spdy.ProtocolError as exc:
                log.info("exec over SPDY: dropping the connection: %s", exc)
                return
            for frame in frames:
                if await self._handle(frame) is False:
                    return

    async def _handle(self, frame: spdy.Frame) -> bool:
        match frame:
            case spdy.SynStream(sid, headers):
                kind = (headers.get("streamtype") or [""])[0]
                self.by_type[kind], self.by_id[sid] = sid, kind
                self.send(spdy.SynReply(sid, {}))
                if self.expected <= set(self.by_type):
                    self.ready.set()
            case spdy.Data(sid, data, flags):
                await self._data(self.by_id.get(sid, ""), data, bool(flags & spdy.FLAG_FIN))
            case spdy.RstStream(sid) if self.by_id.get(sid) == "stdin":
                await self._stdin_closed()
            case spdy.Ping(ping_id) if ping_id % 2 == 1:
                self.send(frame)
            case spdy.GoAway():
                return False
        return True

    async def _data(self, kind: str, data: bytes, fin: bool) -> None:
        if kind == "stdin":
            if data:
                await self.upstream.send_bytes(bytes([STDIN]) + data)
            if fin:
                await self._stdin_closed()
        elif kind == "resize":
            sizes, self.resize = split_json(self.resize + data)
            for size in sizes:
                await self.upstream.send_bytes(bytes([RESIZE]) + size)

    async def _stdin_closed(self) -> None:
        if self.v5:
            await self.upstream.send_bytes(bytes([CLOSE, STDIN]))

    async def _from_kubelet(self) -> None:
        try:
            async with asyncio.timeout(STREAM_CREATION_TIMEOUT):
                await self.ready.wait()
        except TimeoutError:
            log.info("exec over SPDY: the client did not open %s", sorted(self.expected))
            return
        async for msg in self.upstream:
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            if not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            kind = next((k for k, c in CHANNELS.items() if c == channel), "")
            sid = self.by_type.get(kind)
            if sid is not None and payload:
                self.send(spdy.Data(sid, payload))
                await self.conn.drain()


def split_json(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole JSON values from the front of a JSON stream split anywhere, and the rest."""
    out: list[bytes] = []
    decoder = json.JSONDecoder()
    text = buffer.decode(errors="replace")
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        try:
            _, end = decoder.raw_decode(text, pos)
        except ValueError:
            break
        out.append(text[pos:end].encode())
        pos = end
    return out, text[pos:].encode()


async def serve_remote_command(
    request: web.Request, upstream: aiohttp.ClientWebSocketResponse, protocol: str
) -> web.StreamResponse:
    """Run an exec or attach whose kubelet WebSocket is already open."""
    resp, conn = await switch(request, protocol)
    await RemoteCommand(conn, upstream, expected_streams(request.query)).run()
    return resp
