"""Provider kinds register once, in `rgsync.registry`, and `rgsync connect` / `rgsync doctor` follow
(SPEC §9): a kind registered at run time gets its connect command (options, prompts, `--json`,
stored secrets and settings) and its doctor findings with no change to the command line code."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest

from rgsync import registry
from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.paths import resolve_paths
from rgsync.providers.descriptor import (
    ConnectContext,
    ConnectResult,
    Option,
    ProfileOptions,
    ProviderDescriptor,
)
from rgsync.providers.memory import MemoryMailbox
from rgsync.settings import load_settings
from tests.system.cli_support import invoke

SECRET = "memory.passphrase"


@dataclass(frozen=True)
class MemoryConnection:
    address: str = ""

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> MemoryConnection:
        return cls(str(table.get("address") or ""))


@dataclass(frozen=True)
class MemoryRequest:
    address: str | None = None
    shout: bool = False


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    detail: str
    fix: str = ""


def _connect(request: MemoryRequest, current: MemoryConnection, context: ConnectContext) -> ConnectResult:
    address = request.address or current.address
    if not address:
        raise UsageError("give the mailbox address: rgsync connect memory --address you@example.com")
    context.secrets.set(SECRET, context.interaction.ask_secret("Passphrase"))
    line = f"Connected to the memory mailbox {address}."
    return ConnectResult(
        section="mailbox",
        settings={"provider": "memory", "address": address},
        secrets=dict(context.secrets.changes),
        report={"provider": "memory", "address": address},
        lines=(line.upper() if request.shout else line,),
    )


def _doctor(config: MemoryConnection, store: CredentialStore, _options: ProfileOptions) -> Sequence[Finding]:
    stored = store.get(SECRET)
    return [
        Finding(
            "ok" if stored else "error",
            "Memory sign-in",
            f"{config.address}: {'stored' if stored else 'none'}",
        )
    ]


MEMORY = ProviderDescriptor(
    kind="memory",
    section="mailbox",
    connect_help="Sign in to an in-memory mailbox (tests).",
    connection=MemoryConnection.from_table,
    open=lambda config, _store, _options: MemoryMailbox(address=config.address),
    request=MemoryRequest,
    connect=_connect,
    doctor=_doctor,
    options=(
        Option("--address", "address", "The mailbox address."),
        Option("--shout", "shout", "Say it loudly.", kind="flag"),
    ),
)


@pytest.fixture
def fourth_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Path]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    for name in ("RGSYNC_CONFIG", "RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)
    registry.register_kind(MEMORY)
    try:
        yield tmp_path / "settings.toml"
    finally:
        registry.unregister_kind("memory")


def test_registry_lists_each_kind_once() -> None:
    """Every kind is one registration, and each descriptor loads under its own name and table."""
    kinds = registry.kinds()
    assert kinds == ["gmail", "exchange", "microsoft365", "salesforce"]
    assert len(set(kinds)) == len(kinds)
    for kind in kinds:
        found = registry.descriptor(kind)
        assert found is not None and found.kind == kind
        assert found.section == ("salesforce" if kind == "salesforce" else "mailbox")
        assert found.connect_help and found.options
    assert registry.descriptor("imap") is None


def test_a_registered_fourth_kind_gets_connect_and_doctor_without_cli_edits(
    fourth_kind: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(fourth_kind)
    listed = invoke(capsys, "connect", "--help")
    assert listed.code == 0 and "memory" in listed.out and "in-memory mailbox" in listed.out
    own = invoke(capsys, "connect", "memory", "--help")
    assert "--address" in own.out and "--shout" in own.out and "--json" in own.out

    asked: list[str] = []
    monkeypatch.setattr(click, "prompt", lambda text, **_: asked.append(text) or "open sesame")
    refused = invoke(capsys, "--config", config, "connect", "memory")
    assert refused.code == 2 and "--address you@example.com" in refused.err and asked == []
    done = invoke(capsys, "--config", config, "connect", "memory", "--address", "ann@acme.com", "--shout")
    assert done.code == 0, done.err
    assert "CONNECTED TO THE MEMORY MAILBOX ANN@ACME.COM." in done.out
    table = tomllib.loads(fourth_kind.read_text())["mailbox"]
    assert table == {"provider": "memory", "address": "ann@acme.com"}
    [credentials] = fourth_kind.parent.glob(".rgsync-state/*/credentials.json")
    assert json.loads(credentials.read_text())["secrets"] == {SECRET: "open sesame"}
    assert "open sesame" not in fourth_kind.read_text()  # SPEC §9: secrets never in settings
    paths = resolve_paths(config=config)
    opened = registry.open_mailbox(
        load_settings(paths.settings_file, paths.org_policy_file).effective(), paths
    )
    assert isinstance(opened, MemoryMailbox) and opened.address == "ann@acme.com"

    doctor = invoke(capsys, "--config", config, "doctor", "--json")
    checks = {c["check"]: c for c in doctor.json["checks"]}
    assert checks["Memory sign-in"] == {
        "status": "ok",
        "check": "Memory sign-in",
        "detail": "ann@acme.com: stored",
        "fix": "",
    }
    # The CRM's findings still follow the mailbox's (nothing connected there: exit 1).
    assert "Salesforce settings" in checks and doctor.code == 1


def test_an_unregistered_kind_is_refused_by_connect(
    fourth_kind: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.unregister_kind("memory")
    result = invoke(capsys, "--config", str(fourth_kind), "connect", "memory")
    assert result.code == 2 and "No such command 'memory'" in result.err
