"""Small parts of the Google adapter with no network: the one error mapping (SPEC §7.3), event ids that
make inserts idempotent (SPEC §7.1), the task notes trailer (SPEC §5) and the sign-in helpers (SPEC §9)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httplib2
import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from rgsync.credentials import CredentialStore
from rgsync.model import Priority
from rgsync.providers.base import AuthError, FatalError, ItemError, RetriableError
from rgsync.providers.google import auth
from rgsync.providers.google.api import provider_error
from rgsync.providers.google.calendar import event_id_for
from rgsync.providers.google.tasks import NOTES_LIMIT, join_notes, split_notes


def http_error(
    code: int, reason: str = "", *, headers: dict[str, str] | None = None, **extra: Any
) -> HttpError:
    body: dict[str, Any] = {"code": code, "message": f"error {code}", **extra}
    if reason:
        body["errors"] = [{"reason": reason, "message": "x", "domain": "global"}]
    response = httplib2.Response({"status": str(code), **(headers or {})})
    return HttpError(response, json.dumps({"error": body}).encode(), uri="http://127.0.0.1/x")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (429, "rateLimitExceeded"),
        (500, "backendError"),
        (503, ""),
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
    ],
)
def test_transient_refusals_are_retriable(status: int, reason: str) -> None:
    assert isinstance(provider_error(http_error(status, reason), "a call"), RetriableError)


def test_retry_after_is_honoured() -> None:
    error = provider_error(http_error(429, "rateLimitExceeded", headers={"retry-after": "7"}), "a call")
    assert isinstance(error, RetriableError) and error.retry_after == 7.0


def test_401_and_refused_refresh_are_mail_auth_with_the_command_to_run() -> None:
    for exc in (
        http_error(401, "authError"),
        RefreshError("invalid_grant: Token has been expired or revoked."),
    ):
        error = provider_error(exc, "a call")
        assert isinstance(error, AuthError) and error.code == "MAIL-AUTH"
        assert "rgsync connect gmail" in error.advice


@pytest.mark.parametrize(
    ("status", "reason", "code", "kind"),
    [
        (404, "notFound", "MAIL-NOT-FOUND", ItemError),
        (410, "deleted", "MAIL-GONE", ItemError),
        (409, "duplicate", "MAIL-DUPLICATE", ItemError),
        (400, "invalid", "MAIL-REFUSED", ItemError),
        (403, "insufficientPermissions", "MAIL-PERMISSION", FatalError),
        (403, "quotaExceeded", "MAIL-QUOTA", FatalError),
    ],
)
def test_other_refusals_are_item_or_fatal_errors_with_codes(
    status: int, reason: str, code: str, kind: type
) -> None:
    error = provider_error(http_error(status, reason), "a call")
    assert type(error) is kind and error is not None and error.code == code


def test_an_expired_people_sync_token_is_recognised_by_its_error_info() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "EXPIRED_SYNC_TOKEN"}]
    error = provider_error(
        http_error(400, "failedPrecondition", details=details, status="FAILED_PRECONDITION"), "x"
    )
    assert isinstance(error, ItemError) and error.code == "MAIL-SYNC-TOKEN-EXPIRED"


def test_connection_failures_are_retriable_and_unknown_errors_are_not_swallowed() -> None:
    assert isinstance(provider_error(ConnectionResetError(), "x"), RetriableError)
    assert isinstance(provider_error(TimeoutError(), "x"), RetriableError)
    assert provider_error(KeyError("bug"), "x") is None


def test_event_ids_are_deterministic_base32hex() -> None:
    first = event_id_for("00U5g00000AbCdEAAX")
    assert first == event_id_for("00U5g00000AbCdEAAX") != event_id_for("00U5g00000AbCdeAAX")
    assert re.fullmatch(r"[a-v0-9]{5,1024}", first)


def test_task_notes_trailer_round_trips_and_stays_within_googles_limit() -> None:
    notes = join_notes("Call first", "00T1", Priority.HIGH)
    assert notes == "Call first\n\n[salesforce:00T1 priority:High]"
    assert split_notes(notes) == ("Call first", "00T1", Priority.HIGH)
    assert split_notes(join_notes("", "00T1", Priority.NORMAL)) == ("", "00T1", Priority.NORMAL)
    assert join_notes("mine", None, Priority.NORMAL) == "mine"
    assert split_notes("ends with [brackets]") == ("ends with [brackets]", None, Priority.NORMAL)
    long = join_notes("x" * 10_000, "00T1", Priority.LOW)
    assert len(long) <= NOTES_LIMIT and split_notes(long)[1:] == ("00T1", Priority.LOW)


def test_the_pasted_sign_in_answer_may_be_the_address_or_the_code() -> None:
    assert auth._code_from("http://localhost:1/?state=s1&code=4/abc&scope=x", "s1") == "4/abc"
    assert auth._code_from("  4/abc  ", "s1") == "4/abc"
    with pytest.raises(AuthError, match="another sign-in"):
        auth._code_from("http://localhost:1/?state=other&code=4/abc", "s1")
    with pytest.raises(AuthError, match="refused"):
        auth._code_from("http://localhost:1/?error=access_denied&state=s1", "s1")


class FakeFlow:
    """Stands in for InstalledAppFlow: what Google would hand back after consent."""

    def __init__(self, refresh_token: str | None = "1//refresh") -> None:
        from google.oauth2.credentials import Credentials

        self.redirect_uri = ""
        self.fetched: str | None = None
        self.credentials = Credentials(
            token="ya29.x", refresh_token=refresh_token, client_id="c", client_secret="s"
        )

    def authorization_url(self, **_kwargs: Any) -> tuple[str, str]:
        return f"https://accounts.google.com/o/oauth2/auth?redirect_uri={self.redirect_uri}&state=s1", "s1"

    def fetch_token(self, code: str) -> None:
        self.fetched = code


def test_headless_sign_in_prints_the_address_and_reads_the_code_back() -> None:
    flow = FakeFlow()
    told: list[str] = []
    credentials = auth.sign_in(
        Path("client.json"),
        open_browser=False,
        ask=lambda _prompt: "http://localhost:1/?state=s1&code=4/xyz",
        tell=told.append,
        flow_factory=lambda *_a, **_k: flow,
    )
    assert flow.fetched == "4/xyz" and credentials.refresh_token == "1//refresh"
    assert flow.redirect_uri == auth.MANUAL_REDIRECT and "accounts.google.com" in told[0]


def test_a_sign_in_without_refresh_token_is_refused() -> None:
    with pytest.raises(AuthError, match="no refresh token"):
        auth.sign_in(
            Path("client.json"),
            open_browser=False,
            ask=lambda _p: "4/xyz",
            tell=lambda _t: None,
            flow_factory=lambda *_a, **_k: FakeFlow(refresh_token=None),
        )


def test_a_refreshed_token_is_written_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from google.oauth2.credentials import Credentials

    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    store = CredentialStore("default", tmp_path / "credentials.json")
    old = Credentials(token="old", refresh_token="r", client_id="c", client_secret="s")
    store.set(auth.TOKEN, old.to_json())
    loaded = auth.load_credentials({"address": "ann@acme.com"}, store)
    assert loaded.refresh_token == "r"  # type: ignore[attr-defined]
    loaded.token = "new"

    class Api:
        credentials = loaded

    auth.token_saver(store)(Api())  # type: ignore[arg-type]
    assert json.loads(store.get(auth.TOKEN) or "{}")["token"] == "new"


def test_the_access_token_wins_over_the_oauth_token_and_nothing_stored_is_mail_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    store = CredentialStore("default", tmp_path / "credentials.json")
    with pytest.raises(AuthError) as caught:
        auth.load_credentials({"address": "ann@acme.com"}, store)
    assert caught.value.code == "MAIL-AUTH" and "not connected" in caught.value.message
    store.set(auth.ACCESS_TOKEN, "ya29.sandbox")
    assert auth.load_credentials({"address": "ann@acme.com"}, store).token == "ya29.sandbox"  # type: ignore[attr-defined]


def test_a_missing_service_account_key_names_the_setting(tmp_path: Path) -> None:
    store = CredentialStore("default", tmp_path / "credentials.json")
    with pytest.raises(AuthError, match="does not exist") as caught:
        auth.load_credentials(
            {"address": "ann@acme.com", "service-account-file": str(tmp_path / "nope.json")}, store
        )
    assert "service-account-file" in caught.value.advice


def test_missing_scopes_are_named() -> None:
    assert auth.missing_scopes(" ".join(auth.SCOPES)) == []
    assert auth.missing_scopes(list(auth.SCOPES[:2])) == list(auth.SCOPES[2:])
