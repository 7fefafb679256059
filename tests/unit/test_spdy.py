"""SPDY/3.1 framing (api.spdy): frames, header compression, stream reassembly (pure)."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from tinykube.api import spdy

pytestmark = pytest.mark.unit

PF_HEADERS = {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]}

FRAMES = [
    spdy.Data(1, b"hello"),
    spdy.Data(3, b"", spdy.FLAG_FIN),
    spdy.Data(0x7FFFFFFF, bytes(range(256)) * 10),
    spdy.SynStream(1, PF_HEADERS),
    spdy.SynStream(5, {"a": ["1", "2"]}, associated_id=3, priority=7, slot=2, flags=spdy.FLAG_FIN),
    spdy.SynReply(1, {}),
    spdy.SynReply(3, {"status": ["200 OK"]}, spdy.FLAG_FIN),
    spdy.RstStream(7, spdy.CANCEL),
    spdy.Settings(((0, 7, 65536), (1, 4, 100))),
    spdy.Settings((), flags=1),
    spdy.Ping(1),
    spdy.Ping(0xFFFFFFFF),
    spdy.GoAway(9, spdy.GOAWAY_PROTOCOL_ERROR),
    spdy.HeadersFrame(3, {"x-extra": ["v"]}),
    spdy.WindowUpdate(1, 65536),
]


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: type(f).__name__)
def test_every_frame_round_trips(frame: spdy.Frame) -> None:
    assert spdy.Decoder().feed(spdy.Encoder().encode(frame)) == [frame]


def test_a_connection_round_trips_in_order() -> None:
    encoder, decoder = spdy.Encoder(), spdy.Decoder()
    wire = b"".join(encoder.encode(f) for f in FRAMES)
    assert decoder.feed(wire) == FRAMES


@pytest.mark.parametrize("seed", range(5))
def test_a_stream_split_anywhere_gives_the_same_frames(seed: int) -> None:
    # The Go framer writes field by field, so WebSocket messages cut frames anywhere.
    encoder = spdy.Encoder()
    wire = b"".join(encoder.encode(f) for f in FRAMES)
    rng = random.Random(seed)
    decoder, got, pos = spdy.Decoder(), [], 0
    while pos < len(wire):
        step = rng.choice([1, 2, 3, 5, 8, 13, 100, 4096])
        got += decoder.feed(wire[pos : pos + step])
        pos += step
    assert got == FRAMES


def test_one_byte_at_a_time() -> None:
    encoder = spdy.Encoder()
    wire = b"".join(encoder.encode(f) for f in FRAMES[:6])
    decoder = spdy.Decoder()
    got = [frame for i in range(len(wire)) for frame in decoder.feed(wire[i : i + 1])]
    assert got == FRAMES[:6]


def test_a_partial_frame_waits_for_the_rest() -> None:
    wire = spdy.Encoder().encode(spdy.Data(1, b"x" * 100))
    decoder = spdy.Decoder()
    assert decoder.feed(wire[:50]) == []
    assert decoder.feed(wire[50:]) == [spdy.Data(1, b"x" * 100)]


def test_data_frame_layout() -> None:
    assert spdy.Encoder().encode(spdy.Data(3, b"ab", spdy.FLAG_FIN)) == (
        b"\x00\x00\x00\x03\x01\x00\x00\x02ab"
    )


def test_control_frame_layout() -> None:
    # control bit + version 3, type 6 (PING), flags 0, length 4, id
    assert (
        spdy.Encoder().encode(spdy.Ping(1)) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
    )
    assert spdy.Encoder().encode(spdy.RstStream(5, spdy.CANCEL)) == (
        b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x05"
    )


# ---- header blocks -----------------------------------------------------------------


def test_the_dictionary_is_the_go_framers() -> None:
    # 1423 bytes without a trailing NUL; zlib names it by this Adler-32 in the stream header.
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")
    assert zlib.adler32(spdy.DICTIONARY) == 3821447106


def test_header_blocks_are_zlib_with_the_dictionary() -> None:
    block = spdy.Encoder().compress(PF_HEADERS)
    # FDICT set in the zlib header, followed by the dictionary's Adler-32.
    assert block[1] & 0x20
    assert struct.unpack(">I", block[2:6])[0] == zlib.adler32(spdy.DICTIONARY)
    raw = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(block)
    assert raw == spdy.encode_header_block(PF_HEADERS)
    assert spdy.decode_header_block(raw) == PF_HEADERS


def test_the_compression_context_spans_the_connection() -> None:
    encoder = spdy.Encoder()
    first = encoder.compress(PF_HEADERS)
    second = encoder.compress(PF_HEADERS)
    assert len(second) < len(first)  # no zlib header again, and the names are back-references
    inflater = zlib.decompressobj(zdict=spdy.DICTIONARY)
    assert spdy.decode_header_block(inflater.decompress(first)) == PF_HEADERS
    assert spdy.decode_header_block(inflater.decompress(second)) == PF_HEADERS


def test_header_block_layout_lowercases_names_and_joins_values() -> None:
    raw = spdy.encode_header_block({"Port": ["80"], "x": ["a", "b"]})
    assert raw == (
        b"\x00\x00\x00\x02"
        b"\x00\x00\x00\x04port\x00\x00\x00\x0280"
        b"\x00\x00\x00\x01x\x00\x00\x00\x03a\x00b"
    )
    assert spdy.decode_header_block(raw) == {"port": ["80"], "x": ["a", "b"]}


# ---- bad input -------------------------------------------------------------------------


def _control(kind: int, payload: bytes, flags: int = 0, version: int = 3) -> bytes:
    return struct.pack(">HHI", 0x8000 | version, kind, (flags << 24) | len(payload)) + payload


def _raw_block(pairs: list[tuple[bytes, bytes]]) -> bytes:
    out = struct.pack(">I", len(pairs))
    for name, value in pairs:
        out += struct.pack(">I", len(name)) + name + struct.pack(">I", len(value)) + value
    return out


def _syn_with_block(raw: bytes) -> bytes:
    deflater = zlib.compressobj(zdict=spdy.DICTIONARY)
    block = deflater.compress(raw) + deflater.flush(zlib.Z_SYNC_FLUSH)
    return _control(spdy.SYN_STREAM, struct.pack(">IIBB", 1, 0, 0, 0) + block)


BAD = {
    "unsupported version": _control(spdy.PING, b"\x00\x00\x00\x01", version=2),
    "unknown type": _control(5, b""),
    "ping of the wrong length": _control(spdy.PING, b"\x00\x00\x01"),
    "rst of the wrong length": _control(spdy.RST_STREAM, b"\x00\x00\x00\x01"),
    "rst with status 0": _control(spdy.RST_STREAM, struct.pack(">II", 1, 0)),
    "goaway of the wrong length": _control(spdy.GOAWAY, b"\x00\x00\x00\x01"),
    "window update of the wrong length": _control(spdy.WINDOW_UPDATE, b"\x00" * 4),
    "data on stream 0": struct.pack(">II", 0, 1) + b"x",
    "syn_stream too short": _control(spdy.SYN_STREAM, b"\x00\x00\x00\x01"),
    "syn_reply too short": _control(spdy.SYN_REPLY, b"\x00\x01"),
    "syn_reply for stream 0": _control(spdy.SYN_REPLY, b"\x00\x00\x00\x00"),
    "header block not zlib": _control(spdy.SYN_STREAM, struct.pack(">IIBB", 1, 0, 0, 0) + b"junk!"),
    "header block truncated": _syn_with_block(b"\x00\x00\x00\x02\x00\x00\x00\x04port"),
    "uppercase header name": _syn_with_block(_raw_block([(b"Port", b"80")])),
    "duplicate header": _syn_with_block(_raw_block([(b"port", b"80"), (b"port", b"81")])),
    "settings count mismatch": _control(spdy.SETTINGS, struct.pack(">I", 2) + b"\x00" * 8),
}


@pytest.mark.parametrize("wire", BAD.values(), ids=BAD.keys())
def test_bad_frames_are_rejected(wire: bytes) -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.Decoder().feed(wire)


def test_a_frame_longer_than_the_limit_is_rejected_before_it_is_buffered() -> None:
    decoder = spdy.Decoder(max_length=1024)
    with pytest.raises(spdy.ProtocolError):
        decoder.feed(struct.pack(">II", 1, 4096))  # only the header has arrived


def test_frames_before_a_bad_one_are_not_lost_silently() -> None:
    good = spdy.Encoder().encode(spdy.Ping(1))
    decoder = spdy.Decoder()
    assert decoder.feed(good) == [spdy.Ping(1)]
    with pytest.raises(spdy.ProtocolError):
        decoder.feed(BAD["unknown type"])


def test_oversized_payloads_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="too large"):
        spdy.Encoder().encode(spdy.Data(1, b"\x00" * (spdy.MAX_LENGTH + 1)))
