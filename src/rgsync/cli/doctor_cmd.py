"""`rgsync doctor`: check the connections and the org, and say what to fix (SPEC §9).

Each part of rgsync contributes findings with the same shape (status, check, detail, fix): the
settings file, then the profile's mailbox kind and the CRM, each through its descriptor in
`rgsync.registry` (Salesforce: sign-in, API version, Enhanced Email, permissions, optional
fields, API allocation). Exit code 1 when any finding is an error. With `--user NAME` it checks a
fleet user as their sessions run: the org's admin sign-in when they have none of their own.
"""

from __future__ import annotations

import os

import click
from rich.text import Text

from rgsync import registry
from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.render import AdaptiveTable, Column
from rgsync.errors import EXIT_FAILED
from rgsync.registry import Finding, FindingLike

STYLE = {"ok": "green", "notice": "cyan", "warning": "yellow", "error": "red"}


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


def collect_fleet_user(app: App, name: str, home: str | None) -> list[FindingLike]:
    """The findings for fleet user `name`: which sign-in each service uses (the org's admin
    sign-in when the user has none), then every service's end-to-end checks with that sign-in."""
    from rgsync.errors import UsageError
    from rgsync.fleet.home import fleet_home, write_profile
    from rgsync.fleet.signin import sign_in_findings, sign_in_for_user
    from rgsync.fleet.store import FleetStore
    from rgsync.settings import SettingsError, load_settings

    url = app.state_url or os.environ.get("RGSYNC_STATE_URL")
    if not url:
        raise UsageError(
            "--user needs the fleet database: pass --state-url postgresql://USER@HOST/DATABASE or set RGSYNC_STATE_URL"
        )
    store = FleetStore(url)
    user = store.user(name)
    if user is None:
        raise UsageError(f"no user {name!r} in the fleet; `rgsync fleet list` shows who is")
    policy = store.get_meta("org_policy")
    folder = fleet_home(home)
    plan = sign_in_for_user(folder, name, user.settings, policy)
    # The same profile a worker writes before the user's session.
    paths = write_profile(folder, name, plan.settings_text, policy, state_url=store.url)
    findings: list[FindingLike] = [
        Finding(
            "ok",
            "Fleet user",
            f"{name}: {user.mailbox} {user.address}, Salesforce {user.salesforce_username}",
        ),
        *sign_in_findings(plan, policy, username=user.salesforce_username, address=user.address),
    ]
    try:
        settings = load_settings(paths.settings_file, paths.org_policy_file)
    except SettingsError as exc:
        return [
            *findings,
            Finding("error", "Settings", exc.message, f"`rgsync fleet add {name} --settings FILE`"),
        ]
    with plan.applied(paths):
        findings += registry.doctor_findings(settings.effective(), paths)
    return findings


@click.command("doctor")
@click.option(
    "--user",
    "user",
    metavar="NAME",
    help="Check fleet user NAME (from the fleet database) with the sign-in their sessions use.",
)
@click.option(
    "--home",
    metavar="DIR",
    help="With --user: the fleet home on this machine (default RGSYNC_FLEET_HOME).",
)
@json_option
@pass_app
def doctor_command(app: App, user: str | None, home: str | None) -> None:
    """Check the Salesforce connection and org (and the settings) and say what to fix."""
    findings = collect_fleet_user(app, user, home) if user else collect(app)
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
