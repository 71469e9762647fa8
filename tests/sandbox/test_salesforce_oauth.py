"""OAuth 2.0 endpoints of the emulated org: password, refresh, JWT bearer, PKCE, revoke, userinfo."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from simple_salesforce import Salesforce

from rgsync.sandbox.salesforce import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSalesforce
from rgsync.sandbox.salesforce.clock import ManualClock
from tests.sandbox.salesforce_support import NOW, SCENARIO, Api, start

JWT_CLIENT = "jwt-app"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sf(tmp_path: Path, clock: ManualClock, signing_key: rsa.RSAPrivateKey) -> Iterator[RunningSalesforce]:
    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    scenario = dict(SCENARIO)
    scenario["connected_apps"] = [
        {
            "client_id": JWT_CLIENT,
            "public_key_pem": public_pem.decode(),
            "redirect_uris": ["http://127.0.0.1:8765/callback"],
        }
    ]
    with start(tmp_path, clock, scenario) as running:
        yield running


def token_call(sf: RunningSalesforce, **form: str) -> Any:
    return sf.requests_session().post(f"{sf.url}/services/oauth2/token", data=form, timeout=10)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    head = b64url(json.dumps({"alg": "RS256"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64url(signature)}"


def test_password_grant_needs_password_plus_security_token(sf: RunningSalesforce) -> None:
    common = {
        "grant_type": "password",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "username": "ann@acme.com",
    }
    granted = token_call(sf, **common, password="pwTOK")
    assert granted.status_code == 200
    body = granted.json()
    assert body["instance_url"] == sf.url and body["token_type"] == "Bearer"
    assert body["id"].endswith(f"/id/{sf.org.org_id}/{sf.keys['ann']}")
    assert "refresh_token" not in body
    client_ = Salesforce(
        instance_url=body["instance_url"],
        session_id=body["access_token"],
        session=sf.requests_session(),
        version="59.0",
    )
    assert client_.query("SELECT COUNT() FROM Contact")["totalSize"] == 3
    wrong = token_call(sf, **common, password="pw")
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "authentication failure"},
    )
    bad_client = token_call(sf, **{**common, "client_id": "nope"}, password="pwTOK")
    assert bad_client.json()["error"] == "invalid_client_id"
    assert sf.server.calls["oauth.token"] == 3
    assert sf.org.api_used == 1  # logins don't spend the API allocation


def test_jwt_bearer_checks_signature_issuer_audience_and_expiry(
    sf: RunningSalesforce, signing_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    good = {
        "iss": JWT_CLIENT,
        "sub": "frank@acme.com",
        "aud": "https://login.salesforce.com",
        "exp": int(NOW.timestamp()) + 180,
    }
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    granted = token_call(sf, grant_type=grant, assertion=jwt(signing_key, good))
    assert granted.status_code == 200
    assert Api(sf, granted.json()["access_token"]).get("limits").status_code == 200
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cases = [
        (jwt(other_key, good), "invalid_grant"),
        (jwt(signing_key, {**good, "iss": "unknown"}), "invalid_client_id"),
        (jwt(signing_key, {**good, "aud": "https://evil.example"}), "invalid_grant"),
        (jwt(signing_key, {**good, "sub": "nobody@acme.com"}), "invalid_grant"),
        ("not.a.jwt", "invalid_grant"),
    ]
    for assertion, error in cases:
        refused = token_call(sf, grant_type=grant, assertion=assertion)
        assert (refused.status_code, refused.json()["error"]) == (400, error)
    clock.advance(minutes=5)
    expired = token_call(sf, grant_type=grant, assertion=jwt(signing_key, good))
    assert expired.json()["error"] == "invalid_grant"


def test_jwt_bearer_refuses_unsigned_and_algorithm_swapped_assertions(
    sf: RunningSalesforce, signing_key: rsa.RSAPrivateKey
) -> None:
    """Only RS256 signed by the connected app's key is a valid assertion: not `alg: none`, not an
    HS256 token keyed with the app's public key (the classic algorithm confusion)."""
    import jwt as pyjwt

    claims = {
        "iss": JWT_CLIENT,
        "sub": "frank@acme.com",
        "aud": "https://login.salesforce.com",
        "exp": int(NOW.timestamp()) + 180,
    }
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = f"{b64url(json.dumps({'alg': 'none'}).encode())}.{b64url(json.dumps(claims).encode())}."
    swapped_head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    swapped_body = b64url(json.dumps(claims).encode())
    mac = hmac.new(public_pem, f"{swapped_head}.{swapped_body}".encode(), hashlib.sha256).digest()
    swapped = f"{swapped_head}.{swapped_body}.{b64url(mac)}"
    for assertion in (unsigned, swapped):
        refused = token_call(sf, grant_type=grant, assertion=assertion)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    signed_by_library = pyjwt.encode(claims, signing_key, algorithm="RS256")
    assert token_call(sf, grant_type=grant, assertion=signed_by_library).status_code == 200


