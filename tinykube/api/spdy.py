"""SPDY/3.1 frames: the wire format of ``kubectl port-forward`` (and of SPDY exec).

kubectl multiplexes every forwarded TCP connection over one upgraded
connection as a pair of SPDY streams (an "error" stream and a "data"
stream). Since Kubernetes 1.31 the SPDY bytes travel inside the binary
messages of a WebSocket whose subprotocol is ``SPDY/3.1+portforward.k8s.io``
("tunnelled SPDY"); the Go side writes a frame field by field, so one frame
may span many messages and one message may hold several frames. That is why
``Decoder`` is fed an arbitrary byte stream and returns whole frames.

Frame layout (big-endian). A control frame starts with the control bit, the
version (3) and a type, then flags (8 bits) and a length (24 bits); a data
frame starts with a 31-bit stream id, then flags and length. Name/value
header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are zlib streams primed with
the SPDY/3 dictionary; the compression context lives for the whole
connection, one per direction, so an ``Encoder``/``Decoder`` pair belongs to
exactly one connection and frames must be encoded in the order they are sent.

Flow control (WINDOW_UPDATE) is parsed but not enforced: the Go library
kubectl and the kubelet use (moby/spdystream) neither sends nor honours
windows, so a peer that waited for them would stall.

This module is pure (no I/O), a wire format beside ``api.protobuf``: the
kubelet's port-forward server, tkctl's port-forward client and the API
server's SPDY upgrades drive it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes.
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
UNSUPPORTED_VERSION = 4
CANCEL = 5
INTERNAL_ERROR = 6

# GOAWAY status codes.
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1
GOAWAY_INTERNAL_ERROR = 2

MAX_LENGTH = (1 << 24) - 1
STREAM_ID_MASK = 0x7FFFFFFF


_DICTIONARY_WORDS = (
    "options|head|post|put|delete|trace|accept|accept-charset|accept-encoding|"
    "accept-language|accept-ranges|age|allow|authorization|cache-control|connection|"
    "content-base|content-encoding|content-language|content-length|content-location|"
    "content-md5|content-range|content-type|date|etag|expect|expires|from|host|if-match|"
    "if-modified-since|if-none-match|if-range|if-unmodified-since|last-modified|location|"
    "max-forwards|pragma|proxy-authenticate|proxy-authorization|range|referer|retry-after|"
    "server|te|trailer|transfer-encoding|upgrade|user-agent|vary|via|warning|"
    "www-authenticate|method|get|status|200 OK|version|HTTP/1.1|url|public|set-cookie|"
    "keep-alive|origin"
)


def _dictionary() -> bytes:
    """The SPDY/3 header dictionary (draft 3, section 2.6.10.1), as Go's framer has it.

    It is a protocol constant: length-prefixed header names and values, then
    status codes, reason phrases, dates and common values as plain text. The
    Go library ends it without the trailing NUL that Chromium's copy has; the
    zlib stream names its dictionary by Adler-32, so the bytes must match Go's.
    """
    words = _DICTIONARY_WORDS.split("|")
    codes = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    )
    reasons = (
        "203 Non-Authoritative Information",
        "204 No Content",
        "301 Moved Permanently",
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "500 Internal Server Error",
        "501 Not Implemented",
        "503 Service Unavailable",
    )
    tail = (
        codes
        + "".join(reasons)
        + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        + "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,"
        + "application/xhtml+xml,text/plain,text/javascript,public"
        + "privatemax-age=gzip,deflate,sdch"
        + "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    prefixed = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    return prefixed + tail.encode()


DICTIONARY = _dictionary()

Headers = dict[str, list[str]]


class ProtocolError(Exception):
    """The peer sent something that is not valid SPDY/3; the connection cannot go on."""


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes = b""
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    associated_id: int = 0
    priority: int = 0
    slot: int = 0
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    # (flags, id, value) per entry
    entries: tuple[tuple[int, int, int], ...] = ()
    flags: int = 0


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


Frame = (
    Data | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate
)


# ---- header blocks -------------------------------------------------------------


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block; several values of a name are NUL-joined."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        key = name.lower().encode()
        value = "\x00".join(values).encode()
        out.append(struct.pack(">I", len(key)) + key + struct.pack(">I", len(value)) + value)
    return b"".join(out)


def decode_header_block(raw: bytes) -> Headers:
    """Parse an uncompressed block, rejecting what Go's framer rejects."""
    view = _Reader(raw)
    count = view.u32()
    headers: Headers = {}
    for _ in range(count):
        name = view.take(view.u32()).decode("latin-1")
        value = view.take(view.u32()).decode("latin-1")
        if name != name.lower():
            raise ProtocolError(f"header name {name!r} is not lowercase")
        if name in headers:
            raise ProtocolError(f"header {name!r} appears twice")
        headers[name] = value.split("\x00")
    if view.left():
        raise ProtocolError("trailing bytes after the header block")
    return headers


