"""The HTTP seam of tkctl: a small blocking client on the standard library.

Why not ``tinykube.client.rest.Client``? Start-up time. kubectl answers in
about a tenth of a second; importing aiohttp alone costs a quarter of one,
and a command line makes a handful of sequential requests where a pool of
event-loop sockets buys nothing. So tkctl speaks HTTP/1.1 through its own
small ``http11`` client (kept-alive connections, blocking: ``pacing`` says why
most commands run without an event loop; ``http.client`` would cost more to
import than kubectl takes to run), while still taking everything about
*where* and *how* to connect from the kubeconfig (``kubectl.kubeconfig``: server URL,
TLS context with the cluster CA and client certificate, bearer token).

On top of plain JSON requests kubectl needs its own Accept header
(server-side Tables, aggregated discovery), raw bodies (logs), streams
(``get -w``, ``logs -f``) and the ``Warning`` headers a server attaches to an
answer (printed to stderr as ``Warning: ...``). Non-2xx answers raise the
``tinykube.api.errors`` class of their Status, like the shared client does;
that module (and the JSON it pulls in) is imported only when one arrives.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlencode, urlsplit

from tinykube.kubectl.http11 import Connection, Disconnected, Response

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any

    from tinykube.api import errors
    from tinykube.kubectl.kubeconfig import Config


Obj = dict[str, "Any"]

TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
USER_AGENT = "kubectl/v1.37.1 (linux/amd64) kubernetes/tinykube"
PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
REQUEST_TIMEOUT = 60.0


def error_for(status: int, raw: bytes) -> errors.APIError:
    """The API error for a non-2xx answer; bodies that are not a Status still map by code."""
    from tinykube.api import errors

    body: Obj = {}
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        decoded = {}
    if isinstance(decoded, dict):
        body = decoded
    if body.get("kind") != "Status":
        err = errors.APIError.from_status({}, status)
        err.message = ""
        err.raw_body = raw.decode(errors="replace")  # type: ignore[attr-defined]
        err.not_status = True  # type: ignore[attr-defined]
        return err
    return errors.APIError.from_status(body, status)


class KubectlClient:
    """Requests to one API server as one user (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.warnings: list[str] = []
        url = urlsplit(config.server)
        self._secure = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._secure else 80)
        self._base = url.path.rstrip("/")
        self._idle: list[Connection] = []

    def _connect(self) -> Connection:
        return self._idle.pop() if self._idle else self._fresh()

    def _headers(self, accept: str, content_type: str | None) -> dict[str, str]:
        headers = {**self.config.auth_headers(), "Accept": accept, "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _open(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        headers: dict[str, str],
        data: bytes | None,
    ) -> tuple[Connection, Response]:
        target = self._base + path + ("?" + urlencode(params) if params else "")
        conn = self._connect()
        try:
            resp = conn.request(method, target, data, headers)
        except (Disconnected, BrokenPipeError, ConnectionResetError):
            conn.close()  # a kept-alive connection the server closed meanwhile: once more, fresh
            conn = self._fresh()
            resp = conn.request(method, target, data, headers)
        self._warn(resp)
        return conn, resp

    def _fresh(self) -> Connection:
        if not self._secure:
            return Connection(self._host, self._port, REQUEST_TIMEOUT)
        return Connection(
            self._host,
            self._port,
            REQUEST_TIMEOUT,
            self.config.ssl_context,
            self.config.tls_server_name,
        )

    def _blocking(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        accept: str,
        body: Any,
        content_type: str,
    ) -> bytes:
        data = None
        if body is not None:
            data = (
                body
                if isinstance(body, bytes)
                else json.dumps(body, separators=(",", ":")).encode()
            )
        headers = self._headers(accept, content_type if data is not None else None)
        conn, resp = self._open(method, path, params, headers, data)
        raw = resp.read()
        if conn.reusable:
            self._idle.append(conn)
        if resp.status >= 300:
            raise error_for(resp.status, raw)
        return raw

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        accept: str = "application/json",
        body: Any = None,
        content_type: str = "application/json",
    ) -> bytes:
        """One request; the raw answer body, or an ``APIError`` for non-2xx."""
        return self._blocking(method, path, params, accept, body, content_type)

    async def call(self, method: str, path: str, **kw: Any) -> Obj:
        raw = await self.send(method, path, **kw)
        return json.loads(raw) if raw else {}

    async def stream(
        self, path: str, *, params: dict[str, str] | None = None, accept: str = "application/json"
    ) -> AsyncIterator[bytes]:
        """GET a streaming body (watch, follow logs) and yield it chunk by chunk."""
        headers = self._headers(accept, None)
        conn, resp = self._open("GET", path, params, headers, None)
        if conn.sock is not None:
            conn.sock.settimeout(None)  # a watch may stay quiet for as long as it likes
        try:
            if resp.status >= 300:
                raise error_for(resp.status, resp.read())
            while chunk := resp.read1(65536):
                yield chunk
        finally:
            conn.close()

    async def watch_lines(
        self, path: str, *, params: dict[str, str] | None = None, accept: str = "application/json"
    ) -> AsyncIterator[Obj]:
        """Watch events (decoded) from a streaming GET."""
        buf = b""
        async for chunk in self.stream(path, params=params, accept=accept):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    def _warn(self, resp: Response) -> None:
        for value in resp.header_values("Warning"):
            text = warning_text(value)
            if text is not None:
                sys.stderr.write(f"Warning: {text}\n")
                self.warnings.append(text)


def warning_text(value: str) -> str | None:
    """The text of a ``299 <agent> "<text>" [date]`` Warning header value (RFC 7234 5.5).

    Other codes, and values that do not parse, are not shown (client-go's
    ``ParseWarningHeaders`` skips them too). Parsed by hand rather than with a
    regex so that tkctl compiles none on its way to the first request.
    """
    code, _, rest = value.strip().partition(" ")
    if code != "299":
        return None
    agent, _, rest = rest.lstrip().partition(" ")
    rest = rest.lstrip()
    if not agent or not rest.startswith('"'):
        return None
    out: list[str] = []
    i = 1
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and i + 1 < len(rest):
            out.append(rest[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out)
        out.append(ch)
        i += 1
    return None
