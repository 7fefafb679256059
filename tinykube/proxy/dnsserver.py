"""The cluster DNS server: ``ClusterDNS`` answers on UDP and TCP, the rest forwarded.

What the ``coredns`` Deployment runs (``tinykube dns``): informers for
Services, EndpointSlices and Namespaces feed ``ClusterDNS`` (``dns.py``); a UDP and a
TCP listener on port 53 parse each query with dnslib, answer names in the
cluster domain from the caches, and forward every other name, unchanged,
to the nameservers of the resolv.conf given (``--resolv-conf``; the pod's
own, which is the node's, as CoreDNS's ``forward . /etc/resolv.conf``).
A forwarded query that comes back truncated over UDP is retried over TCP.
No upstream, or none answering within ``FORWARD_TIMEOUT``, is SERVFAIL.
An ExternalName Service's CNAME to a name outside the cluster is followed
upstream too, and the target's records are appended to the answer, as
CoreDNS does; when that lookup fails the CNAME alone is the answer.

With ``--conf`` the server follows a Corefile (``corefile.py``: the
``kube-system/coredns`` ConfigMap, mounted): its cluster domain, upstreams,
stub domains, ``hosts`` entries and ``loadbalance``, in CoreDNS's order (hosts, then stub
domains, then the cluster domain, then the upstreams). The file is read
again every ``RELOAD_SECONDS`` when it changed, as the ``reload`` plugin
does; a broken edit is logged and the previous configuration kept.

A reply too large for the client's UDP buffer (512 bytes, or what its EDNS
record says) is sent with the TC bit and no records, so the client retries
over TCP, as RFC 1035 asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RCODE, DNSError, DNSRecord

from tinykube.client.informers import InformerFactory, key_of, split_key
from tinykube.client.rest import Client
from tinykube.proxy import corefile, dns
from tinykube.proxy.dns import DEFAULT_DOMAIN, ClusterDNS
from tinykube.proxy.table import slice_service_key

log = logging.getLogger(__name__)

FORWARD_TIMEOUT = 2.0
UDP_LIMIT = 512
RELOAD_SECONDS = 5.0


def nameservers(resolv_conf: Path, exclude: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """The ``nameserver`` lines of a resolv.conf, minus our own addresses (no loops)."""
    try:
        text = resolv_conf.read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and parts[1] not in exclude:
            found.append(parts[1])
    return found


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def query_udp(packet: bytes, server: str, port: int = 53) -> bytes:
    """One query over UDP; raises TimeoutError or OSError when nobody answers."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_UdpClient, remote_addr=(server, port))
    try:
        transport.sendto(packet)
        async with asyncio.timeout(FORWARD_TIMEOUT):
            return await proto.reply
    finally:
        transport.close()


async def query_tcp(packet: bytes, server: str, port: int = 53) -> bytes:
    """One query over TCP (two-byte length prefix, RFC 1035 4.2.2)."""
    async with asyncio.timeout(FORWARD_TIMEOUT):
        reader, writer = await asyncio.open_connection(server, port)
        try:
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(size)
        finally:
            writer.close()


