"""Exchange on-premises admin sign-in: one account with the ApplicationImpersonation role acting
as each user (exchangelib `access_type=IMPERSONATION`), against the EWS emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from exchangelib import BASIC, IMPERSONATION, Account, Build, Configuration, Credentials, Version
from exchangelib.errors import ErrorImpersonateUserDenied

from rgsync.credentials import CredentialStore
from rgsync.fleet.signin import OrgSecrets, parse_tables
from rgsync.providers.exchange.config import ExchangeConnection
from rgsync.providers.exchange.doctor import exchange_findings
from rgsync.sandbox.ews import EwsEmulator, MailboxState, RunningEws, start_ews

MESSAGE = (
    b"From: Bea <bea@cust.com>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@cust.com>\r\n\r\nHi\r\n"
)


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    scenario = {
        "user": {
            "address": "ann@acme.com",
            "service_accounts": [
                {"username": "svc-rgsync", "password": "svc-secret"},
                {"username": "svc-norole", "password": "norole-secret", "impersonation": False},
            ],
        }
    }
    with start_ews(scenario=scenario) as running:
        emulator = running.server.emulator
        assert isinstance(emulator, EwsEmulator)
        bob = MailboxState("bob@acme.com")
        emulator.add_mailbox(bob)
        running.state.add_message(_raw("ann@acme.com", "For Ann", "a1"))
        bob.add_message(_raw("bob@acme.com", "For Bob", "b1"))
        yield running


def _raw(to: str, subject: str, message_id: str) -> bytes:
    return (
        MESSAGE.replace(b"{to}", to.encode())
        .replace(b"{subject}", subject.encode())
        .replace(b"{id}", message_id.encode())
    )


def _account(ews: RunningEws, user: str, password: str, address: str) -> Account:
    config = Configuration(
        service_endpoint=ews.url,
        credentials=Credentials(user, password),
        auth_type=BASIC,
        version=Version(build=Build(15, 1, 2507, 6)),
    )
    return Account(address, config=config, autodiscover=False, access_type=IMPERSONATION)


def _findings(
    tmp_path: Path, ews: RunningEws, user: str, password: str, address: str
) -> list[tuple[str, str, str]]:
    """`rgsync doctor`'s Exchange lines with the org's impersonation account (password in a file)."""
    secret = tmp_path / "ews-password"
    secret.write_text(password + "\n", encoding="utf-8")
    admin = parse_tables(
        {
            "exchange": {
                "username": user,
                "password-file": str(secret),
                "ews-url": ews.url,
                "auth-type": "basic",
            }
        }
    )
    store = OrgSecrets(CredentialStore("u", tmp_path / "credentials.json"), admin)
    table = {"provider": "exchange", "address": address, **admin["exchange"].connection_settings()}
    config = ExchangeConnection.from_table(table)
    return [(f.check, f.status, f.fix) for f in exchange_findings(config, store)]


def test_the_impersonation_account_reads_each_users_own_mailbox(ews: RunningEws) -> None:
    for address, subject in (("ann@acme.com", "For Ann"), ("bob@acme.com", "For Bob")):
        account = _account(ews, "svc-rgsync", "svc-secret", address)
        assert [m.subject for m in account.inbox.all()] == [subject]


def test_doctor_with_the_org_impersonation_account_passes(tmp_path: Path, ews: RunningEws) -> None:
    """SPEC §9: the shared password comes from its file, never from the user's store."""
    found = _findings(tmp_path, ews, "svc-rgsync", "svc-secret", "bob@acme.com")
    assert [(check, status) for check, status, _fix in found][:3] == [
        ("Exchange settings", "ok"),
        ("Exchange sign-in", "ok"),
        ("Exchange folders", "ok"),
    ]
    assert not (tmp_path / "credentials.json").exists()


def test_an_account_without_the_impersonation_role_is_denied(tmp_path: Path, ews: RunningEws) -> None:
    account = _account(ews, "svc-norole", "norole-secret", "bob@acme.com")
    with pytest.raises(ErrorImpersonateUserDenied):
        list(account.inbox.all())
    found = _findings(tmp_path, ews, "svc-norole", "norole-secret", "bob@acme.com")
    failed = [(check, fix) for check, status, fix in found if status == "error"]
    assert failed and failed[0][0] == "Exchange sign-in" and "ApplicationImpersonation" in failed[0][1]


def test_a_mailbox_outside_the_management_scope_is_denied(ews: RunningEws) -> None:
    emulator = ews.server.emulator
    assert isinstance(emulator, EwsEmulator)
    emulator.impersonators["svc-rgsync"] = {"ann@acme.com"}
    assert [m.subject for m in _account(ews, "svc-rgsync", "svc-secret", "ann@acme.com").inbox.all()] == [
        "For Ann"
    ]
    with pytest.raises(ErrorImpersonateUserDenied):
        list(_account(ews, "svc-rgsync", "svc-secret", "bob@acme.com").inbox.all())


def test_a_wrong_password_is_refused(tmp_path: Path, ews: RunningEws) -> None:
    found = _findings(tmp_path, ews, "svc-rgsync", "not-the-password", "ann@acme.com")
    assert ("Exchange sign-in", "error") in [(check, status) for check, status, _fix in found]
