"""Authentication: who is making this request?

Every request to the API server is authenticated before anything else looks at it; a request
that carries no credential we accept gets 401 ``Unauthorized`` (kubectl then prints ``error:
You must be logged in to the server (Unauthorized)``). There is no anonymous access.

The authenticators run in kube-apiserver's order and the first that recognises the request
wins:

1. **x509 client certificate.** The TLS layer (``tls.server_ssl_context``) already verified
   the chain against the cluster CA, so here we only read the subject: CN is the user name,
   each O a group, as every Kubernetes component's kubeconfig expects.
2. **Static tokens** from a ``--token-auth-file`` CSV: ``token,user,uid,"group1,group2"``.
3. **Service-account JWTs** signed with ``sa.key`` (see ``tokens.py``).

Every authenticated user also gets ``system:authenticated``. A bearer token that is present
but invalid is a failure, not a fall-through: the caller answers 401.

Whether the service account (or the pod, secret or node a token is bound to) still exists
is not known here; the API server can pass ``service_account_validator`` to look it up in
its cache, and ``UserInfo.service_account`` keeps the verified claims for it either way.
"""

from __future__ import annotations

import base64
import binascii
import csv
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tinykube.api import errors
from tinykube.apiserver import tokens

if TYPE_CHECKING:
    from tinykube.apiserver.tls import Pki

log = logging.getLogger(__name__)

ALL_AUTHENTICATED = "system:authenticated"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
# Browsers cannot set headers on WebSockets, so upstream also reads the token from a
# subprotocol: "base64url.bearer.authorization.k8s.io.<unpadded base64url token>".
WEBSOCKET_BEARER_PREFIX = "base64url.bearer.authorization.k8s.io."
TOKEN_CACHE_TTL_SECONDS = 10.0
TOKEN_CACHE_SIZE = 4096

ServiceAccountValidator = Callable[[tokens.ServiceAccountClaims], bool]


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity, shaped like Kubernetes' ``user.Info``."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)
    # Set for service-account tokens: the verified claims, for later existence checks.
    service_account: tokens.ServiceAccountClaims | None = field(default=None, compare=False)

    def with_authenticated_group(self) -> UserInfo:
        if ALL_AUTHENTICATED in self.groups:
            return self
        return UserInfo(
            self.username,
            self.uid,
            (*self.groups, ALL_AUTHENTICATED),
            self.extra,
            self.service_account,
        )


