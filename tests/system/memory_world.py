"""The RULE-CASES world on the in-memory providers, for session and CLI tests.

`World` holds a MemoryMailbox for Ann and a MemoryCrm for her org, a settings file and a state
directory under a temporary folder, and a clock. `world.run(...)` runs one session the way
`rgsync run` does (through `rgsync.sync.run_session`, lock included) with the memory providers
registered under the mailbox provider name "memory".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rgsync import registry
from rgsync.model import (
    Account,
    Address,
    Attendee,
    CalendarItem,
    ContactItem,
    EmailItem,
    Folder,
    Opportunity,
    Person,
    PersonKind,
    Response,
    TaskItem,
)
from rgsync.paths import Paths, resolve_paths
from rgsync.providers.memory import MemoryCrm, MemoryMailbox
from rgsync.session import RunOptions, SessionResult, SyncSession
from rgsync.session.retry import NO_WAIT
from rgsync.settings import load_settings
from rgsync.state import ProfileLock, StateStore

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=BERLIN).astimezone(UTC)
ANN_ID = "005A00000000000AAA"
FRANK_ID = "005F00000000000AAA"

SETTINGS = """\
# Ann's settings for the memory world
[mailbox]
provider = "memory"
address = "ann@acme.com"
aliases = ["a.lee@acme.com"]
time-zone = "Europe/Berlin"

[blocklist]
domains = ["blocked.com"]
internal-domains = ["acme.io"]
"""


@dataclass
class World:
    """Ann's mailbox and org in memory, with her profile's files under `root`."""

    root: Path
    mailbox: MemoryMailbox
    crm: MemoryCrm
    now: datetime = NOW
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> Paths:
        return resolve_paths(config=str(self.root / "settings.toml"))

    def tick(self, minutes: float = 60) -> None:
        self.now += timedelta(minutes=minutes)

    def run(self, **options: Any) -> SessionResult:
        """One session, as `rgsync run --force` would do it, at `self.now`."""
        options.setdefault("force", True)
        paths = self.paths
        settings = load_settings(paths.settings_file, paths.org_policy_file).effective()
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        with ProfileLock(paths.lock_file):
            state = StateStore.open(paths.state_db)
            try:
                session = SyncSession(
                    settings,
                    state,
                    self.mailbox,
                    self.crm,
                    clock=lambda: self.now,
                    retry=NO_WAIT,
                    time_zone="Europe/Berlin",
                )
                return session.run(RunOptions(**options))
            finally:
                state.close()

    @contextmanager
    def state(self) -> Iterator[StateStore]:
        store = StateStore.open(self.paths.state_db)
        try:
            yield store
        finally:
            store.close()

    @contextmanager
    def registered(self) -> Iterator[None]:
        """Serve `provider = "memory"` and the Salesforce side with this world (for CLI tests)."""
        registry.register_mailbox("memory", lambda _s, _p: self.mailbox)
        registry.register_crm(lambda _s, _p: self.crm)
        try:
            yield
        finally:
            registry.register_crm(None)
            registry._mailbox_overrides.pop("memory", None)

    # -- building items ---------------------------------------------------------------------------
    def email(
        self,
        sender: str,
        to: tuple[str, ...] = ("ann@acme.com",),
        cc: tuple[str, ...] = (),
        *,
        folder: Folder | None = None,
        subject: str = "Hello",
        hours_ago: float = 1,
        labels: frozenset[str] = frozenset(),
        thread: str | None = None,
        message_id: str | None = None,
        **fields: Any,
    ) -> EmailItem:
        """Put an email into Ann's mailbox (Inbox unless Ann sent it)."""
        n = len(self.mailbox.emails) + 1
        mailbox_id = f"msg{n:04d}"
        if folder is None:
            folder = Folder.SENT if sender == "ann@acme.com" else Folder.INBOX
        item = EmailItem(
            mailbox_id=mailbox_id,
            message_id=message_id or f"<{mailbox_id}@mail.test>",
            thread_id=thread or f"th-{mailbox_id}",
            folder=folder,
            subject=subject,
            sent_at=self.now - timedelta(hours=hours_ago),
            sender=Address(sender),
            to=tuple(Address(a) for a in to),
            cc=tuple(Address(a) for a in cc),
            text_body=f"Body of {subject}",
            labels=labels,
            **fields,
        )
        self.mailbox.put(_stream("emails"), item)
        return item

    def meeting(
        self,
        subject: str,
        attendees: tuple[str, ...],
        *,
        start: datetime | None = None,
        minutes: int = 60,
        my_response: Response = Response.ORGANIZER,
        organizer: str = "ann@acme.com",
        **fields: Any,
    ) -> CalendarItem:
        """Put a calendar item into Ann's calendar (tomorrow 10:00 Berlin unless `start`)."""
        start = start or datetime(2026, 11, 29, 10, 0, tzinfo=BERLIN)
        n = len(self.mailbox.events) + 1
        item = CalendarItem(
            id=f"cal{n:04d}",
            subject=subject,
            start=start,
            end=start + timedelta(minutes=minutes),
            ical_uid=f"uid-{n}@acme.com",
            organizer=Address(organizer),
            attendees=tuple(Attendee(Address(a), Response.ACCEPTED) for a in attendees),
            my_response=my_response,
            **fields,
        )
        self.mailbox.put(_stream("events"), item)
        return item


