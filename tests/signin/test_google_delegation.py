"""Google Workspace admin sign-in: a service account with domain-wide delegation acting as each
user (google-auth's `with_subject`), against the emulator's JWT-bearer token endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account

from rgsync.credentials import CredentialStore
from rgsync.providers.google.auth import SCOPES
from rgsync.providers.google.doctor import google_findings
from rgsync.sandbox.google import RunningGoogle, start_google
from rgsync.sandbox.google.delegation import ServiceAccount, WorkspaceDirectory
from rgsync.sandbox.google.emulator import GoogleEmulator
from tests.sandbox.google_harness import service


@pytest.fixture(scope="module")
def google() -> Iterator[RunningGoogle]:
    with start_google(scenario={"user": {"address": "ann@acme.com"}}) as running:
        yield running


@pytest.fixture
def directory(google: RunningGoogle) -> WorkspaceDirectory:
    emulator = google.server.emulator
    assert isinstance(emulator, GoogleEmulator)
    found = WorkspaceDirectory()
    found.add_mailbox("ann@acme.com", emulator)
    emulator.directory = found
    return found


def _key(tmp_path: Path, google: RunningGoogle, account: ServiceAccount) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(account.key_file(google.url.rstrip("/") + "/token")), encoding="utf-8")
    return path


def _delegated(key: Path, subject: str, scopes: tuple[str, ...] = SCOPES) -> service_account.Credentials:
    base = service_account.Credentials.from_service_account_file(str(key), scopes=list(scopes))
    return base.with_subject(subject)


def test_a_delegated_service_account_reads_each_api_as_the_user(
    tmp_path: Path, google: RunningGoogle, directory: WorkspaceDirectory
) -> None:
    account = directory.create_service_account("rgsync", SCOPES)
    credentials = _delegated(_key(tmp_path, google, account), "ann@acme.com")
    credentials.refresh(_request())
    profile = service(google, "gmail", token=credentials.token).users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == "ann@acme.com"
    service(google, "tasks", token=credentials.token).tasklists().list().execute()
    assert directory.issued == [(account.client_email, "ann@acme.com")]


def test_rgsync_doctor_checks_the_delegated_sign_in_end_to_end(
    tmp_path: Path, google: RunningGoogle, directory: WorkspaceDirectory
) -> None:
    """SPEC §9: doctor signs in as the subject and reads each API once."""
    account = directory.create_service_account("rgsync", SCOPES)
    table = {
        "address": "ann@acme.com",
        "gmail-api-url": google.url + "/",
        "service-account-file": str(_key(tmp_path, google, account)),
    }
    findings = google_findings(table, CredentialStore("t", tmp_path / "credentials.json"))
    assert [(f.check, f.status) for f in findings] == [
        ("Gmail sign-in", "ok"),
        ("Gmail API", "ok"),
        ("Calendar API", "ok"),
        ("Tasks API", "ok"),
        ("People API", "ok"),
    ]


def test_a_scope_without_delegation_is_refused_as_unauthorized_client(
    tmp_path: Path, google: RunningGoogle, directory: WorkspaceDirectory
) -> None:
    # The admin authorised Gmail and Calendar only: asking for Tasks too is refused whole.
    account = directory.create_service_account("rgsync", SCOPES[:2])
    key = _key(tmp_path, google, account)
    with pytest.raises(RefreshError, match="unauthorized_client"):
        _delegated(key, "ann@acme.com").refresh(_request())
    table = {"address": "ann@acme.com", "gmail-api-url": google.url + "/", "service-account-file": str(key)}
    findings = google_findings(table, CredentialStore("t", tmp_path / "credentials.json"))
    failed = [f for f in findings if f.status == "error"]
    assert failed and failed[0].check == "Gmail API" and "unauthorized_client" in failed[0].detail


def test_a_subject_outside_the_domain_is_an_invalid_grant(
    tmp_path: Path, google: RunningGoogle, directory: WorkspaceDirectory
) -> None:
    account = directory.create_service_account("rgsync", SCOPES)
    with pytest.raises(RefreshError, match="Invalid email or User ID"):
        _delegated(_key(tmp_path, google, account), "eve@elsewhere.example").refresh(_request())


def test_an_assertion_signed_with_another_key_is_refused(
    tmp_path: Path, google: RunningGoogle, directory: WorkspaceDirectory
) -> None:
    account = directory.create_service_account("rgsync", SCOPES)
    impostor = directory.create_service_account("impostor", SCOPES)
    forged = dict(account.key_file(google.url.rstrip("/") + "/token"), private_key=impostor.private_key_pem)
    key = tmp_path / "forged.json"
    key.write_text(json.dumps(forged), encoding="utf-8")
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        _delegated(key, "ann@acme.com").refresh(_request())


def test_a_token_for_one_user_does_not_open_another_users_mailbox(
    tmp_path: Path, google: RunningGoogle, directory: WorkspaceDirectory
) -> None:
    with start_google(scenario={"user": {"address": "bob@acme.com"}}) as other:
        bob = other.server.emulator
        assert isinstance(bob, GoogleEmulator)
        directory.add_mailbox("bob@acme.com", bob)
        account = directory.create_service_account("rgsync", SCOPES)
        credentials = _delegated(_key(tmp_path, google, account), "ann@acme.com")
        credentials.refresh(_request())
        answer = requests.get(
            other.url + "/gmail/v1/users/me/profile",
            headers={"Authorization": f"Bearer {credentials.token}"},
            timeout=10,
        )
        assert answer.status_code == 401
        assert answer.json()["error"]["status"] == "UNAUTHENTICATED"


def _request() -> object:
    from google.auth.transport.requests import Request

    return Request()
