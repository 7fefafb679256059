"""Authentication: certificates, static tokens and service-account tokens to UserInfo."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tinykube.apiserver import auth, tokens
from tinykube.apiserver.auth import Authenticator, UserInfo
from tinykube.apiserver.tls import Pki, ensure_pki, issue_client_cert

pytestmark = pytest.mark.unit

TOKEN_FILE = """\
alice-token,alice,1001,"devs,ops"
bob-token, bob, 1002

robot-token,robot,1003,system:masters
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("data"), hosts=[], ips=[])


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.csv"
    path.write_text(TOKEN_FILE)
    return path


@pytest.fixture
def authenticator(pki: Pki, token_file: Path) -> Authenticator:
    return Authenticator(pki, token_file)


class FakeSSLObject:
    def __init__(self, der: bytes | None) -> None:
        self.der = der

    def getpeercert(self, binary_form: bool = False) -> bytes | None:
        assert binary_form
        return self.der


class FakeTransport:
    def __init__(self, der: bytes | None = None, tls: bool = True) -> None:
        self.ssl_object = FakeSSLObject(der) if tls else None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.ssl_object if name == "ssl_object" else default


def request(headers: dict[str, str] | None = None, der: bytes | None = None) -> Any:
    return make_mocked_request("GET", "/api", headers=headers or {}, transport=FakeTransport(der))


def der_of(cert_pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)


# ---- static token file -----------------------------------------------------------------


def test_token_file_is_parsed(token_file: Path) -> None:
    users = auth.load_token_file(token_file)
    assert users == {
        "alice-token": UserInfo("alice", "1001", ("devs", "ops")),
        "bob-token": UserInfo("bob", "1002", ()),
        "robot-token": UserInfo("robot", "1003", ("system:masters",)),
    }


def test_token_file_line_with_two_columns_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("secret-value,alice\n")
    with pytest.raises(ValueError, match="line 1: must have at least 3 columns") as caught:
        auth.load_token_file(path)
    assert "secret-value" not in str(caught.value)


def test_static_token_user_gets_authenticated_group(authenticator: Authenticator) -> None:
    user = authenticator.authenticate(request({"Authorization": "Bearer alice-token"}))
    assert user == UserInfo("alice", "1001", ("devs", "ops", "system:authenticated"))


def test_unknown_token_is_not_authenticated(authenticator: Authenticator) -> None:
    assert authenticator.authenticate(request({"Authorization": "Bearer nope"})) is None


def test_no_credentials_is_not_authenticated(authenticator: Authenticator) -> None:
    assert authenticator.authenticate(request()) is None


# ---- bearer token extraction -----------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer abc"}, "abc"),
        ({"Authorization": "bearer abc"}, "abc"),
        ({"Authorization": "Bearer "}, None),
        ({"Authorization": "Basic YWxpY2U6cHc="}, None),
        ({"Authorization": "abc"}, None),
        ({}, None),
        (
            {
                "Sec-WebSocket-Protocol": "v5.channel.k8s.io, base64url.bearer.authorization.k8s.io."
                + base64.urlsafe_b64encode(b"ws-token").rstrip(b"=").decode()
            },
            "ws-token",
        ),
    ],
    ids=["bearer", "lowercase", "empty", "basic", "no-scheme", "none", "websocket"],
)
def test_bearer_token(headers: dict[str, str], expected: str | None) -> None:
    assert auth.bearer_token(request(headers)) == expected


# ---- x509 ------------------------------------------------------------------------------


def test_client_certificate_identity(authenticator: Authenticator, pki: Pki) -> None:
    cert, _ = issue_client_cert(pki, "system:node:worker-1", ["system:nodes"], 1)
    der = der_of(cert)
    user = authenticator.authenticate(request(der=der))
    assert user is not None
    assert user.username == "system:node:worker-1"
    assert user.groups == ("system:nodes", "system:authenticated")
    fingerprint = hashlib.sha256(der).hexdigest()
    assert user.extra == {auth.CREDENTIAL_ID_KEY: [f"X509SHA256={fingerprint}"]}


def test_certificate_wins_over_a_bad_token(authenticator: Authenticator, pki: Pki) -> None:
    der = pki.admin_cert.public_bytes(serialization.Encoding.DER)
    user = authenticator.authenticate(request({"Authorization": "Bearer bad"}, der=der))
    assert user is not None
    assert user.username == "kubernetes-admin"
    assert user.groups == ("kubeadm:cluster-admins", "system:authenticated")


