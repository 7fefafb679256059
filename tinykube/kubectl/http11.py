"""A minimal blocking HTTP/1.1 client over ``socket`` and ``ssl``, for tkctl.

Why not ``http.client``? Importing it pulls in the ``email`` package to parse
headers, which alone costs tkctl about a sixth of the real kubectl's whole
run time. tkctl talks to one API server with a handful of requests, so it
needs little of HTTP: one request at a time on a kept-alive connection,
bodies framed by ``Content-Length``, ``chunked`` or the end of the
connection, and header lines read as they come. That is this module.

``Connection.request`` sends a request and returns a ``Response`` whose
status line and headers have been read; the body is read by the caller,
either whole (``read``) or piece by piece as the server sends it (``read1``,
for watches and ``logs -f``). A connection may be reused once the previous
body has been read to its end and the server did not ask to close it.
A kept-alive connection the server closed meanwhile shows up as
``Disconnected`` before any byte of the answer, so the caller can send once
more on a fresh connection, as ``http.client`` users do with
``RemoteDisconnected``.
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    import io
    import ssl


MAX_LINE = 65536
MAX_HEADERS = 100
BODYLESS_STATUS = (204, 304)
# Methods whose request carries a body by definition: an empty one is sent as
# ``Content-Length: 0``, as http.client (and Go's net/http) do.
BODY_METHODS = ("POST", "PUT", "PATCH")


class Disconnected(ConnectionError):
    """The server closed the connection without answering."""


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.x as this client reads it."""


class Response:
    """Status, headers and a body that is read on demand."""

    def __init__(self, conn: Connection, method: str) -> None:
        assert conn.fp is not None
        self._conn = conn
        self._fp = conn.fp
        self.status, self.reason = self._status_line()
        self.headers = self._header_lines()
        self.will_close = self.header("connection").lower() == "close"
        self._chunked = "chunked" in self.header("transfer-encoding").lower()
        self._left: int | None = None  # bytes left in the body, or in the current chunk
        self._done = False
        length = self.header("content-length")
        if method == "HEAD" or self.status in BODYLESS_STATUS or 100 <= self.status < 200:
            self._done = True
        elif not self._chunked and length:
            self._left = int(length)
            self._done = self._left == 0
        elif not self._chunked:
            self.will_close = True  # the body ends when the connection does

    def _status_line(self) -> tuple[int, str]:
        line = self._fp.readline(MAX_LINE + 1)
        if not line:
            raise Disconnected("Remote end closed connection without response")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"malformed HTTP status line: {line[:80]!r}")
        return int(code), reason

    def _header_lines(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        while True:
            line = self._fp.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                return headers
            if len(headers) >= MAX_HEADERS or len(line) > MAX_LINE:
                raise ProtocolError("too many or too long header lines")
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))

    def header(self, name: str) -> str:
        """The first value of a header (names are case-insensitive), or ``""``."""
        values = self.header_values(name)
        return values[0] if values else ""

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def read(self) -> bytes:
        """The rest of the body."""
        parts = []
        while chunk := self.read1(MAX_LINE):
            parts.append(chunk)
        return b"".join(parts)

    def read1(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body as soon as some arrive; ``b""`` at its end."""
        if self._done:
            return b""
        if self._chunked:
            data = self._chunk_piece(size)
        elif self._left is None:
            data = self._fp.read1(size)
            self._done = not data
        else:
            data = self._fp.read1(min(size, self._left))
            if not data:
                raise ProtocolError("connection closed inside the body")
            self._left -= len(data)
            self._done = self._left == 0
        if self._done:
            self._conn.finished(self.will_close)
        return data

    def _chunk_piece(self, size: int) -> bytes:
        if not self._left:
            line = self._fp.readline(MAX_LINE + 1)
            if not line:
                raise ProtocolError("connection closed inside a chunked body")
            self._left = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if self._left == 0:
                while self._fp.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields: none that tkctl reads
                self._done = True
                return b""
        data = self._fp.read1(min(size, self._left))
        if not data:
            raise ProtocolError("connection closed inside a chunk")
        self._left -= len(data)
        if self._left == 0:
            self._fp.readline(MAX_LINE + 1)  # the CRLF that ends the chunk
        return data


class Connection:
    """One TCP (or TLS) connection to ``host:port``, opened on the first request."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        server_name: str = "",
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.tls, self.server_name = tls, server_name
        self.sock: socket.socket | None = None
        self.fp: io.BufferedReader | None = None
        self.reusable = False

    def _open(self) -> None:
        # ASCII names go down as bytes: a str would make socket and ssl load the
        # idna codec (and stringprep) just to encode "127.0.0.1".
        sock = socket.create_connection((_ascii(self.host), self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                name = _ascii(self.server_name or self.host)
                sock = self.tls.wrap_socket(sock, server_hostname=name)  # type: ignore[arg-type]
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.fp = sock.makefile("rb")

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        """Send one request and read the answer's head."""
        if self.sock is None:
            self._open()
        assert self.sock is not None
        self.reusable = False
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header()}"]
        lines += ["Accept-Encoding: identity"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None or method in BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.sock.sendall(head + body if body else head)
        return Response(self, method)

    def _host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls is not None else 80
        return host if self.port == default else f"{host}:{self.port}"

    def finished(self, close: bool) -> None:
        """The answer's body was read to its end."""
        if close:
            self.close()
        else:
            self.reusable = True

    def close(self) -> None:
        self.reusable = False
        if self.fp is not None:
            self.fp.close()
            self.fp = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _ascii(name: str) -> str | bytes:
    return name.encode("ascii") if name.isascii() else name