def test_authorization_code_with_pkce_and_refresh_and_revoke(sf: RunningSalesforce) -> None:
    session = sf.requests_session()
    verifier = "a-long-random-verifier-string-for-pkce-0123456789"
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    redirect = "http://127.0.0.1:8765/callback"
    authorize = session.get(
        f"{sf.url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": JWT_CLIENT,
            "redirect_uri": redirect,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "xyz",
            "login_hint": "ann@acme.com",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert authorize.status_code == 302
    query = parse_qs(urlsplit(authorize.headers["Location"]).query)
    assert query["state"] == ["xyz"]
    code = query["code"][0]
    wrong = token_call(
        sf,
        grant_type="authorization_code",
        code=code,
        client_id=JWT_CLIENT,
        redirect_uri=redirect,
        code_verifier="wrong",
    )
    assert wrong.json()["error"] == "invalid_grant"
    # A refused exchange used up the code, as a real server does.
    again = token_call(
        sf,
        grant_type="authorization_code",
        code=code,
        client_id=JWT_CLIENT,
        redirect_uri=redirect,
        code_verifier=verifier,
    )
    assert again.status_code == 400
    location = session.get(
        f"{sf.url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": JWT_CLIENT,
            "redirect_uri": redirect,
            "code_challenge": challenge,
        },
        allow_redirects=False,
        timeout=10,
    ).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    granted = token_call(
        sf,
        grant_type="authorization_code",
        code=code,
        client_id=JWT_CLIENT,
        redirect_uri=redirect,
        code_verifier=verifier,
    )
    assert granted.status_code == 200
    tokens = granted.json()
    refreshed = token_call(
        sf, grant_type="refresh_token", client_id=JWT_CLIENT, refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access_token"]
    info = Api(sf, new_access).get(f"{sf.url}/services/oauth2/userinfo").json()
    assert (info["user_id"], info["organization_id"], info["email"]) == (
        sf.keys["ann"],
        sf.org.org_id,
        "ann@acme.com",
    )
    revoked = session.post(
        f"{sf.url}/services/oauth2/revoke", data={"token": tokens["refresh_token"]}, timeout=10
    )
    assert revoked.status_code == 200
    assert Api(sf, new_access).get("limits").status_code == 401
    assert (
        token_call(
            sf, grant_type="refresh_token", client_id=JWT_CLIENT, refresh_token=tokens["refresh_token"]
        ).status_code
        == 400
    )
    assert (
        session.post(f"{sf.url}/services/oauth2/revoke", data={"token": "unknown"}, timeout=10).status_code
        == 400
    )


def test_redirect_uri_must_be_registered(sf: RunningSalesforce) -> None:
    response = sf.requests_session().get(
        f"{sf.url}/services/oauth2/authorize",
        params={"response_type": "code", "client_id": JWT_CLIENT, "redirect_uri": "https://evil.example/cb"},
        allow_redirects=False,
        timeout=10,
    )
    assert (response.status_code, response.json()["error"]) == (400, "redirect_uri_mismatch")


def test_client_credentials_run_as_the_api_user(sf: RunningSalesforce) -> None:
    granted = token_call(
        sf, grant_type="client_credentials", client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    info = Api(sf, granted.json()["access_token"]).get(f"{sf.url}/services/oauth2/userinfo").json()
    assert info["user_id"] == sf.user_id
    assert (
        token_call(
            sf, grant_type="client_credentials", client_id=DEFAULT_CLIENT_ID, client_secret="x"
        ).json()["error"]
        == "invalid_client"
    )


def test_userinfo_refuses_unknown_tokens(sf: RunningSalesforce) -> None:
    assert Api(sf, "nope").get(f"{sf.url}/services/oauth2/userinfo").status_code == 403
