"""Whole sessions with the Salesforce adapter on the emulator (and an in-memory mailbox).

The acceptance counts of issue 4 and SPEC §10, measured on the emulator's call counters: an idle
session costs one Salesforce call; saving many emails costs about one write call per 200; one
record refused by a validation rule is one issue while the rest are saved; REQUEST_LIMIT_EXCEEDED
and a low allocation stop writing with an SF-API-BUDGET issue; a crash between a create and its
recording leaves no duplicate (SPEC §7.1, §7.4, §7.7).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rgsync.credentials import CredentialStore
from rgsync.model import LABEL_SAVE, Address, EmailItem, Folder, Stream, Write, WriteResult
from rgsync.paths import resolve_paths
from rgsync.providers.memory import MemoryMailbox, SimulatedCrash
from rgsync.providers.salesforce import SalesforceCrm
from rgsync.providers.salesforce.auth import SECRET_SESSION, SalesforceConfig
from rgsync.sandbox.salesforce import RunningSalesforce, start_salesforce
from rgsync.session import RunOptions, SessionResult, SyncSession
from rgsync.session.retry import NO_WAIT
from rgsync.settings import load_settings
from rgsync.state import StateStore

SETTINGS = """\
[mailbox]
provider = "memory"
address = "ann@acme.com"
time-zone = "UTC"

[general.emails]
save-as = "{save_as}"

[general.events]
sync-salesforce-calendar = true

[general.tasks]
sync-salesforce-tasks = true
"""

SCENARIO: dict[str, Any] = {
    "users": [
        {"key": "ann", "Name": "Ann Lee", "Email": "ann@acme.com", "Username": "ann@acme.com"},
        {"key": "frank", "Name": "Frank Fox", "Email": "frank@acme.com", "Username": "frank@acme.com"},
    ],
    "records": {
        "Account": [{"key": "globex", "Name": "Globex", "Website": "www.globex.com"}],
        "Contact": [
            {
                "key": "bob",
                "FirstName": "Bob",
                "LastName": "Stone",
                "Email": "bob@globex.com",
                "AccountId": "@globex",
            }
        ],
        "Opportunity": [
            {
                "key": "deal",
                "Name": "Globex renewal",
                "AccountId": "@globex",
                "StageName": "Prospecting",
                "CloseDate": "2027-01-31",
            }
        ],
    },
}


@dataclass
class SalesforceWorld:
    """Ann's memory mailbox, her emulated org, and her profile under `root`."""

    root: Path
    org: RunningSalesforce
    mailbox: MemoryMailbox = field(default_factory=lambda: MemoryMailbox("ann@acme.com", page_size=200))
    adapters: list[SalesforceCrm] = field(default_factory=list)

    def adapter(self) -> SalesforceCrm:
        """A new adapter, as each `rgsync run` opens one."""
        store = CredentialStore("default", self.root / "credentials.json")
        store.set(SECRET_SESSION, self.org.token)
        config = SalesforceConfig(auth="session", instance_url=self.org.url, ca_file=str(self.org.ca_file))
        save_as = str(load_settings(self.root / "settings.toml").effective().save_emails_as)
        crm = SalesforceCrm(config, store, email_mode=save_as)
        self.adapters.append(crm)
        return crm

    def run(self, crm: SalesforceCrm | None = None) -> SessionResult:
        paths = resolve_paths(config=str(self.root / "settings.toml"))
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        state = StateStore.open(paths.state_db)
        try:
            session = SyncSession(
                load_settings(paths.settings_file).effective(),
                state,
                self.mailbox,
                crm or self.adapter(),
                retry=NO_WAIT,
                free_mail=frozenset({"gmail.com"}),
            )
            return session.run(RunOptions(force=True))
        finally:
            state.close()

    def issue_codes(self) -> list[str]:
        paths = resolve_paths(config=str(self.root / "settings.toml"))
        with StateStore.open(paths.state_db) as state:
            return sorted(i.code for i in state.issues())

    def emails(self, count: int, subject: str = "Quote", first: int = 0) -> list[EmailItem]:
        now = datetime.now(UTC)
        items = []
        for n in range(first, first + count):
            item = EmailItem(
                mailbox_id=f"msg{n:05d}",
                message_id=f"<quote-{n}@globex.com>",
                thread_id=f"th{n}",
                folder=Folder.INBOX,
                subject=f"{subject} {n}",
                sent_at=now - timedelta(minutes=30),
                sender=Address("bob@globex.com", "Bob Stone"),
                to=(Address("ann@acme.com"),),
                text_body="Please find the quote.",
            )
            self.mailbox.put(Stream.EMAILS, item)
            items.append(item)
        return items


