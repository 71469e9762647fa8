"""`rgsync blocklist …`: the user's blocklist of addresses and domains (SPEC §1, §3.2); with
`--user NAME`, a fleet user's blocklist in the fleet database."""

from __future__ import annotations

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.settings_cmd import settings_layer, user_option
from rgsync.settings import (
    BlocklistOutcome,
    blocklist_add,
    blocklist_remove,
    free_mail_domain_count,
    load_settings,
)

VERBS = {
    "added": "added",
    "removed": "removed",
    "already": "unchanged",
    "covered": "unchanged",
    "absent": "unchanged",
}


def _render(app: App, outcomes: list[BlocklistOutcome]) -> None:
    if app.json:
        app.emit_json(
            [{"kind": o.kind, "value": o.value, "status": o.status, "note": o.note} for o in outcomes]
        )
        return
    for outcome in outcomes:
        line = f"{VERBS[outcome.status]} {outcome.kind} {outcome.value}"
        app.say(line + (f" — {outcome.note}" if outcome.note else ""))


@click.group("blocklist")
@user_option
def blocklist_group() -> None:
    """Addresses and domains that are never saved, linked or auto-resolved.

    A value with an @ in the middle is an address ("q u"@x.com with its quotes, too); anything
    else, a value starting with @, or *@domain is a whole domain. Domains match exactly (no
    subdomains) in their Unicode or xn-- spelling, and case never matters.

    With --user NAME the commands work on fleet user NAME's blocklist in the fleet database.
    """


@blocklist_group.command("add", short_help="Add addresses or domains.")
@click.argument("values", nargs=-1, required=True)
@user_option
@pass_app
def add_command(app: App, values: tuple[str, ...]) -> None:
    """Add addresses and domains to your blocklist (nothing is written if any value is malformed)."""
    with settings_layer(app) as layer:
        outcomes = blocklist_add(layer.settings_file, values, layer.policy_file)
    _render(app, outcomes)


@blocklist_group.command("remove", short_help="Remove addresses or domains.")
@click.argument("values", nargs=-1, required=True)
@user_option
@pass_app
def remove_command(app: App, values: tuple[str, ...]) -> None:
    """Remove addresses and domains from your blocklist, saying when something else still blocks them."""
    with settings_layer(app) as layer:
        outcomes = blocklist_remove(layer.settings_file, values, layer.policy_file)
    _render(app, outcomes)


@blocklist_group.command("list", short_help="Show your, your org's and the free-mail blocklist.")
@json_option
@user_option
@pass_app
def list_command(app: App) -> None:
    """Show the three layers: yours, your org's, and the free-mail domains."""
    with settings_layer(app) as layer:
        settings = load_settings(layer.settings_file, layer.policy_file)
    settings_file, policy_file = layer.label, layer.policy_label
    mine, org = settings.user_blocklist, settings.org_blocklist
    free_on = bool(settings.value("block-free-email-domains"))
    free_source = settings.source("block-free-email-domains")
    if app.json:
        app.emit_json(
            {
                "user": {
                    "addresses": sorted(mine.addresses),
                    "domains": sorted(mine.domains),
                    "source": settings.source("blocklist-domains"),
                },
                "org": {
                    "addresses": sorted(org.addresses),
                    "domains": sorted(org.domains),
                    "policy_file": str(policy_file) if policy_file else None,
                },
                "free_mail": {"on": free_on, "domains": free_mail_domain_count(), "source": free_source},
            }
        )
        return
    app.say("[bold]Your blocklist[/bold]" + f" ({settings_file})")
    _layer(app, mine.addresses, mine.domains)
    if policy_file:
        app.say(f"[bold]Org blocklist[/bold] ({policy_file})")
        _layer(app, org.addresses, org.domains)
    else:
        app.say("[bold]Org blocklist[/bold]: no org policy in use")
    state = "on" if free_on else "off"
    how = (
        "forced by your org policy"
        if free_source == "forced"
        else "`rgsync settings set block-free-email-domains on|off` changes it"
    )
    app.say(
        f"[bold]Free-mail domains[/bold]: {state} ({free_source}) — {free_mail_domain_count():,} domains such as "
        f"gmail.com and outlook.com; {how}"
    )


def _layer(app: App, addresses: frozenset[str], domains: frozenset[str]) -> None:
    app.say(f"  addresses: {', '.join(sorted(addresses)) if addresses else '(none)'}")
    app.say(f"  domains:   {', '.join(sorted(domains)) if domains else '(none)'}")
