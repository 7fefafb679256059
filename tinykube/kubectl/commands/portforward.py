"""``kubectl port-forward TYPE/NAME [LOCAL_PORT:]REMOTE_PORT ...``: local ports into a pod.

The pod is named or picked from a workload or a Service (as ``exec``
picks it); a Service's port is turned into the container port its
``targetPort`` names, a pod's named port into its number. Then, as kubectl
1.31+ does, one WebSocket to ``pods/portforward`` with the subprotocol
``SPDY/3.1+portforward.k8s.io`` carries SPDY (``api.spdy``); every
accepted local connection becomes an "error" stream and a "data" stream
sharing a ``requestid``. The error stream is half-closed at once and read to
its end: text there means the pod side failed, which kubectl logs and then
gives up the whole session ("lost connection to pod", exit 1).

Listening follows kubectl: ``--address localhost`` binds 127.0.0.1 and ::1
(it fails only if neither binds), explicit addresses must all bind; a local
port 0 (``:80``) is chosen once and reused on every address. The output
lines are kubectl's, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tinykube.api import spdy
from tinykube.kubectl.errors import CommandError, UsageError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]

USES_EVENT_LOOP = True  # listeners and a WebSocket session: see pacing

FLAGS = [
    Flag("address", kind="list"),  # a repeatable flag appends: "localhost" applies when unset
    Flag("pod-running-timeout", default="1m0s"),
]

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
USAGE = (
    "error: TYPE/NAME and list of ports are required for port-forward\n"
    "See 'kubectl port-forward -h' for help and examples"
)
LOST = "lost connection to pod"
STREAM_REPLY_TIMEOUT = 30.0
READ_CHUNK = 32 * 1024


# ---- ports and addresses ---------------------------------------------------------------


def split_port(spec: str) -> tuple[str, str]:
    """``[LOCAL:]REMOTE`` as kubectl's ``splitPort`` reads it (more colons: the first part)."""
    parts = spec.split(":")
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], parts[0])


def _join(local: str, remote: str, original_remote: str) -> str:
    return remote if local == original_remote else f"{local}:{remote}"


def pod_ports(specs: list[str], pod: Obj) -> list[str]:
    """Named container ports to numbers (kubectl's ``convertPodNamedPortToNumber``)."""
    out = []
    for spec in specs:
        local, remote = split_port(spec)
        if not remote:
            raise CommandError("remote port cannot be empty")
        number = remote if remote.isdigit() else str(container_port_named(pod, remote))
        out.append(_join(local, number, remote))
    return out


def container_port_named(pod: Obj, name: str) -> int:
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    raise CommandError(f"Pod '{pod['metadata']['name']}' does not have a named port '{name}'")


def service_ports(specs: list[str], svc: Obj, pod: Obj) -> list[str]:
    """Service ports to the pod's container ports (kubectl's ``translateServicePortToTargetPort``)."""
    name = svc["metadata"]["name"]
    ports = (svc.get("spec") or {}).get("ports") or []
    out = []
    for spec in specs:
        local, remote = split_port(spec)
        if remote.isdigit():
            number = int(remote)
        else:
            found = [p["port"] for p in ports if p.get("name") == remote]
            if not found:
                raise CommandError(f"Service '{name}' does not have a named port '{remote}'")
            number = int(found[0])
            if local == remote:
                local = str(number)
        target = _target_port(svc, pod, number)
        out.append(local if local == str(target) else f"{local}:{target}")
    return out


def _target_port(svc: Obj, pod: Obj, number: int) -> int:
    spec = svc.get("spec") or {}
    for port in spec.get("ports") or []:
        if port.get("port") != number:
            continue
        if spec.get("clusterIP") == "None":
            return number
        target = port.get("targetPort")
        if target in (None, 0, ""):
            return number
        if isinstance(target, int) or str(target).isdigit():
            return int(target)
        return container_port_named(pod, str(target))
    raise CommandError(f"Service {svc['metadata']['name']} does not have a service port {number}")


@dataclass
class Forward:
    local: int
    remote: int


