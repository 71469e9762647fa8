"""`rgsync connect KIND`: sign in to an account and keep its secrets in the credentials store (SPEC §9).

One subcommand per provider kind in `rgsync.registry`, built from the kind's descriptor: its
options become flags, its sign-in flow runs with this terminal answering its questions, and what
the flow returns is stored here — the secrets in the credentials store, the connection details
(never secrets) in the kind's settings table. A refused sign-in stores nothing.
"""

from __future__ import annotations

import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rgsync import registry
from rgsync.cli.common import App, json_option, pass_app
from rgsync.errors import UsageError
from rgsync.registry import (
    AnyDescriptor,
    ConnectContext,
    ConnectResult,
    Option,
    StagedSecrets,
    commit_secrets,
)

# How a sign-in page is shown (a browser); tests drive the sandbox's page instead.
OPEN_URL: Callable[[str], object] = webbrowser.open
# How a device-code sign-in waits between polls; tests replace it so they never sleep.
SLEEP: Callable[[float], None] = time.sleep


class TerminalInteraction:
    """The user at this terminal answers a flow's questions; its messages go to standard error."""

    def __init__(self, app: App) -> None:
        self.app = app

    def ask(self, prompt: str) -> str:
        """A visible answer."""
        return str(click.prompt(prompt, err=True))

    def ask_secret(self, prompt: str, *, allow_empty: bool = False) -> str:
        """A hidden answer; Enter alone gives '' when `allow_empty`."""
        if allow_empty:
            return str(click.prompt(prompt, hide_input=True, err=True, default="", show_default=False))
        return str(click.prompt(prompt, hide_input=True, err=True))

    def tell(self, text: str) -> None:
        """A message while the flow runs."""
        self.app.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def open_url(self, url: str) -> None:
        """Open a sign-in page in the browser."""
        OPEN_URL(url)

    def sleep(self, seconds: float) -> None:
        """Wait between polls."""
        SLEEP(seconds)


def _click_option(option: Option) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The Click flag for one descriptor option."""
    extra: dict[str, Any] = {}
    if option.kind == "flag":
        extra["is_flag"] = True
    elif option.kind == "switch":
        extra["default"] = None
    elif option.kind == "choice":
        extra["type"] = click.Choice(list(option.choices))
    elif option.kind == "file":
        extra["type"] = click.Path(exists=option.exists, dir_okay=False, path_type=Path)
    elif option.kind == "int":
        extra["type"] = click.IntRange(
            None if option.minimum is None else int(option.minimum),
            None if option.maximum is None else int(option.maximum),
        )
    elif option.kind == "float":
        extra["type"] = click.FloatRange(option.minimum, option.maximum, min_open=option.minimum_open)
    if option.default is not None:
        extra["default"] = option.default
    if option.metavar is not None:
        extra["metavar"] = option.metavar
    if option.show_default:
        extra["show_default"] = True
    return click.option(option.flags, option.dest, help=option.help, **extra)


def _check_settings_values(found: AnyDescriptor, given: dict[str, Any]) -> None:
    """Refuse an option bound for a setting with a value the settings would refuse, before any prompt."""
    from rgsync.settings import SettingsError
    from rgsync.settings.schema import key_by_name
    from rgsync.settings.values import check_value, expectation

    for option in found.options:
        value = given.get(option.dest)
        if option.setting is None or value in (None, ""):
            continue
        key = key_by_name(option.setting)
        try:
            check_value(key, value)
        except SettingsError:
            flag = option.flags.split("/", 1)[0]
            raise UsageError(f"{flag} must be {expectation(key)}, not {value!r}") from None


def run_connect(app: App, found: AnyDescriptor, given: dict[str, Any]) -> ConnectResult:
    """Run a kind's sign-in flow for this profile and store what it returns."""
    from rgsync.settings import load_settings, write_connection

    _check_settings_values(found, given)
    request = found.request(**given)
    paths = app.paths
    settings = load_settings(paths.settings_file, paths.org_policy_file)
    current, same_kind, options = registry.connect_inputs(found, settings.effective(), paths)
    store = registry.store_of(paths)
    context = ConnectContext(
        secrets=StagedSecrets(store),
        settings_file=paths.settings_file,
        interaction=TerminalInteraction(app),
        same_kind=same_kind,
        options=options,
    )
    result = found.connect(request, current, context)
    commit_secrets(store, result.secrets)
    write_connection(paths.settings_file, result.section, result.settings)
    return result


def _show(app: App, result: ConnectResult) -> None:
    if app.json:
        app.emit_json(dict(result.report))
        return
    for line in result.lines:
        app.say(line)
    for warning in result.warnings:
        app.err.print(f"[yellow]{warning}[/yellow]", highlight=False)


def connect_command(found: AnyDescriptor) -> click.Command:
    """`rgsync connect KIND` for one descriptor: its options, `--json`, and the generic run."""

    @pass_app
    def callback(app: App, /, **given: Any) -> None:
        _show(app, run_connect(app, found, given))

    decorated: Callable[..., Any] = json_option(callback)
    for option in reversed(found.options):  # the last decorator applied is the first flag listed
        decorated = _click_option(option)(decorated)
    return click.command(found.kind, help=found.connect_help)(decorated)


class ConnectGroup(click.Group):
    """The kinds `rgsync connect` offers, read from the registry each time (so a registered kind appears)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every registered kind, by name."""
        return sorted(registry.kinds())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The kind's connect command, built from its descriptor."""
        found = registry.descriptor(cmd_name)
        return connect_command(found) if found is not None else None


@click.group("connect", cls=ConnectGroup)
def connect_group() -> None:
    """Sign in to your mailbox or Salesforce and store the secrets safely."""
