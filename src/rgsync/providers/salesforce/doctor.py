"""The Salesforce checks of `rgsync doctor` (SPEC §9): each finding says what is wrong and the fix.

Checks, in order (a failed sign-in stops the ones that need the org):
settings for the chosen sign-in, stored secrets, sign-in and API reachability, the API version,
Enhanced Email against `save-emails-as`, permission to create the records rgsync writes, Shared
Activities, rgsync's optional key field, and the day's API allocation against
`min-api-remaining`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.providers.base import ProviderError
from rgsync.providers.descriptor import Finding, ProfileOptions
from rgsync.providers.salesforce.auth import (
    AUTH_MODES,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
    SECRET_SESSION,
    SalesforceConfig,
)
from rgsync.providers.salesforce.connection import open_salesforce
from rgsync.providers.salesforce.crm import SalesforceCrm
from rgsync.providers.salesforce.mapping import RGSYNC_KEY_FIELD

OK, NOTICE, WARNING, ERROR = "ok", "notice", "warning", "error"
CONNECT = "run `rgsync connect salesforce`"
WRITTEN = ("Task", "Event", "Contact", "Lead", "Account")
KEYED = ("Task", "Event", "EmailMessage", "Contact")


def _settings_findings(config: SalesforceConfig, store: CredentialStore) -> list[Finding]:
    if config.auth not in AUTH_MODES:
        return [
            Finding(
                ERROR,
                "Salesforce settings",
                f"salesforce.auth is {config.auth!r}",
                f"`rgsync settings set salesforce.auth oauth` (one of {', '.join(AUTH_MODES)})",
            )
        ]
    missing = []
    if config.auth == "session" and not config.instance_url:
        missing.append("salesforce.instance-url")
    if config.auth in ("password", "jwt") and not config.username:
        missing.append("salesforce.username")
    if config.auth in ("jwt", "oauth") and not config.consumer_key:
        missing.append("salesforce.consumer-key")
    if config.auth == "jwt" and not config.private_key_file:
        missing.append("salesforce.private-key-file")
    if missing:
        return [
            Finding(
                ERROR,
                "Salesforce settings",
                f"sign-in by {config.auth} needs {', '.join(missing)}",
                f"run `rgsync connect salesforce --auth {config.auth}` (it asks for what is missing)",
            )
        ]
    needed = {"session": SECRET_SESSION, "password": SECRET_PASSWORD, "oauth": SECRET_REFRESH_TOKEN}.get(
        config.auth
    )
    if needed and not store.get(needed):
        return [
            Finding(
                ERROR,
                "Salesforce credentials",
                f"no {needed.split('.', 1)[1].replace('-', ' ')} is stored ({store.backend_name})",
                CONNECT,
            )
        ]
    return [
        Finding(OK, "Salesforce settings", f"sign-in by {config.auth}; credentials in {store.backend_name}")
    ]


def _api_version(crm: SalesforceCrm) -> Finding:
    def versions(sf: Any) -> Any:
        response = crm.client.http.get(f"https://{sf.sf_instance}/services/data/")
        response.raise_for_status()
        return response.json()

    try:
        listed = crm.client.call(versions)
    except ProviderError as exc:
        return Finding(WARNING, "API version", f"could not list the org's API versions: {exc.message}")
    available = [str(v.get("version")) for v in listed or [] if isinstance(v, dict)]
    wanted = crm.config.api_version
    if wanted in available:
        return Finding(OK, "API version", f"v{wanted} (the org supports up to v{available[-1]})")
    latest = available[-1] if available else "?"
    return Finding(
        ERROR,
        "API version",
        f"the org does not offer v{wanted} (latest v{latest})",
        f"`rgsync settings set salesforce.api-version {latest}`",
    )


def salesforce_findings(
    config: SalesforceConfig,
    store: CredentialStore,
    *,
    save_emails_as: str = "auto",
    min_api_remaining: float = 10.0,
    open_crm: Callable[[], SalesforceCrm] | None = None,
) -> list[Finding]:
    """Every Salesforce finding for one profile (no exception escapes: problems are findings)."""
    findings = _settings_findings(config, store)
    if findings[-1].status == ERROR:
        return findings
    crm = (
        open_crm()
        if open_crm is not None
        else open_salesforce(config, store, ProfileOptions(email_mode=save_emails_as))
    )
    try:
        try:
            crm.client.salesforce()  # the stored token, or a sign-in
        except ProviderError as exc:
            findings.append(Finding(ERROR, "Sign-in", exc.message, exc.advice or CONNECT))
            return findings
        version = _api_version(crm)
        findings.append(version)
        if version.status == ERROR:
            return findings
        try:
            info = crm.org_info()
        except ProviderError as exc:
            fix = exc.advice or (
                "check the network and salesforce.instance-url" if "reach" in exc.message else CONNECT
            )
            findings.append(Finding(ERROR, "Sign-in", exc.message, fix))
            return findings
        findings.insert(
            len(findings) - 1,
            Finding(
                OK,
                "Sign-in",
                f"signed in as {info.user_email or info.user_id} (User {info.user_id}) at {crm.client.instance_url}",
            ),
        )
        described = crm.describes
        email_message = described.get("EmailMessage")
        if info.enhanced_email:
            detail = (
                "on: emails are saved as EmailMessage records"
                if save_emails_as != "task"
                else "on (save-emails-as is task)"
            )
            findings.append(Finding(OK, "Enhanced Email", detail))
        elif save_emails_as == "email-message":
            findings.append(
                Finding(
                    ERROR,
                    "Enhanced Email",
                    "save-emails-as is email-message but the org does not let you create EmailMessage records",
                    "ask your admin to turn on Enhanced Email, or `rgsync settings set save-emails-as task`",
                )
            )
        else:
            why = (
                "not available"
                if not (email_message and email_message.exists)
                else "EmailMessage is not createable"
            )
            findings.append(Finding(NOTICE, "Enhanced Email", f"{why}: emails are saved as completed Tasks"))
        for name in WRITTEN:
            d = described.get(name)
            if d is None or not d.exists or not d.createable:
                findings.append(
                    Finding(
                        ERROR,
                        f"Create {name} records",
                        f"your user cannot create {name} records",
                        f"ask your Salesforce admin for Create permission on {name}",
                    )
                )
        if all(described.get(n) and described[n].exists and described[n].createable for n in WRITTEN):
            findings.append(Finding(OK, "Permissions", "your user can create " + ", ".join(WRITTEN)))
        if info.shared_activities:
            findings.append(Finding(OK, "Shared Activities", "on: an activity relates to up to 50 contacts"))
        else:
            findings.append(
                Finding(
                    NOTICE,
                    "Shared Activities",
                    "off: each saved email or meeting relates to one person only",
                    "your admin can turn on Shared Activities (Setup → Activity Settings)",
                )
            )
        keyed = sorted(info.external_id_fields)
        unkeyed = [
            n for n in KEYED if n not in info.external_id_fields and described.get(n) and described[n].exists
        ]
        if unkeyed:
            findings.append(
                Finding(
                    NOTICE,
                    "Optional key field",
                    (f"{RGSYNC_KEY_FIELD} is on {', '.join(keyed)}; " if keyed else "")
                    + f"not on {', '.join(unkeyed)}: rgsync finds its records again by natural key instead",
                    f"optional: add a unique External ID text field {RGSYNC_KEY_FIELD} (255) to {', '.join(unkeyed)}",
                )
            )
        else:
            findings.append(Finding(OK, "Optional key field", f"{RGSYNC_KEY_FIELD} is on {', '.join(keyed)}"))
        usage = crm.usage()
        if usage is not None:
            left = usage.remaining_percent
            status = OK if left >= min_api_remaining else WARNING
            fix = (
                "" if status == OK else "rgsync stops writing below min-api-remaining; wait or ask your admin"
            )
            findings.append(
                Finding(
                    status,
                    "API allocation",
                    f"{usage.used:,} of {usage.limit:,} calls used today ({left:.0f}% left)",
                    fix,
                )
            )
        return findings
    finally:
        crm.close()
