"""The Graph emulator's sign-in authority, driven by real msal over HTTPS: discovery, the
device-code grant with polling, refresh, client credentials, and Graph's 401s."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import msal
import pytest
import requests

from rgsync.sandbox.graph import RunningGraph
from tests.sandbox.graph_support import GraphApi, running

SCOPES = ["https://graph.microsoft.com/Mail.ReadWrite"]


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[RunningGraph]:
    yield from running(tmp_path)


def _session(graph: RunningGraph) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(graph.ca_file)
    return session


def _no_waiting() -> warnings.catch_warnings:  # type: ignore[type-arg]
    """msal warns when polled faster than the interval; these tests do not wait on purpose."""
    return warnings.catch_warnings(action="ignore", category=UserWarning)


def _public(graph: RunningGraph, authority: str | None = None) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        graph.client_id,
        authority=authority or graph.authority,
        http_client=_session(graph),
        instance_discovery=False,
    )


def test_openid_configuration_names_the_endpoints_msal_needs(graph: RunningGraph) -> None:
    body = _session(graph).get(f"{graph.authority}/v2.0/.well-known/openid-configuration", timeout=5).json()
    assert body["token_endpoint"] == f"{graph.authority}/oauth2/v2.0/token"
    assert body["device_authorization_endpoint"] == f"{graph.authority}/oauth2/v2.0/devicecode"
    assert body["issuer"] == f"{graph.url}/{graph.tenant_id}/v2.0"


def test_instance_discovery_on_the_emulator_points_at_its_own_tenant(graph: RunningGraph) -> None:
    app = msal.PublicClientApplication(
        graph.client_id,
        authority=graph.authority,
        http_client=_session(graph),
        instance_discovery=f"{graph.url}/common/discovery/instance",
    )
    assert app.authority.token_endpoint.startswith(graph.authority)
    assert graph.server.calls["oauth.instance-discovery"] == 1


def test_an_unknown_tenant_is_refused(graph: RunningGraph) -> None:
    with pytest.raises(ValueError, match=r"invalid_tenant|Unable to get authority"):
        _public(graph, f"{graph.url}/no-such-tenant")


def test_device_code_flow_is_pending_until_the_user_enters_the_code(graph: RunningGraph) -> None:
    graph.state.identity.auto_approve_after = None
    app = _public(graph)
    flow = app.initiate_device_flow(scopes=SCOPES)
    assert flow["interval"] == 5 and flow["verification_uri"] == f"{graph.url}/devicelogin"
    with _no_waiting():
        pending = app.acquire_token_by_device_flow(flow, exit_condition=lambda _f: True)
    assert pending["error"] == "authorization_pending" and pending["error_codes"] == [70016]
    page = _session(graph).post(f"{graph.url}/devicelogin", data={"otc": flow["user_code"]}, timeout=5)
    assert page.status_code == 200 and "signed in" in page.text
    with _no_waiting():
        done = app.acquire_token_by_device_flow(flow, exit_condition=lambda _f: True)
    assert "access_token" in done and done["id_token_claims"]["preferred_username"] == "ann@acme.com"
    [account] = app.get_accounts()
    assert account["username"] == "ann@acme.com"
    assert GraphApi(graph, done["access_token"]).get("/v1.0/me").json()["mail"] == "ann@acme.com"


def test_a_declined_sign_in_ends_the_flow(graph: RunningGraph) -> None:
    graph.state.identity.auto_approve_after = None
    app = _public(graph)
    flow = app.initiate_device_flow(scopes=SCOPES)
    assert graph.state.identity.decline(flow["user_code"])
    result = app.acquire_token_by_device_flow(flow, exit_condition=lambda _f: True)
    assert result["error"] == "authorization_declined"


def test_refresh_tokens_renew_and_stop_working_when_revoked(graph: RunningGraph) -> None:
    app = _public(graph)
    flow = app.initiate_device_flow(scopes=SCOPES)
    with _no_waiting():
        app.acquire_token_by_device_flow(flow, exit_condition=lambda _f: True)
        first = app.acquire_token_by_device_flow(flow, exit_condition=lambda _f: True)
    [account] = app.get_accounts()
    renewed = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)
    assert renewed and renewed["access_token"] != first["access_token"]
    graph.state.revoke_tokens()
    assert (
        GraphApi(graph, renewed["access_token"]).get("/v1.0/me").json()["error"]["code"]
        == "InvalidAuthenticationToken"
    )
    refused = app.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=True)
    assert refused and refused["error"] == "invalid_grant"


def test_client_credentials_need_the_right_secret_and_a_default_scope(graph: RunningGraph) -> None:
    def app(secret: str) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            graph.client_id,
            client_credential=secret,
            authority=graph.authority,
            http_client=_session(graph),
            instance_discovery=False,
        )

    good = app(graph.client_secret).acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in good
    assert (
        app("nope").acquire_token_for_client(["https://graph.microsoft.com/.default"])["error"]
        == "invalid_client"
    )
    assert (
        app(graph.client_secret).acquire_token_for_client(["https://graph.microsoft.com/Mail.Read"])["error"]
        == "invalid_scope"
    )
    app_only = GraphApi(graph, good["access_token"])
    me = app_only.get("/v1.0/me").json()["error"]
    assert me == {
        **me,
        "code": "BadRequest",
        "message": "/me request is only valid with delegated authentication flow.",
    }
    assert app_only.get("/v1.0/users/ann@acme.com/mailFolders/inbox").status_code == 200
    assert (
        app_only.get("/v1.0/users/zed@acme.com/mailFolders/inbox").json()["error"]["code"]
        == "ErrorInvalidUser"
    )


def test_graph_answers_401_in_its_error_shape(graph: RunningGraph) -> None:
    missing = GraphApi(graph, token="").get("/v1.0/me")
    assert missing.status_code == 401 and "Bearer" in missing.headers["WWW-Authenticate"]
    error = missing.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and error["message"] == "Access token is empty."
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert GraphApi(graph, token="forged").get("/v1.0/me").status_code == 401


def test_tokens_expire_on_the_emulator_clock(tmp_path: Path) -> None:
    from datetime import timedelta

    from rgsync.sandbox.graph import start_graph
    from tests.sandbox.graph_support import NOW

    now = [NOW]
    graph = start_graph(tmp_path, clock=lambda: now[0])
    try:
        app = msal.ConfidentialClientApplication(
            graph.client_id,
            client_credential=graph.client_secret,
            authority=graph.authority,
            http_client=_session(graph),
            instance_discovery=False,
        )
        token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])["access_token"]
        api = GraphApi(graph, token)
        assert api.get("/v1.0/users/ann@acme.com/mailFolders/inbox").status_code == 200
        now[0] = NOW + timedelta(hours=2)
        expired = api.get("/v1.0/users/ann@acme.com/mailFolders/inbox").json()["error"]
        assert expired["message"] == "Lifetime validation failed, the token is expired."
    finally:
        graph.stop()
