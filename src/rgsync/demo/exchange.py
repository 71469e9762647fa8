"""The Exchange side of the sandbox: the EWS emulator started for a scenario, the profile that
points the Exchange adapter at it, and the demo's reader and mailbox changes through EWS with
exchangelib, as any Exchange client would.

The sandbox signs in with basic authentication: NTLM cannot be spoken to a loopback emulator, and
everything after the sign-in goes through EWS exactly as it does with a real server.

`EwsReader` answers the demo's questions (calendar events, a task folder, a contact folder) in the
Google APIs' shapes the demo prints; `mailbox_edits` makes the demo's mailbox changes: Bob's reply
arrives in the Inbox (CreateItem with the message as MIME) and the renewal review moves by an hour
to a new room (UpdateItem, SendToNone).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib import (
    BASIC,
    DELEGATE,
    Account,
    Build,
    CalendarItem,
    Configuration,
    Contact,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    FailFast,
    Message,
    Task,
    Version,
)
from exchangelib.fields import FieldPath
from exchangelib.folders import Calendar, Contacts, Folder, Inbox, Root, Tasks
from exchangelib.items import ID_ONLY, SAVE_ONLY, SEND_TO_NONE, SHALLOW
from exchangelib.properties import CalendarView, DistinguishedFolderId
from exchangelib.properties import Mailbox as MailboxElement
from exchangelib.protocol import CachingProtocol
from exchangelib.restriction import Q, Restriction
from exchangelib.services import FindFolder, FindItem, GetItem

from rgsync.demo.kinds import MailboxSide, RunningSandbox
from rgsync.demo.scenarios import bob_reply
from rgsync.sandbox.ews import RunningEws, start_ews
from rgsync.sandbox.scenario import Scenario

PASSWORD_SECRET = "exchange.password"  # where the Exchange adapter reads its password


def start(scenario: Scenario, _directory: Path) -> RunningEws:
    """Start the emulator loaded with the scenario's mailbox (`Scenario.google_scenario()`'s data)."""
    return start_ews(scenario=scenario.google_scenario())


def settings(running: RunningEws) -> dict[str, Any]:
    """The `[mailbox]` keys that point the Exchange adapter at the emulator."""
    return {"ews-url": running.url, "username": running.username, "auth-type": "basic"}


def secrets(running: RunningEws) -> dict[str, str]:
    """The secret the adapter reads: the mailbox password."""
    return {PASSWORD_SECRET: running.password}


def endpoints(running: RunningEws) -> dict[str, Any]:
    """What endpoints.json says about the emulator (for scripts using EWS directly)."""
    return {
        "url": running.url,
        "username": running.username,
        "password": running.password,
        "address": running.address,
        "auth": "basic",
    }


@contextmanager
def ews_account(running: RunningEws) -> Iterator[Account]:
    """An exchangelib Account on the emulator (basic sign-in, no probing), closed afterwards."""
    config = Configuration(
        service_endpoint=running.url,
        credentials=Credentials(running.username, running.password),
        auth_type=BASIC,
        version=Version(build=Build(15, 1, 2507, 6)),
        retry_policy=FailFast(),
    )
    account = Account(
        running.address,
        config=config,
        autodiscover=False,
        access_type=DELEGATE,
        default_timezone=EWSTimeZone("UTC"),
    )
    try:
        yield account
    finally:
        # exchangelib caches one connection pool per endpoint and credentials for the process.
        with CachingProtocol._protocol_cache_lock:
            cached = CachingProtocol._protocol_cache.pop(CachingProtocol._cache_key(config), None)
        if cached is not None and not isinstance(cached[0], Exception):
            cached[0].close()


def _distinguished(account: Account, cls: type, name: str) -> Any:
    box = MailboxElement(email_address=account.primary_smtp_address)
    root = Root(account=account, _distinguished_id=DistinguishedFolderId(id="root", mailbox=box))
    return cls(root=root, _distinguished_id=DistinguishedFolderId(id=name, mailbox=box))


def _subfolder(account: Account, parent: Any, name: str) -> Any:
    """A subfolder by display name (FindFolder), or None."""
    restriction = Restriction(Q(name=name), folders=[parent], applies_to=Restriction.FOLDERS)
    found = [
        f
        for f in FindFolder(account=account).call(
            folders=[parent],
            additional_fields=[],
            restriction=restriction,
            shape=ID_ONLY,
            depth=SHALLOW,
            max_items=10,
            offset=0,
        )
        if not isinstance(f, Exception)
    ]
    return Folder(root=parent.root, id=found[0].id, changekey=None) if found else None


def _items(account: Account, folder: Any, cls: Any, fields: Collection[str], view: Any = None) -> list[Any]:
    """FindItem (ids), then GetItem with the fields wanted."""
    ids = [
        i.id
        for i in FindItem(account=account).call(
            folders=[folder],
            additional_fields=set(),
            restriction=None,
            order_fields=None,
            shape=ID_ONLY,
            query_string=None,
            depth=SHALLOW,
            calendar_view=view,
            max_items=1000,
            offset=0,
        )
        if not isinstance(i, Exception)
    ]
    if not ids:
        return []
    paths = {FieldPath(field=cls.get_field_by_fieldname(n)) for n in fields}
    found = GetItem(account=account).call(
        items=[(i, None) for i in ids], additional_fields=paths, shape=ID_ONLY
    )
    return [i for i in found if not isinstance(i, Exception)]


def _calendar(account: Account, fields: Collection[str]) -> list[Any]:
    now = datetime.now(UTC)
    zone = EWSTimeZone("UTC")
    view = CalendarView(
        start=EWSDateTime.from_datetime(now - timedelta(days=30)).astimezone(zone),
        end=EWSDateTime.from_datetime(now + timedelta(days=90)).astimezone(zone),
        max_items=1000,
    )
    return _items(account, _distinguished(account, Calendar, "calendar"), CalendarItem, fields, view)


class EwsReader:
    """Reads the emulated mailbox through EWS and answers in the Google APIs' shapes."""

    def __init__(self, running: RunningEws) -> None:
        self.running = running

    def events(self) -> list[dict[str, Any]]:
        """Calendar items (occurrences expanded) from 30 days back to 90 days ahead."""
        with ews_account(self.running) as account:
            items = _calendar(account, ("subject", "start", "end", "is_all_day", "uid", "_start_timezone"))
        events = []
        for item in items:
            if item.is_all_day:
                start: dict[str, str] = {"date": item.start.isoformat()}
            else:
                start = {"dateTime": datetime.fromtimestamp(item.start.timestamp(), UTC).isoformat()}
            events.append({"id": item.id, "summary": item.subject or "", "iCalUID": item.uid, "start": start})
        return events

    def tasks(self, folder_name: str) -> list[dict[str, Any]]:
        """The tasks of a Tasks subfolder, as Google tasks (title, status, due)."""
        with ews_account(self.running) as account:
            folder = _subfolder(account, _distinguished(account, Tasks, "tasks"), folder_name)
            items = [] if folder is None else _items(account, folder, Task, ("subject", "status", "due_date"))
        return [
            {
                "title": t.subject or "",
                "status": "completed" if t.status == "Completed" else "needsAction",
                **({"due": f"{t.due_date.isoformat()}T00:00:00.000Z"} if t.due_date else {}),
            }
            for t in items
        ]

    def contacts(self, folder_name: str) -> list[dict[str, Any]]:
        """The contacts of a Contacts subfolder, as People persons (names, emailAddresses)."""
        with ews_account(self.running) as account:
            folder = _subfolder(account, _distinguished(account, Contacts, "contacts"), folder_name)
            fields = ("given_name", "surname", "email_addresses")
            items = [] if folder is None else _items(account, folder, Contact, fields)
        return [
            {
                "names": [{"givenName": c.given_name or "", "familyName": c.surname or ""}],
                "emailAddresses": [{"value": e.email} for e in c.email_addresses or [] if e.email],
            }
            for c in items
        ]