def parse_ports(specs: list[str]) -> list[Forward]:
    """kubectl's ``parsePorts``, with Go's ``strconv.ParseUint`` wording."""
    forwards = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) > 2:
            raise CommandError(f"invalid port format '{spec}'")
        local, remote = (parts[0] or "0", parts[1]) if len(parts) == 2 else (parts[0], parts[0])
        lport = _uint16(local, "local")
        rport = _uint16(remote, "remote")
        if rport == 0:
            raise CommandError("remote port must be > 0")
        forwards.append(Forward(lport, rport))
    return forwards


def _uint16(text: str, which: str) -> int:
    if not text.isdigit():
        reason = "invalid syntax"
    elif int(text) > 65535:
        reason = "value out of range"
    else:
        return int(text)
    raise CommandError(
        f"error parsing {which} port '{text}': strconv.ParseUint: parsing \"{text}\": {reason}"
    )


@dataclass
class Address:
    host: str
    family: str  # tcp4 | tcp6
    all_must_fail: bool  # "localhost": an error only if every address fails


def parse_addresses(values: list[str]) -> list[Address]:
    import ipaddress

    found: dict[str, Address] = {}
    for value in (part for v in values for part in v.split(",")):
        if value == "localhost":
            found.setdefault("127.0.0.1", Address("127.0.0.1", "tcp4", True))
            found.setdefault("::1", Address("::1", "tcp6", True))
            continue
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            raise CommandError(f"{value} is not a valid IP") from None
        found[value] = Address(value, "tcp4" if ip.version == 4 else "tcp6", False)
    return [found[k] for k in sorted(found)]


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---- the SPDY session ------------------------------------------------------------------


@dataclass
class Stream:
    sid: int
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    incoming: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    reset: bool = False


class Tunnel:
    """The client end of SPDY over the WebSocket: odd stream ids, replies awaited."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.encoder = spdy.Encoder()
        self.decoder = spdy.Decoder()
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.write_lock = asyncio.Lock()
        self.closed = asyncio.Event()

    async def send(self, frame: spdy.Frame) -> None:
        async with self.write_lock:  # header compression follows wire order
            await self.ws.send_bytes(self.encoder.encode(frame))

    async def open(self, headers: spdy.Headers) -> Stream:
        """SYN_STREAM, then wait for the SYN_REPLY as spdystream's ``CreateStream`` does."""
        stream = Stream(self.next_id)
        self.next_id += 2
        self.streams[stream.sid] = stream
        await self.send(spdy.SynStream(stream.sid, headers))
        async with asyncio.timeout(STREAM_REPLY_TIMEOUT):
            await stream.replied.wait()
        if stream.reset:
            raise ConnectionError(f"stream {stream.sid} was refused")
        return stream

    async def fin(self, stream: Stream) -> None:
        await self.send(spdy.Data(stream.sid, b"", spdy.FLAG_FIN))

    async def reset(self, stream: Stream) -> None:
        if not stream.reset:
            stream.reset = True
            await self.send(spdy.RstStream(stream.sid, spdy.CANCEL))
        self.streams.pop(stream.sid, None)

    async def run(self) -> None:
        """Read frames until the WebSocket ends; then every stream sees its end."""
        import aiohttp

        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                for frame in self.decoder.feed(msg.data):
                    await self._dispatch(frame)
        except spdy.ProtocolError:
            pass
        finally:
            self.closed.set()
            for stream in self.streams.values():
                stream.replied.set()
                stream.incoming.put_nowait(None)

    async def _dispatch(self, frame: spdy.Frame) -> None:
        match frame:
            case spdy.SynReply(sid):
                if sid in self.streams:
                    self.streams[sid].replied.set()
            case spdy.Data(sid, data):
                stream = self.streams.get(sid)
                if stream is not None:
                    if data:
                        stream.incoming.put_nowait(data)
                    if frame.fin:
                        stream.incoming.put_nowait(None)
            case spdy.RstStream(sid):
                stream = self.streams.pop(sid, None)
                if stream is not None:
                    stream.reset = True
                    stream.replied.set()
                    stream.incoming.put_nowait(None)
            case spdy.Ping(ping_id) if ping_id % 2 == 0:
                await self.send(frame)  # the server's ping: echo it
            case spdy.GoAway():
                await self.ws.close()
            case _:
                pass