def test_certificate_without_common_name_is_ignored(authenticator: Authenticator, pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs")]))
        .issuer_name(pki.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(pki.ca_key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    assert authenticator.authenticate(request(der=der)) is None


def test_plain_http_request_falls_back_to_tokens(authenticator: Authenticator) -> None:
    plain = make_mocked_request(
        "GET",
        "/api",
        headers={"Authorization": "Bearer bob-token"},
        transport=FakeTransport(tls=False),
    )
    user = authenticator.authenticate(plain)
    assert user is not None
    assert user.username == "bob"


# ---- service accounts ------------------------------------------------------------------


def test_service_account_user(authenticator: Authenticator, pki: Pki) -> None:
    pod = {"kind": "Pod", "name": "web-0", "uid": "pod-uid"}
    token, _ = tokens.issue_service_account_token(
        pki,
        namespace="shop",
        name="web",
        uid="sa-uid",
        bound_object=pod,
        node={"name": "worker-1", "uid": "node-uid"},
    )
    user = authenticator.authenticate(request({"Authorization": f"Bearer {token}"}))
    assert user is not None
    assert (user.username, user.uid) == ("system:serviceaccount:shop:web", "sa-uid")
    assert user.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:shop",
        "system:authenticated",
    )
    jti = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]
    assert user.extra == {
        "authentication.kubernetes.io/pod-name": ["web-0"],
        "authentication.kubernetes.io/pod-uid": ["pod-uid"],
        "authentication.kubernetes.io/credential-id": [f"JTI={jti}"],
        "authentication.kubernetes.io/node-name": ["worker-1"],
        "authentication.kubernetes.io/node-uid": ["node-uid"],
    }
    assert user.service_account is not None
    assert user.service_account.pod == {"name": "web-0", "uid": "pod-uid"}


def test_expired_service_account_token_is_refused(authenticator: Authenticator, pki: Pki) -> None:
    token, _ = tokens.issue_service_account_token(
        pki, namespace="ns", name="sa", uid="u", now=1_000_000_000
    )
    assert authenticator.authenticate_token(token) is None


def test_validator_hook_can_invalidate_a_token(pki: Pki) -> None:
    seen: list[tokens.ServiceAccountClaims] = []

    def deleted(claims: tokens.ServiceAccountClaims) -> bool:
        seen.append(claims)
        return False

    token, _ = tokens.issue_service_account_token(pki, namespace="ns", name="gone", uid="u")
    assert Authenticator(pki, service_account_validator=deleted).authenticate_token(token) is None
    assert [(c.namespace, c.name, c.uid) for c in seen] == [("ns", "gone", "u")]


def test_legacy_secret_token_authenticates(authenticator: Authenticator, pki: Pki) -> None:
    token = tokens.issue_legacy_service_account_token(
        pki, namespace="ns", name="sa", uid="u", secret_name="sa-token"
    )
    user = authenticator.authenticate_token(token)
    assert user is not None
    assert user.username == "system:serviceaccount:ns:sa"
    assert user.extra == {}


def test_authenticator_without_token_file(pki: Pki) -> None:
    assert Authenticator(pki).authenticate_token("alice-token") is None


# ---- the 401 answer --------------------------------------------------------------------


def test_unauthorized_response_is_a_status() -> None:
    response = auth.unauthorized_response()
    assert response.status == 401
    assert response.content_type == "application/json"
    assert response.body is not None
    assert json.loads(response.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


# ---- the token cache -------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def counting_authenticator(pki: Pki, clock: Clock, verdicts: list[bool]) -> Authenticator:
    """An Authenticator whose validator answers from ``verdicts`` and records each call."""
    verdicts.reverse()

    def validator(claims: tokens.ServiceAccountClaims) -> bool:
        return verdicts.pop()

    return Authenticator(pki, service_account_validator=validator, clock=clock)


def test_success_is_cached_for_ten_seconds(pki: Pki) -> None:
    clock = Clock(1_800_000_000)
    verdicts = [True, False]
    authenticator = counting_authenticator(pki, clock, verdicts)
    token, _ = tokens.issue_service_account_token(
        pki, namespace="n", name="s", uid="u", now=clock.now
    )
    assert authenticator.authenticate_token(token) is not None
    clock.now += 9
    assert authenticator.authenticate_token(token) is not None
    assert verdicts == [False]  # the validator ran once
    clock.now += 2
    assert authenticator.authenticate_token(token) is None
    assert verdicts == []


def test_failure_is_not_cached(pki: Pki) -> None:
    clock = Clock(1_800_000_000)
    authenticator = counting_authenticator(pki, clock, [False, True])
    token, _ = tokens.issue_service_account_token(
        pki, namespace="n", name="s", uid="u", now=clock.now
    )
    assert authenticator.authenticate_token(token) is None
    assert authenticator.authenticate_token(token) is not None


def test_cached_token_still_expires(pki: Pki) -> None:
    clock = Clock(1_800_000_000)
    authenticator = Authenticator(pki, clock=clock)
    token, _ = tokens.issue_service_account_token(
        pki, namespace="n", name="s", uid="u", expiration_seconds=600, now=clock.now
    )
    clock.now += 595
    assert authenticator.authenticate_token(token) is not None
    clock.now += 66  # past expiry and the one-minute leeway, inside the cache TTL
    assert authenticator.authenticate_token(token) is None
