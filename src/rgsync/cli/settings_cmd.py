"""`rgsync settings …`: read and change the per-user settings file (SPEC §1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from rgsync.cli.common import App, json_option, pass_app
from rgsync.settings import (
    ALL_KEYS,
    CONNECTION_TABLES,
    KEYS,
    Key,
    KeyType,
    Settings,
    SettingsError,
    edit_settings,
    format_value,
    key_by_name,
    load_settings,
    set_value,
    settings_problems,
    unset_value,
)

SOURCE_STYLE = {"default": "dim", "policy": "cyan", "user": "green", "forced": "bold magenta"}


def _files(app: App) -> tuple[Path, Path | None]:
    paths = app.paths
    return paths.settings_file, paths.org_policy_file


def _shown(key: Key, value: object) -> Text:
    """A value for the table: as typed, with a dim placeholder when there is nothing to show."""
    text = format_value(key, value)
    if text:
        return Text(text)
    placeholder = "(not set)" if value is None else "(none)" if isinstance(value, list) else "(empty)"
    return Text(placeholder, style="dim")


def _entry(settings: Settings, key: Key) -> dict[str, Any]:
    return {
        "key": key.name,
        "path": key.dotted,
        "value": settings.value(key.name),
        "shown": format_value(key, settings.value(key.name)),
        "source": settings.source(key.name),
        "type": str(key.type),
        "choices": list(key.choices),
        "default": key.default,
        "help": key.help,
    }


@click.group("settings")
def settings_group() -> None:
    """Show and change sync settings (General / Linking / Blocklist / Sync).

    KEY is the setting's short name (`rgsync settings list` shows them all), or its TOML path
    such as general.emails.history-days; the account tables use mailbox.KEY and salesforce.KEY.
    """


@settings_group.command("list", short_help="Every setting, its value and where it comes from.")
@json_option
@pass_app
def list_command(app: App) -> None:
    """Every setting: its value in effect, where that comes from, and what it means.

    Sources: default (built in), policy (your admin's default), user (your settings file),
    forced (set by your admin; you cannot change it).
    """
    settings_file, policy_file = _files(app)
    settings = load_settings(settings_file, policy_file)
    if app.json:
        app.emit_json(
            {
                "settings_file": str(settings_file),
                "exists": settings.exists,
                "org_policy_file": str(policy_file) if policy_file else None,
                "settings": [_entry(settings, key) for key in KEYS],
                **{table: settings.connection(table) for table in CONNECTION_TABLES},
            }
        )
        return
    table = Table(title=f"Settings ({settings_file})", title_justify="left", show_lines=False)
    table.add_column("Key", no_wrap=True)
    table.add_column("Value", overflow="fold")
    table.add_column("Source", no_wrap=True)
    table.add_column("Meaning")
    section = None
    # Connection details show once something is configured; their defaults alone are noise here.
    connection_keys = [k for k in ALL_KEYS if k not in KEYS and settings.source(k.name) != "default"]
    for key in [*KEYS, *connection_keys]:
        if key.section != section:
            section = key.section
            table.add_row(Text(section, style="bold"), "", "", "")
        source = settings.source(key.name)
        table.add_row(
            f"  {key.name}",
            _shown(key, settings.value(key.name)),
            Text(source, style=SOURCE_STYLE[source]),
            key.help,
        )
    if not app.quiet:
        app.out.print(table)
    if not settings.exists:
        app.say(
            f"No settings file at {settings_file} yet: built-in defaults apply. `rgsync settings set KEY VALUE` creates it."
        )
    if policy_file:
        app.say(f"Org policy: {policy_file}")
    _note_ignored(app, settings)


settings_group.add_command(list_command, "show")


@settings_group.command("get", short_help="Print one setting's value.")
@click.argument("key")
@json_option
@pass_app
def get_command(app: App, key: str) -> None:
    """Print the value of KEY in effect, as you would type it (on/off, comma-separated lists)."""
    settings_file, policy_file = _files(app)
    found = key_by_name(key)
    settings = load_settings(settings_file, policy_file)
    value = settings.value(found.name)
    if app.json:
        app.emit_json({"key": found.name, "value": value, "source": settings.source(found.name)})
    else:
        click.echo(format_value(found, value))


# A value may start with '-' (`calendar-past-days -1`): it is a value to check, not an option.
@settings_group.command(
    "set", short_help="Change a setting.", context_settings={"ignore_unknown_options": True}
)
@click.argument("key")
@click.argument("value", nargs=-1, required=True)
@pass_app
def set_command(app: App, key: str, value: tuple[str, ...]) -> None:
    """Set KEY to VALUE in your settings file (created, fully commented, if there is none).

    \b
    Booleans: on/off, true/false, yes/no, 1/0.   Lists: a.com,b.com (or several arguments).
    Numbers are checked against their range; choices against their names.
    """
    settings_file, policy_file = _files(app)
    found = key_by_name(key)
    joiner = "," if found.type in (KeyType.ADDRESSES, KeyType.DOMAINS) else " "
    existed = settings_file.exists()
    written = set_value(settings_file, found.name, joiner.join(value), policy_file)
    if not existed:
        app.say(f"Created {settings_file} (every setting is listed there, commented out).")
    app.say(f"{found.name} = {format_value(found, written) or '(empty)'}")


@settings_group.command("unset", short_help="Go back to the default of a setting.")
@click.argument("key")
@pass_app
def unset_command(app: App, key: str) -> None:
    """Remove your value of KEY, so the org policy's default or the built-in default applies again."""
    settings_file, policy_file = _files(app)
    found = key_by_name(key)
    unset_value(settings_file, found.name, policy_file)
    settings = load_settings(settings_file, policy_file)
    value, source = settings.value(found.name), settings.source(found.name)
    app.say(f"{found.name} = {format_value(found, value) or '(empty)'} ({source})")


@settings_group.command("path", short_help="Print where the settings file is.")
@json_option
@pass_app
def path_command(app: App) -> None:
    """Print where your settings file is (it may not exist yet)."""
    paths = app.paths
    if app.json:
        app.emit_json(
            {
                "settings_file": str(paths.settings_file),
                "exists": paths.settings_file.exists(),
                "org_policy_file": str(paths.org_policy_file) if paths.org_policy_file else None,
                "state_dir": str(paths.state_dir),
                "profile": paths.profile,
            }
        )
    else:
        click.echo(str(paths.settings_file))


def _note_ignored(app: App, settings: Settings) -> None:
    for key in settings.ignored_user_values():
        app.say(f"Note: your value of {key.name} has no effect; the org policy forces it.")


def _report(
    problems: tuple[SettingsError, ...] | list[SettingsError], final: str | None = None
) -> SettingsError:
    """Print all but the last problem; return the error to raise (the last problem, or `final`)."""
    lines = [p.message for p in problems]
    if final is not None:
        lines.append(final)
    for line in lines[:-1]:
        click.echo(f"rgsync: {line}", err=True)
    return SettingsError(lines[-1], file=problems[0].file, line=problems[0].line)


@settings_group.command("validate", short_help="Check the settings file and the org policy.")
@json_option
@pass_app
def validate_command(app: App) -> None:
    """Check your settings file (and the org policy file): every problem with its file and line."""
    settings_file, policy_file = _files(app)
    problems = settings_problems(settings_file, policy_file)
    if app.json:
        app.emit_json(
            {
                "valid": not problems,
                "problems": [
                    {
                        "file": str(p.file) if p.file else None,
                        "line": p.line,
                        "key": p.key,
                        "message": p.message,
                    }
                    for p in problems
                ],
            }
        )
    if problems:
        raise _report(problems)
    if not settings_file.exists():
        app.say(f"No settings file at {settings_file}: built-in defaults apply.")
    else:
        app.say(f"{settings_file} is valid.")
    if policy_file:
        app.say(f"Org policy {policy_file} is valid.")
    settings = load_settings(settings_file, policy_file)
    _note_ignored(app, settings)


@settings_group.command("edit", short_help="Edit the settings file in $EDITOR.")
@pass_app
def edit_command(app: App) -> None:
    """Open your settings file in $VISUAL / $EDITOR; an invalid result is undone (exit 2)."""
    settings_file, policy_file = _files(app)
    existed = settings_file.exists()
    result = edit_settings(settings_file, lambda path: click.edit(filename=str(path)))
    if result.problems:
        kept = "restored" if existed else "not created"
        raise _report(
            result.problems,
            f"{settings_file} was {kept} because the edit has the problem(s) above; "
            f"your edit is saved in {result.rejected_copy} — fix it there or run `rgsync settings edit` again",
        )
    app.say(f"Saved {settings_file}." if result.changed else "No changes.")
    _note_ignored(app, load_settings(settings_file, policy_file))
