"""The kubelet's HTTPS server (port 10250): logs, exec, attach, health, and its pod list.

The API server reaches it for ``kubectl logs`` (``pods/log`` is proxied to
``/containerLogs/<ns>/<pod>/<container>``), presenting its client
certificate. With ``--client-ca-file`` the server requires a certificate
signed by that CA (the cluster CA), as a kubeadm node's kubelet does; without
it any client is accepted and a warning says so.

The serving certificate comes from ``--tls-cert-file``/``--tls-private-key-file``
or, like a kubelet without them, is self-signed and kept under
``<root-dir>/pki`` for the node name and IP.

Log streaming: the selected records are sent at once; with ``follow`` the
server then tails the file until the container stops (or the client goes),
as the kubelet does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from tinykube.kubelet import attach, execstream, logs, portforward
from tinykube.kubelet.runtime.interface import ContainerState

if TYPE_CHECKING:
    from tinykube.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

FOLLOW_POLL = 0.2


def status_response(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _options(query: Any) -> logs.LogOptions:
    return logs.LogOptions(
        tail_lines=int(query["tailLines"]) if query.get("tailLines") else None,
        since=logs.since_from(
            query.get("sinceSeconds"), query.get("sinceTime"), dt.datetime.now(dt.UTC)
        ),
        timestamps=_bool(query.get("timestamps")),
        limit_bytes=int(query["limitBytes"]) if query.get("limitBytes") else None,
        stream=query.get("stream") or "All",
    )


class LogStream:
    """Writes records to the response, honouring ``limitBytes``."""

    def __init__(self, resp: web.StreamResponse, options: logs.LogOptions) -> None:
        self.resp = resp
        self.options = options
        self.left = options.limit_bytes

    async def send(self, records: list[logs.Record]) -> bool:
        """False once the byte limit is reached."""
        data = logs.render(records, self.options)
        if self.left is not None:
            data = data[: self.left]
            self.left -= len(data)
        if data:
            await self.resp.write(data)
        return self.left is None or self.left > 0


def make_app(kubelet: Kubelet) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def pods(_: web.Request) -> web.Response:
        items = [w.pod for w in kubelet.workers.values()]
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def container_logs(request: web.Request) -> web.StreamResponse:
        return await serve_logs(kubelet, request)

    async def exec_(request: web.Request) -> web.StreamResponse:
        return await execstream.serve_exec(kubelet, request)

    async def attach_(request: web.Request) -> web.StreamResponse:
        return await attach.serve_attach(kubelet, request)

    async def stats_summary(_: web.Request) -> web.Response:
        body = kubelet.stats.summary()
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/stats/summary", stats_summary)
    app.router.add_route("*", "/exec/{namespace}/{pod}/{container}", exec_)
    app.router.add_route("*", "/attach/{namespace}/{pod}/{container}", attach_)
    app.router.add_route("*", "/portForward/{namespace}/{pod}", portforward.handler(kubelet))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/pods", pods)
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", container_logs)
    return app


async def serve_logs(kubelet: Kubelet, request: web.Request) -> web.StreamResponse:
    ns, pod_name = request.match_info["namespace"], request.match_info["pod"]
    name = request.match_info["container"]
    worker = kubelet.find_worker(ns, pod_name)
    if worker is None:
        return status_response(404, "NotFound", f'pods "{pod_name}" not found')
    previous = _bool(request.query.get("previous"))
    found = await _select_log(kubelet, worker, name, previous)
    if isinstance(found, web.Response):
        return found
    path, container_id = found
    options = _options(request.query)
    data = await asyncio.to_thread(_read, path, 0)
    records, used = logs.parse_records(data)
    resp = web.StreamResponse(status=200)
    resp.content_type = "text/plain"
    await resp.prepare(request)
    out = LogStream(resp, options)
    more = await out.send(logs.select(records, options))
    if more and _bool(request.query.get("follow")) and not previous:
        await _follow(worker, name, container_id, path, used, out)
    await resp.write_eof()
    return resp


async def _select_log(
    kubelet: Kubelet, worker: Any, name: str, previous: bool
) -> tuple[Path, str] | web.Response:
    """The log file to serve and its container id, or the error upstream gives."""
    pod_name = worker.pod["metadata"]["name"]
    view = worker.views.get(name)
    if view is None:
        # Not started by this kubelet (e.g. a pod that finished before a restart): the files.
        path = await asyncio.to_thread(
            _log_on_disk, kubelet.pod_log_dir(worker.pod) / name, previous
        )
        if path is not None:
            return path, ""
        return status_response(
            400, "BadRequest", f"container {name} is not valid for pod {pod_name}"
        )
    current = view.current
    # In CrashLoopBackOff the exited container is the pod's lastState, as upstream shows it.
    backing_off = (
        current is not None and current.state == ContainerState.EXITED and view.waiting_reason
    )
    target = (current if backing_off else view.previous) if previous else current
    if target is not None and target.log_path is not None:
        return target.log_path, target.id
    if previous:
        message = f'previous terminated container "{name}" in pod "{pod_name}" not found'
    else:
        reason = view.waiting_reason or "ContainerCreating"
        message = f'container "{name}" in pod "{pod_name}" is waiting to start: {reason}'
    return status_response(400, "BadRequest", message)


def _log_on_disk(directory: Path, previous: bool) -> Path | None:
    """``<attempt>.log`` files: the newest is the current container, the one before previous."""
    try:
        attempts = sorted(int(p.stem) for p in directory.glob("*.log") if p.stem.isdigit())
    except OSError:
        return None
    index = -2 if previous else -1
    if len(attempts) < -index:
        return None
    return directory / f"{attempts[index]}.log"


async def _follow(
    worker: Any, name: str, container_id: str, path: Path, offset: int, out: LogStream
) -> None:
    """Tail the file until the container is no longer running and nothing is left."""
    stream_options = logs.LogOptions(timestamps=out.options.timestamps, stream=out.options.stream)
    while True:
        view = worker.views.get(name)
        current = view.current if view is not None else None
        running = (
            current is not None
            and current.id == container_id
            and current.state == ContainerState.RUNNING
            and not worker.finished
        )
        data = await asyncio.to_thread(_read, path, offset)
        records, used = logs.parse_records(data)
        offset += used
        if records:
            out.options, saved = stream_options, out.options
            more = await out.send(logs.select(records, stream_options))
            out.options = saved
            if not more:
                return
        if not running and not records:
            return
        await asyncio.sleep(FOLLOW_POLL)


def _read(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""


# ---- TLS --------------------------------------------------------------------------


def ssl_context(kubelet: Kubelet) -> ssl.SSLContext:
    config = kubelet.config
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if config.tls_cert_file and config.tls_key_file:
        cert, key = config.tls_cert_file, config.tls_key_file
    else:
        cert, key = ensure_self_signed(config.root_dir / "pki", kubelet.node_name, kubelet.node_ip)
    ctx.load_cert_chain(str(cert), str(key))
    if config.client_ca_file:
        ctx.load_verify_locations(cafile=str(config.client_ca_file))
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        log.warning(
            "node=%s kubelet server accepts anonymous clients (no --client-ca-file)",
            kubelet.node_name,
        )
    return ctx


def ensure_self_signed(directory: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """A self-signed serving certificate for the node (kept while it still fits)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    cert_path, key_path = directory / "kubelet.crt", directory / "kubelet.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=7):
            return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@kubelet")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(node_name), x509.DNSName("localhost")]
    for ip in {node_ip, "127.0.0.1"}:
        sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


async def serve(kubelet: Kubelet) -> None:
    """Serve until cancelled."""
    ctx = await asyncio.to_thread(ssl_context, kubelet)
    runner = web.AppRunner(make_app(kubelet), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, kubelet.node_ip, kubelet.config.port, ssl_context=ctx)
    await site.start()
    log.info(
        "node=%s kubelet serving on https://%s:%d",
        kubelet.node_name,
        kubelet.node_ip,
        kubelet.config.port,
    )
    try:
        await asyncio.Future()
    finally:
        await runner.cleanup()
