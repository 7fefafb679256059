"""A component's secure health port: ``/healthz``, ``/livez`` and ``/readyz`` over HTTPS.

kube-scheduler (10259) and kube-controller-manager (10257) each serve these paths, and
three things depend on them: kubeadm's static pods probe them (liveness and startup;
the scheduler also readiness), the API server's deprecated ComponentStatus resource
(``kubectl get cs``) probes ``/healthz`` of both, and a person debugging a control plane
curls them. The protocol is k8s.io/apiserver's ``healthz`` package:

- each path runs a list of named checks; no checks at all means the single check
  ``ping``, which always passes. ``/livez`` has none (so ``ping``); ``/healthz`` and
  ``/readyz`` have the component's: ``leaderElection`` when it runs leader election,
  and in the controller manager one ping per controller once it leads.
- 200 ``ok`` when every check passes; with ``?verbose`` one ``[+]name ok`` line per
  check and ``<path> check passed``. A failure is a 500 listing every check, the
  failed ones as ``[-]name failed: reason withheld`` (the paths are public, so the
  reason goes only to the log), and ``<path> check failed``. ``?exclude=name``
  skips a check; ``/<path>/<name>`` runs one.
- the leader-election check is client-go's watchdog: a leader whose lease was last
  renewed more than the lease duration plus 20 s ago is stuck (it should have stepped
  down and exited), so the kubelet's liveness probe restarts it.

Upstream serves these paths without authentication (they are in the always-allowed
paths of the components' delegated authorization); this server serves nothing else,
so it needs no authentication at all. Without ``--tls-cert-file`` the certificate is
self-signed and made at start-up in memory, as upstream does when it has no
``--cert-dir``: nobody verifies it (kubelet probes and the API server skip
verification), it only keeps the port HTTPS as everyone expects.

Why in ``client/``: the scheduler and the controller manager both need it and may not
import each other; ``client/`` is the shared library below every component (leader
election, whose health this reports, lives here too). The API server serves its own
health endpoints (``apiserver/app.py``) and may not import ``client/``. The certificate
helpers of ``apiserver/tls.py`` are out of reach for the same reason, hence the small
self-signed helper here. aiohttp and cryptography are imported only when a server is
made, so building the command-line parser stays cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

SCHEDULER_PORT = 10259
CONTROLLER_MANAGER_PORT = 10257
DEFAULT_BIND_ADDRESS = "0.0.0.0"
# client-go's HealthzAdaptor tolerance, as both components construct it.
MAX_TOLERABLE_EXPIRED_LEASE = 20.0
PATHS = ("healthz", "livez", "readyz")

T = TypeVar("T")


@dataclass(frozen=True)
class HealthCheck:
    """A named check; ``check`` raises (any exception, its text is the reason) when unhealthy."""

    name: str
    check: Callable[[], None]


def ping(name: str = "ping") -> HealthCheck:
    """A check that always passes: proves the server answers (upstream's ``ping`` and the
    controller manager's per-controller ``NamedPingChecker``)."""
    return HealthCheck(name, lambda: None)


class Elector(Protocol):
    """What the leader-election check needs of ``client.leaderelection.LeaderElector``."""

    def check(self, max_tolerable_expired_lease: float) -> None: ...


def leader_election(elector: Elector) -> HealthCheck:
    """``leaderElection``: fails when this process leads but has not renewed its lease for
    longer than the lease duration plus ``MAX_TOLERABLE_EXPIRED_LEASE``."""
    return HealthCheck("leaderElection", lambda: elector.check(MAX_TOLERABLE_EXPIRED_LEASE))


@dataclass(frozen=True)
class Report:
    """One answer of a health path: status code, body, and the failures for the log."""

    status: int
    body: str
    failures: tuple[str, ...] = ()


def report(path: str, checks: Sequence[HealthCheck], query: Mapping[str, Any]) -> Report:
    """Run ``checks`` for ``/<path>`` and word the answer exactly as k8s.io/apiserver does.

    ``query`` maps a query parameter to its values (``verbose``, ``exclude``)."""
    excluded = list(dict.fromkeys(_values(query, "exclude")))
    lines: list[str] = []
    failures: list[str] = []
    for hc in checks or (ping(),):
        if hc.name in excluded:
            excluded.remove(hc.name)
            lines.append(f"[+]{hc.name} excluded: ok")
            continue
        try:
            hc.check()
        except Exception as exc:
            lines.append(f"[-]{hc.name} failed: reason withheld")
            failures.append(f"[-]{hc.name} failed: {exc}")
        else:
            lines.append(f"[+]{hc.name} ok")
    if excluded:
        names = ",".join(f'"{name}"' for name in sorted(excluded))
        lines.append(f"warn: some health checks cannot be excluded: no matches for {names}")
    if failures:
        # Go's http.Error adds the final newline.
        return Report(
            500, "".join(f"{line}\n" for line in lines) + f"{path} check failed\n", tuple(failures)
        )
    if "verbose" not in query:
        return Report(200, "ok")
    return Report(200, "".join(f"{line}\n" for line in lines) + f"{path} check passed\n")


def single(checks: Sequence[HealthCheck], name: str) -> Report | None:
    """``/<path>/<name>``: one check alone; None when there is no such check (404)."""
    for hc in checks or (ping(),):
        if hc.name == name:
            try:
                hc.check()
            except Exception as exc:
                return Report(500, f"internal server error: {exc}\n", (f"[-]{name} failed: {exc}",))
            return Report(200, "ok")
    return None


def _values(query: Mapping[str, Any], key: str) -> list[str]:
    getall = getattr(query, "getall", None)
    if getall is not None:
        return list(getall(key, []))
    value = query.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


# ---- listening -------------------------------------------------------------------------


class ListenError(OSError):
    """The health port cannot be bound; the text is upstream's (``failed to create
    listener: failed to listen on 0.0.0.0:10259: listen tcp 0.0.0.0:10259: bind: address
    already in use``)."""


def host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(bind_address: str, port: int) -> socket.socket:
    """Bind and listen now, so a taken port stops the process before it does anything else,
    as kube-scheduler and kube-controller-manager fail during their configuration."""
    addr = host_port(bind_address, port)
    family = socket.AF_INET6 if ":" in bind_address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Go sets SO_REUSEADDR on every listener: a restart need not wait out TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_address, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        reason = reason[:1].lower() + reason[1:]
        raise ListenError(
            f"failed to create listener: failed to listen on {addr}: "
            f"listen tcp {addr}: bind: {reason}"
        ) from exc
    sock.setblocking(False)
    return sock


# ---- TLS -------------------------------------------------------------------------------


def ssl_context(
    cert_file: str | None, key_file: str | None, hosts: Iterable[str]
) -> ssl.SSLContext:
    """The serving context: the given pair, or a self-signed one made in memory."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    if cert_file and key_file:
        ctx.load_cert_chain(cert_file, key_file)
        return ctx
    cert_pem, key_pem = self_signed(hosts)
    _load_pem(ctx, cert_pem, key_pem)
    return ctx


def self_signed(hosts: Iterable[str]) -> tuple[bytes, bytes]:
    """A certificate for ``localhost@<unix time>`` (upstream's subject) valid for a year,
    with each of ``hosts`` as a DNS or IP SAN. ECDSA P-256: generated in a millisecond,
    where RSA would slow every start of a component that nobody verifies anyway."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"localhost@{int(now.timestamp())}")])
    sans: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _load_pem(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """``ssl`` loads keys only from paths: hand it an anonymous memory file where Linux has
    them, else a private temporary directory that is removed at once."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and Path("/proc/self/fd").is_dir():
        fd = memfd("healthz-serving", 0)
        try:
            os.write(fd, cert_pem + key_pem)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory() as tmp:  # pragma: no cover - not Linux
        path = Path(tmp) / "serving.pem"
        path.write_bytes(cert_pem + key_pem)
        path.chmod(0o600)
        ctx.load_cert_chain(str(path))


# ---- the server ------------------------------------------------------------------------


class HealthServer:
    """The bound health port of one component and the checks it reports.

    ``checks`` back ``/healthz`` and ``/readyz``; the component adds to them as it learns
    what to watch (its leader elector, then its controllers). ``/livez`` always pings.
    """

    def __init__(self, sock: socket.socket, ctx: ssl.SSLContext, component: str) -> None:
        self.sock = sock
        self.ctx = ctx
        self.component = component
        self.checks: list[HealthCheck] = []

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def add(self, *checks: HealthCheck) -> None:
        self.checks.extend(checks)

    def checks_for(self, path: str) -> list[HealthCheck]:
        return [] if path == "livez" else self.checks

    async def run(self) -> None:
        """Serve until cancelled."""
        from aiohttp import web

        app = web.Application()
        for path in PATHS:
            app.router.add_get(f"/{path}", self._handler(path))
            app.router.add_get(f"/{path}/{{check}}", self._handler(path))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, self.sock, ssl_context=self.ctx).start()
            log.info(
                "component=%s serving health checks on https://%s",
                self.component,
                host_port(*self.sock.getsockname()[:2]),
            )
            await asyncio.Future()
        finally:
            await runner.cleanup()

    def _handler(self, path: str) -> Callable[[web.Request], Awaitable[web.Response]]:

        async def handle(request: web.Request) -> web.Response:
            checks = self.checks_for(path)
            name = request.match_info.get("check")
            answer = report(path, checks, request.query) if name is None else single(checks, name)
            if answer is None:
                return _text(404, "404 page not found\n")
            if answer.failures:
                log.info(
                    "component=%s %s check failed: %s",
                    self.component,
                    path,
                    "; ".join(answer.failures),
                )
            return _text(answer.status, answer.body)

        return handle


def _text(status: int, body: str) -> web.Response:
    from aiohttp import web

    resp = web.Response(status=status, text=body, content_type="text/plain", charset="utf-8")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# ---- wiring into a command -------------------------------------------------------------


def add_flags(parser: argparse.ArgumentParser, default_port: int) -> None:
    """The serving flags, named and defaulted as upstream's ``SecureServingOptions``."""
    parser.add_argument(
        "--secure-port",
        type=int,
        default=default_port,
        help=f"HTTPS port of /healthz, /livez and /readyz; 0 turns it off (default {default_port})",
    )
    parser.add_argument(
        "--bind-address",
        default=DEFAULT_BIND_ADDRESS,
        help="address of --secure-port (default 0.0.0.0, all interfaces)",
    )
    parser.add_argument("--tls-cert-file", default=None, help="serving certificate (PEM)")
    parser.add_argument("--tls-private-key-file", default=None, help="its key (PEM)")


def from_args(args: argparse.Namespace, component: str) -> HealthServer | None:
    """Bind the port the flags ask for (None when ``--secure-port 0``); raises ListenError."""
    if not args.secure_port:
        return None
    sock = listen(args.bind_address, args.secure_port)
    hosts = ["localhost", "127.0.0.1"]
    if args.bind_address not in ("0.0.0.0", "::"):
        hosts.append(args.bind_address)
    try:
        ctx = ssl_context(args.tls_cert_file, args.tls_private_key_file, hosts)
    except BaseException:
        sock.close()
        raise
    return HealthServer(sock, ctx, component)


async def alongside(server: HealthServer | None, work: Awaitable[T]) -> T:
    """Await ``work`` while ``server`` (if any) serves; the server stops when work ends.

    Not a TaskGroup: what ``work`` raises must reach the caller as itself (a manager
    that lost its lease, a bad kubeconfig), not wrapped in an ExceptionGroup."""
    if server is None:
        return await work
    serving = asyncio.ensure_future(server.run())
    try:
        return await work
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
