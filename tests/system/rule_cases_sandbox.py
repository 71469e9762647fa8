"""The RULE-CASES.md world on the sandbox, for the end-to-end rule-case tests.

`scenario_text(...)` writes a scenario (the format of examples/scenarios/demo.toml) holding the
world every case shares: Ann Lee (ann@acme.com, alias a.lee@acme.com, Europe/Berlin), her colleague
Frank, the Accounts Globex and Initech, the Contacts Bob, Carol, Dave, Gus and Xena, the Lead Erin
and the Opportunities O1–O3 (O2 the newest of Ann's Globex ones), with `internal-domains = ["acme.io"]`
and the blocklist domain `blocked.com`; a caller adds settings and the items of its cases.

`Box` is one started sandbox (real Google and Salesforce adapters, both emulators on 127.0.0.1)
with what the tests need around it: running a session exactly as `rgsync run` does
(`rgsync.sync.run_session`), changing settings and data on either side, and `Snap`, a copy of both
emulators' data taken right after a session, read in the user's terms (who an activity names,
what it is related to, what the mailbox's calendar, task list and contact group hold).
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from rgsync.cli import main
from rgsync.demo.sandbox import API_VERSION, Sandbox, start_sandbox
from rgsync.model import CONTACT_FOLDER_NAME, TASK_LIST_NAME, Link, Stream
from rgsync.sandbox.scenario import parse_scenario
from rgsync.session import RunOptions, SessionResult
from rgsync.state import StateStore, StoredIssue
from rgsync.sync import run_session

ZONE = "Europe/Berlin"

# The world of RULE-CASES.md, shared by every sandbox. Xena and Carol are not Ann's (C1); O1 and O2
# are Ann's Globex opportunities, O2 modified most recently (E1); O3 is Frank's (E2).
WORLD_ORG = """
[org]
name = "Acme (rule cases)"
enhanced-email = true
shared-activities = true

[[org.users]]
key = "ann"
Name = "Ann Lee"
Email = "ann@acme.com"

[[org.users]]
key = "frank"
Name = "Frank Fox"
Email = "frank@acme.com"

[[org.accounts]]
key = "globex"
Name = "Globex"
Website = "www.globex.com"

[[org.accounts]]
key = "initech"
Name = "Initech"
Website = "initech.com"
OwnerId = "@frank"

[[org.contacts]]
key = "bob"
FirstName = "Bob"
LastName = "Baker"
Email = "bob@globex.com"
AccountId = "@globex"

[[org.contacts]]
key = "carol"
FirstName = "Carol"
LastName = "Cole"
Email = "carol@initech.com"
AccountId = "@initech"
OwnerId = "@frank"

[[org.contacts]]
key = "dave"
FirstName = "Dave"
LastName = "Dunn"
Email = "dave@gmail.com"
AccountId = "@globex"

[[org.contacts]]
key = "gus"
FirstName = "Gus"
LastName = "Grant"
Email = "gus@solo.com"

[[org.contacts]]
key = "xena"
FirstName = "Xena"
LastName = "Xu"
Email = "x@blocked.com"
AccountId = "@globex"
OwnerId = "@frank"

[[org.leads]]
key = "erin"
FirstName = "Erin"
LastName = "Ellis"
Email = "erin@hooli.com"
Company = "Hooli"

[[org.opportunities]]
key = "o1"
Name = "O1 Globex renewal"
AccountId = "@globex"
StageName = "Negotiation/Review"
CloseDate = "+30d"
LastModifiedDate = "-27d 10:00"

[[org.opportunities]]
key = "o2"
Name = "O2 Globex expansion"
AccountId = "@globex"
StageName = "Proposal/Price Quote"
CloseDate = "+45d"
LastModifiedDate = "-8d 10:00"

[[org.opportunities]]
key = "o3"
Name = "O3 Initech pilot"
AccountId = "@initech"
StageName = "Qualification"
CloseDate = "+60d"
OwnerId = "@frank"
"""

WORLD_SETTINGS: dict[str, dict[str, Any]] = {
    "blocklist": {"domains": ["blocked.com"], "internal-domains": ["acme.io"]},
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


REFUSED_SUBJECT = "REJECTED terms from Bob"


def refused_email_items(body: str = "Our counter-proposal.") -> str:
    """Two emails from Bob saved as Tasks: one a validation rule of the org refuses (an
    `SF-VALIDATION` issue), one that saves. For tests of what a refused item leaves behind."""
    return f"""
