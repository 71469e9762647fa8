"""Each provider's sign-in flow as a plain function (SPEC §9): typed request in, settings and
secrets out, against the provider's emulator, with no command line in between.

The flows store nothing themselves; these tests check what they return, that the real store is
untouched until the caller commits, and that a refused sign-in raises one line naming the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.credentials import CredentialStore
from rgsync.errors import RgsyncError, UsageError
from rgsync.providers.descriptor import ConnectContext, ProfileOptions, StagedSecrets, commit_secrets
from rgsync.providers.exchange.config import ExchangeConnection
from rgsync.providers.exchange.connect import ExchangeConnectRequest, connect_exchange
from rgsync.providers.exchange.connection import PASSWORD_SECRET
from rgsync.providers.google.auth import ACCESS_TOKEN, TOKEN
from rgsync.providers.google.connect import GmailConnectRequest, connect_gmail
from rgsync.providers.google.connection import GmailConnection
from rgsync.providers.microsoft365.auth import CLIENT_SECRET, TOKEN_CACHE
from rgsync.providers.microsoft365.config import Microsoft365Connection
from rgsync.providers.microsoft365.connect import Microsoft365ConnectRequest, connect_microsoft365
from rgsync.providers.salesforce.auth import (
    SECRET_INSTANCE,
    SECRET_PASSWORD,
    SECRET_SESSION,
    SalesforceConfig,
)
from rgsync.providers.salesforce.connect import SalesforceConnectRequest, connect_salesforce
from rgsync.sandbox.ews import RunningEws, start_ews
from rgsync.sandbox.google import start_google
from rgsync.sandbox.graph import start_graph
from rgsync.sandbox.salesforce import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    start_salesforce,
)

USERS = [{"key": "ann", "Name": "Ann Lee", "Email": "ann@acme.com", "Username": "ann@acme.com"}]


class Script:
    """A user who answers each question from a list and remembers what was asked and said."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.told: list[str] = []
        self.opened: list[str] = []
        self.slept: list[float] = []

    def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        return self.answers.pop(0)

    def ask_secret(self, prompt: str, *, allow_empty: bool = False) -> str:
        self.asked.append(prompt)
        return self.answers.pop(0)

    def tell(self, text: str) -> None:
        self.told.append(text)

    def open_url(self, url: str) -> None:
        self.opened.append(url)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialStore:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    return CredentialStore("default", tmp_path / "state" / "credentials.json")


def _context(store: CredentialStore, script: Script, *, same_kind: bool = True) -> ConnectContext:
    return ConnectContext(
        secrets=StagedSecrets(store),
        settings_file=Path("settings.toml"),
        interaction=script,
        same_kind=same_kind,
        options=ProfileOptions(),
    )


def _stored(store: CredentialStore) -> dict[str, str]:
    if not store.fallback_file.exists():
        return {}
    return dict(json.loads(store.fallback_file.read_text())["secrets"])


def test_spec_9_salesforce_session_flow_returns_the_secret_and_stores_nothing_itself(
    tmp_path: Path, store: CredentialStore
) -> None:
    org = start_salesforce(tmp_path / "org", scenario={"users": USERS})
    try:
        script = Script(org.token)
        request = SalesforceConnectRequest(auth="session", instance_url=org.url, ca_file=org.ca_file)
        result = connect_salesforce(request, SalesforceConfig(), _context(store, script))
    finally:
        org.stop()
    assert script.asked == ["Session id"]
    assert result.section == "salesforce"
    assert result.settings["auth"] == "session" and result.settings["instance-url"] == org.url
    assert result.secrets == {SECRET_SESSION: org.token, SECRET_INSTANCE: None}
    assert result.report["user_id"] == org.keys["ann"]
    assert org.token not in json.dumps(dict(result.settings))  # SPEC §9: secrets never in settings
    assert _stored(store) == {}  # nothing written until the caller commits
    commit_secrets(store, result.secrets)
    assert store.get(SECRET_SESSION) == org.token


def test_spec_9_salesforce_password_flow_signs_in_now_and_keeps_the_org_instance(
    tmp_path: Path, store: CredentialStore
) -> None:
    org = start_salesforce(tmp_path / "org", scenario={"users": USERS})
    try:
        store.set(SECRET_SESSION, "stale-session")  # an old session must not stand in for the sign-in
        script = Script(DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_SECURITY_TOKEN)
        request = SalesforceConnectRequest(
            auth="password",
            login_url=org.url,
            username="ann@acme.com",
            consumer_key=DEFAULT_CLIENT_ID,
            ca_file=org.ca_file,
            ask_secret=True,
        )
        result = connect_salesforce(request, SalesforceConfig(), _context(store, script))
    finally:
        org.stop()
    assert script.asked == [
        "Consumer secret",
        "Password for ann@acme.com",
        "Security token (Enter if your network is trusted)",
    ]
    assert result.settings["instance-url"] == org.url and result.settings["login-url"] == org.url
    assert result.secrets[SECRET_PASSWORD] == DEFAULT_PASSWORD
    assert result.secrets[SECRET_SESSION] not in (None, "stale-session")  # a fresh token from the sign-in
    assert result.report["user_id"] == org.keys["ann"]
    assert store.get(SECRET_SESSION) == "stale-session"  # untouched until the caller commits


