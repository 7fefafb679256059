"""The HTTP seam of tkctl: ``tinykube.client.Client`` plus what kubectl needs on top.

The shared client covers JSON requests; kubectl also needs its own Accept
header (server-side Tables, aggregated discovery), raw bodies (logs), streams
(``get -w``, ``logs -f``) and the ``Warning`` headers a server attaches to an
answer (printed to stderr as ``Warning: ...``). ``KubectlClient`` adds those
as a small subclass; nothing here changes the shared client.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from tinykube.api import errors
from tinykube.client import Client

Obj = dict[str, Any]

TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
USER_AGENT = "kubectl/v1.37.1 (linux/amd64) kubernetes/tinykube"
_WARNING = re.compile(r'^\s*299\s+\S+\s+"((?:[^"\\]|\\.)*)"')


def error_for(status: int, raw: bytes) -> errors.APIError:
    """The API error for a non-2xx answer; bodies that are not a Status still map by code."""
    body: Obj = {}
    with contextlib.suppress(ValueError):
        decoded = orjson.loads(raw) if raw else {}
        if isinstance(decoded, dict):
            body = decoded
    if body.get("kind") != "Status":
        err = errors.APIError.from_status({}, status)
        err.message = ""
        err.raw_body = raw.decode(errors="replace")  # type: ignore[attr-defined]
        err.not_status = True  # type: ignore[attr-defined]
        return err
    return errors.APIError.from_status(body, status)


class KubectlClient(Client):
    """The shared REST client with kubectl's extra needs (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, user_agent=USER_AGENT, **kwargs)
        self.warnings: list[str] = []

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
        headers = {**self.config.auth_headers(), "Accept": accept}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        async with self._session.request(
            method,
            self.config.server + path,
            params=params,
            data=data,
            headers=headers,
            **self._tls_kwargs(),
        ) as resp:
            self._warn(resp)
            raw = await resp.read()
            if resp.status >= 300:
                raise error_for(resp.status, raw)
            return raw

    async def call(self, method: str, path: str, **kw: Any) -> Obj:
        raw = await self.send(method, path, **kw)
        return orjson.loads(raw) if raw else {}

    async def stream(
        self, path: str, *, params: dict[str, str] | None = None, accept: str = "application/json"
    ) -> AsyncIterator[bytes]:
        """GET a streaming body (watch, follow logs) and yield it chunk by chunk."""
        headers = {**self.config.auth_headers(), "Accept": accept}
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=None)
        async with self._session.get(
            self.config.server + path,
            params=params,
            headers=headers,
            timeout=timeout,
            **self._tls_kwargs(),
        ) as resp:
            self._warn(resp)
            if resp.status >= 300:
                raise error_for(resp.status, await resp.read())
            async for chunk in resp.content.iter_any():
                yield chunk

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
                    yield orjson.loads(line)

    def _warn(self, resp: aiohttp.ClientResponse) -> None:
        for value in resp.headers.getall("Warning", []):
            m = _WARNING.match(value)
            if m:
                text = re.sub(r"\\(.)", r"\1", m.group(1))
                sys.stderr.write(f"Warning: {text}\n")
                self.warnings.append(text)
