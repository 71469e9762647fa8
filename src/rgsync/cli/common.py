"""What every command shares: the application context, common options, output helpers."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rgsync.paths import Paths, resolve_paths

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """Options given before the command name, and the consoles commands print to.

    The consoles are made on first use: `rgsync run --quiet` and `--json` from cron print through
    neither, and importing the console library costs about 0.1 s and 6 MB. A test or caller may
    hand its own in (`out_console`, `err_console`).
    """

    config: str | None = None
    profile: str | None = None
    org_policy: str | None = None
    state_url: str | None = None
    verbose: bool = False
    quiet: bool = False
    json: bool = False
    log_file: str | None = None
    log_level: str | None = None
    out_console: Console | None = field(default=None, repr=False)
    err_console: Console | None = field(default=None, repr=False)

    @property
    def out(self) -> Console:
        """The console for a command's output (stdout)."""
        if self.out_console is None:
            from rich.console import Console

            self.out_console = Console(soft_wrap=True)
        return self.out_console

    @property
    def err(self) -> Console:
        """The console for progress and messages beside the output (stderr)."""
        if self.err_console is None:
            from rich.console import Console

            self.err_console = Console(stderr=True, soft_wrap=True)
        return self.err_console

    @property
    def paths(self) -> Paths:
        paths = resolve_paths(self.config, self.profile, self.org_policy, self.state_url)
        if paths.state_url is None:
            # Neither --state-url nor RGSYNC_STATE_URL: the settings (or the org policy) may say.
            configured = configured_state_url(paths)
            if configured:
                paths = dataclasses.replace(paths, state_url=configured)
        return paths

    def say(self, message: str) -> None:
        """Print a line for humans, unless --quiet or --json."""
        if not self.quiet and not self.json:
            self.out.print(message, highlight=False)

    def emit_json(self, payload: Any) -> None:
        """Print one JSON document on stdout (for scripts)."""
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def configured_state_url(paths: Paths) -> str | None:
    """The `state-url` setting (user file layered under the org policy), None when unset.

    A settings file rgsync cannot read leaves the state where it is by default: the command that
    needs the settings reports the problem itself, and `rgsync settings` must still work to fix it.
    """
    from rgsync.settings import SettingsError, load_settings

    if not paths.settings_file.is_file() and paths.org_policy_file is None:
        return None
    try:
        value = load_settings(paths.settings_file, paths.org_policy_file).value("state-url")
    except (SettingsError, OSError):
        return None
    return str(value) if value else None


pass_app = click.make_pass_decorator(App)


def _app_flag(*declarations: str, attribute: str, help: str) -> Callable[[F], F]:
    """A flag a command accepts as well as the global option of the same name: set, it turns the
    `App` attribute on for the whole invocation (cron lines write `rgsync run --quiet`)."""

    def _set(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            setattr(ctx.ensure_object(App), attribute, True)
        return value

    return click.option(*declarations, is_flag=True, expose_value=False, callback=_set, help=help)


# `--json` on a command: sets `App.json` like the global option does.
json_option = _app_flag("--json", "json_output", attribute="json", help="Print JSON for scripts.")

# `-q/--quiet` on a command: sets `App.quiet` like the global option does.
quiet_option = _app_flag(
    "-q",
    "--quiet",
    attribute="quiet",
    help="Print nothing on success (for cron); failures are still printed.",
)
