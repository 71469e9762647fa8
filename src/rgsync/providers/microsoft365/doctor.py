"""`rgsync doctor`, Microsoft 365 part: is the mailbox configured, does the sign-in work (silently,
as cron would), and does Graph let rgsync read mail, the calendar, To Do and contacts?

The permission checks are one `$batch` of cheap reads that need the same permissions the sync
uses, so a check that passes means the stream can do its work.
"""

from __future__ import annotations

from rgsync.credentials import CredentialsError, CredentialStore
from rgsync.errors import UsageError
from rgsync.providers.base import AuthError, ProviderError
from rgsync.providers.descriptor import Finding
from rgsync.providers.microsoft365 import open_microsoft365
from rgsync.providers.microsoft365.auth import RECONNECT, TOKEN_CACHE, app_credential
from rgsync.providers.microsoft365.client import SubRequest, graph_failure
from rgsync.providers.microsoft365.config import Microsoft365Connection

OK, WARNING, ERROR = "ok", "warning", "error"
PERMISSIONS = (
    ("Mail", "/mailFolders/inbox?$select=id", "Mail.ReadWrite"),
    ("Calendar", "/calendar?$select=id", "Calendars.ReadWrite"),
    ("To Do", "/todo/lists?$top=1", "Tasks.ReadWrite"),
    ("Contacts", "/contactFolders?$top=1", "Contacts.ReadWrite"),
)


def microsoft365_findings(config: Microsoft365Connection, store: CredentialStore) -> list[Finding]:
    """The Microsoft 365 checks for a profile whose typed `[mailbox]` config is `config`."""
    address = config.address
    if not address:
        return [Finding(ERROR, "Microsoft 365 address", "no mailbox address is set", RECONNECT)]
    try:
        app_only = app_credential(store) is not None
        has_cache = bool(store.get(TOKEN_CACHE))
        adapter = open_microsoft365(config, store)
    except UsageError as exc:
        return [
            Finding(
                ERROR, "Microsoft 365 settings", exc.message, "`rgsync connect microsoft365 --client-id ID`"
            )
        ]
    except (CredentialsError, AuthError) as exc:
        return [Finding(ERROR, "Microsoft 365 sign-in", exc.message, RECONNECT)]
    if not app_only and not has_cache:
        return [Finding(ERROR, "Microsoft 365 sign-in", f"{address} is not connected", RECONNECT)]
    kind = "app-only (client credentials)" if app_only else "user sign-in (refreshed silently)"
    prefix = adapter.client.prefix
    # App-only: the mailbox is proven by reading it (reading the user object would need User.Read.All).
    owner_path = prefix + "/mailFolders/inbox?$select=id" if app_only else prefix
    subs = [SubRequest("GET", owner_path)] + [
        SubRequest("GET", prefix + path) for _name, path, _scope in PERMISSIONS
    ]
    try:
        # The sign-in is proven by Graph accepting its token, not by msal's cache alone.
        answers = adapter.client.batch(subs, what="the doctor's checks")
    except AuthError as exc:
        return [Finding(ERROR, "Microsoft 365 sign-in", exc.message, exc.advice or RECONNECT)]
    except ProviderError as exc:
        return [
            Finding(
                ERROR, "Microsoft Graph", exc.message, exc.advice or "check the network and mailbox.graph-url"
            )
        ]
    finally:
        adapter.close()
    findings = [Finding(OK, "Microsoft 365 sign-in", f"{kind}, credentials in {store.backend_name}")]
    user, *checks = answers
    if user.ok and app_only:
        findings.append(Finding(OK, "Microsoft 365 mailbox", f"{address}, reached as the app"))
    elif user.ok and isinstance(user.body, dict):
        seen = str(user.body.get("mail") or user.body.get("userPrincipalName") or "").lower()
        if seen and seen != address.lower():
            findings.append(
                Finding(
                    WARNING,
                    "Microsoft 365 mailbox",
                    f"signed in as {seen}, settings say {address}",
                    RECONNECT,
                )
            )
        else:
            findings.append(Finding(OK, "Microsoft 365 mailbox", address))
    else:
        error = graph_failure(user.status, user.headers, user.body, what="the mailbox owner")
        findings.append(Finding(ERROR, "Microsoft 365 mailbox", error.message, error.advice or RECONNECT))
    for (name, _path, scope), answer in zip(PERMISSIONS, checks, strict=True):
        if answer.ok:
            findings.append(Finding(OK, f"Microsoft 365 {name}", "readable"))
        else:
            error = graph_failure(answer.status, answer.headers, answer.body, what=name.lower())
            findings.append(
                Finding(
                    ERROR,
                    f"Microsoft 365 {name}",
                    error.message,
                    f"grant the app the {_application(scope) if app_only else scope} "
                    f"{'application' if app_only else 'delegated'} permission (and admin consent)"
                    + (
                        ", and allow this mailbox in the application access policy"
                        if app_only and answer.status == 403
                        else ""
                    ),
                )
            )
    return findings


def _application(scope: str) -> str:
    """The application permission that matches a delegated one (To Do's is tenant-wide: .All)."""
    return "Tasks.ReadWrite.All" if scope == "Tasks.ReadWrite" else scope
