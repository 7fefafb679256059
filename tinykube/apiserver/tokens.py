"""Service-account tokens: JWTs the API server signs with ``sa.key`` and later verifies.

Pods, controllers and anything holding a TokenRequest result authenticate with these, so
they must look like the tokens kube-apiserver issues: tools decode them (``kubectl create
token`` users paste them into jwt.io), and the official clients re-read them from disk.
Both directions live here so the claim layout is written down once.

Bound tokens (TokenRequest, projected volumes) carry the registered claims ``iss``, ``sub``,
``aud``, ``exp``, ``iat``, ``nbf`` and ``jti`` plus a private ``kubernetes.io`` claim::

    {"namespace": ns, "serviceaccount": {"name", "uid"},
     "pod": {"name", "uid"}, "node": {"name", "uid"},      # when bound to a pod
     "secret": {...} | "node": {...},                       # or bound to one of these
     "warnafter": <unix time>}                              # extended kubelet tokens only

They are signed RS256 with a ``kid`` header derived from the public key the way upstream
derives it (SHA-256 of the PKIX DER, unpadded base64url), so verifiers can pick the key.

Legacy tokens (the ones the token controller stores in ``kubernetes.io/service-account-token``
Secrets) have issuer ``kubernetes/serviceaccount``, no ``aud`` and no ``exp``; a token
without an audience is taken to be meant for the API server itself, as upstream does.

Verification here checks only what the token says about itself (signature, issuer,
audience, time). Whether the service account, pod or secret it names still exists is the
caller's business: ``verify_service_account_token`` returns the claims so it can look.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tinykube.api import errors

if TYPE_CHECKING:
    from tinykube.apiserver.tls import Pki

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# With no --api-audiences kube-apiserver uses its issuer as its only audience.
DEFAULT_API_AUDIENCES = (DEFAULT_ISSUER,)
LEGACY_ISSUER = "kubernetes/serviceaccount"

DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 10 * 60
MAX_EXPIRATION_SECONDS = 1 << 32
# The kubelet asks for 3607 s; the server then issues a token valid for a year that only
# warns after 3607 s, so old clients that never re-read their token keep working.
WARN_ONLY_EXPIRATION_SECONDS = 60 * 60 + 7
EXTENDED_EXPIRATION_SECONDS = 365 * 24 * 60 * 60
# go-jose's default leeway for exp/nbf/iat.
LEEWAY_SECONDS = 60

MSG_TOO_SHORT = "may not specify a duration less than 10 minutes"
MSG_TOO_LONG = "may not specify a duration larger than 2^32 seconds"

SA_USER_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
SA_GROUP_PREFIX = "system:serviceaccounts:"

_LEGACY_NS = "kubernetes.io/serviceaccount/namespace"
_LEGACY_SECRET = "kubernetes.io/serviceaccount/secret.name"
_LEGACY_SA_NAME = "kubernetes.io/serviceaccount/service-account.name"
_LEGACY_SA_UID = "kubernetes.io/serviceaccount/service-account.uid"


class InvalidToken(Exception):
    """The token is not one we issued, or no longer valid. Never echo the token itself."""


@dataclass(frozen=True)
class ServiceAccountClaims:
    """What a verified token says about its holder."""

    namespace: str
    name: str
    uid: str
    audiences: tuple[str, ...]
    issuer: str
    token_id: str = ""
    expires_at: int | None = None
    warn_after: int | None = None
    pod: dict[str, str] | None = None
    node: dict[str, str] | None = None
    secret: dict[str, str] | None = None
    legacy: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def username(self) -> str:
        return service_account_username(self.namespace, self.name)


def service_account_username(namespace: str, name: str) -> str:
    return f"{SA_USER_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> list[str]:
    return [ALL_SERVICE_ACCOUNTS_GROUP, f"{SA_GROUP_PREFIX}{namespace}"]


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """The ``kid`` upstream puts on tokens: unpadded base64url SHA-256 of the PKIX DER."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def validate_expiration_seconds(seconds: int) -> list[errors.FieldError]:
    """TokenRequest's static validation of ``spec.expirationSeconds``."""
    path = "spec.expirationSeconds"
    if seconds < MIN_EXPIRATION_SECONDS:
        return [errors.invalid(path, seconds, MSG_TOO_SHORT)]
    if seconds > MAX_EXPIRATION_SECONDS:
        return [errors.invalid(path, seconds, MSG_TOO_LONG)]
    return []


def rfc3339(epoch: float) -> str:
    """``metav1.Time`` format: UTC, second precision, trailing Z."""
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- issuing ---------------------------------------------------------------------------