def _stream(name: str) -> Any:
    from rgsync.model import Stream

    return Stream(name)


def make_world(root: Path, settings_text: str = SETTINGS) -> World:
    """Ann's world of RULE-CASES.md: her org's accounts, people and opportunities; an empty mailbox."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.toml").write_text(settings_text, encoding="utf-8")
    crm = MemoryCrm(ANN_ID, "ann@acme.com", enhanced_email=True)
    globex = crm.add_account("Globex", "www.globex.com")
    initech = crm.add_account("Initech", "initech.com")
    ids = {"globex": globex.id, "initech": initech.id}

    def contact(key: str, first: str, last: str, email: str, account: Account | None, owner: str) -> None:
        item = ContactItem(
            id=crm.new_id("003"),
            first_name=first,
            last_name=last,
            email=email,
            company=account.name if account else "",
            account_id=account.id if account else None,
            owner_id=owner,
            last_modified=NOW - timedelta(days=30),
        )
        crm.add_contact(item)
        ids[key] = item.id

    contact("bob", "Bob", "Baker", "bob@globex.com", globex, ANN_ID)
    contact("carol", "Carol", "Cole", "carol@initech.com", initech, FRANK_ID)
    contact("dave", "Dave", "Dunn", "dave@gmail.com", globex, ANN_ID)
    contact("gus", "Gus", "Grant", "gus@solo.com", None, ANN_ID)
    contact("xena", "Xena", "Xu", "x@blocked.com", globex, FRANK_ID)
    erin = crm.add_lead(
        Person(crm.new_id("00Q"), PersonKind.LEAD, "erin@hooli.com", "Erin", "Ellis", None, ANN_ID)
    )
    ids["erin"] = erin.id
    for key, account, owner, modified in (
        ("o1", globex, ANN_ID, datetime(2026, 11, 1, tzinfo=UTC)),
        ("o2", globex, ANN_ID, datetime(2026, 11, 20, tzinfo=UTC)),
        ("o3", initech, FRANK_ID, datetime(2026, 11, 25, tzinfo=UTC)),
    ):
        opp = crm.add_opportunity(
            Opportunity(crm.new_id("006"), key.upper(), account.id, owner, modified, date(2026, 12, 31))
        )
        ids[key] = opp.id
    mailbox = MemoryMailbox("ann@acme.com", ["a.lee@acme.com"])
    world = World(root=root, mailbox=mailbox, crm=crm, ids=ids)
    return world


def sf_task(world: World, subject: str, **fields: Any) -> TaskItem:
    """A Salesforce Task owned by Ann unless `owner_id` says otherwise."""
    fields.setdefault("owner_id", ANN_ID)
    fields.setdefault("last_modified", world.now - timedelta(days=1))
    return world.crm.put_task(TaskItem(id=world.crm.new_id("00T"), subject=subject, **fields))


def sf_event(world: World, subject: str, start: datetime, minutes: int = 60, **fields: Any) -> CalendarItem:
    """A Salesforce Event owned by Ann (created in Salesforce) unless fields say otherwise."""
    fields.setdefault("owner_id", ANN_ID)
    return world.crm.put_event(
        CalendarItem(
            id=world.crm.new_id("00U"),
            subject=subject,
            start=start,
            end=start + timedelta(minutes=minutes),
            **fields,
        )
    )