class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.pos = raw, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.raw):
            raise ProtocolError("header block is truncated")
        chunk = self.raw[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def left(self) -> int:
        return len(self.raw) - self.pos


# ---- encoding ------------------------------------------------------------------


def _control(kind: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError("control frame payload too large")
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


class Encoder:
    """Frames to bytes for one direction of one connection (it owns the compressor)."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, zdict=DICTIONARY
        )

    def compress(self, headers: Headers) -> bytes:
        block = encode_header_block(headers)
        return self._zlib.compress(block) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        match frame:
            case Data(stream_id, data, flags):
                if len(data) > MAX_LENGTH:
                    raise ValueError("data frame payload too large")
                head = struct.pack(">II", stream_id & STREAM_ID_MASK, (flags << 24) | len(data))
                return head + data
            case SynStream(sid, headers, assoc, priority, slot, flags):
                fixed = struct.pack(
                    ">IIBB", sid & STREAM_ID_MASK, assoc & STREAM_ID_MASK, (priority & 7) << 5, slot
                )
                return _control(SYN_STREAM, flags, fixed + self.compress(headers))
            case SynReply(sid, headers, flags):
                payload = struct.pack(">I", sid & STREAM_ID_MASK) + self.compress(headers)
                return _control(SYN_REPLY, flags, payload)
            case HeadersFrame(sid, headers, flags):
                payload = struct.pack(">I", sid & STREAM_ID_MASK) + self.compress(headers)
                return _control(HEADERS, flags, payload)
            case RstStream(sid, status):
                return _control(RST_STREAM, 0, struct.pack(">II", sid & STREAM_ID_MASK, status))
            case Settings(entries, flags):
                body = struct.pack(">I", len(entries)) + b"".join(
                    struct.pack(">II", (f << 24) | (i & 0xFFFFFF), v) for f, i, v in entries
                )
                return _control(SETTINGS, flags, body)
            case Ping(ping_id):
                return _control(PING, 0, struct.pack(">I", ping_id))
            case GoAway(last, status):
                return _control(GOAWAY, 0, struct.pack(">II", last & STREAM_ID_MASK, status))
            case WindowUpdate(sid, delta):
                payload = struct.pack(">II", sid & STREAM_ID_MASK, delta & STREAM_ID_MASK)
                return _control(WINDOW_UPDATE, 0, payload)
        raise TypeError(f"not a SPDY frame: {frame!r}")


# ---- decoding ------------------------------------------------------------------

# Control frame types whose payload has a fixed length.
_FIXED_LENGTH = {RST_STREAM: 8, PING: 4, GOAWAY: 8, WINDOW_UPDATE: 8}


class Decoder:
    """Bytes to frames for one direction of one connection (it owns the decompressor).

    ``feed`` takes whatever arrived and returns the frames it completes; a
    partial frame waits in the buffer for the next call. After a
    ``ProtocolError`` the decoder is unusable: the header compression state
    may be out of step with the peer's, so the connection must be dropped.
    """

    def __init__(self, max_length: int = MAX_LENGTH) -> None:
        self._buffer = bytearray()
        self._zlib = zlib.decompressobj(15, zdict=DICTIONARY)
        self._max = max_length

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            word, flags_length = struct.unpack_from(">II", self._buffer)
            flags, length = flags_length >> 24, flags_length & 0xFFFFFF
            if length > self._max:
                raise ProtocolError(f"frame of {length} bytes exceeds the limit")
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            if word & 0x80000000:
                frames.append(self._control(word, flags, payload))
            else:
                frames.append(self._data(word, flags, payload))
        return frames

    def _data(self, word: int, flags: int, payload: bytes) -> Data:
        stream_id = word & STREAM_ID_MASK
        if stream_id == 0:
            raise ProtocolError("data frame on stream 0")
        return Data(stream_id, payload, flags)

    def _control(self, word: int, flags: int, payload: bytes) -> Frame:
        version, kind = (word >> 16) & 0x7FFF, word & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        fixed = _FIXED_LENGTH.get(kind)
        if fixed is not None and len(payload) != fixed:
            raise ProtocolError(f"control frame type {kind} has length {len(payload)}")
        if kind == SYN_STREAM:
            return self._syn_stream(flags, payload)
        if kind in (SYN_REPLY, HEADERS):
            if len(payload) < 4:
                raise ProtocolError("frame too short for a stream id")
            sid = _stream_id(payload)
            headers = self.decompress(payload[4:])
            return (
                SynReply(sid, headers, flags)
                if kind == SYN_REPLY
                else HeadersFrame(sid, headers, flags)
            )
        if kind == RST_STREAM:
            sid, status = _stream_id(payload), struct.unpack_from(">I", payload, 4)[0]
            if status == 0:
                raise ProtocolError("RST_STREAM with status 0")
            return RstStream(sid, status)
        if kind == SETTINGS:
            return _settings(flags, payload)
        if kind == PING:
            return Ping(struct.unpack(">I", payload)[0])
        if kind == GOAWAY:
            last, status = struct.unpack(">II", payload)
            return GoAway(last & STREAM_ID_MASK, status)
        if kind == WINDOW_UPDATE:
            sid, delta = struct.unpack(">II", payload)
            return WindowUpdate(sid & STREAM_ID_MASK, delta & STREAM_ID_MASK)
        raise ProtocolError(f"unknown control frame type {kind}")

    def _syn_stream(self, flags: int, payload: bytes) -> SynStream:
        if len(payload) < 10:
            raise ProtocolError("SYN_STREAM too short")
        sid, assoc, prio, slot = struct.unpack_from(">IIBB", payload)
        sid &= STREAM_ID_MASK
        headers = self.decompress(payload[10:])
        if sid == 0:
            raise ProtocolError("SYN_STREAM for stream 0")
        return SynStream(sid, headers, assoc & STREAM_ID_MASK, prio >> 5, slot, flags)

    def decompress(self, block: bytes) -> Headers:
        try:
            raw = self._zlib.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"header block does not decompress: {exc}") from None
        return decode_header_block(raw)


def _stream_id(payload: bytes) -> int:
    sid = struct.unpack_from(">I", payload)[0] & STREAM_ID_MASK
    if sid == 0:
        raise ProtocolError("control frame for stream 0")
    return int(sid)


def _settings(flags: int, payload: bytes) -> Settings:
    if len(payload) < 4:
        raise ProtocolError("SETTINGS too short")
    count = struct.unpack_from(">I", payload)[0]
    if len(payload) != 4 + 8 * count:
        raise ProtocolError("SETTINGS length does not match its entry count")
    entries = []
    for i in range(count):
        head, value = struct.unpack_from(">II", payload, 4 + 8 * i)
        entries.append((head >> 24, head & 0xFFFFFF, value))
    return Settings(tuple(entries), flags)
