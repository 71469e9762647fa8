"""Where rgsync keeps its files: settings, state database, credentials (per profile).

Defaults follow the platform's user directories (platformdirs). `--config` / `RGSYNC_CONFIG` move
the settings file; `--profile NAME` keeps a separate settings file and state per profile. When a
settings file is given explicitly, its state lives in a `.rgsync-state` folder next to it unless
`RGSYNC_STATE_DIR` says otherwise, so a sandbox directory is self-contained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "rgsync"
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class Paths:
    """The files of one profile."""

    profile: str
    settings_file: Path
    org_policy_file: Path | None
    state_dir: Path

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.sqlite3"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "run.lock"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"


def resolve_paths(
    config: str | None = None, profile: str | None = None, org_policy: str | None = None
) -> Paths:
    """Work out the profile's files from options, then environment, then platform defaults."""
    profile = profile or os.environ.get("RGSYNC_PROFILE") or DEFAULT_PROFILE
    config = config or os.environ.get("RGSYNC_CONFIG")
    policy = org_policy or os.environ.get("RGSYNC_ORG_POLICY")
    config_dir = Path(platformdirs.user_config_dir(APP))
    if config:
        settings_file = Path(config).expanduser().absolute()
        default_state = settings_file.parent / ".rgsync-state" / profile
    else:
        name = "settings.toml" if profile == DEFAULT_PROFILE else f"settings-{profile}.toml"
        settings_file = config_dir / name
        default_state = Path(platformdirs.user_state_dir(APP)) / profile
    state_env = os.environ.get("RGSYNC_STATE_DIR")
    state_dir = Path(state_env).expanduser().absolute() / profile if state_env else default_state
    return Paths(
        profile=profile,
        settings_file=settings_file,
        org_policy_file=Path(policy).expanduser().absolute() if policy else None,
        state_dir=state_dir,
    )