def _world(tmp_path: Path, save_as: str) -> Iterator[SalesforceWorld]:
    (tmp_path / "settings.toml").write_text(SETTINGS.format(save_as=save_as), encoding="utf-8")
    org = start_salesforce(tmp_path / "org", scenario=SCENARIO)
    world = SalesforceWorld(tmp_path, org)
    try:
        yield world
    finally:
        for crm in world.adapters:
            crm.close()
        org.stop()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceWorld]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    yield from _world(tmp_path, "auto")


@pytest.fixture
def task_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceWorld]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    yield from _world(tmp_path, "task")


def test_an_email_is_saved_once_and_an_idle_session_costs_one_salesforce_call(world: SalesforceWorld) -> None:
    [email] = world.emails(1)
    first = world.run()
    assert first.status == "completed", first.message
    [message] = world.org.org.records("EmailMessage")
    assert message["MessageIdentifier"] == email.message_id
    assert message["RelatedToId"] == world.org.keys["deal"]  # SPEC §3.5: the user's Opportunity
    assert LABEL_SAVE in world.mailbox.emails[email.mailbox_id].labels

    world.org.server.reset_counters()
    idle = world.run()

    assert idle.status == "completed" and idle.changes == 0
    assert idle.api_calls["salesforce"] == 1
    assert dict(world.org.server.calls) == {"composite": 1}
    assert len(world.org.org.records("EmailMessage")) == 1


def test_saving_1000_emails_costs_at_most_0_015_salesforce_calls_per_email(
    task_world: SalesforceWorld,
) -> None:
    """SPEC §10: the 1,000 Tasks go out as five collections in one Composite call, and the sender,
    his Account and its Opportunities are looked up once for the session, not once per chunk."""
    task_world.emails(1000)

    result = task_world.run()

    calls = task_world.org.server.calls
    assert result.streams[Stream.EMAILS].created["salesforce"] == 1000
    assert "collections.create" not in calls
    assert sum(calls.values()) <= 0.015 * 1000, dict(calls)


def test_one_email_refused_by_a_validation_rule_is_one_issue_and_the_rest_are_saved(
    task_world: SalesforceWorld,
) -> None:
    task_world.org.org.add_validation_rule(
        "Task", lambda r: "Quote 57" in str(r.get("Subject") or ""), "Quotes need approval", "Subject"
    )
    task_world.emails(200)
    result = task_world.run()
    assert result.streams[Stream.EMAILS].failed == 1
    assert result.streams[Stream.EMAILS].created["salesforce"] == 199
    assert task_world.issue_codes() == ["SF-VALIDATION"]
    saved = [t for t in task_world.org.org.records("Task") if t["TaskSubtype"] == "Email"]
    assert len(saved) == 199


def test_request_limit_exceeded_stops_the_session_with_an_api_budget_issue(world: SalesforceWorld) -> None:
    world.emails(3)
    world.org.org.set_allocation(15000, 15000)
    result = world.run()
    assert result.status == "failed" and "SF-API-BUDGET" in world.issue_codes()
    assert world.org.org.records("EmailMessage") == []


def test_a_low_allocation_stops_writing_before_min_api_remaining(world: SalesforceWorld) -> None:
    world.emails(3)
    world.org.org.set_allocation(14_000, 15_000)  # 6.7 % left, below the default 10 %
    result = world.run()
    assert result.streams[Stream.EMAILS].status == "budget"
    assert "SF-API-BUDGET" in world.issue_codes()
    assert world.org.org.records("EmailMessage") == []


def test_a_crash_between_a_create_and_its_recording_leaves_no_duplicate(world: SalesforceWorld) -> None:
    world.emails(5)
    crm = world.adapter()
    real_apply = crm.apply

    def apply_then_die(writes: list[Write]) -> list[WriteResult]:
        real_apply(writes)  # Salesforce saved them ...
        raise SimulatedCrash("killed before the links were recorded")  # ... rgsync never knew

    crm.apply = apply_then_die  # type: ignore[method-assign]
    with pytest.raises(SimulatedCrash):
        world.run(crm)
    assert len(world.org.org.records("EmailMessage")) == 5

    result = world.run()

    assert result.status == "completed"
    assert len(world.org.org.records("EmailMessage")) == 5  # adopted by Message-ID, not created again
    paths = resolve_paths(config=str(world.root / "settings.toml"))
    with StateStore.open(paths.state_db) as state:
        assert len(state.links(Stream.EMAILS)) == 5 and state.pending_intents() == []
