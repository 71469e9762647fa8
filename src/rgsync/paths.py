"""Where rgsync keeps its files: settings, state database, credentials (per profile).

Defaults follow the platform's user directories (platformdirs). `--config` / `RGSYNC_CONFIG` move
the settings file; `--profile NAME` keeps a separate settings file and state per profile. When a
settings file is given explicitly, its state lives in a `.rgsync-state` folder next to it unless
`RGSYNC_STATE_DIR` says otherwise, so a sandbox directory is self-contained.

Every path is checked before anything reads or writes it (SPEC §7.11): a profile name is a simple
name, so it cannot lead out of its folder, and the settings, policy and state files must be regular
files or absent. A device, named pipe, socket or folder in their place is refused and never touched:
replacing `/dev/null` with a settings file, or blocking forever on a pipe, is worse than stopping.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from rgsync.errors import UsageError

APP = "rgsync"
DEFAULT_PROFILE = "default"
PROFILE_NAME_MAX = 64
# Letters, digits, '-', '_' and '.', not starting with '.' (so neither '..' nor a hidden name).
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class UnsafePathError(UsageError):
    """A settings, policy or state path that rgsync must not read or write as it stands: exit 2."""


def check_profile_name(name: str) -> str:
    """Return `name` when it is a simple profile name; `UnsafePathError` otherwise.

    Profile names become parts of file names, so only letters, digits, `-`, `_` and `.` (not
    leading) are accepted, up to `PROFILE_NAME_MAX` characters.
    """
    if len(name) > PROFILE_NAME_MAX:
        raise UnsafePathError(
            f"profile name {name[:20]!r}… is {len(name)} characters long; "
            f"use at most {PROFILE_NAME_MAX} letters, digits, '-', '_' or '.'"
        )
    if not _PROFILE_NAME.fullmatch(name):
        raise UnsafePathError(
            f"profile name {name!r} is not a simple name; use letters, digits, '-', '_' "
            "and '.' (not first), such as work or sales-eu"
        )
    return name


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _stat(path: Path, what: str) -> os.stat_result | None:
    """`os.stat` (following symlinks), None when nothing is there; other failures as one line."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except ValueError:  # a NUL character in the path
        raise UnsafePathError(
            f"{what} path {str(path)!r} contains a NUL character; give a plain path"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(
                f"{what} {path} is a symbolic link that loops back on itself; point it at a real file"
            ) from None
        if exc.errno == errno.ENOTDIR:
            raise UnsafePathError(
                f"{what} {path} cannot exist: a folder on its way is a file; choose a path inside a folder"
            ) from None
        if exc.errno == errno.ENAMETOOLONG:
            raise UnsafePathError(
                f"{what} path {str(path)[:60]}… is too long; choose a shorter path"
            ) from None
        raise UnsafePathError(f"cannot check {what} {path}: {exc.strerror or exc}") from None


def check_regular_file(path: Path, what: str, hint: str = "") -> None:
    """Refuse `path` unless it is a regular file or absent (symlinks are followed to their target).

    `what` names the file in the message ("settings file"); `hint` is the fix to add. A missing
    file whose folder is missing too is fine: it is created when first written.
    """
    found = _stat(path, what)
    if found is not None and not stat.S_ISREG(found.st_mode):
        shown = f"{path} (a link to {os.path.realpath(path)})" if os.path.islink(path) else str(path)
        fix = hint or "move it aside or choose another path"
        raise UnsafePathError(f"{what} {shown} is {_kind(found.st_mode)}, not a regular file; {fix}")


def check_folder(path: Path, what: str, hint: str = "") -> None:
    """Refuse `path` unless it is a folder or absent (symlinks are followed)."""
    found = _stat(path, what)
    if found is not None and not stat.S_ISDIR(found.st_mode):
        fix = hint or "move it aside or choose another path"
        raise UnsafePathError(f"{what} {path} is {_kind(found.st_mode)}, not a folder; {fix}")


@dataclass(frozen=True)
class Paths:
    """The files of one profile."""

    profile: str
    settings_file: Path
    org_policy_file: Path | None
    state_dir: Path
    # Where `rgsync run` writes its log unless `--log-file` says otherwise (None: next to the state).
    default_log_file: Path | None = None
    # `--state-url` / RGSYNC_STATE_URL / the `state-url` setting; None keeps the SQLite file
    # `state_db` (see `rgsync.state.location`).
    state_url: str | None = None

    @property
    def log_file(self) -> Path:
        """The profile's log file: the platform's user log dir, or next to the state in a sandbox."""
        return self.default_log_file or self.state_dir / "rgsync.log"

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.sqlite3"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "run.lock"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"

    def check(self) -> None:
        """Refuse (`UnsafePathError`, exit 2) a profile whose files are not regular files or absent."""
        check_regular_file(
            self.settings_file, "settings file", "point --config (or RGSYNC_CONFIG) at a settings file"
        )
        if self.org_policy_file is not None:
            check_regular_file(
                self.org_policy_file,
                "org policy file",
                "point --org-policy (or RGSYNC_ORG_POLICY) at the policy file",
            )
        check_folder(self.state_dir, "state folder", "move it aside or set RGSYNC_STATE_DIR to a folder")
        for name in (
            "state.sqlite3",
            "state.sqlite3-wal",
            "state.sqlite3-shm",
            "run.lock",
            "credentials.json",
        ):
            check_regular_file(self.state_dir / name, "state file", "move it aside so rgsync can create it")


def resolve_paths(
    config: str | None = None,
    profile: str | None = None,
    org_policy: str | None = None,
    state_url: str | None = None,
) -> Paths:
    """Work out the profile's files from options, then environment, then platform defaults.

    Raises `UnsafePathError` (exit 2) for a profile name that is not a simple name and for a
    settings, policy or state path that holds something other than a regular file.
    """
    profile = check_profile_name(profile or os.environ.get("RGSYNC_PROFILE") or DEFAULT_PROFILE)
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
    # A profile given its own settings file or state folder keeps its log there too, so a sandbox
    # (and every test) stays inside its own folder; otherwise the platform's user log dir.
    log_file = None if config or state_env else Path(platformdirs.user_log_dir(APP)) / f"{profile}.log"
    paths = Paths(
        profile=profile,
        settings_file=settings_file,
        org_policy_file=Path(policy).expanduser().absolute() if policy else None,
        state_dir=state_dir,
        default_log_file=log_file,
        state_url=state_url or os.environ.get("RGSYNC_STATE_URL") or None,
    )
    paths.check()
    return paths
