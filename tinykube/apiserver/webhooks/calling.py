"""Posting an AdmissionReview to a webhook: where it lives, TLS, deadlines.

``clientConfig.url`` is used as written. ``clientConfig.service`` is resolved
the way kube-apiserver's endpoint resolver does (``--enable-aggregator-routing``):
a ready endpoint of the Service's port from its EndpointSlices, else the
ClusterIP; the API server reaches pod IPs directly, as it does for
``services/proxy``. Either way the certificate is checked against
``caBundle`` (the system roots when there is none) and, for a service, the
name ``<service>.<namespace>.svc``, whatever address was dialled.

Every call carries ``?timeout=<n>s`` and is cut off after ``timeoutSeconds``.
Failures are described as Go's net/http describes them
(``Post "<url>": dial tcp <addr>: connect: connection refused``,
``context deadline exceeded``) because those are the texts users know from
real clusters; the dispatcher wraps them in upstream's
``failed calling webhook`` message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from tinykube.api.resources import lookup

SERVICES = lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class CallFailed(Exception):
    """The call did not produce a response body; the text is Go's."""


@dataclass(frozen=True)
class Target:
    """Where to post: ``url`` is what messages show, ``dial`` what is connected to."""

    url: str
    dial: str
    server_name: str | None


def _with_timeout(url: str, seconds: int) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timeout={seconds}s"


def resolve(client_config: dict[str, Any], cache: Any, timeout: int) -> Target:
    """The URL to post to; raises CallFailed when a service has nowhere to go."""
    url = client_config.get("url")
    if url:
        full = _with_timeout(str(url), timeout)
        return Target(full, full, None)
    service = client_config.get("service") or {}
    name, namespace = service.get("name", ""), service.get("namespace", "")
    port = int(service.get("port") or 443)
    path = service.get("path") or ""
    host = f"{name}.{namespace}.svc"
    shown = _with_timeout(f"https://{host}:{port}{path}", timeout)
    address = _service_address(cache, namespace, name, port)
    dial = _with_timeout(f"https://{address}{path}", timeout)
    return Target(shown, dial, host)


def _service_address(cache: Any, namespace: str, name: str, port: int) -> str:
    assert SERVICES is not None and SLICES is not None
    svc = cache.get(SERVICES.key(namespace, name))
    if svc is None:
        raise CallFailed(f'service "{namespace}/{name}" not found')
    spec = svc.get("spec") or {}
    chosen = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
    if chosen is None:
        raise CallFailed(f'service "{namespace}/{name}" has no port {port}')
    for eps in cache.items(SLICES.list_prefix(namespace)):
        labels = (eps.get("metadata") or {}).get("labels") or {}
        if labels.get("kubernetes.io/service-name") != name:
            continue
        target = next(
            (
                p.get("port")
                for p in eps.get("ports") or []
                if p.get("name", "") == chosen.get("name", "")
            ),
            None,
        )
        for endpoint in eps.get("endpoints") or []:
            ready = (endpoint.get("conditions") or {}).get("ready", True)
            if target and ready and endpoint.get("addresses"):
                return _host_port(endpoint["addresses"][0], target)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        return _host_port(cluster_ip, port)
    raise CallFailed(f'service "{namespace}/{name}" has no ready endpoints')


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


_CONTEXTS: dict[str, ssl.SSLContext] = {}


def ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """One verifying context per CA bundle (loading certificates costs milliseconds)."""
    ctx = _CONTEXTS.get(ca_bundle)
    if ctx is not None:
        return ctx
    ctx = ssl.create_default_context()
    if ca_bundle:
        try:
            pem = base64.b64decode(ca_bundle, validate=True).decode()
            ctx = ssl.create_default_context(cadata=pem)
        except (binascii.Error, ValueError, ssl.SSLError) as exc:
            raise CallFailed(f"unable to load root certificates: {exc}") from None
    if len(_CONTEXTS) > 256:
        _CONTEXTS.clear()
    _CONTEXTS[ca_bundle] = ctx
    return ctx


def _describe(exc: BaseException, target: Target) -> str:
    """aiohttp's errors in the words of Go's net/http client."""
    prefix = f'Post "{target.url}"'
    if isinstance(exc, TimeoutError):
        return f"{prefix}: context deadline exceeded"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        detail = getattr(cert_error, "verify_message", "") or str(cert_error)
        if "unable to get local issuer" in detail or "self-signed" in detail:
            detail = "x509: certificate signed by unknown authority"
        elif "mismatch" in detail or "match" in detail:
            detail = f"x509: certificate is not valid for {target.server_name or 'this host'}"
        return f"{prefix}: tls: failed to verify certificate: {detail}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        address = urlsplit(target.dial).netloc
        if exc.os_error.errno == errno.ECONNREFUSED:
            return f"{prefix}: dial tcp {address}: connect: connection refused"
        return f"{prefix}: dial tcp {address}: {exc.os_error.strerror or exc.os_error}"
    return f"{prefix}: {exc}"


async def post(target: Target, ca_bundle: str, body: dict[str, Any], seconds: int) -> Any:
    """The webhook's decoded JSON answer; CallFailed when there is none to use.

    A session per call: webhooks are few and slow next to a connection set-up,
    and nothing is left open when the server stops."""
    ctx = ssl_context(ca_bundle) if target.dial.startswith("https:") else None
    try:
        async with (
            asyncio.timeout(seconds),
            aiohttp.ClientSession() as session,
            session.post(
                target.dial,
                data=orjson.dumps(body),
                headers=HEADERS,
                ssl=ctx if ctx is not None else True,
                server_hostname=target.server_name,
                allow_redirects=False,
            ) as resp,
        ):
            raw = await resp.read()
            status = resp.status
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise CallFailed(_describe(exc, target)) from None
    try:
        answer = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        answer = None
    if 200 <= status < 300:
        if answer is None:
            raise CallFailed(f"the server responded with the status code {status} "
                             "but did not return a JSON body")  # fmt: skip
        return answer
    if isinstance(answer, dict) and answer.get("kind") == "Status" and answer.get("message"):
        raise CallFailed(str(answer["message"]))
    text = raw.decode(errors="replace").strip()
    if text:
        raise CallFailed(
            f'an error on the server ("{text[:256]}") has prevented the request from succeeding'
        )
    raise CallFailed(
        f"the server responded with the status code {status} but did not return more information"
    )
