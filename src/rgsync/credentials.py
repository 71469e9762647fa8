"""Where rgsync keeps secrets: the OS keyring, or a file only the user can read (SPEC §9).

Passwords, refresh tokens and private keys never go into settings.toml. They go into the OS
keyring (macOS Keychain, Windows Credential Locker, Secret Service on Linux desktops) when one is
usable; on servers without one (cron on a headless box) they go into a JSON file created with
mode 0600 and always rewritten atomically with the same mode. `RGSYNC_KEYRING=file` forces the
file, `RGSYNC_KEYRING=keyring` forces the OS keyring.

Writes to the file are serialised between processes: a `connect`, a token refresh in a cron run
and a second profile command may all write at once. Each write takes an exclusive `flock` on
`credentials.json.lock` next to the file, re-reads the file under it and changes only its own
entry, so no process ever puts back a token another one has just replaced or added.

Secrets are never logged, printed or put into a repr: only their names are. Every secret read or
written here is also handed to the log filter (`rgsync.logs.remember_secret`), which blanks it
should a client library ever print it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import platformdirs
from keyring.backend import KeyringBackend

from rgsync.errors import RgsyncError
from rgsync.logs import remember_secret

log = logging.getLogger(__name__)

KEYRING_ENV = "RGSYNC_KEYRING"
SERVICE_PREFIX = "rgsync"
FILE_FORMAT_VERSION = 1
# How long a write waits for another process's write to the credentials file (they take
# milliseconds; a holder this slow is stuck, and the user should hear about it).
LOCK_TIMEOUT_SECONDS = 30.0


class CredentialsError(RgsyncError):
    """The credentials store cannot be read or written: exit 1 with the fix in the message."""


def usable_keyring() -> KeyringBackend | None:
    """The OS keyring backend when a real one is available; None for keyring's fail/null backends."""
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration is the same as none for us
        return None
    module = type(backend).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return None
    try:
        priority = float(backend.priority)
    except Exception:
        return None
    return backend if priority > 0 else None


def keyring_service(profile: str, fallback_file: Path) -> str:
    """The keyring service name of a profile's secrets.

    A profile in the default place is 'rgsync:<profile>'. A profile whose files live elsewhere (a
    settings file given with --config, such as a sandbox directory) gets a name of its own, derived
    from where its files are, so it can never pick up the secrets of a real profile of the same name.
    """
    default_state = Path(platformdirs.user_state_dir("rgsync")) / profile
    if Path(fallback_file).absolute().parent == default_state.absolute():
        return f"{SERVICE_PREFIX}:{profile}"
    digest = hashlib.sha256(str(Path(fallback_file).absolute().parent).encode()).hexdigest()[:12]
    return f"{SERVICE_PREFIX}:{profile}:{digest}"