def issue_service_account_token(
    pki: Pki,
    *,
    namespace: str,
    name: str,
    uid: str,
    audiences: list[str] | None = None,
    expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
    bound_object: dict[str, Any] | None = None,
    node: dict[str, str] | None = None,
    issuer: str = DEFAULT_ISSUER,
    api_audiences: Sequence[str] = DEFAULT_API_AUDIENCES,
    extend_expiration: bool = True,
    now: float | None = None,
) -> tuple[str, str]:
    """Sign a bound token as TokenRequest does; returns (token, expirationTimestamp).

    ``audiences`` empty or None means the API server's own audiences. ``bound_object`` is a
    TokenRequest ``boundObjectRef`` (``kind`` Pod, Secret or Node, ``name``, ``uid``); for a
    pod, ``node`` (name and optionally uid of the pod's node) is embedded too. Raises
    ``errors.Invalid`` for an out-of-range ``expiration_seconds`` with upstream's message,
    and ``errors.BadRequest`` for an unsupported bound kind.
    """
    problems = validate_expiration_seconds(expiration_seconds)
    if problems:
        raise errors.invalid_object("TokenRequest", "authentication.k8s.io", "", problems)
    issued_at = int(time.time() if now is None else now)
    auds = list(audiences) if audiences else list(api_audiences)
    is_pod = bound_object is not None and bound_object.get("kind") == "Pod"
    extend = extend_expiration and is_pod and set(auds) <= set(api_audiences)
    lifetime, warn_after = _lifetime(expiration_seconds, extend=extend)
    private = _private_claims(namespace, name, uid, bound_object, node)
    if warn_after:
        private["warnafter"] = issued_at + warn_after
    payload = {
        "aud": auds,
        "exp": issued_at + lifetime,
        "iat": issued_at,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": private,
        "nbf": issued_at,
        "sub": service_account_username(namespace, name),
    }
    # The status reports the requested lifetime, not the extended one, as upstream does.
    return _sign(pki.sa_key, payload), rfc3339(issued_at + expiration_seconds)


def _lifetime(expiration_seconds: int, *, extend: bool) -> tuple[int, int]:
    """(seconds until exp, seconds until warnafter or 0).

    Only pod-bound tokens for the API server's own audiences may be extended, and only when
    the kubelet's magic 3607 s was asked for.
    """
    if extend and expiration_seconds == WARN_ONLY_EXPIRATION_SECONDS:
        return EXTENDED_EXPIRATION_SECONDS, expiration_seconds
    return expiration_seconds, 0


def issue_legacy_service_account_token(
    pki: Pki, *, namespace: str, name: str, uid: str, secret_name: str
) -> str:
    """A non-expiring token for a ``kubernetes.io/service-account-token`` Secret."""
    payload = {
        "iss": LEGACY_ISSUER,
        _LEGACY_NS: namespace,
        _LEGACY_SECRET: secret_name,
        _LEGACY_SA_NAME: name,
        _LEGACY_SA_UID: uid,
        "sub": service_account_username(namespace, name),
    }
    return _sign(pki.sa_key, payload)


def _private_claims(
    namespace: str,
    name: str,
    uid: str,
    bound_object: dict[str, Any] | None,
    node: dict[str, str] | None,
) -> dict[str, Any]:
    claims: dict[str, Any] = {"namespace": namespace, "serviceaccount": _ref(name, uid)}
    if not bound_object:
        return claims
    kind = bound_object.get("kind")
    ref = _ref(bound_object.get("name", ""), bound_object.get("uid", ""))
    if kind == "Pod":
        claims["pod"] = ref
        if node and node.get("name"):
            claims["node"] = _ref(node["name"], node.get("uid", ""))
    elif kind == "Secret":
        claims["secret"] = ref
    elif kind == "Node":
        claims["node"] = ref
    else:
        api_version = bound_object.get("apiVersion", "")
        raise errors.BadRequest(f"cannot bind token to object of type {api_version}, Kind={kind}")
    return claims


def _ref(name: str, uid: str) -> dict[str, str]:
    # Go's omitempty: an empty uid is left out, not sent as "".
    return {"name": name, "uid": uid} if uid else {"name": name}


def _sign(key: rsa.RSAPrivateKey, payload: dict[str, Any]) -> str:
    # go-jose writes only alg and kid; PyJWT drops "typ" when it is given as None.
    headers = {"kid": key_id(key.public_key()), "typ": None}
    return jwt.encode(payload, key, algorithm="RS256", headers=headers)


# ---- verifying -------------------------------------------------------------------------


