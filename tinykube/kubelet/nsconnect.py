"""A TCP connection opened from inside a pod's network namespace.

``kubectl port-forward`` reaches a port on the pod's own ``localhost``, as
containerd does it: a server listening only on 127.0.0.1 inside the pod is
reachable. Namespaces belong to threads, so a worker thread enters the pod's
namespace (``setns``), connects, and returns to its own before the socket, which
stays in the pod's namespace, is handed back to the event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def connect_in(netns_path: str, port: int, timeout: float) -> socket.socket:
    """A connected socket to ``localhost:port`` in the namespace at ``netns_path``."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(netns_path, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            last: OSError | None = None
            for host in ("127.0.0.1", "::1"):
                try:
                    sock = socket.create_connection((host, port), timeout)
                    sock.setblocking(False)
                    return sock
                except OSError as exc:
                    last = last or exc
            assert last is not None
            raise last
        finally:
            _setns(own)
    finally:
        os.close(own)


async def open_connection(
    netns_path: str, port: int, connect_timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = await asyncio.to_thread(connect_in, netns_path, port, connect_timeout)
    return await asyncio.open_connection(sock=sock)
