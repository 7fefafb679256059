"""Liveness, readiness and startup probes, with upstream's timing and thresholds.

One ``ProbeWorker`` task per (container, probe kind) runs while its container
runs: it waits ``initialDelaySeconds`` from the container's start, then probes
every ``periodSeconds`` with a ``timeoutSeconds`` deadline. A result changes
only after ``successThreshold`` consecutive successes or ``failureThreshold``
consecutive failures (``ThresholdTracker``, pure). Until a startup probe has
succeeded, liveness and readiness probes do not run. Initial results follow
upstream: readiness starts as failure, liveness as success, startup as
failure.

What a result means is the pod worker's business: a failed liveness or
startup probe makes it kill the container (which then restarts by the pod's
``restartPolicy``), readiness feeds ``ready`` and the Ready condition. Each
failure is reported through ``on_failure`` for the ``Unhealthy`` event.

Probe mechanisms: ``exec`` (through the runtime, exit code 0 is success),
``httpGet`` (a status in [200, 400) is success; redirects are not followed,
HTTPS is not verified, as upstream), ``tcpSocket`` (a connection opens). The
target host is the pod IP unless the probe names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from tinykube.kubelet.runtime.interface import Runtime

Obj = dict[str, Any]


class Kind(enum.StrEnum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"


@dataclass
class Timing:
    initial_delay: float = 0
    period: float = 10
    timeout: float = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Obj) -> Timing:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds", 0)),
            period=float(probe.get("periodSeconds", 10) or 10),
            timeout=float(probe.get("timeoutSeconds", 1) or 1),
            success_threshold=int(probe.get("successThreshold", 1) or 1),
            failure_threshold=int(probe.get("failureThreshold", 3) or 3),
        )


class ThresholdTracker:
    """The result flips only after enough consecutive outcomes the other way."""

    def __init__(self, timing: Timing, initial: bool) -> None:
        self.timing = timing
        self.result = initial
        self._streak_ok = 0
        self._streak_fail = 0

    @property
    def failed_out(self) -> bool:
        """Exactly ``failureThreshold`` failures in a row: time to act (once)."""
        return self._streak_fail == self.timing.failure_threshold

    def record(self, ok: bool) -> bool:
        if ok:
            self._streak_ok += 1
            self._streak_fail = 0
            if self._streak_ok >= self.timing.success_threshold:
                self.result = True
        else:
            self._streak_fail += 1
            self._streak_ok = 0
            if self._streak_fail >= self.timing.failure_threshold:
                self.result = False
        return self.result


def first_probe_delay(timing: Timing, started_at: float, now: float) -> float:
    """Seconds until the first probe: ``initialDelaySeconds`` after the container started."""
    return max(0.0, started_at + timing.initial_delay - now)


def resolve_port(port: Any, container: Obj) -> int:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} not found in container")


@dataclass
class Outcome:
    ok: bool
    message: str = ""


async def run_probe(
    probe: Obj, runtime: Runtime, container_id: str, container: Obj, pod_ip: str
) -> Outcome:
    """Run one probe once."""
    timeout = float(probe.get("timeoutSeconds", 1) or 1)
    try:
        if "exec" in probe:
            command = list((probe["exec"] or {}).get("command") or [])
            result = await runtime.exec_sync(container_id, command, timeout)
            if result.timed_out:
                return Outcome(False, f"command timed out: {command} after {timeout:g}s")
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            return Outcome(result.exit_code == 0, output)
        if "httpGet" in probe:
            return await _http(probe["httpGet"], container, pod_ip, timeout)
        if "tcpSocket" in probe:
            return await _tcp(probe["tcpSocket"], container, pod_ip, timeout)
    except Exception as exc:  # a probe that cannot even run is a failed probe
        return Outcome(False, str(exc))
    return Outcome(False, "probe has no handler")


async def _http(get: Obj, container: Obj, pod_ip: str, limit: float) -> Outcome:
    host = get.get("host") or pod_ip or "127.0.0.1"
    port = resolve_port(get.get("port"), container)
    scheme = (get.get("scheme") or "HTTP").lower()
    path = get.get("path") or "/"
    url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
    headers = {"User-Agent": "kube-probe/1.34"}
    headers.update({h["name"]: h.get("value", "") for h in get.get("httpHeaders") or []})
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session,
            session.get(url, headers=headers, ssl=_insecure(), allow_redirects=False) as resp,
        ):
            if 200 <= resp.status < 400:
                return Outcome(True)
            return Outcome(False, f"HTTP probe failed with statuscode: {resp.status}")
    except TimeoutError:
        return Outcome(
            False,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        )
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(False, f'Get "{url}": {_dial_error(host, port, exc)}')


@functools.cache
def _insecure() -> ssl.SSLContext:
    """One unverifying client context for every HTTPS probe: building one per probe loads
    the system CA store each time (~25 ms of CPU), which a 1 s readiness probe (kubeadm's
    on kube-scheduler) would pay every second."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _tcp(sock: Obj, container: Obj, pod_ip: str, limit: float) -> Outcome:
    host = sock.get("host") or pod_ip or "127.0.0.1"
    port = resolve_port(sock.get("port"), container)
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(host, port)
    except (TimeoutError, OSError) as exc:
        return Outcome(False, _dial_error(host, port, exc))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Outcome(True)


def _dial_error(host: str, port: int, exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(exc, TimeoutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    return f"dial tcp {host}:{port}: {exc}"


class ProbeWorker:
    """Probes one container with one probe until cancelled; results via callbacks."""

    def __init__(
        self,
        kind: Kind,
        probe: Obj,
        runtime: Runtime,
        container: Obj,
        container_id: str,
        started_at: float,
        pod_ip: Callable[[], str],
        gate: Callable[[], bool],
        on_result: Callable[[Kind, bool, bool], None],
        on_failure: Callable[[Kind, str], None],
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.timing = Timing.of(probe)
        self.runtime = runtime
        self.container = container
        self.container_id = container_id
        self.started_at = started_at
        self.pod_ip = pod_ip
        self.gate = gate
        self.on_result = on_result
        self.on_failure = on_failure
        self.tracker = ThresholdTracker(self.timing, initial=kind == Kind.LIVENESS)

    async def run(self) -> None:
        await asyncio.sleep(first_probe_delay(self.timing, self.started_at, time.time()))
        while True:
            if self.gate():
                outcome = await run_probe(
                    self.probe, self.runtime, self.container_id, self.container, self.pod_ip()
                )
                if not outcome.ok:
                    self.on_failure(self.kind, outcome.message)
                after = self.tracker.record(outcome.ok)
                self.on_result(self.kind, after, self.tracker.failed_out)
                if self.kind == Kind.STARTUP and after:
                    return  # a startup probe stops once it succeeded
            await asyncio.sleep(self.timing.period)
