"""`rgsync settings …`: read and change the per-user settings file (SPEC §1), or, with
`--user NAME`, a fleet user's settings layer in the fleet database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from rgsync.cli.common import App, json_option, pass_app
from rgsync.errors import UsageError
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


USER_KEY = "rgsync.settings.user"


def _remember_user(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    # `meta` is shared by the whole chain of contexts: `settings --user ann set …` and
    # `settings set … --user ann` both reach the subcommand.
    if value:
        ctx.meta[USER_KEY] = value
    return value


def user_option(function: Any) -> Any:
    """`--user NAME`: work on fleet user NAME's settings layer in the fleet database."""
    return click.option(
        "--user",
        metavar="NAME",
        expose_value=False,
        callback=_remember_user,
        help="A fleet user's settings in the fleet database (--state-url or RGSYNC_STATE_URL), "
        "layered under the fleet's org policy.",
    )(function)


@dataclass(frozen=True)
class Layer:
    """The settings layer a command works on: files to read and edit, and how to name them."""

    settings_file: Path
    policy_file: Path | None
    label: str
    policy_label: str | None
    user: str | None = None

    def name_of(self, file: Path | None) -> str | None:
        """What to call `file` in output: a fleet user's scratch copies by what they stand for."""
        if file is None:
            return None
        if file == self.settings_file:
            return self.label
        if file == self.policy_file:
            return self.policy_label
        return str(file)

    def named(self, problem: SettingsError) -> SettingsError:
        """`problem` with the scratch paths in its message named as in `name_of`."""
        if not self.user:
            return problem
        message = problem.message.replace(str(self.settings_file), self.label)
        if self.policy_file is not None and self.policy_label:
            message = message.replace(str(self.policy_file), self.policy_label)
        return SettingsError(message, key=problem.key, file=problem.file, line=problem.line)


@contextmanager
def settings_layer(app: App) -> Iterator[Layer]:
    """The user's own settings file, or with `--user NAME` that fleet user's layer (written back
    to the fleet database when the command changed it)."""
    name = click.get_current_context().meta.get(USER_KEY)
    if not name:
        paths = app.paths
        policy = paths.org_policy_file
        yield Layer(paths.settings_file, policy, str(paths.settings_file), str(policy) if policy else None)
        return
    from rgsync.fleet.user_settings import fleet_state_url, user_layer

    with user_layer(fleet_state_url(app.state_url), name) as files:
        yield Layer(files.settings_file, files.policy_file, files.label, files.policy_label, name)


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
@user_option
def settings_group() -> None:
    """Show and change sync settings (General / Linking / Blocklist / Sync).

    KEY is the setting's short name (`rgsync settings list` shows them all), or its TOML path
    such as general.emails.history-days; the account tables use mailbox.KEY and salesforce.KEY.

    With --user NAME (before or after the subcommand) the commands work on fleet user NAME's
    settings in the fleet database (`--state-url` or RGSYNC_STATE_URL), layered under the
    fleet's org policy exactly as a settings file is.
    """


@settings_group.command("list", short_help="Every setting, its value and where it comes from.")
@json_option
@user_option
@pass_app
def list_command(app: App) -> None:
    """Every setting: its value in effect, where that comes from, and what it means.

    Sources: default (built in), policy (your admin's default), user (your settings file),
    forced (set by your admin; you cannot change it).
    """
    with settings_layer(app) as layer:
        _list(app, layer)


def _list(app: App, layer: Layer) -> None:
    settings_file, policy_file = layer.settings_file, layer.policy_file
    settings = load_settings(settings_file, policy_file)
    if app.json:
        app.emit_json(
            {
                "settings_file": layer.label,
                **({"user": layer.user} if layer.user else {}),
                "exists": settings.exists,
                "org_policy_file": layer.policy_label,
                "settings": [_entry(settings, key) for key in KEYS],
                **{table: settings.connection(table) for table in CONNECTION_TABLES},
            }
        )
        return
    table = Table(title=f"Settings ({layer.label})", title_justify="left", show_lines=False)
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
            f"No settings file at {layer.label} yet: built-in defaults apply. `rgsync settings set KEY VALUE` creates it."
        )
    if layer.policy_label:
        app.say(f"Org policy: {layer.policy_label}")
    _note_ignored(app, settings, layer)


