"""The Crm contract run against the in-memory org, so the session and planner tests that use it
stand on an org that behaves like the Salesforce adapter."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    EmailMode,
    Opportunity,
    Person,
    PersonKind,
    Stream,
    TaskItem,
    Write,
)
from rgsync.providers.memory import MemoryCrm
from tests.contract.crm_contract import NOW, CrmContract

ANN = "005A00000000001AAA"
FRANK = "005F00000000002AAA"


class MemoryHarness:
    # MemoryCrm matches Task natural keys on the Subject only, while the tasks engine keys them by
    # Subject + due date + owner (engine/tasks.py task_key).
    gaps: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.crm = MemoryCrm(ANN, "ann@acme.com")
        self.user_id = ANN
        self.colleague_id = FRANK
        self.email_mode = EmailMode.EMAIL_MESSAGE
        self.id_list = itertools.count(1)
        self._rejected: list[str] = []
        self.crm.failures.reject = self._reject

    def _reject(self, write: Write) -> str | None:
        subject = ""
        if isinstance(write, Create):
            record = write.record
            subject = str(
                getattr(record, "subject", "") or getattr(getattr(record, "item", None), "subject", "")
            )
        return "SF-VALIDATION" if any(t in subject for t in self._rejected) else None

    def add_account(self, name: str, website: str = "") -> str:
        return self.crm.add_account(name, website).id

    def add_contact(
        self, first: str, last: str, email: str, *, account_id: str | None = None, owner_id: str | None = None
    ) -> str:
        item = ContactItem(
            id=self.crm.new_id("003"),
            first_name=first,
            last_name=last,
            email=email,
            account_id=account_id,
            owner_id=owner_id or ANN,
            last_modified=NOW,
        )
        return self.crm.add_contact(item).id

    def add_lead(self, first: str, last: str, email: str, company: str = "Hooli") -> str:
        person = Person(self.crm.new_id("00Q"), PersonKind.LEAD, email.lower(), first, last, None, ANN)
        return self.crm.add_lead(person).id

    def add_opportunity(self, name: str, account_id: str, owner_id: str, close_date: date) -> str:
        opportunity = Opportunity(
            self.crm.new_id("006"), name, account_id, owner_id, datetime.now(UTC), close_date
        )
        return self.crm.add_opportunity(opportunity).id

    def add_event(self, subject: str, start: datetime, end: datetime, *, owner_id: str | None = None) -> str:
        item = CalendarItem(
            id=self.crm.new_id("00U"), subject=subject, start=start, end=end, owner_id=owner_id or ANN
        )
        return self.crm.put_event(item).id

    def add_task(
        self, subject: str, due: date | None, *, completed: bool = False, owner_id: str | None = None
    ) -> str:
        item = TaskItem(
            id=self.crm.new_id("00T"), subject=subject, due=due, completed=completed, owner_id=owner_id or ANN
        )
        return self.crm.put_task(item).id

    def edit(self, stream: Stream, record_id: str, **changes: object) -> None:
        self.crm.edit(stream, record_id, **changes)

    def delete(self, stream: Stream, record_id: str) -> None:
        self.crm.remove(stream, record_id)

    def expire(self, stream: Stream) -> None:
        self.crm.expire_cursor(stream)

    def reject_subject(self, text: str) -> None:
        self._rejected.append(text)


class TestMemoryCrm(CrmContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()
