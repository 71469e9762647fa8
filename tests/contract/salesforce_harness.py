"""The Salesforce adapter on the loopback emulator, with a Salesforce user's hands on the org.

Imported by the contract tests as `tests.contract.salesforce_harness`. The real simple-salesforce runs
underneath: nothing is mocked; the emulator speaks HTTPS on 127.0.0.1 with a throw-away CA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.model import EmailMode, Stream
from rgsync.providers.salesforce import SalesforceCrm
from rgsync.providers.salesforce.auth import SECRET_SESSION, SalesforceConfig
from rgsync.sandbox.salesforce import RunningSalesforce, start_salesforce

USERS: list[dict[str, Any]] = [
    {"key": "ann", "Name": "Ann Lee", "Email": "ann@acme.com", "Username": "ann@acme.com"},
    {"key": "frank", "Name": "Frank Fox", "Email": "frank@acme.com", "Username": "frank@acme.com"},
]
SOBJECT = {Stream.EVENTS: "Event", Stream.TASKS: "Task", Stream.CONTACTS: "Contact"}
FIELDS = {
    "subject": "Subject",
    "location": "Location",
    "last_name": "LastName",
    "first_name": "FirstName",
    "email": "Email",
    "title": "Title",
    "owner_id": "OwnerId",
}


def _iso(value: datetime) -> str:
    return value.isoformat()


def open_adapter(
    running: RunningSalesforce,
    directory: Path,
    *,
    email_mode: str = "auto",
    clock: Callable[[], datetime] | None = None,
    **config: Any,
) -> SalesforceCrm:
    """A SalesforceCrm signed in with the emulator's session id (credentials in a 0600 file)."""
    store = CredentialStore("test", directory / "credentials.json")
    store.set(SECRET_SESSION, running.token)
    settings = {"auth": "session", "instance_url": running.url, "ca_file": str(running.ca_file), **config}
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return SalesforceCrm(SalesforceConfig(**settings), store, email_mode=email_mode, **extra)


class SalesforceHarness:
    """`CrmHarness` for the Salesforce adapter over the emulator."""

    gaps: frozenset[str] = frozenset()

    def __init__(self, running: RunningSalesforce, crm: SalesforceCrm) -> None:
        self.running = running
        self.org = running.org
        self.crm = crm
        self.user_id = running.keys["ann"]
        self.colleague_id = running.keys["frank"]
        self.email_mode = EmailMode.EMAIL_MESSAGE if self.org.enhanced_email else EmailMode.TASK

    def _insert(self, sobject: str, values: dict[str, Any]) -> str:
        return self.org.insert(sobject, {k: v for k, v in values.items() if v is not None})

    def add_account(self, name: str, website: str = "") -> str:
        return self._insert("Account", {"Name": name, "Website": website or None})

    def add_contact(
        self, first: str, last: str, email: str, *, account_id: str | None = None, owner_id: str | None = None
    ) -> str:
        return self._insert(
            "Contact",
            {
                "FirstName": first,
                "LastName": last,
                "Email": email,
                "AccountId": account_id,
                "OwnerId": owner_id or self.user_id,
            },
        )

    def add_lead(self, first: str, last: str, email: str, company: str = "Hooli") -> str:
        return self._insert(
            "Lead", {"FirstName": first, "LastName": last, "Email": email, "Company": company}
        )

    def add_opportunity(self, name: str, account_id: str, owner_id: str, close_date: date) -> str:
        return self._insert(
            "Opportunity",
            {
                "Name": name,
                "AccountId": account_id,
                "OwnerId": owner_id,
                "StageName": "Prospecting",
                "CloseDate": close_date.isoformat(),
            },
        )

    def add_event(self, subject: str, start: datetime, end: datetime, *, owner_id: str | None = None) -> str:
        return self._insert(
            "Event",
            {
                "Subject": subject,
                "StartDateTime": _iso(start),
                "EndDateTime": _iso(end),
                "OwnerId": owner_id or self.user_id,
            },
        )

    def add_task(
        self, subject: str, due: date | None, *, completed: bool = False, owner_id: str | None = None
    ) -> str:
        return self._insert(
            "Task",
            {
                "Subject": subject,
                "ActivityDate": due.isoformat() if due else None,
                "Status": "Completed" if completed else "Not Started",
                "OwnerId": owner_id or self.user_id,
            },
        )

    def edit(self, stream: Stream, record_id: str, **changes: object) -> None:
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "completed":
                values["Status"] = "Completed" if value else "Not Started"
            elif name in ("start", "end") and isinstance(value, datetime):
                values["StartDateTime" if name == "start" else "EndDateTime"] = _iso(value)
            else:
                values[FIELDS[name]] = value
        self.org.update(record_id, values)

    def delete(self, stream: Stream, record_id: str) -> None:
        self.org.delete(record_id)

    def expire(self, stream: Stream) -> None:
        # The delete log is purged up to now: getDeleted can no longer continue from any cursor.
        self.org.purge_deleted(SOBJECT[stream])

    def reject_subject(self, text: str) -> None:
        for sobject in ("Task", "Event"):
            self.org.add_validation_rule(
                sobject,
                lambda r, t=text: t in str(r.get("Subject") or ""),
                "Subject is not allowed",
                "Subject",
            )


@contextmanager
def emulated_org(directory: Path, scenario: dict[str, Any] | None = None) -> Iterator[RunningSalesforce]:
    """An emulator with Ann (the API user) and her colleague Frank; stopped on exit."""
    running = start_salesforce(directory, scenario={"users": USERS, **(scenario or {})})
    try:
        yield running
    finally:
        running.stop()
