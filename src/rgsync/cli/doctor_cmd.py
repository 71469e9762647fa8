"""`rgsync doctor`: check the connections and the org, and say what to fix (SPEC §9).

Each part of rgsync contributes findings with the same shape (status, check, detail, fix): the
settings file, then the profile's mailbox kind and the CRM, each through its descriptor in
`rgsync.registry` (Salesforce: sign-in, API version, Enhanced Email, permissions, optional
fields, API allocation). Exit code 1 when any finding is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import click
from rich.text import Text

from rgsync import registry
from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.render import AdaptiveTable, Column
from rgsync.errors import EXIT_FAILED
from rgsync.registry import FindingLike

STYLE = {"ok": "green", "notice": "cyan", "warning": "yellow", "error": "red"}


@dataclass(frozen=True)
class Finding:
    """A finding of the doctor itself (the settings file)."""

    status: str
    check: str
    detail: str
    fix: str = ""


def collect(app: App) -> list[FindingLike]:
    """Every finding for the profile, settings first."""
    from rgsync.settings import SettingsError, load_settings

    paths = app.paths
    try:
        settings = load_settings(paths.settings_file, paths.org_policy_file)
    except SettingsError as exc:
        return [Finding("error", "Settings", exc.message, "fix the file, or `rgsync settings set KEY VALUE`")]
    where = (
        str(paths.settings_file)
        if settings.exists
        else f"{paths.settings_file} (not created yet: defaults apply)"
    )
    return [Finding("ok", "Settings", where), *registry.doctor_findings(settings.effective(), paths)]


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
