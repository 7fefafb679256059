"""A real HTTPS admission webhook for the integration and e2e tests.

It runs an aiohttp server on 127.0.0.1 in a thread with its own event loop,
so tests may block (the ``kubernetes`` client, ``kubectl`` subprocesses)
while the API server calls it. Its certificate is issued by a CA made here
with ``cryptography``; ``ca_bundle`` is what a configuration's
``clientConfig.caBundle`` carries. Every AdmissionReview it gets is kept in
``reviews`` so tests can check what the API server sent.

Paths:
  /mutate  allows, and adds the label ``mutated-by: webhook`` by JSON patch
  /deny    refuses objects labelled ``deny`` (403, a message naming the object),
           deletions included
  /slow    answers after ``SLOW_SECONDS``, to trip a webhook's timeout
  /refuse  refuses everything (403, a message naming the kind of object sent)
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLOW_SECONDS = 4.0
MUTATION_WARNING = "the test webhook labelled this object"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(directory: Path, names: tuple[str, ...] = ()) -> tuple[bytes, Path, Path]:
    """(CA PEM, server cert file, server key file) for 127.0.0.1, localhost and ``names``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("webhook-test-ca"))
        .issuer_name(_name("webhook-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in ("localhost", *names)]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("webhook"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "webhook.crt", directory / "webhook.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path


def _answer(review: dict[str, Any], **response: Any) -> web.Response:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], **response},
    }
    return web.json_response(body)


def _labels(review: dict[str, Any]) -> dict[str, str]:
    """The object's labels; a DELETE has only the old object."""
    obj = review["request"].get("object") or review["request"].get("oldObject") or {}
    return (obj.get("metadata") or {}).get("labels") or {}


class WebhookServer:
    """``names``: more DNS names for the certificate (``<service>.<namespace>.svc``)."""

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        self.reviews: list[dict[str, Any]] = []
        self.port = 0
        self._dir = tempfile.TemporaryDirectory()
        ca_pem, self._cert, self._key = make_certificates(Path(self._dir.name), names)
        self.ca_bundle = base64.b64encode(ca_pem).decode()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(30)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._dir.cleanup()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/mutate", self._mutate)
        app.router.add_post("/deny", self._deny)
        app.router.add_post("/slow", self._slow)
        app.router.add_post("/refuse", self._refuse)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self._cert, self._key)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _review(self, request: web.Request) -> dict[str, Any]:
        review: dict[str, Any] = await request.json()
        review["query"] = dict(request.query)
        self.reviews.append(review)
        return review

    async def _mutate(self, request: web.Request) -> web.Response:
        review = await self._review(request)
        ops: list[dict[str, Any]] = []
        obj = review["request"].get("object") or {}
        if not (obj.get("metadata") or {}).get("labels"):
            ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
        ops.append({"op": "add", "path": "/metadata/labels/mutated-by", "value": "webhook"})
        patch = base64.b64encode(json.dumps(ops).encode()).decode()
        return _answer(
            review, allowed=True, patchType="JSONPatch", patch=patch, warnings=[MUTATION_WARNING]
        )

    async def _deny(self, request: web.Request) -> web.Response:
        review = await self._review(request)
        if "deny" not in _labels(review):
            return _answer(review, allowed=True)
        req = review["request"]
        message = f"{req['kind']['kind']} {req['name']} carries the deny label"
        return _answer(review, allowed=False, status={"code": 403, "message": message})

    async def _slow(self, request: web.Request) -> web.Response:
        review = await self._review(request)
        await asyncio.sleep(SLOW_SECONDS)
        return _answer(review, allowed=True)

    async def _refuse(self, request: web.Request) -> web.Response:
        review = await self._review(request)
        kind = review["request"]["kind"]["kind"]
        return _answer(review, allowed=False, status={"code": 403, "message": f"no {kind} here"})