[[org.validation-rules]]
object = "Task"
field = "Subject"
contains = "REJECTED"
message = "Subjects with REJECTED are not stored."

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "{REFUSED_SUBJECT}"
when = "-1d 10:00"
body = "{body}"

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "Accepted terms from Bob"
when = "-1d 11:00"
body = "We agree."
"""


def scenario_text(
    name: str, *, settings: Mapping[str, Mapping[str, Any]] | None = None, items: str = ""
) -> str:
    """A whole scenario: the world, `settings` (TOML table path → keys, added to the world's
    blocklist and internal domains) and `items` (more `[[org.…]]` / `[[mailbox.…]]` entries)."""
    tables: dict[str, dict[str, Any]] = {k: dict(v) for k, v in WORLD_SETTINGS.items()}
    for table, values in (settings or {}).items():
        tables.setdefault(table, {}).update(values)
    lines = [
        "[scenario]",
        f'name = "{name}"',
        "",
        "[user]",
        'name = "Ann Lee"',
        'address = "ann@acme.com"',
        'aliases = ["a.lee@acme.com"]',
        f'time-zone = "{ZONE}"',
        'salesforce-user = "ann"',
        "",
    ]
    for table, values in tables.items():
        lines.append(f"[settings.{table}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines) + WORLD_ORG + "\n" + items


# --------------------------------------------------------------------------------------------
# A copy of both sides right after a session


@dataclass
class Snap:
    """Both emulators' data at one moment: org rows by object, and the mailbox's calendar events,
    `Salesforce Tasks` tasks, `Salesforce Contacts` members, each message's label names; and from
    the state store, the links and the open issues."""

    org: dict[str, list[dict[str, Any]]]
    events: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    labels: dict[str, set[str]]  # Gmail subject → label names (system and user)
    send_updates: list[tuple[str, str, str | None]]
    links: dict[Stream, dict[str, Link]]
    open_issues: list[StoredIssue]
    types: dict[str, str] = field(default_factory=dict)  # Salesforce Id → object name

    def issues(self, code: str) -> list[StoredIssue]:
        """The open issues with this code, as `rgsync issues list` showed them at that moment."""
        return [i for i in self.open_issues if i.code == code]

    def rows(self, object_name: str, **where: Any) -> list[dict[str, Any]]:
        """The live rows of `object_name` whose fields equal `where`."""
        return [r for r in self.org.get(object_name, []) if all(r.get(k) == v for k, v in where.items())]

    def email(self, subject: str) -> list[dict[str, Any]]:
        """The saved email activities with this subject: EmailMessages, and email Tasks (`Email: …`)
        other than the ones Salesforce made for an EmailMessage itself."""
        messages = self.rows("EmailMessage", Subject=subject)
        made_by_salesforce = {m.get("ActivityId") for m in self.rows("EmailMessage")}
        return messages + [
            t
            for t in self.rows("Task", Subject=f"Email: {subject}")
            if t.get("TaskSubtype") == "Email" and t["Id"] not in made_by_salesforce
        ]

    def events_in_org(self, subject: str) -> list[dict[str, Any]]:
        """The Salesforce Events with this subject."""
        return self.rows("Event", Subject=subject)

    def people(self, activity: dict[str, Any]) -> set[str]:
        """The Contacts and Leads an email or Event is related to (WhoId and the relation rows)."""
        activity_id = activity["Id"]
        found = {activity["WhoId"]} if activity.get("WhoId") else set()
        if self.types.get(activity_id) == "EmailMessage":
            found |= {
                r["RelationId"]
                for r in self.rows("EmailMessageRelation", EmailMessageId=activity_id)
                if r.get("RelationId")
            }
        else:
            kind, parent = (
                ("EventRelation", "EventId")
                if self.types.get(activity_id) == "Event"
                else ("TaskRelation", "TaskId")
            )
            # An Event's people are its Who relations (IsParent); its invitees are not "related to".
            found |= {
                r["RelationId"]
                for r in self.rows(kind, **{parent: activity_id})
                if r.get("RelationId")
                and not r.get("IsWhat")
                and (kind == "TaskRelation" or r.get("IsParent"))
            }
        return {p for p in found if self.types.get(p) in ("Contact", "Lead")}

    @staticmethod
    def what(activity: dict[str, Any]) -> str | None:
        """The Opportunity or Account an activity is related to."""
        return activity.get("WhatId") or activity.get("RelatedToId")

    def calendar(self, summary: str) -> list[dict[str, Any]]:
        """Live (not cancelled) mailbox calendar events with this title."""
        return [e for e in self.events if e.get("summary") == summary and e.get("status") != "cancelled"]

    def task_titles(self) -> set[str]:
        """The titles in the mailbox's `Salesforce Tasks` list."""
        return {str(t.get("title")) for t in self.tasks if not t.get("deleted")}

    def task(self, title: str) -> dict[str, Any]:
        """The one task with this title in `Salesforce Tasks`."""
        [task] = [t for t in self.tasks if t.get("title") == title and not t.get("deleted")]
        return task

    def contact_names(self) -> set[str]:
        """The names in the mailbox's `Salesforce Contacts` group."""
        return {_display_name(p) for p in self.contacts}


