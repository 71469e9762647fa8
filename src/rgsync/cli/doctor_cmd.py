"""`rgsync doctor`: check the connections and the org, and say what to fix (SPEC §9).

Each part of rgsync contributes findings with the same shape (status, check, detail, fix): the
settings file, Salesforce (sign-in, API version, Enhanced Email, permissions, optional fields,
API allocation) and, where available, the mailbox. Exit code 1 when any finding is an error.
"""

from __future__ import annotations

from typing import Any, Protocol

import click
from rich.text import Text

from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.render import AdaptiveTable, Column
from rgsync.errors import EXIT_FAILED

STYLE = {"ok": "green", "notice": "cyan", "warning": "yellow", "error": "red"}


class FindingLike(Protocol):
    """What every check returns (see `rgsync.providers.salesforce.doctor.Finding`)."""

    @property
    def status(self) -> str: ...

    @property
    def check(self) -> str: ...

    @property
    def detail(self) -> str: ...

    @property
    def fix(self) -> str: ...


def _salesforce(settings: Any, paths: Any) -> list[FindingLike]:
    from rgsync.credentials import CredentialStore
    from rgsync.providers.salesforce import config_of
    from rgsync.providers.salesforce.doctor import salesforce_findings

    return list(
        salesforce_findings(
            config_of(settings.effective()),
            CredentialStore(paths.profile, paths.credentials_file),
            save_emails_as=str(settings.effective().save_emails_as),
            min_api_remaining=float(settings.effective().schedule.min_api_remaining),
        )
    )


def _mailbox(settings: Any, paths: Any) -> list[FindingLike]:
    """The mailbox's findings (Gmail for now; other providers add theirs here)."""
    if settings.mailbox.get("provider") == "microsoft365":
        from rgsync.credentials import CredentialStore
        from rgsync.providers.microsoft365.doctor import microsoft365_findings

        return list(
            microsoft365_findings(settings.mailbox, CredentialStore(paths.profile, paths.credentials_file))
        )
    if settings.mailbox.get("provider") == "exchange":
        from rgsync.credentials import CredentialStore
        from rgsync.providers.exchange.doctor import exchange_findings

        return list(
            exchange_findings(settings.mailbox, CredentialStore(paths.profile, paths.credentials_file))
        )
    if settings.mailbox.get("provider") != "gmail":
        return []
    from rgsync.credentials import CredentialStore
    from rgsync.providers.google.doctor import google_findings

    return list(google_findings(settings.mailbox, CredentialStore(paths.profile, paths.credentials_file)))


def collect(app: App) -> list[FindingLike]:
    """Every finding for the profile, settings first."""
    from rgsync.providers.salesforce.doctor import ERROR, OK, Finding
    from rgsync.settings import SettingsError, load_settings

    paths = app.paths
    try:
        settings = load_settings(paths.settings_file, paths.org_policy_file)
    except SettingsError as exc:
        return [Finding(ERROR, "Settings", exc.message, "fix the file, or `rgsync settings set KEY VALUE`")]
    where = (
        str(paths.settings_file)
        if settings.exists
        else f"{paths.settings_file} (not created yet: defaults apply)"
    )
    findings: list[FindingLike] = [Finding(OK, "Settings", where)]
    findings += _mailbox(settings, paths)
    findings += _salesforce(settings, paths)
    return findings


@click.command("doctor")
@json_option
@pass_app
def doctor_command(app: App) -> None:
    """Check the Salesforce connection and org (and the settings) and say what to fix."""
    findings = collect(app)
    failed = any(f.status == "error" for f in findings)
    if app.json:
        app.emit_json(
            {
                "ok": not failed,
                "checks": [
                    {"status": f.status, "check": f.check, "detail": f.detail, "fix": f.fix} for f in findings
                ],
            }
        )
    else:
        table = AdaptiveTable(
            [
                Column("status"),
                Column("check"),  # never folded: the check's name is what the user looks for
                Column("found", fold=True, min_width=16),
                Column("fix", fold=True, min_width=16),
            ]
        )
        for f in findings:
            table.add_row(Text(f.status, style=STYLE.get(f.status, "")), f.check, f.detail, f.fix)
        if not app.quiet:
            app.out.print(table)
    if failed:
        raise SystemExit(EXIT_FAILED)
