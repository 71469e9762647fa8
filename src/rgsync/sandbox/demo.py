"""`rgsync demo`: a whole sync, twice, against the sandbox, told in the user's terms.

The demo starts the emulators on the demo scenario in a temporary directory, runs a first session
through the same code path as `rgsync run` (`rgsync.sync.run_session`, real adapters, real HTTP),
and shows what happened: the emails and meetings saved to Salesforce with the people and the
opportunity or account they were linked to (looked up in the emulated org), what came down into
the mailbox, what was left alone and why, and the issues table. Then it changes data on both
sides through the services' own APIs (simple-salesforce against the Salesforce emulator; the
Gmail and Calendar REST APIs against the Google emulator), runs a second session, and shows that
only the changes travelled, with the API calls each side cost.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rgsync.errors import UsageError
from rgsync.model import Side, Stream
from rgsync.sandbox.scenario import Scenario, load_scenario
from rgsync.sandbox.serve import API_VERSION, MAILBOX_NAMES, Sandbox, environment, start_sandbox
from rgsync.session import RunOptions, SessionResult

# What a skip reason means, in the words of the person whose mailbox it is.
REASON_WORDS: dict[str, str] = {
    "not-inbox-or-sent": "not in Inbox or Sent",
    "direction": "outside the email direction setting",
    "outside-history-window": "older than history-days",
    "service-message": "service message (bounce, auto-reply, receipt)",
    "auto-save-off": "auto-save is off",
    "internal": "internal: only colleagues",
    "blocklisted": "blocklisted (free mail, blocked domain)",
    "no-related-record": "no Contact or Lead in Salesforce",
    "no-opportunity-or-account": "no Opportunity or Account to link to",
    "already-saved": "already saved",
    "unreadable": "unreadable",
    "meetings-off": "meeting saving is off",
    "appointments-off": "appointment (not saved by default)",
    "unanswered": "invitation not answered",
    "declined": "invitation declined",
    "private": "private",
    "outside-window": "outside the calendar window",
    "cannot-sync": "cannot be synced (see issues)",
    "not-owner": "owned by someone else",
    "email-activity": "an email activity",
    "completed-long-ago": "completed too long ago",
    "cancelled": "cancelled",
}
STREAM_WORDS = {"emails": "Emails", "events": "Calendar", "tasks": "Tasks", "contacts": "Contacts"}


BUILT_IN_SCENARIOS = ("demo", "minimal")


def demo_scenario_file(name: str = "demo") -> Path:
    """A built-in scenario: shipped inside the package, or examples/scenarios/NAME.toml in a checkout."""
    packaged = resources.files("rgsync.sandbox").joinpath("scenarios", f"{name}.toml")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        if packaged.is_file():
            return Path(str(packaged))
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "examples" / "scenarios" / f"{name}.toml"
        if candidate.is_file():
            return candidate
    raise UsageError(f"the built-in '{name}' scenario is missing from this installation; reinstall rgsync")


def scenario_path(given: str | Path) -> Path:
    """A scenario file as given on the command line; a built-in name (demo, minimal) when no such file."""
    path = Path(given).expanduser()
    if not path.exists() and str(given) in BUILT_IN_SCENARIOS:
        return demo_scenario_file(str(given))
    return path


@dataclass
class Snapshot:
    """What both sides show at one moment, as lines a person reads, per category."""

    saved_emails: list[str] = field(default_factory=list)
    saved_meetings: list[str] = field(default_factory=list)
    mailbox_events: list[str] = field(default_factory=list)
    mailbox_tasks: list[str] = field(default_factory=list)
    mailbox_contacts: list[str] = field(default_factory=list)
    salesforce_tasks: list[str] = field(default_factory=list)

    def categories(self) -> list[tuple[str, list[str]]]:
        return [
            ("Emails saved to Salesforce", self.saved_emails),
            ("Meetings saved to Salesforce", self.saved_meetings),
            ("Salesforce Events in the mailbox calendar", self.mailbox_events),
            ("Salesforce Tasks in the mailbox", self.mailbox_tasks),
            ("Salesforce Contacts in the mailbox", self.mailbox_contacts),
            ("Mailbox tasks created in Salesforce", self.salesforce_tasks),
        ]


@dataclass
class DemoRun:
    """Everything the demo did: the sandbox (stopped at the end), the sessions, the edits made.

    `idle` is a third session run right after the second, with nothing new on either side.
    """

    directory: Path
    sandbox: Sandbox
    first: SessionResult
    second: SessionResult
    idle: SessionResult
    edits: list[str]
    before: Snapshot
    after: Snapshot
    kept: bool


def run_demo(
    console: Console,
    *,
    mailbox: str = "gmail",
    keep: Path | None = None,
    fast: bool = False,
    scenario_file: Path | None = None,
    stay: threading.Event | None = None,
) -> DemoRun:
    """Run the demo, printing to `console`; returns what happened (for tests and scripts).

    `keep` leaves the sandbox's files in that directory (which must be empty or new); with `stay`
    too, the emulators keep serving after the story until `stay` is set or Ctrl-C is pressed, so the
    other commands can be tried against them. `fast` skips the pauses that let a person read along.
    """
    if keep is not None:
        keep = keep.expanduser().absolute()
        if keep.exists() and any(keep.iterdir()):
            raise UsageError(f"{keep} is not empty; give `--keep` a new or empty directory")
    scenario = load_scenario(scenario_file or demo_scenario_file())
    pause = _pauser(console, fast)
    directory = keep or Path(tempfile.mkdtemp(prefix="rgsync-demo-"))
    # Sandbox tokens live in the sandbox's own credentials file, never in the OS keyring, and its
    # state stays in its own directory whatever RGSYNC_STATE_DIR says for real profiles.
    with environment(RGSYNC_KEYRING="file", RGSYNC_STATE_DIR=None):
        try:
            sandbox = start_sandbox(scenario, directory, mailbox=mailbox)
            with sandbox:
                run = _story(console, sandbox, pause, kept=keep is not None)
                if keep is not None:
                    _explore_hint(console, sandbox, serving=stay is not None)
                    if stay is not None:
                        with contextlib.suppress(KeyboardInterrupt):
                            while not stay.wait(0.5):
                                pass
                        console.print("Sandbox stopped.")
        finally:
            if keep is None:
                shutil.rmtree(directory, ignore_errors=True)
    return run


def _pauser(console: Console, fast: bool) -> Any:
    def pause(seconds: float = 1.0) -> None:
        if not fast and console.is_terminal:
            time.sleep(seconds)

    return pause


def _story(console: Console, sandbox: Sandbox, pause: Any, *, kept: bool) -> DemoRun:
    from rgsync.sync import run_session

    scenario = sandbox.scenario
    user = scenario.user
    console.rule("[bold]rgsync demo")
    console.print(
        f"{user.name}'s mailbox ({user.address}, emulated {MAILBOX_NAMES[sandbox.mailbox_kind]}) and her Salesforce org "
        f"(emulated), both on 127.0.0.1 — nothing leaves this machine.",
        highlight=False,
    )
    console.print(
        f"Scenario: {scenario.description or scenario.name}: {len(scenario.emails)} emails, "
        f"{len(scenario.calendar)} calendar items, {sum(len(v) for v in scenario.records.values())} Salesforce records.",
        highlight=False,
    )
    pause()
    console.rule("Session 1: the first sync")
    first = run_session(sandbox.paths, RunOptions(force=True))
    _session_line(console, first)
    before = snapshot(sandbox)
    _show_snapshot(console, before)
    _show_skips(console, first)
    _show_issues(console, sandbox)
    pause(1.5)
    console.rule("Meanwhile, on both sides")
    edits = make_edits(sandbox)
    for edit in edits:
        console.print(f"  • {edit}", highlight=False)
    pause()
    console.rule("Session 2: only what changed")
    second = run_session(sandbox.paths, RunOptions(force=True))
    _session_line(console, second)
    _show_counts(console, second)
    after = snapshot(sandbox)
    console.print()
    _show_changes(console, before, after)
    # A session right after one that wrote still reads those writes back once; the one after that
    # is what a quiet cron run costs.
    run_session(sandbox.paths, RunOptions(force=True))
    idle = run_session(sandbox.paths, RunOptions(force=True))
    _show_calls(console, first, second, idle, sandbox.mailbox_kind)
    return DemoRun(sandbox.directory, sandbox, first, second, idle, edits, before, after, kept)


def _explore_hint(console: Console, sandbox: Sandbox, *, serving: bool) -> None:
    config = f"rgsync --config {sandbox.settings_file}"
    console.print()
    if serving:
        console.print(
            f"The sandbox keeps running, its files are in {sandbox.directory}. In another terminal try:",
            highlight=False,
        )
        commands: tuple[str, ...] = ("issues list", "status", "run --dry-run", "run")
    else:
        console.print(f"The sandbox's files are in {sandbox.directory}. Try:", highlight=False)
        commands = ("issues list", "status", "settings list")
    for command in commands:
        console.print(f"  {config} {command}", highlight=False)
    if serving:
        console.print(
            "Change data through the services' APIs (see endpoints.json) and run again. Ctrl-C stops."
        )
    else:
        console.print(
            "The emulators stopped with the demo; `run` needs them. Serve the scenario again (it starts\n"
            "over from the scenario's data), then run:\n"
            f"  rgsync sandbox serve --scenario {sandbox.scenario.file} --dir {sandbox.directory}",
            highlight=False,
        )


# --------------------------------------------------------------------------------------------
# Telling what happened


def _session_line(console: Console, result: SessionResult) -> None:
    duration = (
        (result.ended_at - result.started_at).total_seconds()
        if result.ended_at and result.started_at
        else 0.0
    )
    colour = "green" if result.status == "completed" else "red"
    console.print(
        f"Session {result.session_id}: [{colour}]{result.status}[/{colour}] in {duration:.1f} s — API calls: "
        f"Salesforce {result.api_calls.get('salesforce', 0)}, mailbox {result.api_calls.get('mailbox', 0)}",
        highlight=False,
    )
    if result.message and result.status != "completed":
        console.print(Text(result.message, style="red"))
    for stream, summary in result.streams.items():
        if summary.error:
            console.print(
                Text(f"{STREAM_WORDS.get(stream.value, stream.value)}: {summary.error}", style="red")
            )


def _show_snapshot(console: Console, view: Snapshot) -> None:
    for title, lines in view.categories():
        if not lines:
            continue
        console.print(f"\n[bold]{title}[/bold] ({len(lines)})")
        for line in lines:
            console.print(f"  • {line}", highlight=False)


def _show_skips(console: Console, result: SessionResult) -> None:
    grouped: dict[tuple[str, str], list[str]] = {}
    for skip in result.skips:
        grouped.setdefault((skip.stream.value, skip.reason.value), []).append(skip.subject or skip.item_id)
    if not grouped:
        return
    console.print("\n[bold]Left alone, by reason[/bold]")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("What")
    table.add_column("Why")
    table.add_column("Items", overflow="fold")
    for (stream, reason), subjects in sorted(grouped.items()):
        unique = list(dict.fromkeys(subjects))
        table.add_row(
            Text(STREAM_WORDS.get(stream, stream)),
            Text(REASON_WORDS.get(reason, reason)),
            Text(", ".join(f"“{s}”" for s in unique)),
        )
    console.print(table)


def _show_issues(console: Console, sandbox: Sandbox) -> None:
    from rgsync.cli.render import severity_text
    from rgsync.state import StateStore

    store = StateStore.open(sandbox.paths.state_db)
    try:
        issues = store.issues()
    finally:
        store.close()
    if not issues:
        console.print("\nNo sync issues.")
        return
    console.print(
        f"\n[bold]Sync issues[/bold] ({len(issues)}) — `rgsync issues list` shows them with advice:"
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("ID", "Severity", "Code", "Item", "Message"):
        table.add_column(column, overflow="fold")
    for issue in issues:
        item = " ".join(
            p for p in (issue.item.kind, f"“{issue.item.subject}”" if issue.item.subject else "") if p
        )
        table.add_row(
            Text(str(issue.id)),
            severity_text(issue.severity),
            Text(issue.code),
            Text(item),
            Text(issue.message),
        )
    console.print(table)


def _show_counts(console: Console, result: SessionResult) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("Stream", "Salesforce: new, updated, deleted", "Mailbox: new, updated, deleted"):
        table.add_column(column)
    for stream, s in result.streams.items():
        table.add_row(
            Text(STREAM_WORDS.get(stream.value, stream.value)),
            Text(f"{s.created['salesforce']}, {s.updated['salesforce']}, {s.deleted['salesforce']}"),
            Text(f"{s.created['mailbox']}, {s.updated['mailbox']}, {s.deleted['mailbox']}"),
        )
    console.print(table)


def _show_changes(console: Console, before: Snapshot, after: Snapshot) -> None:
    shown = False
    for (title, old), (_, new) in zip(before.categories(), after.categories(), strict=True):
        added = [line for line in new if line not in old]
        gone = [line for line in old if line not in new]
        if not added and not gone:
            continue
        if not shown:
            console.print("[bold]What the second session changed[/bold]")
            shown = True
        console.print(f"  {title}:")
        for line in gone:
            console.print(Text(f"    − {line}", style="red"))
        for line in added:
            console.print(Text(f"    + {line}", style="green"))
    if not shown:
        console.print("The second session found nothing to change.")


# How each mailbox kind reads "what changed since last time", for the demo's closing line.
CHANGE_FEEDS = {
    "gmail": "Gmail history, Calendar/People sync tokens",
    "exchange": "one SyncFolderItems sync state per folder",
    "microsoft365": "Graph delta links per folder, calendar view and list",
}


def _show_calls(
    console: Console, first: SessionResult, second: SessionResult, idle: SessionResult, mailbox_kind: str
) -> None:
    table = Table(title="API calls per session", box=box.SIMPLE_HEAD, show_edge=False, title_justify="left")
    for column in ("Session", "Salesforce", "Mailbox", "Written"):
        table.add_column(column)
    for label, result in (
        ("1: first sync (full listing)", first),
        ("2: after the edits", second),
        ("a later run, nothing new", idle),
    ):
        table.add_row(
            Text(label),
            Text(str(result.api_calls.get("salesforce", 0))),
            Text(str(result.api_calls.get("mailbox", 0))),
            Text(str(sum(s.writes for s in result.streams.values()))),
        )
    console.print()
    console.print(table)
    console.print(
        f"Each run reads only what changed since the last one ({CHANGE_FEEDS.get(mailbox_kind, 'the mailbox')}, "
        "one Salesforce Composite call for every delta query).",
        highlight=False,
    )


# --------------------------------------------------------------------------------------------
# Reading both sides


def snapshot(sandbox: Sandbox) -> Snapshot:
    """Both sides as a person would look at them, with names instead of Ids."""
    from rgsync.state import StateStore

    org = sandbox.salesforce.org
    zone = ZoneInfo(sandbox.scenario.user.time_zone)
    store = StateStore.open(sandbox.paths.state_db)
    try:
        links = {stream: store.links(stream) for stream in Stream}
    finally:
        store.close()
    view = Snapshot()
    for link in links[Stream.EMAILS].values():
        row = org.get(link.salesforce_id)
        if row is not None:
            view.saved_emails.append(_activity_line(org, row, zone, timed=False))
    meetings = [
        org.get(link.salesforce_id) for link in links[Stream.EVENTS].values() if link.origin is Side.MAILBOX
    ]
    for row in sorted(
        (r for r in meetings if r), key=lambda r: str(r.get("StartDateTime") or r.get("ActivityDate"))
    ):
        view.saved_meetings.append(_activity_line(org, row, zone, timed=True))
    google = _mailbox_reader(sandbox)
    down_events = {
        link.mailbox_id for link in links[Stream.EVENTS].values() if link.origin is Side.SALESFORCE
    }
    for event in google.events():
        if event.get("id") in down_events:
            view.mailbox_events.append(f"“{event.get('summary', '')}” {_google_when(event, zone)}")
    view.mailbox_tasks = [
        f"“{task.get('title', '')}”"
        + (
            " (completed)"
            if task.get("status") == "completed"
            else f" due {task['due'][:10]}"
            if task.get("due")
            else ""
        )
        for task in google.tasks("Salesforce Tasks")
    ]
    view.mailbox_contacts = [_person_line(person) for person in google.contacts("Salesforce Contacts")]
    for link in links[Stream.TASKS].values():
        if link.origin is Side.MAILBOX:
            row = org.get(link.salesforce_id)
            if row is not None:
                view.salesforce_tasks.append(
                    f"“{row.get('Subject', '')}” (Task, owner {_name(org, row.get('OwnerId'))})"
                )
    for category in (view.saved_emails, view.mailbox_tasks, view.mailbox_contacts, view.salesforce_tasks):
        category.sort()
    return view


def _name(org: Any, record_id: str | None) -> str:
    row = org.get(record_id) if record_id else None
    if row is None:
        return "?"
    return str(
        row.get("Name") or " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p) or record_id
    )


def _activity_line(org: Any, row: dict[str, Any], zone: ZoneInfo, *, timed: bool) -> str:
    """“Subject” → people · Opportunity/Account, for a saved email (EmailMessage or Task) or Event."""
    subject = str(row.get("Subject") or "")
    people = _people_of(org, row)
    what = row.get("WhatId") or row.get("RelatedToId")
    parts = [", ".join(_name(org, p) for p in people) if people else "no people"]
    if what:
        parts.append(f"{_name(org, what)} ({org.type_of(what)})")
    when = " " + _salesforce_when(row, zone) if timed else ""
    return f"“{subject}”{when} → {' · '.join(parts)}"


def _people_of(org: Any, row: dict[str, Any]) -> list[str]:
    """The Contacts and Leads an activity is related to, primary first."""
    kind = org.type_of(row["Id"])
    if kind == "EmailMessage":
        relations = [
            (r["RelationId"], r)
            for r in org.records("EmailMessageRelation")
            if r.get("EmailMessageId") == row["Id"]
        ]
    else:
        relation_type, parent = (
            ("EventRelation", "EventId") if kind == "Event" else ("TaskRelation", "TaskId")
        )
        relations = [
            (r["RelationId"], r)
            for r in org.records(relation_type)
            if r.get(parent) == row["Id"] and not r.get("IsWhat") and (kind != "Event" or r.get("IsParent"))
        ]
    people = [row["WhoId"]] if row.get("WhoId") else []
    for relation_id, _ in relations:
        if relation_id and org.type_of(relation_id) in ("Contact", "Lead") and relation_id not in people:
            people.append(relation_id)
    return people


def _salesforce_when(row: dict[str, Any], zone: ZoneInfo) -> str:
    if row.get("IsAllDayEvent"):
        day = row.get("ActivityDate")
        return f"{day:%a %d %b} (all day)" if day else "(all day)"
    start = row.get("StartDateTime")
    if isinstance(start, datetime):
        return start.astimezone(zone).strftime("%a %d %b %H:%M")
    return ""


def _google_when(event: dict[str, Any], zone: ZoneInfo) -> str:
    start = event.get("start") or {}
    if "date" in start:
        return f"{datetime.fromisoformat(start['date']):%a %d %b} (all day)"
    if "dateTime" in start:
        return (
            datetime.fromisoformat(str(start["dateTime"]).replace("Z", "+00:00"))
            .astimezone(zone)
            .strftime("%a %d %b %H:%M")
        )
    return ""


def _person_line(person: dict[str, Any]) -> str:
    names = person.get("names") or [{}]
    name = names[0].get("displayName") or " ".join(
        p for p in (names[0].get("givenName"), names[0].get("familyName")) if p
    )
    emails = [e.get("value") for e in person.get("emailAddresses") or [] if e.get("value")]
    return f"{name} <{emails[0]}>" if emails else str(name)


def _mailbox_reader(sandbox: Sandbox) -> Any:
    """A reader of the emulated mailbox that answers in the Google APIs' shapes."""
    if sandbox.mailbox_kind == "microsoft365":
        from rgsync.sandbox.graph.demo_side import GraphReader

        return GraphReader(sandbox.mailbox)
    if sandbox.mailbox_kind == "exchange":
        from rgsync.sandbox.ews.demo import EwsReader

        return EwsReader(sandbox.mailbox)
    return _GoogleReader(sandbox)


