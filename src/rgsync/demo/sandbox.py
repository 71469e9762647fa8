"""The sandbox: the loopback emulators loaded with a scenario, and a profile that points rgsync at them.

`start_sandbox(scenario, directory)` starts the Salesforce emulator (HTTPS, throw-away CA) and the
mailbox emulator on 127.0.0.1, then writes into `directory`:

* `settings.toml`: a complete settings file (`rgsync --config DIR/settings.toml run` syncs the
  sandbox): `[mailbox]` and `[salesforce]` pointing at the emulators, plus the scenario's own
  `[settings]` tables (blocklist, internal domains, switches);
* `endpoints.json` (mode 0600): each emulator's base URL, the CA file, the access tokens, the
  user's address and Salesforce user Id, the scenario's record keys → Ids, for scripts that want
  to change data through the services' own APIs;
* the access tokens, where the adapters read them: the credentials file of the profile the
  settings file implies (`DIR/.rgsync-state/default/credentials.json`), never settings.toml.

State of that profile (links, cursors, issues) lives in `DIR/.rgsync-state/`; it is cleared on
every start because the emulators start from the scenario again, with new record Ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from rgsync.credentials import CredentialStore
from rgsync.demo.kinds import MailboxKind, mailbox_kind
from rgsync.demo.scenarios import usage_error
from rgsync.errors import UsageError
from rgsync.paths import Paths, resolve_paths
from rgsync.sandbox.scenario import Scenario

SETTINGS_MARKER = "# Written by `rgsync sandbox serve`"
API_VERSION = "59.0"


@dataclass
class Sandbox:
    """A running sandbox: the emulators, the scenario, and the profile files written for it.

    `salesforce` is a `RunningSalesforce` (`.url`, `.ca_file`, `.token`, `.user_id`, `.org`, …) and
    `mailbox` the running mailbox emulator (`RunningGoogle` for gmail). Stop with `stop()` or use
    it as a context manager.
    """

    directory: Path
    scenario: Scenario
    mailbox_kind: str
    salesforce: Any
    mailbox: Any
    paths: Paths
    endpoints: dict[str, Any] = field(default_factory=dict)
    _stopped: bool = False

    @property
    def kind(self) -> MailboxKind:
        """The mailbox kind's row in `rgsync.demo.kinds`."""
        return mailbox_kind(self.mailbox_kind)

    @property
    def settings_file(self) -> Path:
        return self.paths.settings_file

    @property
    def endpoints_file(self) -> Path:
        return self.directory / "endpoints.json"

    @property
    def keys(self) -> dict[str, str]:
        """The scenario's record keys → Salesforce Ids (users included)."""
        return dict(getattr(self.salesforce, "keys", {}) or {})

    def stop(self) -> None:
        """Stop both emulators (idempotent). The files in `directory` stay."""
        if self._stopped:
            return
        self._stopped = True
        for running in (self.mailbox, self.salesforce):
            with contextlib.suppress(Exception):  # stopping one must not keep the other running
                running.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_sandbox(scenario: Scenario, directory: Path, *, mailbox: str = "gmail") -> Sandbox:
    """Start the emulators for `scenario` and write the sandbox profile into `directory`.

    Raises `UsageError` when the mailbox kind is not available, when `directory` holds a settings
    file the sandbox did not write, or when the scenario's settings are refused by the settings
    schema (reported against the scenario file's line).
    """
    side = mailbox_kind(mailbox).side()
    directory = Path(directory).expanduser().absolute()
    paths = resolve_paths(config=str(directory / "settings.toml"))
    if paths.state_dir.parent != directory / ".rgsync-state":
        # RGSYNC_STATE_DIR would put the sandbox's tokens and state beside a real profile's.
        raise UsageError(
            "RGSYNC_STATE_DIR is set; unset it for the sandbox, which keeps its state next to its settings file"
        )
    _prepare_directory(directory, paths)
    from rgsync.sandbox.salesforce import ScenarioError as SalesforceScenarioError
    from rgsync.sandbox.salesforce import start_salesforce

    try:
        salesforce = start_salesforce(directory, scenario=scenario.salesforce_scenario())
    except SalesforceScenarioError as exc:
        refused = scenario.fail(("org",), f"the Salesforce emulator refused the org: {exc}")
        raise usage_error(refused) from None
    try:
        running_mailbox = side.start(scenario, directory)
    except Exception as exc:
        salesforce.stop()
        refused = scenario.fail(("mailbox",), f"the mailbox emulator refused the mailbox: {exc}")
        raise usage_error(refused) from None
    sandbox = Sandbox(directory, scenario, mailbox, salesforce, running_mailbox, paths)
    try:
        write_settings(sandbox)
        store_tokens(sandbox)
        sandbox.endpoints = write_endpoints(sandbox)
    except BaseException:
        sandbox.stop()
        raise
    return sandbox


def _prepare_directory(directory: Path, paths: Paths) -> None:
    """Create `directory`, refuse to overwrite a settings file of a real profile, clear old state."""
    settings_file = paths.settings_file
    if settings_file.exists():
        head = settings_file.read_text(encoding="utf-8", errors="replace")[:200]
        if not head.startswith(SETTINGS_MARKER):
            raise UsageError(
                f"{settings_file} exists and was not written by the sandbox; choose an empty --dir"
            )
    directory.mkdir(parents=True, exist_ok=True)
    # The emulators start again from the scenario with new Ids: links and cursors of an earlier
    # sandbox run would point at records that no longer exist.
    state_root = paths.state_dir.parent
    if state_root == directory / ".rgsync-state" and state_root.exists():
        shutil.rmtree(state_root)


