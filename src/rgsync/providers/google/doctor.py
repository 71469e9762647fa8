"""`rgsync doctor`, Google part: is the Gmail sign-in there, does it carry the scopes rgsync needs,
and does each of the four APIs answer? Each check is one line for the user with what to fix.

Checks are cheap reads (one call per API) that need exactly the scopes the sync uses, so a check
that passes means the sync can do its work; the first sign-in failure stops the rest, which would
only repeat it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from rgsync.credentials import CredentialsError, CredentialStore
from rgsync.providers.base import AuthError, ProviderError
from rgsync.providers.descriptor import Finding
from rgsync.providers.google.api import RECONNECT_ADVICE, GoogleApi
from rgsync.providers.google.auth import ACCESS_TOKEN, TOKEN, load_credentials, missing_scopes, token_saver

OK, ERROR = "ok", "error"


def _check(check: str, ok: bool, detail: str, fix: str = "") -> Finding:
    return Finding(OK if ok else ERROR, check, detail, fix)


def _sign_in_kind(mailbox: Mapping[str, object], store: CredentialStore) -> tuple[str, Any]:
    """('service account' | 'access token' | 'OAuth' | '', the stored OAuth token info or None)."""
    if mailbox.get("service-account-file"):
        return "service account (domain-wide delegation)", None
    if store.get(ACCESS_TOKEN):
        return "access token", None
    stored = store.get(TOKEN)
    if stored:
        try:
            return "OAuth (refreshed automatically)", json.loads(stored)
        except ValueError:
            return "OAuth", None
    return "", None


def google_findings(
    mailbox: Mapping[str, object],
    store: CredentialStore,
    *,
    api_factory: Callable[[], GoogleApi] | None = None,
) -> list[Finding]:
    """The Google checks for a profile whose `[mailbox]` table is `mailbox`."""
    checks: list[Finding] = []
    address = str(mailbox.get("address") or "")
    if not address:
        return [_check("Gmail address", False, "no mailbox address is set", "run `rgsync connect gmail`")]
    try:
        kind, token_info = _sign_in_kind(mailbox, store)
    except CredentialsError as exc:
        return [_check("Gmail sign-in", False, exc.message, RECONNECT_ADVICE)]
    if not kind:
        return [_check("Gmail sign-in", False, f"{address} is not connected", RECONNECT_ADVICE)]
    checks.append(_check("Gmail sign-in", True, f"{kind}, credentials in {store.backend_name}"))
    if isinstance(token_info, dict) and token_info.get("scopes"):
        lacking = missing_scopes(token_info["scopes"])
        checks.append(
            _check(
                "Google permissions",
                not lacking,
                "all granted"
                if not lacking
                else "missing: " + ", ".join(s.rsplit("/", 1)[-1] for s in lacking),
                "" if not lacking else f"{RECONNECT_ADVICE} and allow every permission",
            )
        )
    endpoint = mailbox.get("gmail-api-url")
    api = (
        api_factory()
        if api_factory
        else GoogleApi(lambda: load_credentials(mailbox, store), endpoint=str(endpoint) if endpoint else None)
    )
    probes: list[tuple[str, Callable[[], Any], Callable[[Any], str]]] = [
        (
            "Gmail API",
            lambda: api.service("gmail").users().getProfile(userId="me"),
            lambda r: f"mailbox {r.get('emailAddress', '?')}, {r.get('messagesTotal', 0)} messages",
        ),
        (
            "Calendar API",
            lambda: api.service("calendar").events().list(calendarId="primary", maxResults=1),
            lambda r: "primary calendar readable",
        ),
        (
            "Tasks API",
            lambda: api.service("tasks").tasklists().list(maxResults=1),
            lambda r: "task lists readable",
        ),
        (
            "People API",
            lambda: api.service("people").contactGroups().list(pageSize=1),
            lambda r: "contacts readable",
        ),
    ]
    for name, request, describe in probes:
        try:
            response = api.execute(request(), name)
        except AuthError as exc:
            checks.append(_check(name, False, exc.message, exc.advice or RECONNECT_ADVICE))
            break
        except ProviderError as exc:
            checks.append(_check(name, False, exc.message, exc.advice or _api_advice(name)))
            continue
        checks.append(_check(name, True, describe(response)))
        if name == "Gmail API" and str(response.get("emailAddress", "")).lower() not in ("", address.lower()):
            checks.append(
                _check(
                    "Gmail address",
                    False,
                    f"signed in as {response['emailAddress']}, but the settings say {address}",
                    "run `rgsync connect gmail` with the right account, or fix mailbox.address",
                )
            )
    # A check may have refreshed the access token: keep it for the next run.
    token_saver(store)(api)
    return checks


def _api_advice(name: str) -> str:
    return (
        f"enable the {name} in the Google Cloud project of your OAuth client, then run `rgsync doctor` again"
    )
