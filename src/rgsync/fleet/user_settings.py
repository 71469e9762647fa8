"""A fleet user's settings layer, edited where it lives: in the fleet database.

`rgsync settings … --user NAME` and `rgsync blocklist … --user NAME` change the layer a worker
writes to `HOME/users/NAME/settings.toml` before each of that user's sessions. So that the rules
are exactly those of a settings file — the same parsing, checks, messages and layering under the
org policy — the layer and the fleet's org policy are put in a private scratch folder as files,
the ordinary settings code reads and edits them there, and a changed layer is written back in one
statement that only succeeds when nobody changed it in between (an admin on another machine).
Messages name the user's layer and the fleet's policy, never the scratch folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rgsync.errors import RgsyncError, UsageError
from rgsync.settings import SettingsError

STATE_URL_ENV = "RGSYNC_STATE_URL"


def fleet_state_url(option: str | None) -> str:
    """The fleet database for `--user`: `--state-url`, else RGSYNC_STATE_URL (as `rgsync fleet` finds it)."""
    url = option or os.environ.get(STATE_URL_ENV)
    if not url:
        raise UsageError(
            "--user edits a fleet user's settings in the fleet database; pass --state-url "
            "postgresql://USER@HOST/DATABASE or set RGSYNC_STATE_URL"
        )
    return url


@dataclass(frozen=True)
class UserLayerFiles:
    """The scratch files standing for one fleet user's layer and the fleet's org policy."""

    settings_file: Path
    policy_file: Path | None
    label: str
    policy_label: str | None


def _relabel(exc: SettingsError, files: UserLayerFiles) -> SettingsError:
    """The same problem with the scratch paths replaced by what the admin knows them as."""

    def text(message: str) -> str:
        message = message.replace(str(files.settings_file), files.label)
        if files.policy_file is not None and files.policy_label is not None:
            message = message.replace(str(files.policy_file), files.policy_label)
        return message

    if len(exc.problems) <= 1:
        return SettingsError(text(exc.message), key=exc.key, line=exc.line)
    problems = [SettingsError(text(p.message), key=p.key, line=p.line) for p in exc.problems]
    return SettingsError(text(exc.message), key=exc.key, line=exc.line, problems=problems)


@contextmanager
def user_layer(url: str, name: str) -> Iterator[UserLayerFiles]:
    """Lend user `name`'s settings layer (and the fleet's org policy) as files; write a changed layer back.

    Raises `UsageError` naming the user and `rgsync fleet list` when there is no such user, and
    `RgsyncError` when the layer changed in the database meanwhile (nothing is written then).
    """
    from rgsync.fleet.store import FleetStore

    store = FleetStore(url)
    user = store.user(name)
    if user is None:
        raise UsageError(f"no user {name!r} in the fleet; `rgsync fleet list` shows who is")
    policy_text = store.get_meta("org_policy")
    with tempfile.TemporaryDirectory(prefix="rgsync-user-layer-") as scratch:
        folder = Path(scratch)
        folder.chmod(0o700)
        settings_file = folder / "settings.toml"
        if user.settings:
            settings_file.write_text(user.settings, encoding="utf-8")
        policy_file = None
        if policy_text is not None:
            policy_file = folder / "org-policy.toml"
            policy_file.write_text(policy_text, encoding="utf-8")
        files = UserLayerFiles(
            settings_file,
            policy_file,
            label=f"{name}'s settings in the fleet database",
            policy_label="the fleet's org policy" if policy_file is not None else None,
        )
        try:
            yield files
        except SettingsError as exc:
            raise _relabel(exc, files) from None
        after = settings_file.read_text(encoding="utf-8") if settings_file.exists() else ""
        if after != user.settings and not store.replace_settings(name, user.settings, after):
            raise RgsyncError(
                f"{name}'s settings changed in the fleet database while this command ran; nothing was "
                "written, run it again"
            )