def _display_name(person: dict[str, Any]) -> str:
    names = person.get("names") or [{}]
    return str(
        names[0].get("displayName")
        or " ".join(p for p in (names[0].get("givenName"), names[0].get("familyName")) if p)
    )


# --------------------------------------------------------------------------------------------
# A running sandbox


@dataclass
class Box:
    """A started sandbox for one group of cases: sessions, settings, and changes on either side."""

    sandbox: Sandbox

    @property
    def keys(self) -> dict[str, str]:
        """The scenario's record keys → Salesforce Ids."""
        return self.sandbox.keys

    @property
    def org(self) -> Any:
        """The Salesforce emulator's org (its Python setup and inspection helpers)."""
        return self.sandbox.salesforce.org

    @property
    def google(self) -> Any:
        """The Google emulator's state (its Python setup and inspection helpers)."""
        return self.sandbox.mailbox.state

    @property
    def user_id(self) -> str:
        """Ann's Salesforce User Id."""
        return str(self.sandbox.salesforce.user_id)

    # -- sessions and settings ---------------------------------------------------------------
    def run(self, **options: Any) -> SessionResult:
        """One session as `rgsync run --force` runs it: real adapters over real HTTP."""
        return run_session(self.sandbox.paths, RunOptions(force=True, **options))

    def cli(self, *args: str) -> tuple[int, str]:
        """`rgsync --config SANDBOX ARGS` in this process: (exit code, what it printed)."""
        out = io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                main(["--config", str(self.sandbox.settings_file), *args])
            except SystemExit as exc:
                code = int(exc.code or 0)
        return code, out.getvalue()

    def set(self, key: str, value: str) -> None:
        """`rgsync settings set KEY VALUE`, as the user changes a setting between sessions."""
        code, out = self.cli("settings", "set", key, value)
        assert code == 0, out

    # -- the state store ----------------------------------------------------------------------
    @contextlib.contextmanager
    def state(self) -> Iterator[StateStore]:
        """The profile's state store (links, cursors, issues), open for the block."""
        store = StateStore.open(self.sandbox.paths.state_db)
        try:
            yield store
        finally:
            store.close()

    # -- changing the Salesforce side (its REST API, through simple-salesforce) ---------------
    def sf(self) -> Any:
        """A simple-salesforce client on the emulated org (signed in as Ann)."""
        from simple_salesforce.api import Salesforce

        return Salesforce(
            instance_url=self.sandbox.salesforce.url,
            session_id=self.sandbox.salesforce.token,
            session=self.sandbox.salesforce.requests_session(),
            version=API_VERSION,
        )

    # -- changing the mailbox side (the Google REST APIs, as another client would) ------------
    def google_call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        """One call to the Google emulator's REST API with Ann's token; the JSON answer, if any."""
        running = self.sandbox.mailbox
        with requests.Session() as http:
            http.trust_env = False
            response = http.request(
                method,
                running.url.rstrip("/") + path,
                json=body,
                params=params,
                headers={"Authorization": f"Bearer {running.token}"},
                timeout=10,
            )
        response.raise_for_status()
        return response.json() if response.content else None

    def deliver(
        self, subject: str, sender: str, *, in_reply_to: str | None = None, thread: str | None = None
    ) -> str:
        """A new email to Ann arrives in her Inbox (a reply in `thread` when given); its Gmail id."""
        message = EmailMessage(policy=SMTP)
        message["From"] = sender
        message["To"] = "Ann Lee <ann@acme.com>"
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now().astimezone() - timedelta(minutes=5))
        message["Message-ID"] = f"<{'.'.join(subject.lower().split())}@rule-cases.test>"
        if in_reply_to:
            message["In-Reply-To"] = in_reply_to
            message["References"] = in_reply_to
        message.set_content(f"About: {subject}")
        thread_id = self.google.gmail.thread_of(thread) if thread else None
        return str(self.google.add_message(message.as_bytes(), labels=["INBOX"], thread_id=thread_id))

    def event_id(self, summary: str) -> str:
        """The Calendar id of the (single, not recurring) mailbox event with this title."""
        [found] = [
            eid
            for eid, stored in self.google.calendar.events.items()
            if stored.resource.get("summary") == summary and stored.resource.get("status") != "cancelled"
        ]
        return str(found)

    def task_id(self, title: str) -> str:
        """The id of the task with this title in `Salesforce Tasks`."""
        tasks = self.google.tasks
        list_id = tasks.list_id(TASK_LIST_NAME)
        [found] = [
            tid for tid, t in tasks.tasks[list_id].items() if t.get("title") == title and not t.get("deleted")
        ]
        return str(found)

    def delete_task_in_mailbox(self, title: str) -> None:
        """Ann deletes a task from `Salesforce Tasks` (Tasks API tasks.delete)."""
        list_id = self.google.tasks.list_id(TASK_LIST_NAME)
        self.google_call("DELETE", f"/tasks/v1/lists/{list_id}/tasks/{self.task_id(title)}")

    def contact_resource(self, name: str) -> str:
        """The People resource name of the mailbox contact with this name."""
        [found] = [
            rn
            for rn, stored in self.google.people.people.items()
            if not stored.deleted and _display_name(stored.resource) == name
        ]
        return str(found)

    # -- reading both sides -------------------------------------------------------------------
    def snap(self) -> Snap:
        """A deep copy of both emulators' data, to assert on after later sessions changed them."""
        org = self.org
        names = ("EmailMessage", "EmailMessageRelation", "Task", "TaskRelation", "Event", "EventRelation")
        rows = {name: copy.deepcopy(org.records(name)) for name in (*names, "Contact", "Lead", "Account")}
        types = {r["Id"]: name for name, found in rows.items() for r in found}
        state = self.google
        with state.lock:
            events = [copy.deepcopy(e.resource) for e in state.calendar.events.values()]
            try:
                list_id = state.tasks.list_id(TASK_LIST_NAME)
                tasks = [copy.deepcopy(t) for t in state.tasks.tasks[list_id].values()]
            except KeyError:
                tasks = []
            group = next(
                (g for g, v in state.people.groups.items() if v.get("name") == CONTACT_FOLDER_NAME), None
            )
            contacts = [
                copy.deepcopy(p.resource)
                for p in state.people.people.values()
                if not p.deleted
                and any(
                    (m.get("contactGroupMembership") or {}).get("contactGroupResourceName") == group
                    for m in p.resource.get("memberships") or []
                )
            ]
            label_names = {lid: str(v["name"]) for lid, v in state.gmail.user_labels.items()}
            labels = {
                str(m.parsed.get("Subject", "")): {label_names.get(lid, lid) for lid in m.label_ids}
                for m in state.gmail.messages.values()
            }
            send_updates = list(state.calendar.send_updates_log)
        with self.state() as store:
            links = {stream: store.links(stream) for stream in Stream}
            issues = store.issues()
        return Snap(rows, events, tasks, contacts, labels, send_updates, links, issues, types)