class Authenticator:
    """Turns a request's credentials into a ``UserInfo``, or None when there are none valid.

    Verifying a service-account JWT costs an RSA signature check (~0.2 ms), so successes
    are cached for ``TOKEN_CACHE_TTL_SECONDS`` (never past the token's expiry), keyed by the
    token's SHA-256, as kube-apiserver caches its token authenticators. Failures are not
    cached. The validator hook's verdict is cached with the success, so a deleted service
    account stops working within that TTL.
    """

    def __init__(
        self,
        pki: Pki,
        token_file: Path | None = None,
        *,
        service_account_validator: ServiceAccountValidator | None = None,
        issuers: Sequence[str] = (tokens.DEFAULT_ISSUER, tokens.LEGACY_ISSUER),
        api_audiences: Sequence[str] = tokens.DEFAULT_API_AUDIENCES,
        extra_public_keys: Sequence[rsa.RSAPublicKey] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        static = load_token_file(token_file) if token_file else {}
        self._static = {t: u.with_authenticated_group() for t, u in static.items()}
        self._public_keys = [pki.sa_public_key, *extra_public_keys]
        self._issuers = tuple(issuers)
        self._api_audiences = tuple(api_audiences)
        self._validate_sa = service_account_validator
        self._clock = clock
        self._cache: dict[bytes, tuple[UserInfo, float]] = {}

    def authenticate(self, request: web.Request) -> UserInfo | None:
        """The request's user, or None: the caller then answers ``unauthorized_response()``."""
        user = self.authenticate_certificate(peer_certificate_der(request))
        if user is not None:
            return user
        token = bearer_token(request)
        if token is None:
            return None
        return self.authenticate_token(token)

    def authenticate_certificate(self, der: bytes | None) -> UserInfo | None:
        """The identity in an already verified client certificate (DER), if it names one."""
        return certificate_user(der) if der else None

    def authenticate_token(self, token: str) -> UserInfo | None:
        """A static token's user, else a service account's; None if neither accepts it."""
        static = self._static.get(token)
        if static is not None:
            return static
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        user, until = self._verify_service_account(token, now)
        if user is not None:
            if len(self._cache) >= TOKEN_CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (user, until)
        return user

    def _verify_service_account(self, token: str, now: float) -> tuple[UserInfo | None, float]:
        try:
            claims = tokens.verify_service_account_token(
                token,
                self._public_keys,
                issuers=self._issuers,
                api_audiences=self._api_audiences,
                now=now,
            )
        except tokens.InvalidToken as exc:
            log.debug("component=apiserver bearer token rejected reason=%s", exc)
            return None, now
        if self._validate_sa is not None and not self._validate_sa(claims):
            log.debug(
                "component=apiserver service account token invalidated user=%s", claims.username
            )
            return None, now
        until = now + TOKEN_CACHE_TTL_SECONDS
        if claims.expires_at is not None:
            until = min(until, float(claims.expires_at))
        return service_account_user(claims).with_authenticated_group(), until


@functools.lru_cache(maxsize=1024)
def certificate_user(der: bytes) -> UserInfo | None:
    """CN is the user, each O a group (upstream's CommonNameUserConversion); cached per cert.

    The returned UserInfo is shared between requests: treat it as read-only.
    """
    cert = x509.load_der_x509_certificate(der)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    if not common_name:
        return None
    orgs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    credential = "X509SHA256=" + hashlib.sha256(der).hexdigest()
    user = UserInfo(common_name, "", tuple(orgs), {CREDENTIAL_ID_KEY: [credential]})
    return user.with_authenticated_group()


def service_account_user(claims: tokens.ServiceAccountClaims) -> UserInfo:
    """``user.Info`` for a service account, with the extras upstream sets."""
    extra: dict[str, list[str]] = {}
    pod, node = claims.pod or {}, claims.node or {}
    if pod.get("name") and pod.get("uid"):
        extra[POD_NAME_KEY] = [pod["name"]]
        extra[POD_UID_KEY] = [pod["uid"]]
    if claims.token_id:
        extra[CREDENTIAL_ID_KEY] = ["JTI=" + claims.token_id]
    if node.get("name"):
        extra[NODE_NAME_KEY] = [node["name"]]
        if node.get("uid"):
            extra[NODE_UID_KEY] = [node["uid"]]
    groups = tuple(tokens.service_account_groups(claims.namespace))
    return UserInfo(claims.username, claims.uid, groups, extra, claims)


def load_token_file(path: Path) -> dict[str, UserInfo]:
    """Parse a ``--token-auth-file`` CSV: ``token,user,uid[,"group1,group2"]`` per line.

    Raises ValueError for a line with fewer than three columns; blank lines are skipped.
    Messages name the line, never the token.
    """
    users: dict[str, UserInfo] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for lineno, record in enumerate(csv.reader(f, skipinitialspace=True), start=1):
            if not record:
                continue
            if len(record) < 3:
                raise ValueError(
                    f"token file {path.name} line {lineno}: must have at least 3 columns "
                    f"(token, user name, user uid), found {len(record)}"
                )
            token, name, uid = record[0], record[1], record[2]
            if not token:
                log.warning("component=apiserver token file line=%d has an empty token", lineno)
                continue
            groups = tuple(g for g in record[3].split(",") if g) if len(record) > 3 else ()
            users[token] = UserInfo(name, uid, groups)
    return users


def peer_certificate_der(request: web.Request) -> bytes | None:
    """The client certificate of this request's TLS connection, if one was sent.

    The context requests certificates with CERT_OPTIONAL, so one that is present has
    already been verified against the cluster CA during the handshake.
    """
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return der or None


def bearer_token(request: web.Request) -> str | None:
    """``Authorization: Bearer <token>``, or the WebSocket subprotocol form."""
    header = request.headers.get("Authorization", "")
    parts = header.split(" ")
    if len(parts) >= 2 and parts[0].lower() == "bearer":
        return parts[1] or None
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(WEBSOCKET_BEARER_PREFIX):
            encoded = protocol[len(WEBSOCKET_BEARER_PREFIX) :]
            try:
                decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
                return decoded.decode() or None
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def unauthorized_response() -> web.Response:
    """401 with the Status body kube-apiserver sends for an unauthenticated request."""
    body = errors.Unauthorized("Unauthorized").status()
    return web.Response(status=401, body=orjson.dumps(body), content_type="application/json")