class DNSServer:
    """Cluster answers from ``resolver``, everything else forwarded to ``upstreams``."""

    def __init__(
        self,
        resolver: ClusterDNS,
        upstreams: list[tuple[str, int]],
        config: corefile.DNSConfig | None = None,
    ) -> None:
        self.resolver = resolver
        self.upstreams = upstreams
        self.config = config or corefile.DNSConfig(domain=resolver.domain)
        self.rng = random.Random()
        self._servers: list[Any] = []

    def configure(
        self, config: corefile.DNSConfig, default_upstreams: list[tuple[str, int]]
    ) -> None:
        """Use a (re)loaded Corefile: its domain, hosts, stub domains and upstreams."""
        self.config = config
        self.resolver.use_domain(config.domain)
        self.resolver.ttl = dns.TTL if config.ttl is None else config.ttl
        self.upstreams = default_upstreams if config.upstreams is None else config.upstreams

    async def handle(self, packet: bytes) -> bytes | None:
        """The reply to one query packet; None for garbage (dropped, as servers do)."""
        try:
            query = DNSRecord.parse(packet)
        except (DNSError, IndexError, ValueError):
            return None
        if query.header.qr or not query.questions:
            return None
        pinned = corefile.hosts_answer(self.config, query)
        if pinned is not None:
            return bytes(pinned.pack())
        stub = self.config.stub_for(str(query.q.qname))
        if stub is not None:
            return await self.forward(query, packet, stub)
        try:
            reply = self.resolver.answer(query)
        except Exception:  # a malformed object in the cache must not take DNS down
            log.exception("component=dns query=%s failed", query.q.qname)
            reply = query.reply()
            reply.header.rcode = RCODE.SERVFAIL
        if reply is not None:
            target = self.resolver.external_target(reply)
            if target is not None:
                await self._follow(reply, target)
            if self.config.loadbalance:
                corefile.shuffle_addresses(reply, self.rng)
            return bytes(reply.pack())
        return await self.forward(query, packet)

    async def _follow(self, reply: DNSRecord, target: str) -> None:
        """Append the upstream answer for an ExternalName's target (same type)."""
        question = DNSRecord.question(target, QTYPE[reply.q.qtype])
        question.header.rd = 1
        upstreams = self.config.stub_for(target)
        data = await self.forward(question, bytes(question.pack()), upstreams)
        with contextlib.suppress(DNSError, IndexError, ValueError):
            answer = DNSRecord.parse(data)
            if answer.header.rcode == RCODE.NOERROR:
                for rr in answer.rr:
                    reply.add_answer(rr)

    async def forward(
        self, query: DNSRecord, packet: bytes, upstreams: list[tuple[str, int]] | None = None
    ) -> bytes:
        for server, port in self.upstreams if upstreams is None else upstreams:
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                data = await query_udp(packet, server, port)
                if DNSRecord.parse(data).header.tc:
                    data = await query_tcp(packet, server, port)
                return data
        failed = query.reply()
        failed.header.rcode = RCODE.SERVFAIL
        return bytes(failed.pack())

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpServer(self), local_addr=(host, port)
        )
        self._servers.append(transport)
        self._servers.append(await asyncio.start_server(self._tcp, host, port, reuse_address=True))
        log.info("component=dns listening on %s:%d (udp, tcp)", host, port)

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.handle(await reader.readexactly(size))
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, data: bytes, addr: Any) -> None:
        reply = await self.server.handle(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(truncate(data, reply), addr)


def _service_ips(svc: dict[str, Any]) -> list[str]:
    spec = svc.get("spec") or {}
    return [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]


def _endpoint_ips(es: dict[str, Any]) -> list[str]:
    return [ip for ep in es.get("endpoints") or [] for ip in ep.get("addresses") or []]


def truncate(query_packet: bytes, reply: bytes) -> bytes:
    """The reply as UDP may carry it: over the client's limit, TC set and records dropped."""
    limit = UDP_LIMIT
    with contextlib.suppress(DNSError, IndexError, ValueError):
        for rr in DNSRecord.parse(query_packet).ar:
            if rr.rtype == QTYPE.OPT:
                limit = max(UDP_LIMIT, rr.rclass)
    if len(reply) <= limit:
        return reply
    record = DNSRecord.parse(reply)
    record.rr, record.auth, record.ar = [], [], []
    record.header.tc = 1
    return bytes(record.pack())


async def run_dns(
    client: Client,
    *,
    host: str = "0.0.0.0",
    port: int = 53,
    domain: str = DEFAULT_DOMAIN,
    resolv_conf: Path = Path("/etc/resolv.conf"),
    conf: Path | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Watch Services and EndpointSlices and serve DNS until cancelled (``conf``: a Corefile)."""
    factory = InformerFactory(client)
    services = factory.get("v1", "services")
    slices = factory.get("discovery.k8s.io/v1", "endpointslices")
    namespaces = factory.get("v1", "namespaces")
    slices.add_indexers({"service": lambda es: [k] if (k := slice_service_key(es)) else []})
    services.add_indexers({"ip": _service_ips})
    slices.add_indexers({"ip": _endpoint_ips})
    resolver = ClusterDNS(
        lambda ns, name: services.get_by_name(ns, name),
        lambda ns, name: slices.by_index("service", f"{ns}/{name}"),
        domain,
        namespace=lambda ns: namespaces.get(ns) is not None,
    )

    def reverse(ip: str) -> list[str]:
        owners = {key_of(s) for s in services.by_index("ip", ip)}
        owners |= {k for es in slices.by_index("ip", ip) if (k := slice_service_key(es))}
        names: list[str] = []
        for key in sorted(owners):
            ns, name = split_key(key)
            svc = services.get(key)
            if svc is not None:
                names += resolver.names_of(svc, ns, name, ip)
        return names

    resolver.reverse = reverse
    own = {host} if host not in ("0.0.0.0", "::") else set()
    upstreams = [(ip, 53) for ip in nameservers(resolv_conf, exclude=own)]
    server = DNSServer(resolver, upstreams)
    reloader = CorefileReloader(server, conf, upstreams, own) if conf is not None else None
    if reloader is not None:
        reloader.check()
    try:
        async with asyncio.TaskGroup() as tg:
            factory.start(tg)
            await factory.wait_synced()
            await server.start(host, port)
            if reloader is not None:
                tg.create_task(reloader.run())
            log.info(
                "component=dns domain=%s upstreams=%s",
                server.resolver.domain,
                server.upstreams or "none",
            )
            if ready is not None:
                ready.set()
    finally:
        server.close()


class CorefileReloader:
    """Reads the Corefile into the server, again whenever its text changes."""

    def __init__(
        self,
        server: DNSServer,
        path: Path,
        default_upstreams: list[tuple[str, int]],
        own: set[str],
    ) -> None:
        self.server = server
        self.path = path
        self.default_upstreams = default_upstreams
        self.own = own
        self._seen: str | None = None

    def check(self) -> None:
        """Load the file if it changed since the last look; keep the old config on errors."""
        try:
            text = self.path.read_text()
        except OSError as exc:
            if self._seen != "":  # say it once, not every few seconds
                log.warning("component=dns cannot read %s: %s", self.path, exc)
                self._seen = ""
            return
        if text == self._seen:
            return
        self._seen = text
        try:
            config = corefile.parse(text)
        except corefile.CorefileError as exc:
            log.error("component=dns %s: %s; keeping the previous configuration", self.path, exc)
            return
        if config.upstreams is not None:  # never forward to ourselves
            config.upstreams = [u for u in config.upstreams if u[0] not in self.own]
        self.server.configure(config, self.default_upstreams)
        log.info(
            "component=dns loaded %s domain=%s stubs=%s hosts=%d",
            self.path,
            config.domain,
            sorted(config.stubs),
            sum(len(h.entries) for h in config.hosts),
        )

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            self.check()
