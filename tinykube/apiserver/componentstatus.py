"""ComponentStatus (``kubectl get cs``): the API server probes the control plane when asked.

The resource is deprecated since 1.19 (every response says so in a Warning header) but
it is still what CKA courses use to see at a glance whether the scheduler and the
controller manager are alive. Nothing is stored: as upstream's REST storage
(pkg/registry/core/componentstatus) does, each GET or LIST probes, concurrently,

- ``scheduler``: ``GET https://127.0.0.1:<port>/healthz``, certificate not verified;
- ``controller-manager``: the same on its port;
- ``etcd-0``: the storage (for SQLite, that it answers at all).

A probe is the kubelet's HTTP probe: a status in [200, 400) is Healthy with the body
("ok") as the message; anything else is Unhealthy, and the message says why in Go's
words (``Get "https://127.0.0.1:10259/healthz": dial tcp 127.0.0.1:10259: connect:
connection refused``, ``HTTP probe failed with statuscode: 500``), so what a learner
sees matches what a kubeadm cluster shows and what tutorials quote. Upstream waits up
to 20 s for an answer; a hung component here costs at most ``PROBE_TIMEOUT``, which
keeps ``kubectl get cs`` snappy and is still far above a healthy answer's time.

Which port: upstream hard-codes 10259 and 10257. ``tinykube up`` lets clusters that
share a host choose others, and the static pod manifests it writes beside the API
server's data (``<data-dir>/manifests``) are where it says which: the API server reads
each component's liveness-probe port from there on every request (so editing the
manifest, as a learner might, is seen at once) and falls back to upstream's port when
the manifest is absent, e.g. for a standalone ``tinykube apiserver``. No extra API
server flag, and no second place that could disagree with what the kubelet probes.

Upstream lists the items in whatever order its goroutines finish; we use the order
its documentation shows (scheduler, controller-manager, etcd-0).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import yaml

Obj = dict[str, Any]

DEPRECATION = "v1 ComponentStatus is deprecated in v1.19+"
PROBE_TIMEOUT = 5.0
MAX_BODY = 10 * 1024  # the kubelet's prober reads at most 10 KiB of a body

# name -> (static pod manifest, upstream's port), in the order items are listed
COMPONENTS: dict[str, tuple[str, int]] = {
    "scheduler": ("kube-scheduler.yaml", 10259),
    "controller-manager": ("kube-controller-manager.yaml", 10257),
}
ETCD = "etcd-0"
NAMES = (*COMPONENTS, ETCD)

# Go's texts for the errors of connect(2) a probe meets (syscall.Errno.Error()).
_GO_DIAL_ERRNO = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network is unreachable",
    errno.ETIMEDOUT: "connection timed out",
}


def condition(status: str, message: str = "", error: str = "") -> Obj:
    """A ComponentCondition of type Healthy; empty message and error are left out, as
    upstream's omitempty does."""
    cond: Obj = {"type": "Healthy", "status": status}
    if message:
        cond["message"] = message
    if error:
        cond["error"] = error
    return cond


def component_status(name: str, cond: Obj) -> Obj:
    return {
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name, "creationTimestamp": None},
        "conditions": [cond],
    }


def probe_port(manifest: Obj | None, default: int) -> int:
    """The port of the first container's liveness probe (``httpGet.port``), else ``default``."""
    try:
        port = manifest["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"]  # type: ignore[index]
        return int(port)
    except (KeyError, IndexError, TypeError, ValueError):
        return default


def ports(data_dir: Path) -> dict[str, int]:
    """Each component's health port, from the static pod manifests under ``data_dir``."""
    out = {}
    for name, (manifest, default) in COMPONENTS.items():
        try:
            loaded = yaml.safe_load((data_dir / "manifests" / manifest).read_text())
        except (OSError, yaml.YAMLError):
            loaded = None
        out[name] = probe_port(loaded if isinstance(loaded, dict) else None, default)
    return out


def go_error(url: str, exc: BaseException) -> str:
    """What Go's http.Client says when a GET fails: ``Get "<url>": <cause>``."""
    return f'Get "{url}": {_go_cause(url, exc)}'


def _go_cause(url: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "EOF"
    os_error = getattr(exc, "os_error", exc)
    if isinstance(os_error, OSError) and os_error.errno in _GO_DIAL_ERRNO:
        host_port = url.split("://", 1)[-1].split("/", 1)[0]
        return f"dial tcp {host_port}: connect: {_GO_DIAL_ERRNO[os_error.errno]}"
    if isinstance(os_error, ConnectionResetError):
        # accepted, then dropped (a component dying with connections in its backlog)
        return "read: connection reset by peer"
    return _lower_first(str(exc)) or type(exc).__name__


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def http_condition(status: int | None, body: str, failure: str = "") -> Obj:
    """The kubelet prober's verdict on one answer (``status`` None: no answer, ``failure``
    says why): success only for [200, 300); a redirect is a warning, which
    ComponentStatus reports as Unknown."""
    if status is None:
        return condition("False", failure)
    if 200 <= status < 300:
        return condition("True", body)
    if 300 <= status < 400:
        return condition("Unknown", f"Probe terminated redirects, Response body: {body}")
    return condition("False", f"HTTP probe failed with statuscode: {status}")


async def probe(session: aiohttp.ClientSession, url: str) -> Obj:
    """GET ``url`` once, with the probe's timeout and no certificate check."""
    try:
        async with (
            asyncio.timeout(PROBE_TIMEOUT),
            session.get(url, ssl=_insecure(), max_redirects=10) as resp,
        ):
            body = (await resp.content.read(MAX_BODY)).decode(errors="replace")
            return http_condition(resp.status, body)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return http_condition(None, "", go_error(url, exc))


async def probe_storage(store: Any) -> Obj:
    try:
        await store.current_revision()
    except Exception as exc:  # any failure of the store is the answer, not an error
        return condition("False", error=str(exc) or type(exc).__name__)
    return condition("True", "ok")


async def statuses(data_dir: Path, store: Any, names: tuple[str, ...] = NAMES) -> list[Obj]:
    """The ComponentStatus objects of ``names`` (upstream's names), probed concurrently."""
    health_ports = await asyncio.to_thread(ports, data_dir)
    async with aiohttp.ClientSession() as session:
        checks = [
            probe(session, f"https://127.0.0.1:{health_ports[name]}/healthz")
            if name in COMPONENTS
            else probe_storage(store)
            for name in names
        ]
        conditions = await asyncio.gather(*checks)
    return [component_status(n, c) for n, c in zip(names, conditions, strict=True)]


@functools.cache
def _insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