async def read_all(stream: Stream) -> bytes:
    out = b""
    while (chunk := await stream.incoming.get()) is not None:
        out += chunk
    return out


# ---- the command -----------------------------------------------------------------------


class Forwarder:
    def __init__(self, f: Any, tunnel: Tunnel) -> None:
        self.f = f
        self.tunnel = tunnel
        self.request_id = 0
        self.lost = asyncio.Event()

    async def handle(
        self, forward: Forward, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.f.out.write(f"Handling connection for {forward.local}\n")
        self.f.out.flush()
        try:
            message = await self._relay(forward, reader, writer)
        except (OSError, TimeoutError) as exc:
            message = ""
            _log_error(self.f, "Error creating forwarding stream", str(exc), forward)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if message:
            _log_error(self.f, "An error occurred forwarding", message, forward)
            self.lost.set()

    async def _relay(
        self, forward: Forward, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> str:
        rid = self.request_id
        self.request_id += 1
        headers = {"streamtype": ["error"], "port": [str(forward.remote)], "requestid": [str(rid)]}
        error = await self.tunnel.open(headers)
        await self.tunnel.fin(error)  # nothing is written on the error stream
        errors = asyncio.ensure_future(read_all(error))
        try:
            data = await self.tunnel.open({**headers, "streamtype": ["data"]})
        except BaseException:
            errors.cancel()
            raise

        async def remote_to_local() -> None:
            while (chunk := await data.incoming.get()) is not None:
                writer.write(chunk)
                await writer.drain()

        local_failed = asyncio.Event()

        async def local_to_remote() -> None:
            try:
                while chunk := await reader.read(READ_CHUNK):
                    await self.tunnel.send(spdy.Data(data.sid, chunk))
            except OSError:
                local_failed.set()  # as kubectl: stop without waiting for the remote side
                return
            if not data.reset:
                await self.tunnel.fin(data)  # the local side is done sending

        down = asyncio.ensure_future(remote_to_local())
        up = asyncio.ensure_future(local_to_remote())
        failed = asyncio.ensure_future(local_failed.wait())
        try:
            await asyncio.wait([down, failed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (down, up, failed):
                task.cancel()
            await asyncio.gather(down, up, failed, return_exceptions=True)
            # Discard what is still in flight, so the error stream's end is not held up.
            with contextlib.suppress(OSError, RuntimeError):
                await self.tunnel.reset(data)
        message = await errors
        self.tunnel.streams.pop(error.sid, None)
        return message.decode(errors="replace")


def _log_error(f: Any, what: str, err: str, forward: Forward) -> None:
    """kubectl reports these through klog, one structured line on stderr."""
    now = dt.datetime.now()
    stamp = now.strftime("%m%d %H:%M:%S.%f")
    f.err.write(
        f'E{stamp}   {os.getpid()} portforward.go:549] "{what}" err={json.dumps(err)} '
        f"localPort={forward.local} remotePort={forward.remote}\n"
    )
    f.err.flush()


async def _listen(
    f: Any, forwarder: Forwarder, forward: Forward, addresses: list[Address]
) -> list[asyncio.Server]:
    servers, problems = [], []
    failures = {True: 0, False: 0}
    successes = {True: 0, False: 0}
    for addr in addresses:
        try:
            server = await asyncio.start_server(
                lambda r, w, fw=forward: forwarder.handle(fw, r, w), addr.host, forward.local
            )
        except OSError as exc:
            why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            problems.append(
                f"unable to create listener: Error listen {addr.family} "
                f"{host_port(addr.host, forward.local)}: bind: {why}"
            )
            failures[addr.all_must_fail] += 1
            continue
        successes[addr.all_must_fail] += 1
        forward.local = server.sockets[0].getsockname()[1]
        f.out.write(f"Forwarding from {host_port(addr.host, forward.local)} -> {forward.remote}\n")
        servers.append(server)
    f.out.flush()
    if (successes[True] == 0 and failures[True]) or failures[False]:
        for server in servers:
            server.close()
        text = "Listeners failed to create with the following errors: [" + " ".join(problems)
        raise OSError(text + "]")
    return servers


async def _dial(f: Any, pod: Obj) -> tuple[Any, Any]:
    """The WebSocket to ``pods/portforward``, or kubectl's "error upgrading connection"."""
    import aiohttp

    config = f.config
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/portforward"
    url = config.server.rstrip("/") + path
    secure = urlsplit(url).scheme == "https"
    ssl: Any = (config.ssl_context or True) if secure else None
    extra = {"server_hostname": config.tls_server_name} if secure and config.tls_server_name else {}
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
    try:
        ws = await session.ws_connect(
            url,
            protocols=[TUNNEL_PROTOCOL],
            headers={**config.auth_headers(), "User-Agent": "kubectl/v1.37.1 (linux/amd64)"},
            ssl=ssl,
            max_msg_size=0,
            **extra,
        )
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        why = await _refusal(f, path) or exc.message
        raise CommandError(
            f"error upgrading connection: unable to upgrade connection: {why}"
        ) from None
    except aiohttp.ClientError as exc:
        await session.close()
        raise CommandError(f"error upgrading connection: {exc}") from None
    if ws.protocol != TUNNEL_PROTOCOL:
        await ws.close()
        await session.close()
        raise CommandError(
            f'unable to negotiate protocol: client supports "portforward.k8s.io", '
            f'server returned "{(ws.protocol or "").removeprefix("SPDY/3.1+")}"'
        )
    return session, ws


async def _refusal(f: Any, path: str) -> str:
    """The Status message behind a refused upgrade (asked again as a plain request)."""
    from tinykube.api import errors

    try:
        await f.client.send("POST", path)
    except errors.APIError as exc:
        return str(exc.message or "")
    return ""


async def _target(f: Any, target: str, specs: list[str]) -> tuple[Obj, list[str]]:
    """The pod to forward to and the port specs with its numbers filled in."""
    from tinykube.kubectl.commands.exec import attachable_pod

    svc: Obj | None = None
    if "/" in target:
        kind, _, name = target.partition("/")
        mapping = await f.discovery.find(kind)
        if mapping.kind == "Service":
            svc = await f.client.call("GET", mapping.path(f.namespace, name))
            if not (svc.get("spec") or {}).get("selector"):
                raise CommandError(
                    f"invalid service '{name}': Service is defined without a selector"
                )
    pod = await attachable_pod(f, target)
    return pod, (service_ports(specs, svc, pod) if svc else pod_ports(specs, pod))


async def run(f: Any, o: Any) -> int:
    if len(o.args) < 2:
        raise UsageError(USAGE)
    pod, specs = await _target(f, o.args[0], o.args[1:])
    meta = pod["metadata"]
    pod = await f.client.call("GET", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")
    phase = (pod.get("status") or {}).get("phase", "")
    if phase != "Running":
        raise CommandError(
            f"unable to forward port because pod is not running. Current status={phase}"
        )
    addresses = parse_addresses(o.address or ["localhost"])
    forwards = parse_ports(specs)
    session, ws = await _dial(f, pod)
    try:
        return await _forward(f, ws, forwards, addresses)
    finally:
        await ws.close()
        await session.close()


async def _forward(f: Any, ws: Any, forwards: list[Forward], addresses: list[Address]) -> int:
    tunnel = Tunnel(ws)
    forwarder = Forwarder(f, tunnel)
    reading = asyncio.ensure_future(tunnel.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # kubectl stops cleanly on an interrupt; the handler stays until the loop closes, so a
    # second Ctrl-C during the shutdown is not a traceback.
    loop.add_signal_handler(signal.SIGINT, stop.set)
    servers: list[asyncio.Server] = []
    try:
        for forward in forwards:
            try:
                servers += await _listen(f, forwarder, forward, addresses)
            except OSError as exc:
                f.err.write(f"Unable to listen on port {forward.local}: {exc}\n")
        if not servers:
            listed = " ".join(f"{{{fw.local} {fw.remote}}}" for fw in forwards)
            raise CommandError(f"unable to listen on any of the requested ports: [{listed}]")
        waits = [asyncio.ensure_future(e.wait()) for e in (stop, tunnel.closed, forwarder.lost)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if not stop.is_set():
            raise CommandError(LOST)
        return 0
    finally:
        for server in servers:
            server.close()
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
