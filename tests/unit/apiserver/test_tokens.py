"""Service-account tokens: the claims we sign, TokenRequest's rules, and verification."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tinykube.api import errors
from tinykube.apiserver import tokens
from tinykube.apiserver.tls import Pki, ensure_pki

pytestmark = pytest.mark.unit

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"

# The public key of upstream's TestKeyIDStability (pkg/serviceaccount/keyid_test.go) and the
# key id kube-apiserver derives from it: tokens signed before a restart must keep verifying.
UPSTREAM_PUBLIC_KEY = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA249XwEo9k4tM8fMxV7zx
OhcrP+WvXn917koM5Qr2ZXs4vo26e4ytdlrV0bQ9SlcLpQVSYjIxNfhTZdDt+ecI
zshKuv1gKIxbbLQMOuK1eA/4HALyEkFgmS/tleLJrhc65tKPMGD+pKQ/xhmzRuCG
51RoiMgbQxaCyYxGfNLpLAZK9L0Tctv9a0mJmGIYnIOQM4kC1A1I1n3EsXMWmeJU
j7OTh/AjjCnMnkgvKT2tpKxYQ59PgDgU8Ssc7RDSmSkLxnrv+OrN80j6xrw0OjEi
B4Ycr0PqfzZcvy8efTtFQ/Jnc4Bp1zUtFXt7+QeevePtQ2EcyELXE0i63T1CujRM
WwIDAQAB
-----END PUBLIC KEY-----
"""
UPSTREAM_KEY_ID = "JHJehTTTZlsspKHT-GaJxK7Kd1NQgZJu3fyK6K_QDYU"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("data"), hosts=[], ips=[])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("other"), hosts=[], ips=[])


def issue(pki: Pki, **kwargs: Any) -> tuple[str, str]:
    args: dict[str, Any] = {"namespace": "default", "name": "app", "uid": "sa-uid", "now": NOW}
    return tokens.issue_service_account_token(pki, **(args | kwargs))


def payload(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def verify(pki: Pki, token: str, **kwargs: Any) -> tokens.ServiceAccountClaims:
    return tokens.verify_service_account_token(token, [pki.sa_public_key], now=NOW, **kwargs)


# ---- issuing ---------------------------------------------------------------------------


def test_key_id_matches_upstream_derivation() -> None:
    key = serialization.load_pem_public_key(UPSTREAM_PUBLIC_KEY)
    assert tokens.key_id(key) == UPSTREAM_KEY_ID  # type: ignore[arg-type]


def test_header_is_rs256_with_key_id(pki: Pki) -> None:
    token, _ = issue(pki)
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "kid": tokens.key_id(pki.sa_public_key),
    }


def test_default_token_claims(pki: Pki) -> None:
    token, expiration = issue(pki)
    claims = payload(token)
    jti = claims.pop("jti")
    assert len(jti) == 36
    assert claims == {
        "aud": [API_AUDIENCE],
        "exp": NOW + 3600,
        "iat": NOW,
        "iss": API_AUDIENCE,
        "kubernetes.io": {
            "namespace": "default",
            "serviceaccount": {"name": "app", "uid": "sa-uid"},
        },
        "nbf": NOW,
        "sub": "system:serviceaccount:default:app",
    }
    assert expiration == "2027-01-15T09:00:00Z"


def test_every_token_has_its_own_id(pki: Pki) -> None:
    assert payload(issue(pki)[0])["jti"] != payload(issue(pki)[0])["jti"]


def test_pod_bound_token_carries_pod_and_node(pki: Pki) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "pod-uid"}
    token, _ = issue(pki, bound_object=pod, node={"name": "worker-1", "uid": "node-uid"})
    private = payload(token)["kubernetes.io"]
    assert private["pod"] == {"name": "web-0", "uid": "pod-uid"}
    assert private["node"] == {"name": "worker-1", "uid": "node-uid"}
    assert "warnafter" not in private


@pytest.mark.parametrize(
    ("kind", "claim"), [("Secret", "secret"), ("Node", "node")], ids=["secret", "node"]
)
def test_token_bound_to_secret_or_node(pki: Pki, kind: str, claim: str) -> None:
    token, _ = issue(pki, bound_object={"kind": kind, "name": "x", "uid": "x-uid"})
    assert payload(token)["kubernetes.io"][claim] == {"name": "x", "uid": "x-uid"}


def test_binding_to_an_unsupported_kind_is_a_bad_request(pki: Pki) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        issue(pki, bound_object={"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"})
    assert caught.value.message == "cannot bind token to object of type apps/v1, Kind=Deployment"


def test_explicit_audiences_replace_the_default(pki: Pki) -> None:
    token, _ = issue(pki, audiences=["vault", "sts.amazonaws.com"])
    assert payload(token)["aud"] == ["vault", "sts.amazonaws.com"]


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (599, "may not specify a duration less than 10 minutes"),
        (2**32 + 1, "may not specify a duration larger than 2^32 seconds"),
    ],
    ids=["too-short", "too-long"],
)
def test_expiration_out_of_range_is_invalid(pki: Pki, seconds: int, message: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        issue(pki, expiration_seconds=seconds)
    status = caught.value.status()
    assert status["message"] == (
        f'TokenRequest.authentication.k8s.io "" is invalid: '
        f"spec.expirationSeconds: Invalid value: {seconds}: {message}"
    )
    assert status["details"]["causes"][0]["field"] == "spec.expirationSeconds"


def test_ten_minutes_is_the_shortest_allowed(pki: Pki) -> None:
    token, expiration = issue(pki, expiration_seconds=600)
    assert payload(token)["exp"] == NOW + 600
    assert expiration == "2027-01-15T08:10:00Z"


def test_kubelet_token_is_extended_with_warnafter(pki: Pki) -> None:
    pod = {"kind": "Pod", "name": "web-0", "uid": "pod-uid"}
    token, expiration = issue(pki, bound_object=pod, expiration_seconds=3607)
    claims = payload(token)
    assert claims["exp"] == NOW + 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] == NOW + 3607
    # The status still reports what was asked for.
    assert expiration == "2027-01-15T09:00:07Z"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bound_object": None},
        {"audiences": ["vault"]},
        {"extend_expiration": False},
    ],
    ids=["not-pod-bound", "foreign-audience", "extension-disabled"],
)
def test_extension_applies_only_to_pod_tokens_for_the_api(pki: Pki, kwargs: dict[str, Any]) -> None:
    args = {"bound_object": {"kind": "Pod", "name": "p", "uid": "u"}, "expiration_seconds": 3607}
    token, _ = issue(pki, **(args | kwargs))
    claims = payload(token)
    assert claims["exp"] == NOW + 3607
    assert "warnafter" not in claims["kubernetes.io"]