def verify_service_account_token(
    token: str,
    public_keys: Sequence[rsa.RSAPublicKey],
    *,
    issuers: Sequence[str] = (DEFAULT_ISSUER, LEGACY_ISSUER),
    api_audiences: Sequence[str] = DEFAULT_API_AUDIENCES,
    now: float | None = None,
) -> ServiceAccountClaims:
    """Check signature, issuer, audience and validity window; return the claims.

    Raises ``InvalidToken`` for anything that is not a valid service-account token. A
    token that is not a JWT, or whose issuer is not ours, also raises it: the caller tries
    other authenticators first or treats it as unknown.
    """
    unverified = _peek_payload(token)
    if unverified.get("iss") not in issuers:
        raise InvalidToken("token issuer is not recognised")
    payload = _decode(token, public_keys)
    if payload.get("iss") not in issuers:
        raise InvalidToken("token issuer is not recognised")
    claims = _legacy_claims(payload) if payload["iss"] == LEGACY_ISSUER else _bound_claims(payload)
    token_auds = claims.audiences or tuple(api_audiences)
    if api_audiences and not set(token_auds) & set(api_audiences):
        raise InvalidToken("token audiences are not valid for this server")
    _check_times(payload, time.time() if now is None else now)
    return claims


def _peek_payload(token: str) -> dict[str, Any]:
    """Read the payload before verifying, only to decide whether the token is ours."""
    parts = token.split(".")
    if len(parts) != 3 or token.lstrip().startswith("{"):
        raise InvalidToken("not a JWT")
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError as exc:
        raise InvalidToken("not a JWT") from exc
    if not isinstance(value, dict):
        raise InvalidToken("not a JWT")
    return value


def _decode(token: str, public_keys: Sequence[rsa.RSAPublicKey]) -> dict[str, Any]:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("malformed token header") from exc
    candidates = [k for k in public_keys if not kid or key_id(k) == kid]
    if not candidates:
        raise InvalidToken("invalid signature, no keys found")
    # Times, audience and issuer are checked by hand: exactly upstream's rules, with `now`.
    options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
    options |= {"verify_aud": False, "verify_iss": False}
    for key in candidates:
        try:
            return jwt.decode(token, key, algorithms=["RS256"], options=options)  # type: ignore[arg-type]
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("malformed token") from exc
    raise InvalidToken("invalid signature")


def _bound_claims(payload: dict[str, Any]) -> ServiceAccountClaims:
    private = payload.get("kubernetes.io")
    if not isinstance(private, dict):
        raise InvalidToken("token lacks the kubernetes.io claim")
    sa = private.get("serviceaccount") or {}
    namespace, name = private.get("namespace", ""), sa.get("name", "")
    if not namespace or not name:
        raise InvalidToken("token does not name a service account")
    aud = payload.get("aud") or []
    return ServiceAccountClaims(
        namespace=namespace,
        name=name,
        uid=sa.get("uid", ""),
        audiences=tuple([aud] if isinstance(aud, str) else aud),
        issuer=payload["iss"],
        token_id=payload.get("jti", ""),
        expires_at=payload.get("exp"),
        warn_after=private.get("warnafter"),
        pod=private.get("pod"),
        node=private.get("node"),
        secret=private.get("secret"),
        raw=payload,
    )


def _legacy_claims(payload: dict[str, Any]) -> ServiceAccountClaims:
    namespace, name = payload.get(_LEGACY_NS, ""), payload.get(_LEGACY_SA_NAME, "")
    secret_name = payload.get(_LEGACY_SECRET, "")
    if not namespace or not name or not secret_name:
        raise InvalidToken("legacy token lacks its service-account claims")
    return ServiceAccountClaims(
        namespace=namespace,
        name=name,
        uid=payload.get(_LEGACY_SA_UID, ""),
        audiences=(),
        issuer=payload["iss"],
        secret={"name": secret_name},
        legacy=True,
        raw=payload,
    )


def _check_times(payload: dict[str, Any], now: float) -> None:
    exp, nbf, iat = payload.get("exp"), payload.get("nbf"), payload.get("iat")
    for value in (exp, nbf, iat):
        if value is not None and not isinstance(value, int | float):
            raise InvalidToken("malformed time claim")
    if exp is not None and now > exp + LEEWAY_SECONDS:
        raise InvalidToken("service account token has expired")
    if nbf is not None and now < nbf - LEEWAY_SECONDS:
        raise InvalidToken("service account token is not valid yet")
    if iat is not None and now < iat - LEEWAY_SECONDS:
        raise InvalidToken("service account token is issued in the future")