def settings_document(sandbox: Sandbox) -> tomlkit.TOMLDocument:
    """The settings file for the sandbox: connection tables first, then the scenario's settings."""
    scenario = sandbox.scenario
    user = scenario.user
    doc = tomlkit.document()
    doc.add(tomlkit.comment(SETTINGS_MARKER[2:] + f" for the scenario '{scenario.name}'."))
    doc.add(tomlkit.comment(f"Use it with: rgsync --config {sandbox.settings_file} run"))
    doc.add(tomlkit.comment("The emulators' access tokens are in the credentials file, never here."))
    doc.add(tomlkit.nl())
    mailbox = tomlkit.table()
    mailbox["provider"] = sandbox.mailbox_kind
    mailbox["address"] = user.address
    mailbox["aliases"] = list(user.aliases)
    mailbox["time-zone"] = user.time_zone
    for key, value in sandbox.kind.side().settings(sandbox.mailbox).items():
        mailbox[key] = value
    doc["mailbox"] = mailbox
    add_salesforce_and_settings(doc, sandbox.salesforce, scenario.settings)
    return doc


def add_salesforce_and_settings(
    doc: tomlkit.TOMLDocument, salesforce: Any, settings: Mapping[str, Any]
) -> None:
    """Add the emulated org's `[salesforce]` table and the scenario's own settings to a sandbox
    profile. In a sandbox you run again right after changing something, so every run is due
    unless the settings say otherwise (a real profile keeps the 30-minute default for cron)."""
    table = tomlkit.table()
    table["instance-url"] = salesforce.url
    table["api-version"] = API_VERSION
    table["auth"] = "session"
    table["ca-file"] = str(salesforce.ca_file)
    doc["salesforce"] = table
    for name, value in settings.items():
        doc[name] = value
    sync = doc.get("sync")
    if sync is None:
        sync = tomlkit.table()
        doc["sync"] = sync
    if "interval-minutes" not in sync:
        sync["interval-minutes"] = 0
        sync["interval-minutes"].comment("every run is due in the sandbox")


def write_settings(sandbox: Sandbox) -> Path:
    """Write DIR/settings.toml and check it with the settings loader; a refusal names the scenario line."""
    from rgsync.settings import settings_problems
    from rgsync.settings.schema import key_by_name

    settings_file = sandbox.settings_file
    _write_private(settings_file, tomlkit.dumps(settings_document(sandbox)), mode=0o644)
    problems = settings_problems(settings_file)
    if problems:
        first = problems[0]
        path: tuple[str | int, ...] = ("settings",)
        with contextlib.suppress(Exception):
            if first.key:
                path = ("settings", *key_by_name(first.key).path)
        detail = (
            first.message.split(": ", 1)[-1]
            if first.message.startswith(str(settings_file))
            else first.message
        )
        raise usage_error(sandbox.scenario.fail(path, f"refused by the settings file: {detail}"))
    return settings_file


def store_tokens(sandbox: Sandbox) -> None:
    """Put the emulators' access tokens into the profile's credentials file (mode 0600)."""
    from rgsync.providers.salesforce.auth import SECRET_INSTANCE, SECRET_SESSION

    store = sandbox_credentials(sandbox.paths)
    store.set(SECRET_SESSION, sandbox.salesforce.token)
    store.set(SECRET_INSTANCE, sandbox.salesforce.url)
    for name, secret in sandbox.kind.side().secrets(sandbox.mailbox).items():
        store.set(name, secret)


def sandbox_credentials(paths: Paths) -> CredentialStore:
    """The profile's credentials store, forced to the file: sandbox tokens never go into the OS keyring."""
    with _keyring_choice("file"):
        return CredentialStore(paths.profile, paths.credentials_file)


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables for the duration of the block."""
    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _keyring_choice(choice: str) -> contextlib.AbstractContextManager[None]:
    return environment(RGSYNC_KEYRING=choice)


def endpoints_document(sandbox: Sandbox) -> dict[str, Any]:
    """What DIR/endpoints.json holds (documented in the README's sandbox section)."""
    salesforce = sandbox.salesforce
    mailbox = sandbox.mailbox
    return {
        "scenario": sandbox.scenario.name,
        "settings_file": str(sandbox.settings_file),
        "user": {
            "name": sandbox.scenario.user.name,
            "address": sandbox.scenario.user.address,
            "salesforce_user_id": salesforce.user_id,
        },
        "salesforce": {
            "url": salesforce.url,
            "api_version": API_VERSION,
            "ca_file": str(salesforce.ca_file),
            "access_token": salesforce.token,
            "user_id": salesforce.user_id,
            "records": sandbox.keys,
        },
        "mailbox": {
            "kind": sandbox.mailbox_kind,
            **sandbox.kind.side().endpoints(mailbox),
        },
    }


def write_endpoints(sandbox: Sandbox) -> dict[str, Any]:
    """Write DIR/endpoints.json (mode 0600: it holds the sandbox's tokens) and return its content."""
    document = endpoints_document(sandbox)
    _write_private(sandbox.endpoints_file, json.dumps(document, indent=2) + "\n", mode=0o600)
    return document


def _write_private(path: Path, text: str, *, mode: int) -> None:
    """Write `text` to `path` atomically with `mode` from the start."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temp, mode)
    os.replace(temp, path)
