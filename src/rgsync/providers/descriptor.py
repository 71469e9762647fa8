"""What a provider tells the rest of rgsync about itself, in one object per kind (DESIGN "Providers").

A mailbox kind (Gmail, Microsoft 365, Exchange …) or a CRM (Salesforce) is described by a
descriptor that lives in its own package (`providers/<kind>/descriptor.py`) and is listed once in
`rgsync.registry`. The descriptor says:

* how to read its typed connection config from the settings table it owns (`connection`);
* how to open the adapter from that config and the profile's credentials store (`open`);
* its sign-in flow (`connect`): a plain function taking a typed request, the current config and a
  `ConnectContext`, returning a `ConnectResult` — the settings and the secrets to store, and what to
  tell the user. It never writes anything itself: the caller stores the result, so a refused
  sign-in leaves the profile as it was;
* the command-line options of that flow as plain data (`options`), which the CLI turns into flags;
* its `rgsync doctor` findings (`doctor`).

Nothing here imports Click, the settings, the state or the session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from rgsync.credentials import CredentialStore


@dataclass(frozen=True)
class Finding:
    """One `rgsync doctor` line, the one shape every part of the doctor uses: status ('ok',
    'notice', 'warning' or 'error'), what was checked, what was found, and what to do about it."""

    status: str
    check: str
    detail: str
    fix: str = ""


class FindingLike(Protocol):
    """One `rgsync doctor` line: status (ok, notice, warning, error), check, detail and fix."""

    @property
    def status(self) -> str: ...

    @property
    def check(self) -> str: ...

    @property
    def detail(self) -> str: ...

    @property
    def fix(self) -> str: ...


@dataclass(frozen=True)
class ProfileOptions:
    """Profile-wide values some adapters need besides their own connection table."""

    time_zone: str = "UTC"
    email_mode: str = "auto"
    min_api_remaining: float = 10.0
    settings_file: str = "the settings file"  # named in messages about a missing setting


@dataclass(frozen=True)
class Option:
    """One command-line option of a connect flow, as plain data (the CLI builds the flag from it).

    `kind` is one of: "text", "flag", "switch" (a --x/--no-x pair, None when neither is given),
    "choice", "int", "float", "file" (an existing or not-yet-existing file, per `exists`).
    `dest` is the field of the flow's request that receives the value. `setting` names the
    setting the value ends up in, so the CLI can check it as `rgsync settings set` would.
    """

    flags: str
    dest: str
    help: str
    kind: str = "text"
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    show_default: bool = False
    exists: bool = False
    minimum: float | None = None
    maximum: float | None = None
    minimum_open: bool = False
    setting: str | None = None


class Interaction(Protocol):
    """How a sign-in flow talks with the person running it (the CLI, or a script in a test)."""

    def ask(self, prompt: str) -> str:
        """A line the user types (shown as they type it)."""
        ...

    def ask_secret(self, prompt: str, *, allow_empty: bool = False) -> str:
        """A secret the user types (hidden); empty only when `allow_empty`."""
        ...

    def tell(self, text: str) -> None:
        """A message for the user while the flow runs (not the result)."""
        ...

    def open_url(self, url: str) -> None:
        """Show a sign-in page (a browser, or only its address when there is none)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait between polls of a sign-in that finishes elsewhere (device code)."""
        ...


class StagedSecrets(CredentialStore):
    """A credentials store whose writes wait: reads see them, the real store gets them on `commit`.

    Sign-in code (token caches, renewals) writes secrets as it goes; staging them lets a connect
    flow return the secrets to store instead of storing them, so a refused sign-in stores nothing.
    """

    def __init__(self, store: CredentialStore) -> None:
        # Wraps an open store: nothing of the parent's set-up (keyring choice) is repeated.
        self._store = store
        self.profile = store.profile
        self.fallback_file = store.fallback_file
        self.service = store.service
        self.changes: dict[str, str | None] = {}

    @property
    def backend_name(self) -> str:
        """The real store's backend, for messages."""
        return self._store.backend_name

    def get(self, name: str) -> str | None:
        """A staged value first, else the stored one."""
        if name in self.changes:
            return self.changes[name]
        return self._store.get(name)

    def set(self, name: str, secret: str) -> None:
        """Stage `secret` under `name`."""
        self.changes[name] = secret

    def delete(self, name: str) -> None:
        """Stage the removal of `name`."""
        self.changes[name] = None


def commit_secrets(store: CredentialStore, changes: Mapping[str, str | None]) -> None:
    """Write a flow's secrets into `store` (None removes one)."""
    for name, value in changes.items():
        if value is None:
            store.delete(name)
        else:
            store.set(name, value)


@dataclass(frozen=True)
class ConnectContext:
    """Where a connect flow runs: the staged store, the settings file, and who answers prompts."""

    secrets: StagedSecrets
    settings_file: Path
    interaction: Interaction
    same_kind: bool = True  # the profile's current connection is of this kind (else start afresh)
    options: ProfileOptions = field(default_factory=ProfileOptions)


@dataclass(frozen=True)
class ConnectResult:
    """What a successful sign-in leaves to store and to say.

    `settings` go into the `[section]` table (None removes a key), `secrets` into the credentials
    store (None removes one). `report` is the `--json` answer; `lines` go to standard output,
    `warnings` to standard error.
    """

    section: str
    settings: Mapping[str, object]
    secrets: Mapping[str, str | None]
    report: Mapping[str, object]
    lines: Sequence[str] = ()
    warnings: Sequence[str] = ()


ConfigT = TypeVar("ConfigT")
RequestT = TypeVar("RequestT")


@dataclass(frozen=True)
class ProviderDescriptor(Generic[ConfigT, RequestT]):
    """One provider kind, registered once in `rgsync.registry` (see the module docstring).

    `connection(table)` reads the kind's typed config from its settings table (never raising:
    a half-filled table is normal before `connect`); `open(config, store, options)` builds the
    adapter; `request(**options)` builds the connect flow's typed input from the parsed options;
    `connect(request, current_config, context)` runs the sign-in; `doctor(config, store, options)`
    returns the findings.
    """

    kind: str
    section: str
    connect_help: str
    connection: Callable[[Mapping[str, Any]], ConfigT]
    open: Callable[[ConfigT, CredentialStore, ProfileOptions], Any]  # a Mailbox or a Crm
    request: Callable[..., RequestT]
    connect: Callable[[RequestT, ConfigT, ConnectContext], ConnectResult]
    doctor: Callable[[ConfigT, CredentialStore, ProfileOptions], Sequence[FindingLike]]
    options: tuple[Option, ...] = ()


AnyDescriptor = ProviderDescriptor[Any, Any]
"""A descriptor of any kind, as the registry holds them."""
