"""The userspace proxier: asyncio sockets on every frontend, relaying to pods.

Each frontend of the table gets a listening socket: TCP through
``asyncio.start_server``, UDP through a datagram endpoint. Listeners look
their route up in the *current* table when a connection (or a datagram from
a new client) arrives, so an endpoint change takes effect for the next
connection without touching any socket, and a connection already relaying
keeps its own backend socket until either side closes: connections in
flight survive endpoint changes, new ones only ever see ready endpoints.

TCP: a backend that refuses or does not answer within ``connect_timeout``
is skipped and the next one tried (upstream's userspace proxier did the
same); with no endpoint left the client connection is reset at once, so a
Service scaled to zero fails fast instead of hanging.

UDP: one "session" per client address, holding a connected socket to the
chosen backend; replies go back from the frontend's own socket. Sessions
idle for ``udp_idle_timeout`` are closed, and a session whose backend left
the route is closed at the next sync (what flushing conntrack entries does
upstream), so a restarted DNS pod is picked up at once.

Addresses that are not loopback are first put on the dummy link by
``ServiceInterface`` (see ``netif.py``); without root they are skipped with
one warning each, since they could not receive traffic anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Any

from tinykube.proxy import netif
from tinykube.proxy.balancer import Balancer
from tinykube.proxy.table import Endpoint, Frontend, Table

log = logging.getLogger(__name__)

COPY_CHUNK = 65536
CONNECT_TIMEOUT = 2.0
UDP_IDLE_TIMEOUT = 30.0
MAX_ATTEMPTS = 3
PRIVILEGED_PORT_HINT = (
    " (a port below 1024 needs root, or net.ipv4.ip_unprivileged_port_start lowered"
    " on the host, as rootless container engines document)"
)


class UserspaceProxier:
    """Forwards TCP and UDP frontends to endpoints from a userspace relay (see module doc)."""

    def __init__(
        self,
        interface: netif.ServiceInterface | None = None,
        *,
        privileged: bool | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        udp_idle_timeout: float = UDP_IDLE_TIMEOUT,
    ) -> None:
        self.interface = interface or netif.ServiceInterface()
        self.privileged = netif.privileged() if privileged is None else privileged
        self.balancer = Balancer()
        self.table: Table = {}
        self.connect_timeout = connect_timeout
        self.udp_idle_timeout = udp_idle_timeout
        self._listeners: dict[Frontend, _Listener] = {}
        self._connections: set[asyncio.Task[None]] = set()
        self._skipped: set[str] = set()
        self._failed: set[Frontend] = set()

    @property
    def frontends(self) -> list[Frontend]:
        """The frontends with an open listener, in order."""
        return sorted(self._listeners)

    async def sync(self, table: Table) -> None:
        """Open and close listeners and addresses so the node serves exactly ``table``."""
        self.table = dict(table)
        wanted = {f for f in table if self._bindable(f.ip)}
        if self.privileged:
            await self.interface.ensure({f.ip for f in wanted})
        for frontend in [f for f in self._listeners if f not in wanted]:
            self._listeners.pop(frontend).close()
        for frontend in sorted(wanted - set(self._listeners)):
            try:
                self._listeners[frontend] = await self._listen(frontend)
            except OSError as exc:
                self._cannot_listen(frontend, exc)
        for listener in self._listeners.values():
            listener.prune(self.table.get(listener.frontend))
        self.balancer.forget(route.name for route in self.table.values())

    def _cannot_listen(self, frontend: Frontend, exc: OSError) -> None:
        """Warn once per frontend; the next sync tries again (the address may come later)."""
        if frontend in self._failed:
            log.debug("component=kube-proxy frontend=%s cannot listen: %s", frontend, exc)
            return
        self._failed.add(frontend)
        hint = PRIVILEGED_PORT_HINT if frontend.port < 1024 else ""
        log.warning("component=kube-proxy frontend=%s cannot listen: %s%s", frontend, exc, hint)

    def _bindable(self, ip: str) -> bool:
        if not netif.needs_interface(ip) or self.privileged:
            return True
        if ip not in self._skipped:
            self._skipped.add(ip)
            log.warning("component=kube-proxy ip=%s not loopback and not root: not proxied", ip)
        return False

    async def _listen(self, frontend: Frontend) -> _Listener:
        host = frontend.ip or "0.0.0.0"
        if frontend.protocol == "UDP":
            loop = asyncio.get_running_loop()
            _, proto = await loop.create_datagram_endpoint(
                lambda: _UdpFrontend(self, frontend), local_addr=(host, frontend.port)
            )
            return _Listener(frontend, udp=proto)
        server = await asyncio.start_server(
            lambda r, w: self._accept(frontend, r, w),
            host=host,
            port=frontend.port,
            reuse_address=True,
            backlog=512,
        )
        return _Listener(frontend, tcp=server)

    def _accept(
        self, frontend: Frontend, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.create_task(self._relay_tcp(frontend, reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _relay_tcp(
        self, frontend: Frontend, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        client_ip = (writer.get_extra_info("peername") or ("",))[0]
        backend = await self._connect_backend(frontend, client_ip)
        if backend is None:
            _reset(writer)
            return
        b_reader, b_writer = backend
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_pipe(reader, b_writer))
                tg.create_task(_pipe(b_reader, writer))
        except* OSError:
            pass
        finally:
            for w in (writer, b_writer):
                w.close()

    async def _connect_backend(
        self, frontend: Frontend, client_ip: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        tried: list[Endpoint] = []
        for _ in range(MAX_ATTEMPTS):
            route = self.table.get(frontend)
            endpoint = route and self.balancer.pick(route, client_ip, skip=tried)
            if not endpoint:
                return None
            try:
                async with asyncio.timeout(self.connect_timeout):
                    return await asyncio.open_connection(endpoint.ip, endpoint.port)
            except (OSError, TimeoutError) as exc:
                log.debug("component=kube-proxy endpoint=%s refused: %s", endpoint, exc)
                tried.append(endpoint)
        return None

    async def cleanup(self) -> None:
        """Close every listener and connection, then remove the service addresses."""
        for listener in self._listeners.values():
            listener.close()
        self._listeners.clear()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        self.table = {}
        if self.privileged:
            await self.interface.release()


class _Listener:
    """One frontend's socket: a TCP server or a UDP frontend with its sessions."""

    def __init__(
        self,
        frontend: Frontend,
        tcp: asyncio.Server | None = None,
        udp: _UdpFrontend | None = None,
    ) -> None:
        self.frontend = frontend
        self.tcp = tcp
        self.udp = udp

    def prune(self, route: Any) -> None:
        if self.udp is not None:
            self.udp.prune(set(route.endpoints) if route else set())

    def close(self) -> None:
        if self.tcp is not None:
            self.tcp.close()  # stops accepting; relays in flight carry on
        if self.udp is not None:
            self.udp.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF, then half-close the other side's write end."""
    while data := await reader.read(COPY_CHUNK):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): the client sees the failure at once, as with REJECT."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _UdpSession(asyncio.DatagramProtocol):
    """A client's connected socket to one backend; replies go back through the frontend."""

    def __init__(self, owner: _UdpFrontend, client: tuple[str, int], endpoint: Endpoint) -> None:
        self.owner, self.client, self.endpoint = owner, client, endpoint
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last_used = asyncio.get_running_loop().time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        self.last_used = asyncio.get_running_loop().time()
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last_used = asyncio.get_running_loop().time()
        self.owner.reply(data, self.client)

    def error_received(self, exc: Exception) -> None:
        log.debug("component=kube-proxy endpoint=%s udp error: %s", self.endpoint, exc)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _UdpFrontend(asyncio.DatagramProtocol):
    """A UDP frontend: demultiplexes clients into sessions."""

    def __init__(self, proxier: UserspaceProxier, frontend: Frontend) -> None:
        self.proxier, self.frontend = proxier, frontend
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], _UdpSession] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        session = self.sessions.get(addr)
        if session is None:
            session = self._open(addr)
            if session is None:
                return  # no endpoint: dropped, as a UDP Service without endpoints drops
        session.send(data)

    def _open(self, client: tuple[str, int]) -> _UdpSession | None:
        route = self.proxier.table.get(self.frontend)
        endpoint = route and self.proxier.balancer.pick(route, client[0])
        if not endpoint:
            return None
        session = _UdpSession(self, client, endpoint)
        self.sessions[client] = session
        loop = asyncio.get_running_loop()
        task = loop.create_task(
            loop.create_datagram_endpoint(lambda: session, remote_addr=(endpoint.ip, endpoint.port))
        )
        task.add_done_callback(lambda t: self._connected(t, client))
        return session

    def _connected(self, task: asyncio.Task[Any], client: tuple[str, int]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.debug("component=kube-proxy udp session failed: %s", task.exception())
            self._drop(client)

    def reply(self, data: bytes, client: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, client)

    def prune(self, endpoints: set[Endpoint]) -> None:
        """Close sessions whose backend is no longer a ready endpoint of the route."""
        for client, session in list(self.sessions.items()):
            if session.endpoint not in endpoints:
                self._drop(client)

    def _drop(self, client: tuple[str, int]) -> None:
        session = self.sessions.pop(client, None)
        if session is not None:
            session.close()

    async def _sweep(self) -> None:
        idle = self.proxier.udp_idle_timeout
        while True:
            await asyncio.sleep(min(idle, 5.0))
            now = asyncio.get_running_loop().time()
            for client, session in list(self.sessions.items()):
                if now - session.last_used > idle:
                    self._drop(client)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for client in list(self.sessions):
            self._drop(client)
        if self.transport is not None:
            self.transport.close()
