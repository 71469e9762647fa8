"""`rgsync doctor` and `rgsync connect exchange`, Exchange part: is the mailbox configured, is a
password stored, does the EWS endpoint accept the sign-in, and are the folders rgsync syncs there?

The check is one GetFolder for Inbox, Sent Items, Calendar, Tasks and Contacts (exactly the access
a session needs), then one FindFolder each for `Salesforce Tasks` / `Salesforce Contacts`.
"""

from __future__ import annotations

from typing import Any

from exchangelib.folders import Calendar, Contacts, Inbox, SentItems, Tasks
from exchangelib.items import ID_ONLY
from exchangelib.services import GetFolder

from rgsync.credentials import CredentialsError, CredentialStore
from rgsync.model import CONTACT_FOLDER_NAME, TASK_LIST_NAME, Stream
from rgsync.providers.base import ProviderError
from rgsync.providers.descriptor import Finding
from rgsync.providers.exchange.config import ExchangeConnection

from .connection import PASSWORD_SECRET, RECONNECT_ADVICE, TOKEN_SECRET, ConnectionSettings, EwsConnection
from .mailbox import ExchangeMailbox

OK, NOTICE, ERROR = "ok", "notice", "error"
CHECKED_FOLDERS = (
    ("inbox", Inbox),
    ("sentitems", SentItems),
    ("calendar", Calendar),
    ("tasks", Tasks),
    ("contacts", Contacts),
)


def secret_name(auth_type: str) -> str:
    """Where the secret of this sign-in type lives in the credentials store."""
    return TOKEN_SECRET if auth_type.lower() == "oauth" else PASSWORD_SECRET


def probe(details: ConnectionSettings) -> dict[str, Any]:
    """Sign in and read the folders rgsync syncs (one GetFolder; two FindFolder for the Salesforce
    folders). Returns what was found; raises `ProviderError` (AuthError for a refused sign-in)."""
    connection = EwsConnection(details)
    mailbox = ExchangeMailbox(connection, address=details.address, time_zone=details.time_zone)
    try:
        folders = [connection.distinguished(cls, name) for name, cls in CHECKED_FOLDERS]
        found = connection.call(
            "GetFolder",
            lambda: list(
                GetFolder(account=connection.account).call(
                    folders=folders, additional_fields=[], shape=ID_ONLY
                )
            ),
        )
        missing = [
            name
            for (name, _cls), folder in zip(CHECKED_FOLDERS, found, strict=False)
            if isinstance(folder, Exception)
        ]
        subfolders = {
            TASK_LIST_NAME: mailbox._subfolder_id(Stream.TASKS, create=False) is not None,
            CONTACT_FOLDER_NAME: mailbox._subfolder_id(Stream.CONTACTS, create=False) is not None,
        }
        return {"missing": missing, "subfolders": subfolders, "calls": connection.requests_sent}
    finally:
        connection.close()


def exchange_findings(config: ExchangeConnection, store: CredentialStore) -> list[Finding]:
    """The Exchange checks for a profile whose typed `[mailbox]` config is `config`."""
    address, ews_url, auth_type = config.address, config.ews_url, config.auth_type
    if not address or not ews_url:
        what = "mailbox.address" if not address else "mailbox.ews-url"
        return [Finding(ERROR, "Exchange settings", f"{what} is not set", "run `rgsync connect exchange`")]
    try:
        secret = store.get(secret_name(auth_type))
    except CredentialsError as exc:
        return [Finding(ERROR, "Exchange sign-in", exc.message, RECONNECT_ADVICE)]
    if not secret:
        return [
            Finding(
                ERROR, "Exchange sign-in", f"no {auth_type} secret stored for {address}", RECONNECT_ADVICE
            )
        ]
    user = config.sign_in_name
    details = config.with_secret(secret)
    mode = f"as {user}" + (f", impersonating {address}" if details.impersonate else "")
    findings = [Finding(OK, "Exchange settings", f"{ews_url} ({auth_type} sign-in {mode})")]
    try:
        found = probe(details)
    except ProviderError as exc:
        findings.append(
            Finding(ERROR, "Exchange sign-in", exc.message, exc.advice or "check `mailbox.ews-url`")
        )
        return findings
    findings.append(Finding(OK, "Exchange sign-in", f"EWS answered for {address}"))
    if found["missing"]:
        findings.append(
            Finding(
                ERROR,
                "Exchange folders",
                "cannot open: " + ", ".join(found["missing"]),
                "give the account full access to the mailbox (or impersonation rights)",
            )
        )
    else:
        findings.append(
            Finding(OK, "Exchange folders", "Inbox, Sent Items, Calendar, Tasks and Contacts can be read")
        )
    for name, present in found["subfolders"].items():
        if present:
            findings.append(Finding(OK, f"Folder '{name}'", "present"))
        else:
            findings.append(
                Finding(NOTICE, f"Folder '{name}'", "not there yet", "the first session creates it")
            )
    return findings