@dataclass
class Story:
    """A sandbox after its sessions: each session's result and a copy of both sides after it, by
    the name of the session's step in the story ("first", "edited", …)."""

    box: Box
    results: dict[str, SessionResult] = field(default_factory=dict)
    snaps: dict[str, Snap] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)  # anything else a test needs to know

    def step(self, name: str, **options: Any) -> SessionResult:
        """Run one session (RunOptions as keywords) and keep what both sides hold afterwards."""
        result = self.box.run(**options)
        self.results[name] = result
        self.snaps[name] = self.box.snap()
        return result

    def key(self, name: str) -> str:
        """The Salesforce Id of the scenario record (or user) with this key."""
        return self.box.keys[name]

    def message_id(self, subject: str) -> str:
        """The Internet Message-ID the scenario gave the email with this subject."""
        [found] = [e.message_id for e in self.box.sandbox.scenario.emails if e.subject == subject]
        return found


@contextlib.contextmanager
def open_story(directory: Path, text: str) -> Iterator[Story]:
    """`open_box`, as the start of a story."""
    with open_box(directory, text) as box:
        yield Story(box)


@contextlib.contextmanager
def open_box(directory: Path, text: str, *, mailbox: str = "gmail") -> Iterator[Box]:
    """Start a sandbox for the scenario `text` in `directory` (a `mailbox` kind: gmail, exchange,
    microsoft365); stopped when the block ends.

    Sandbox tokens go to the profile's own credentials file, never the OS keyring, and its state
    stays beside its settings file whatever RGSYNC_STATE_DIR says.
    """
    patch = pytest.MonkeyPatch()
    patch.setenv("RGSYNC_KEYRING", "file")
    patch.delenv("RGSYNC_STATE_DIR", raising=False)
    patch.delenv("RGSYNC_CONFIG", raising=False)
    try:
        sandbox = start_sandbox(parse_scenario(text), directory, mailbox=mailbox)
        try:
            yield Box(sandbox)
        finally:
            sandbox.stop()
    finally:
        patch.undo()


def skip_reasons(result: SessionResult, subject: str) -> set[str]:
    """Why a session left the item with this subject alone (SkipReason values)."""
    return {s.reason.value for s in result.skips if s.subject == subject}
