"""The fleet home on a worker machine: where each user's profile lives while its sessions run.

`HOME/users/NAME/settings.toml` is written from the user's settings layer in the shared database
before each session (so `rgsync run` code reads it exactly as it reads a user's own file), with
`HOME/org-policy.toml` from the org policy in the database under it. The user's secrets (what
`rgsync connect` stores, or what `fleet import` copied from the roster's credentials column) and
the user's state stay in `HOME/users/NAME/.rgsync-state/default/`.

The home is chosen by `--home`, else `RGSYNC_FLEET_HOME`, else the platform's user state dir
(`…/rgsync/fleet`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rgsync.errors import UsageError
from rgsync.paths import Paths, resolve_paths
from rgsync.settings.document import atomic_write

HOME_ENV = "RGSYNC_FLEET_HOME"


def fleet_home(option: str | Path | None = None) -> Path:
    """The fleet home: the option, else RGSYNC_FLEET_HOME, else the platform's user state dir."""
    if option:
        return Path(option).expanduser().absolute()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_state_dir("rgsync")) / "fleet"


def policy_file(home: Path) -> Path:
    return home / "org-policy.toml"


def user_paths(home: Path, name: str, *, state_url: str | None = None, with_policy: bool = False) -> Paths:
    """The profile of fleet user `name` under `home`: profile `name`, its state at `state_url`
    (its own schema in the fleet database), with the fleet's org policy or none."""
    folder = home / "users" / name
    paths = resolve_paths(
        config=str(folder / "settings.toml"),
        profile=name,
        org_policy=str(policy_file(home)) if with_policy else None,
        state_url=state_url,
    )
    if paths.state_dir.parent != folder / ".rgsync-state":
        # Every user would keep secrets and local files in one folder.
        raise UsageError("RGSYNC_STATE_DIR is set; unset it for fleet commands")
    return paths


def write_profile(
    home: Path, name: str, settings_text: str, policy_text: str | None, *, state_url: str | None
) -> Paths:
    """Write the user's settings layer and the org policy where the session reads them."""
    paths = user_paths(home, name, state_url=state_url, with_policy=policy_text is not None)
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not paths.settings_file.exists() or paths.settings_file.read_text(encoding="utf-8") != settings_text:
        atomic_write(paths.settings_file, settings_text)
    target = policy_file(home)
    if policy_text is None:
        target.unlink(missing_ok=True)
    elif not target.exists() or target.read_text(encoding="utf-8") != policy_text:
        atomic_write(target, policy_text)
    return paths


def install_credentials(home: Path, name: str, source: Path) -> None:
    """Copy a credentials file (as `rgsync connect` writes it) into the user's profile, mode 0600."""
    paths = user_paths(home, name)
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = paths.credentials_file.with_name(".credentials.json.tmp")
    shutil.copyfile(source, temp)
    temp.chmod(0o600)
    temp.replace(paths.credentials_file)
