"""tkctl's HTTP/1.1 reader: body framing, headers, reuse, and Warning header texts."""

from __future__ import annotations

import io

import pytest

from tinykube.kubectl import http11
from tinykube.kubectl.transport import warning_text


class FakeConnection:
    """What ``Response`` needs from a connection: the stream and the end-of-body call."""

    def __init__(self, raw: bytes) -> None:
        self.fp = io.BufferedReader(io.BytesIO(raw))  # type: ignore[arg-type]
        self.ended: list[bool] = []

    def finished(self, close: bool) -> None:
        self.ended.append(close)


def response(raw: bytes, method: str = "GET") -> tuple[http11.Response, FakeConnection]:
    conn = FakeConnection(raw)
    return http11.Response(conn, method), conn  # type: ignore[arg-type]


def test_content_length_body_and_repeated_headers() -> None:
    resp, conn = response(
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nWarning: 299 - "a"\r\n'
        b'warning: 299 - "b"\r\n\r\nhello'
    )
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.header_values("Warning") == ['299 - "a"', '299 - "b"']
    assert resp.read() == b"hello"
    assert conn.ended == [False]  # reusable


def test_chunked_body_is_read_piece_by_piece() -> None:
    resp, conn = response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3;ext=1\r\n:1}\r\n0\r\nTrailer: x\r\n\r\n'
    )
    assert resp.read1(100) == b'{"a"'
    assert resp.read1(100) == b":1}"
    assert resp.read1(100) == b""
    assert conn.ended == [False]


def test_body_until_close_and_connection_close() -> None:
    resp, conn = response(b"HTTP/1.0 200 OK\r\n\r\nrest of it")
    assert resp.read() == b"rest of it"
    assert conn.ended == [True]
    resp, conn = response(
        b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert resp.status == 404
    assert resp.read() == b"{}"
    assert conn.ended == [True]


def test_no_body_for_head_and_204() -> None:
    resp, _ = response(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert resp.read() == b""
    resp, _ = response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", method="HEAD")
    assert resp.read() == b""


def test_closed_kept_alive_connection_is_a_disconnect() -> None:
    with pytest.raises(http11.Disconnected):
        response(b"")
    with pytest.raises(http11.ProtocolError):
        response(b"SSH-2.0-OpenSSH\r\n\r\n")
    resp, _ = response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(http11.ProtocolError):
        resp.read()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ('299 - "unknown field \\"spec.x\\""', 'unknown field "spec.x"'),
        ('  299   kube-apiserver   "deprecated" "Wed, 01 Jan 2025"', "deprecated"),
        ('199 - "other code"', None),
        ("299 - unquoted", None),
        ('299 - "unterminated', None),
    ],
)
def test_warning_header_text(value: str, text: str | None) -> None:
    assert warning_text(value) == text