class CredentialStore:
    """Secrets of one profile, by name (e.g. 'salesforce.refresh_token').

    With a keyring, each secret is one keyring entry (service `keyring_service(...)`, user = name).
    Should the keyring fail at run time (a locked or unreachable Secret Service under cron), the
    secret goes to the file instead, and `get` looks in both: keyring first, then the file.
    """

    def __init__(
        self, profile: str, fallback_file: Path, keyring_backend: KeyringBackend | None = None
    ) -> None:
        """`keyring_backend` overrides the detected keyring (for tests); `RGSYNC_KEYRING` still wins."""
        self.profile = profile
        self.fallback_file = Path(fallback_file)
        self.service = keyring_service(profile, self.fallback_file)
        choice = os.environ.get(KEYRING_ENV, "").strip().lower()
        if choice == "file":
            self._keyring: KeyringBackend | None = None
        elif choice == "keyring":
            self._keyring = keyring_backend or keyring.get_keyring()
        elif choice:
            raise CredentialsError(f"{KEYRING_ENV}={choice!r} is not understood; use 'file' or 'keyring'")
        else:
            self._keyring = keyring_backend or usable_keyring()

    @property
    def backend_name(self) -> str:
        """'file' or the keyring backend's name, for `rgsync doctor` and error messages."""
        if self._keyring is None:
            return "file"
        return f"keyring ({type(self._keyring).__module__}.{type(self._keyring).__name__})"

    def __repr__(self) -> str:
        return f"CredentialStore(profile={self.profile!r}, backend={self.backend_name!r}, file={str(self.fallback_file)!r})"

    # ------------------------------------------------------------------ public

    def get(self, name: str) -> str | None:
        """The secret stored under `name`, or None when there is none."""
        _check_name(name)
        if self._keyring is not None:
            try:
                secret = self._keyring.get_password(self.service, name)
            except Exception as exc:  # any keyring failure means: not usable right now
                log.warning(
                    "keyring unavailable while reading %s (%s); trying the credentials file",
                    name,
                    type(exc).__name__,
                )
            else:
                if secret is not None:
                    remember_secret(secret)
                    return secret
        found = self._read_file().get(name)
        remember_secret(found)
        return found

    def set(self, name: str, secret: str) -> None:
        """Store `secret` under `name`, replacing any earlier value."""
        _check_name(name)
        if not isinstance(secret, str) or not secret:
            raise ValueError(f"the secret for {name!r} must be a non-empty string")
        remember_secret(secret)
        if self._keyring is not None:
            try:
                self._keyring.set_password(self.service, name, secret)
            except Exception as exc:  # any keyring failure means: not usable right now
                log.warning(
                    "keyring unavailable while storing %s (%s); using the credentials file",
                    name,
                    type(exc).__name__,
                )
            else:
                # A copy left in the file from an earlier fallback would shadow nothing but still
                # lie around in plain text: remove it.
                self._remove_from_file(name)
                return
        with self._write_lock():
            # Read again under the lock: another process may have changed other entries since.
            secrets = self._read_file()
            secrets[name] = secret
            self._write_file(secrets)

    def delete(self, name: str) -> None:
        """Forget the secret stored under `name` (nothing happens when there is none)."""
        _check_name(name)
        if self._keyring is not None:
            with contextlib.suppress(Exception):  # nothing to delete, or no keyring right now
                self._keyring.delete_password(self.service, name)
        self._remove_from_file(name)

    # ------------------------------------------------------------------ the file

    @property
    def lock_file(self) -> Path:
        """The file whose `flock` serialises writes to the credentials file (it stays, empty)."""
        return self.fallback_file.with_name(self.fallback_file.name + ".lock")

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Hold the exclusive credentials lock; `CredentialsError` after `LOCK_TIMEOUT_SECONDS`.

        A separate lock file, because the credentials file itself is replaced on every write (a
        lock on its old inode would not exclude a writer that opened the new one). Not re-entrant.
        """
        path = self.lock_file
        try:
            _make_private_dir(path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CredentialsError(f"cannot open the credentials lock {path}: {exc.strerror or exc}") from exc
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise CredentialsError(
                            f"another rgsync process has held {path} for over {LOCK_TIMEOUT_SECONDS:.0f} s; "
                            "stop it (or wait for it) and try again"
                        ) from None
                    time.sleep(0.01)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _read_file(self) -> dict[str, str]:
        path = self.fallback_file
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialsError(f"cannot read the credentials file {path}: {exc.strerror or exc}") from exc
        with os.fdopen(fd, "rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            if mode & 0o077:
                # Someone widened it; secrets must stay readable by the user alone.
                log.warning("credentials file %s had mode %o; setting it to 600", path, mode)
                os.fchmod(handle.fileno(), 0o600)
            raw = handle.read()
        try:
            document = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            secrets = document.get("secrets", {}) if isinstance(document, dict) else None
            if not isinstance(secrets, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()
            ):
                raise ValueError("unexpected layout")
        except (UnicodeDecodeError, ValueError) as exc:
            # Never echo the content: it holds secrets.
            raise CredentialsError(
                f"the credentials file {path} is damaged; delete it and run `rgsync connect` again"
            ) from exc
        return dict(secrets)

    def _write_file(self, secrets: dict[str, str]) -> None:
        path = self.fallback_file
        document = {"version": FILE_FORMAT_VERSION, "profile": self.profile, "secrets": secrets}
        try:
            _make_private_dir(path.parent)
            # mkstemp creates the file with mode 0600; rename keeps the mode, so the secrets are
            # never readable by others, not even for an instant, and never half-written.
            fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(document, handle, indent=2, sort_keys=True)
                    handle.write("\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(temp_name, 0o600)
                os.replace(temp_name, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)
                raise
        except OSError as exc:
            raise CredentialsError(
                f"cannot write the credentials file {path}: {exc.strerror or exc}"
            ) from exc

    def _remove_from_file(self, name: str) -> None:
        if name not in self._read_file():
            return  # nothing to do: no lock, and no lock file created for nothing
        with self._write_lock():
            secrets = self._read_file()
            if name in secrets:
                del secrets[name]
                self._write_file(secrets)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a credential name must be a non-empty string")


def _make_private_dir(directory: Path) -> None:
    """Create missing folders with mode 0700 (existing ones are left alone)."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)