def mailbox_edits(sandbox: RunningSandbox) -> list[str]:
    """Bob's reply arrives and the renewal review moves by an hour (see the module docstring)."""
    running: RunningEws = sandbox.mailbox
    scenario = sandbox.scenario
    zone = ZoneInfo(scenario.user.time_zone)
    edits: list[str] = []
    message = bob_reply(scenario)
    with ews_account(running) as account:
        inbox = _distinguished(account, Inbox, "inbox")
        account.bulk_create(
            folder=inbox,
            items=[Message(account=account, folder=inbox, mime_content=message.as_bytes())],
            message_disposition=SAVE_ONLY,
        )
        edits.append(f"Exchange: a new email from Bob arrived: “{message['Subject']}” (EWS CreateItem)")
        review = next((e for e in scenario.calendar if e.get("key") == "renewal-review"), None)
        if review is None:
            return edits
        found = [
            i
            for i in _calendar(account, ("subject", "start", "end", "uid", "location"))
            if i.uid == review["iCalUID"]
        ]
        if not found:
            return edits
        item = found[0]
        item.start += timedelta(hours=1)
        item.end += timedelta(hours=1)
        item.location = "Globex HQ, room 4.12"
        account.bulk_update(
            items=[(item, ["start", "end", "location"])],
            message_disposition=SAVE_ONLY,
            send_meeting_invitations_or_cancellations=SEND_TO_NONE,
        )
        edits.append(
            f"Calendar: “{item.subject}” moved to {datetime.fromtimestamp(item.start.timestamp(), zone):%a %H:%M}, new room (EWS UpdateItem)"
        )
    return edits


def reader(sandbox: RunningSandbox) -> EwsReader:
    """The demo's reader of the emulated Exchange mailbox."""
    return EwsReader(sandbox.mailbox)


SIDE = MailboxSide(
    start=start,
    settings=settings,
    secrets=secrets,
    endpoints=endpoints,
    reader=reader,
    edit=mailbox_edits,
)
