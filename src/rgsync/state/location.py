"""Where a profile's state lives: the `state-url`.

Absent or `sqlite:///PATH`: a SQLite file (by default the profile's `state.sqlite3`).
`postgresql://USER@HOST:PORT/DATABASE` (or `postgresql:///DATABASE?host=/socket/dir`, or any libpq
URL without a password): one schema per profile in a shared PostgreSQL database, so many users'
state can live in one database without seeing each other's rows.

The URL is read from `--state-url`, then `RGSYNC_STATE_URL`, then the settings (`state-url`, which
an org policy can set or force). It never carries a password: a password typed into a URL ends up
in shell history, cron lines and settings files. libpq finds it in `~/.pgpass` (or the file
`PGPASSFILE` names) or a `pg_service.conf` service; or rgsync's credentials store keeps it
(`rgsync state password`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from rgsync.errors import UsageError

if TYPE_CHECKING:
    from rgsync.paths import Paths

STATE_URL_ENV = "RGSYNC_STATE_URL"
STATE_URL_KEY = "state-url"
# The name the state database's password is kept under in the profile's credentials store.
PASSWORD_CREDENTIAL = "state.password"
# PostgreSQL truncates longer identifiers silently, which could make two profiles share a schema.
_IDENTIFIER_MAX = 63
SCHEMA_PREFIX = "rgsync_"

_FORMS = "use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
_PASSWORD_FIX = (
    "remove the password from the URL and put it in ~/.pgpass (or the file PGPASSFILE names), "
    "in a pg_service.conf service, or in the credentials store with `rgsync state password`"
)


class StateUrlError(UsageError):
    """A `state-url` rgsync cannot use as it stands (exit 2)."""


def schema_for(profile: str) -> str:
    """The PostgreSQL schema that holds `profile`'s state: `rgsync_<profile>`.

    Profile names are simple names (letters, digits, '-', '_', '.'), always quoted as an
    identifier. A name too long for PostgreSQL keeps its start and gains a hash of the whole, so
    two long names never share a schema.
    """
    name = SCHEMA_PREFIX + profile
    if len(name.encode()) <= _IDENTIFIER_MAX:
        return name
    digest = hashlib.sha256(profile.encode()).hexdigest()[:12]
    return f"{name[: _IDENTIFIER_MAX - 13]}_{digest}"


@dataclass(frozen=True)
class PostgresLocation:
    """One profile's state in a PostgreSQL database: the libpq connection string (URL, never with
    a password) and the profile, whose schema holds the tables."""

    conninfo: str
    profile: str
    # From the credentials store, when the user keeps it there; never shown, never compared.
    password: str | None = field(default=None, repr=False, compare=False)
    # Asked only when the server wants a password libpq could not find (so a keyring is never
    # touched for a database that needs none).
    password_source: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)

    @property
    def schema(self) -> str:
        return schema_for(self.profile)

    def __str__(self) -> str:
        return f"{self.conninfo} (schema {self.schema})"


StateLocation = Path | PostgresLocation


def _has_password(url: str) -> bool:
    parts = urlsplit(url)
    if parts.password is not None:
        return True
    return any(name.lower() == "password" for name, _ in parse_qsl(parts.query, keep_blank_values=True))


def parse_state_url(text: str | None, *, profile: str, default_path: Path) -> StateLocation:
    """The state location a `state-url` names; `StateUrlError` (one line, exit 2) when it cannot be
    used, and always when it holds a password."""
    url = (text or "").strip()
    if not url:
        return Path(default_path)
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite":
        parts = urlsplit(url)
        if parts.netloc or not parts.path:
            raise StateUrlError(
                f"state-url {url!r} is not a SQLite URL rgsync understands; use sqlite:///PATH "
                "(three slashes, then an absolute path)"
            )
        return Path(unquote(parts.path)).expanduser()
    if scheme in ("postgresql", "postgres") and rest is not None:
        if _has_password(url):
            # The message must not repeat the password: name the URL without it.
            parts = urlsplit(url)
            host = parts.hostname or ""
            shown = urlunsplit((parts.scheme, f"{parts.username or ''}@{host}", parts.path, "", ""))
            raise StateUrlError(f"state-url {shown} holds a password; {_PASSWORD_FIX}")
        if re.search(r"\s", url):
            raise StateUrlError(f"state-url {url!r} contains spaces; {_FORMS}")
        return PostgresLocation(conninfo=url, profile=profile)
    shown = url if not _has_password(url) else "(a URL with a password)"
    raise StateUrlError(f"state-url {shown!r} is not understood; {_FORMS}")


def state_location(paths: Paths) -> StateLocation:
    """Where `paths`' profile keeps its state, with the password from its credentials store when
    it is kept there (`rgsync state password`)."""
    where = parse_state_url(paths.state_url, profile=paths.profile, default_path=paths.state_db)
    if isinstance(where, PostgresLocation):
        where = PostgresLocation(
            where.conninfo, where.profile, password_source=lambda: _stored_password(paths)
        )
    return where


def _stored_password(paths: Paths) -> str | None:
    from rgsync.credentials import CredentialStore

    return CredentialStore(paths.profile, paths.credentials_file).get(PASSWORD_CREDENTIAL)


def keep_password(paths: Paths, password: str | None) -> str:
    """Store (or, with None, forget) the state database's password in the profile's credentials
    store (`rgsync state password`), the one place besides libpq's files it may live; returns
    the name of the store's backend (keyring or file) to tell the user where it went."""
    from rgsync.credentials import CredentialStore

    store = CredentialStore(paths.profile, paths.credentials_file)
    if password is None:
        store.delete(PASSWORD_CREDENTIAL)
    else:
        store.set(PASSWORD_CREDENTIAL, password)
    return store.backend_name