class _GoogleReader:
    """Reads the emulated mailbox through the Google REST APIs (as any client would)."""

    def __init__(self, sandbox: Sandbox) -> None:
        import requests

        self.base = sandbox.mailbox.url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {sandbox.mailbox.token}"
        self.now = datetime.now(UTC)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(self.base + path, params=params, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def send(self, method: str, path: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.http.request(method, self.base + path, json=body, params=params, timeout=10)
        response.raise_for_status()
        return dict(response.json()) if response.content else {}

    def pages(self, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self.get(path, **params, **({"pageToken": token} if token else {}))
            yield from page.get(key) or []
            token = page.get("nextPageToken")
            if not token:
                return

    def events(self) -> list[dict[str, Any]]:
        return list(
            self.pages(
                "/calendar/v3/calendars/primary/events",
                "items",
                singleEvents="true",
                timeMin=(self.now - timedelta(days=30)).isoformat(),
                timeMax=(self.now + timedelta(days=90)).isoformat(),
                maxResults=250,
            )
        )

    def tasks(self, list_title: str) -> list[dict[str, Any]]:
        for task_list in self.pages("/tasks/v1/users/@me/lists", "items"):
            if task_list.get("title") == list_title:
                return list(
                    self.pages(
                        f"/tasks/v1/lists/{task_list['id']}/tasks",
                        "items",
                        showCompleted="true",
                        showHidden="true",
                    )
                )
        return []

    def contacts(self, group_name: str) -> list[dict[str, Any]]:
        groups = self.get("/v1/contactGroups").get("contactGroups") or []
        group = next(
            (g for g in groups if g.get("name") == group_name or g.get("formattedName") == group_name), None
        )
        if group is None:
            return []
        people = self.pages(
            "/v1/people/me/connections",
            "connections",
            personFields="names,emailAddresses,memberships",
            pageSize=200,
        )
        wanted = group["resourceName"]
        return [
            p
            for p in people
            if any(
                (m.get("contactGroupMembership") or {}).get("contactGroupResourceName") == wanted
                for m in p.get("memberships") or []
            )
        ]


# --------------------------------------------------------------------------------------------
# Changing both sides, through the services' own APIs


def make_edits(sandbox: Sandbox) -> list[str]:
    """Change data on both sides as a user (or a colleague) would; returns what was done, in words.

    Salesforce (simple-salesforce): rename the down-synced Event and add a Task. Mailbox (Gmail and
    Calendar REST APIs): deliver a reply from Bob and move the Globex renewal review by an hour.
    """
    from simple_salesforce.api import Salesforce

    keys = sandbox.keys
    scenario = sandbox.scenario
    zone = ZoneInfo(scenario.user.time_zone)
    edits: list[str] = []
    # Typed as Any: simple-salesforce builds `sf.Event`, `sf.Task` … dynamically.
    sf: Any = Salesforce(
        instance_url=sandbox.salesforce.url,
        session_id=sandbox.salesforce.token,
        session=sandbox.salesforce.requests_session(),
        version=API_VERSION,
    )
    if "qbr-prep" in keys:
        old = sf.Event.get(keys["qbr-prep"])
        new_subject = f"{old['Subject']} (moved online)"
        sf.Event.update(keys["qbr-prep"], {"Subject": new_subject, "Location": "Video call"})
        edits.append(f"Salesforce: Event “{old['Subject']}” renamed to “{new_subject}” (simple-salesforce)")
    due = (datetime.now(zone) + timedelta(days=3)).date().isoformat()
    task: dict[str, Any] = {
        "Subject": "Prepare the Globex contract draft",
        "ActivityDate": due,
        "Priority": "High",
        "OwnerId": sandbox.salesforce.user_id,
    }
    if "bob" in keys:
        task["WhoId"] = keys["bob"]
    if "o2" in keys:
        task["WhatId"] = keys["o2"]
    sf.Task.create(task)
    edits.append(f"Salesforce: new Task “{task['Subject']}” due {due} (simple-salesforce)")
    if sandbox.mailbox_kind == "microsoft365":
        from rgsync.sandbox.graph.demo_side import mailbox_edits

        return edits + mailbox_edits(sandbox)
    if sandbox.mailbox_kind == "exchange":
        from rgsync.sandbox.ews.demo import mailbox_edits as ews_edits

        return edits + ews_edits(sandbox)
    google = _GoogleReader(sandbox)
    message = bob_reply(scenario)
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
    google.send("POST", "/gmail/v1/users/me/messages", {"raw": raw, "labelIds": ["INBOX", "UNREAD"]})
    edits.append(f"Gmail: a new email from Bob arrived: “{message['Subject']}” (Gmail API messages.insert)")
    review = next((e for e in scenario.calendar if e.get("key") == "renewal-review"), None)
    if review is not None:
        found = (
            google.get("/calendar/v3/calendars/primary/events", iCalUID=review["iCalUID"]).get("items") or []
        )
        if found:
            event = found[0]
            start = datetime.fromisoformat(event["start"]["dateTime"]) + timedelta(hours=1)
            end = datetime.fromisoformat(event["end"]["dateTime"]) + timedelta(hours=1)
            google.send(
                "PATCH",
                f"/calendar/v3/calendars/primary/events/{event['id']}",
                {
                    "start": {"dateTime": start.isoformat(), "timeZone": scenario.user.time_zone},
                    "end": {"dateTime": end.isoformat(), "timeZone": scenario.user.time_zone},
                    "location": "Globex HQ, room 4.12",
                },
                sendUpdates="none",
            )
            edits.append(
                f"Calendar: “{event.get('summary')}” moved to {start.astimezone(zone):%a %H:%M}, new room (Calendar API events.patch)"
            )
    return edits


def bob_reply(scenario: Scenario) -> EmailMessage:
    """The email the demo delivers between sessions: Bob answers the pricing thread (every mailbox kind)."""
    zone = ZoneInfo(scenario.user.time_zone)
    pricing = next((e for e in scenario.emails if e.key == "pricing"), None)
    message = EmailMessage(policy=SMTP)
    message["From"] = "Bob Baker <bob@globex.com>"
    message["To"] = f"{scenario.user.name} <{scenario.user.address}>"
    message["Subject"] = "Re: Globex renewal: signed order form"
    message["Date"] = format_datetime(datetime.now(zone))
    message["Message-ID"] = f"<demo-{int(time.time() * 1000)}@globex.com>"
    if pricing is not None:
        message["In-Reply-To"] = pricing.message_id
        message["References"] = pricing.message_id
    message.set_content("Hi Ann, the signed order form is attached. Bob")
    return message


def scenario_summary(scenario: Scenario) -> str:
    """One line describing a scenario (for `rgsync sandbox serve` and the demo's header)."""
    return (
        f"{scenario.name}: {len(scenario.emails)} emails, {len(scenario.calendar)} calendar items, "
        f"{sum(len(v) for v in scenario.records.values())} Salesforce records"
    )