settings_group.add_command(list_command, "show")


@settings_group.command("get", short_help="Print one setting's value.")
@click.argument("key")
@json_option
@user_option
@pass_app
def get_command(app: App, key: str) -> None:
    """Print the value of KEY in effect, as you would type it (on/off, comma-separated lists)."""
    found = key_by_name(key)
    with settings_layer(app) as layer:
        settings = load_settings(layer.settings_file, layer.policy_file)
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
@user_option
@pass_app
def set_command(app: App, key: str, value: tuple[str, ...]) -> None:
    """Set KEY to VALUE in your settings file (created, fully commented, if there is none).

    \b
    Booleans: on/off, true/false, yes/no, 1/0.   Lists: a.com,b.com (or several arguments).
    Numbers are checked against their range; choices against their names.
    """
    found = key_by_name(key)
    joiner = "," if found.type in (KeyType.ADDRESSES, KeyType.DOMAINS) else " "
    with settings_layer(app) as layer:
        existed = layer.settings_file.exists()
        written = set_value(layer.settings_file, found.name, joiner.join(value), layer.policy_file)
    if not existed and not layer.user:
        app.say(f"Created {layer.label} (every setting is listed there, commented out).")
    app.say(f"{found.name} = {format_value(found, written) or '(empty)'}" + _for(layer))


@settings_group.command("unset", short_help="Go back to the default of a setting.")
@click.argument("key")
@user_option
@pass_app
def unset_command(app: App, key: str) -> None:
    """Remove your value of KEY, so the org policy's default or the built-in default applies again."""
    found = key_by_name(key)
    with settings_layer(app) as layer:
        unset_value(layer.settings_file, found.name, layer.policy_file)
        settings = load_settings(layer.settings_file, layer.policy_file)
    value, source = settings.value(found.name), settings.source(found.name)
    app.say(f"{found.name} = {format_value(found, value) or '(empty)'} ({source})" + _for(layer))


@settings_group.command("path", short_help="Print where the settings file is.")
@json_option
@pass_app
@user_option
def path_command(app: App) -> None:
    """Print where your settings file is (it may not exist yet)."""
    _refuse_user("path", "it has no file: `rgsync settings show --user NAME` shows it")
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


def _for(layer: Layer) -> str:
    return f" for {layer.user}" if layer.user else ""


def _refuse_user(command: str, why: str) -> None:
    name = click.get_current_context().meta.get(USER_KEY)
    if name:
        raise UsageError(
            f"`rgsync settings {command}` does not take --user: a fleet user's settings live in the fleet database, {why}"
        )


def _note_ignored(app: App, settings: Settings, layer: Layer | None = None) -> None:
    whose = f"{layer.user}'s" if layer and layer.user else "your"
    for key in settings.ignored_user_values():
        app.say(f"Note: {whose} value of {key.name} has no effect; the org policy forces it.")


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
@user_option
@pass_app
def validate_command(app: App) -> None:
    """Check your settings file (and the org policy file): every problem with its file and line."""
    with settings_layer(app) as layer:
        _validate(app, layer)


def _validate(app: App, layer: Layer) -> None:
    settings_file, policy_file = layer.settings_file, layer.policy_file
    problems = [layer.named(p) for p in settings_problems(settings_file, policy_file)]
    if app.json:
        app.emit_json(
            {
                "valid": not problems,
                "problems": [
                    {
                        "file": layer.name_of(p.file),
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
        app.say(f"No settings file at {layer.label}: built-in defaults apply.")
    else:
        app.say(f"{layer.label} {'are' if layer.user else 'is'} valid.")
    if layer.policy_label:
        app.say(f"Org policy {layer.policy_label} is valid.")
    settings = load_settings(settings_file, policy_file)
    _note_ignored(app, settings, layer)


@settings_group.command("edit", short_help="Edit the settings file in $EDITOR.")
@user_option
@pass_app
def edit_command(app: App) -> None:
    """Open your settings file in $VISUAL / $EDITOR; an invalid result is undone (exit 2)."""
    _refuse_user("edit", "change it with `rgsync settings set|unset KEY --user NAME`")
    settings_file, policy_file = app.paths.settings_file, app.paths.org_policy_file
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