def test_legacy_token_claims(pki: Pki) -> None:
    token = tokens.issue_legacy_service_account_token(
        pki, namespace="kube-system", name="builder", uid="sa-uid", secret_name="builder-token"
    )
    assert payload(token) == {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "kube-system",
        "kubernetes.io/serviceaccount/secret.name": "builder-token",
        "kubernetes.io/serviceaccount/service-account.name": "builder",
        "kubernetes.io/serviceaccount/service-account.uid": "sa-uid",
        "sub": "system:serviceaccount:kube-system:builder",
    }


# ---- verifying -------------------------------------------------------------------------


def test_verify_returns_the_claims(pki: Pki) -> None:
    pod = {"kind": "Pod", "name": "web-0", "uid": "pod-uid"}
    token, _ = issue(pki, bound_object=pod, node={"name": "worker-1"})
    claims = verify(pki, token)
    assert (claims.namespace, claims.name, claims.uid) == ("default", "app", "sa-uid")
    assert claims.username == "system:serviceaccount:default:app"
    assert claims.audiences == (API_AUDIENCE,)
    assert claims.pod == {"name": "web-0", "uid": "pod-uid"}
    assert claims.node == {"name": "worker-1"}
    assert claims.token_id == payload(token)["jti"]
    assert not claims.legacy


def test_legacy_token_verifies_for_the_api_audience(pki: Pki) -> None:
    token = tokens.issue_legacy_service_account_token(
        pki, namespace="ns", name="sa", uid="u", secret_name="sa-token"
    )
    claims = verify(pki, token)
    assert claims.legacy
    assert claims.secret == {"name": "sa-token"}
    assert claims.username == "system:serviceaccount:ns:sa"


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (3600 + 61, "service account token has expired"),
        (-61, "service account token is not valid yet"),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_time_window_is_enforced(pki: Pki, offset: int, message: str) -> None:
    token, _ = issue(pki)
    with pytest.raises(tokens.InvalidToken, match=message):
        tokens.verify_service_account_token(token, [pki.sa_public_key], now=NOW + offset)


def test_one_minute_of_clock_skew_is_tolerated(pki: Pki) -> None:
    token, _ = issue(pki)
    key = [pki.sa_public_key]
    tokens.verify_service_account_token(token, key, now=NOW + 3600 + 59)
    tokens.verify_service_account_token(token, key, now=NOW - 59)


def test_foreign_audience_is_refused(pki: Pki) -> None:
    token, _ = issue(pki, audiences=["vault"])
    with pytest.raises(tokens.InvalidToken, match="audiences"):
        verify(pki, token)
    assert verify(pki, token, api_audiences=["vault"]).audiences == ("vault",)


def test_token_signed_by_another_key_is_refused(pki: Pki, other_pki: Pki) -> None:
    token, _ = issue(other_pki)
    with pytest.raises(tokens.InvalidToken, match="no keys found"):
        verify(pki, token)


def test_old_key_still_verifies_after_rotation(pki: Pki, other_pki: Pki) -> None:
    token, _ = issue(other_pki)
    keys = [pki.sa_public_key, other_pki.sa_public_key]
    claims = tokens.verify_service_account_token(token, keys, now=NOW)
    assert claims.name == "app"


def test_tampered_payload_is_refused(pki: Pki) -> None:
    token, _ = issue(pki)
    header, _, signature = token.split(".")
    claims = payload(token) | {"sub": "system:serviceaccount:kube-system:admin"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(tokens.InvalidToken, match="invalid signature"):
        verify(pki, f"{header}.{forged}.{signature}")


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", '{"iss": "x"}.a.b', "not a token at all"],
    ids=["empty", "one-part", "garbage", "json", "spaces"],
)
def test_non_jwt_is_refused(pki: Pki, token: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        verify(pki, token)


def test_unknown_issuer_is_refused(pki: Pki) -> None:
    token = jwt.encode({"iss": "https://accounts.example.com", "sub": "x"}, pki.sa_key, "RS256")
    with pytest.raises(tokens.InvalidToken, match="issuer"):
        verify(pki, token)


def test_token_without_kubernetes_claims_is_refused(pki: Pki) -> None:
    body = {"iss": API_AUDIENCE, "aud": [API_AUDIENCE], "sub": "x", "exp": NOW + 60}
    token = jwt.encode(body, pki.sa_key, "RS256")
    with pytest.raises(tokens.InvalidToken, match=r"kubernetes\.io"):
        verify(pki, token)


def test_rfc3339_is_utc_second_precision() -> None:
    assert tokens.rfc3339(NOW + 0.9) == "2027-01-15T08:00:00Z"