def test_spec_9_salesforce_flow_refuses_impossible_options_before_asking(store: CredentialStore) -> None:
    script = Script()
    with pytest.raises(UsageError, match="--instance-url"):
        connect_salesforce(
            SalesforceConnectRequest(auth="session"), SalesforceConfig(), _context(store, script)
        )
    with pytest.raises(UsageError, match="--timeout"):
        connect_salesforce(
            SalesforceConnectRequest(
                auth="password", username="a@b.c", ask_secret=True, wait_seconds=float("nan")
            ),
            SalesforceConfig(),
            _context(store, script),
        )
    assert script.asked == []


def test_spec_9_salesforce_refused_session_raises_one_line_with_the_fix(
    tmp_path: Path, store: CredentialStore
) -> None:
    org = start_salesforce(tmp_path / "org", scenario={"users": USERS})
    try:
        request = SalesforceConnectRequest(auth="session", instance_url=org.url, ca_file=org.ca_file)
        with pytest.raises(RgsyncError, match="rgsync connect salesforce") as raised:
            connect_salesforce(request, SalesforceConfig(), _context(store, Script("00D!wrong")))
    finally:
        org.stop()
    assert "00D!wrong" not in raised.value.message
    assert _stored(store) == {}  # a refused sign-in leaves the profile as it was


def test_spec_9_gmail_flow_with_a_token_checks_the_profile_and_returns_the_address(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    google = start_google()
    try:
        monkeypatch.setenv("FLOW_TOKEN", google.token)
        request = GmailConnectRequest(token_from_env="FLOW_TOKEN", api_url=google.url)
        result = connect_gmail(request, GmailConnection(), _context(store, Script()))
    finally:
        google.stop()
    assert result.settings["provider"] == "gmail" and result.settings["address"] == google.address
    assert result.settings["gmail-api-url"] == google.url
    assert result.secrets == {ACCESS_TOKEN: google.token, TOKEN: None}
    assert _stored(store) == {}


def test_spec_9_gmail_flow_refuses_two_sign_ins_at_once(store: CredentialStore, tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text("{}")
    request = GmailConnectRequest(service_account=key, token_from_env="X")
    with pytest.raises(UsageError, match="only one of"):
        connect_gmail(request, GmailConnection(), _context(store, Script()))


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    running = start_ews()
    try:
        yield running
    finally:
        running.stop()


def test_spec_9_exchange_flow_asks_for_the_password_and_returns_it_for_the_store(
    ews: RunningEws, store: CredentialStore
) -> None:
    running = ews
    script = Script(running.password)
    request = ExchangeConnectRequest(
        address=running.address,
        ews_url=running.url,
        username=running.username,
        auth_type="basic",
    )
    # The current [mailbox] belongs to another kind: only its time zone carries over.
    current = ExchangeConnection(
        address="someone@else.example", ews_url="https://old/", time_zone="Europe/Berlin"
    )
    result = connect_exchange(request, current, _context(store, script, same_kind=False))
    assert script.asked == [f"Password for {running.username}"]
    assert result.settings["address"] == running.address and result.settings["ews-url"] == running.url
    assert result.secrets == {PASSWORD_SECRET: running.password}
    assert result.report["missing_folders"] == []
    assert _stored(store) == {}


def test_spec_9_exchange_flow_refused_password_stores_nothing(
    ews: RunningEws, store: CredentialStore
) -> None:
    running = ews
    request = ExchangeConnectRequest(
        address=running.address,
        ews_url=running.url,
        username=running.username,
        auth_type="basic",
    )
    with pytest.raises(RgsyncError, match="could not connect to Exchange"):
        connect_exchange(request, ExchangeConnection(), _context(store, Script("wrong")))
    assert _stored(store) == {}


def test_spec_9_microsoft365_device_code_flow_tells_the_code_and_returns_the_token_cache(
    tmp_path: Path, store: CredentialStore
) -> None:
    graph = start_graph(tmp_path / "graph", scenario={"user": {"address": "ann@acme.com", "name": "Ann Lee"}})
    try:
        script = Script()
        request = Microsoft365ConnectRequest(
            client_id=graph.client_id,
            tenant_id=graph.tenant_id,
            authority_url=graph.url,
            graph_url=graph.graph_url,
            ca_file=graph.ca_file,
        )
        result = connect_microsoft365(request, Microsoft365Connection(), _context(store, script))
    finally:
        graph.stop()
    assert any("enter the code" in text for text in script.told)
    assert result.settings["address"] == "ann@acme.com" and result.settings["client-id"] == graph.client_id
    assert set(result.secrets) == {TOKEN_CACHE, CLIENT_SECRET, "microsoft365.client-certificate"}
    assert result.secrets[TOKEN_CACHE] and result.secrets[CLIENT_SECRET] is None
    assert _stored(store) == {}


def test_spec_9_microsoft365_app_only_needs_the_mailbox_address(store: CredentialStore) -> None:
    with pytest.raises(UsageError, match="--app-only needs --address"):
        connect_microsoft365(
            Microsoft365ConnectRequest(client_id="x", app_only=True),
            Microsoft365Connection(),
            _context(store, Script()),
        )
