"""Calendar items, tasks and contacts of the RULE-CASES world, and helpers to read plans.

Builds on `world` (Ann, Bob, Frank, …). Items are plain values; a case that needs a linked pair
first plans the creation, then turns the planned `LinkChange` into a stored `Link` with
`link_after(...)`, exactly as the session would after a successful write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from rgsync.engine.types import Action, LinkChange, Plan, SideChanges, StreamContext
from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    Link,
    Person,
    Response,
    Side,
    Stream,
    TaskItem,
    Update,
    day_start,
)
from tests.unit.world import ACCOUNTS, ANN, ANN_ID, BERLIN, TODAY, ctx

T = TypeVar("T")

TOMORROW = TODAY + timedelta(days=1)
id_list = iter(range(1, 1_000_000))


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Ann's time zone (Europe/Berlin)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def meeting(
    *attendees: str,
    subject: str = "Globex sync",
    start: datetime | None = None,
    minutes: int = 60,
    organizer: str = ANN,
    my_response: Response | None = None,
    item_id: str | None = None,
    **fields: Any,
) -> CalendarItem:
    """A mailbox occurrence: tomorrow 10:00 Berlin, one hour, organised by Ann unless told.

    `attendees` are addresses besides the organizer; Ann's answer is ORGANIZER when she organises
    and NONE (unanswered) otherwise, unless `my_response` says.
    """
    start = start or berlin(TOMORROW, 10)
    if my_response is None:
        my_response = Response.ORGANIZER if organizer == ANN else Response.NONE
    people = [Attendee(Address(a), Response.NONE) for a in attendees]
    if organizer != ANN:
        people.append(Attendee(Address(ANN), my_response))
    return CalendarItem(
        id=item_id or f"cal-{next(id_list)}",
        subject=subject,
        start=start,
        end=start + timedelta(minutes=minutes),
        organizer=Address(organizer),
        attendees=tuple(people),
        my_response=my_response,
        **fields,
    )


def appointment(subject: str = "Dentist", **fields: Any) -> CalendarItem:
    """A mailbox item with no attendees besides Ann."""
    return meeting(subject=subject, **fields)


def all_day(
    days: int, *, first: date | None = None, subject: str = "Trade fair", **fields: Any
) -> CalendarItem:
    """An all-day appointment lasting `days` days."""
    first = first or TOMORROW
    return CalendarItem(
        id=f"cal-{next(id_list)}",
        subject=subject,
        start=day_start(first),
        end=day_start(first + timedelta(days=days)),
        all_day=True,
        organizer=Address(ANN),
        **fields,
    )


def sf_event(
    subject: str = "Pipeline review",
    *,
    start: datetime | None = None,
    minutes: int = 60,
    event_id: str | None = None,
    owner_id: str = ANN_ID,
    **fields: Any,
) -> CalendarItem:
    """A Salesforce Event as the org reports it: tomorrow 15:00 Berlin, owned by Ann unless told."""
    start = start or berlin(TOMORROW, 15)
    return CalendarItem(
        id=event_id or f"00U{next(id_list):05d}",
        subject=subject,
        start=start,
        end=start + timedelta(minutes=minutes),
        owner_id=owner_id,
        **fields,
    )


def sf_task(
    subject: str = "Call Bob", *, task_id: str | None = None, owner_id: str = ANN_ID, **fields: Any
) -> TaskItem:
    """A Salesforce Task owned by Ann, open, due in three days, unless told."""
    fields.setdefault("due", TODAY + timedelta(days=3))
    return TaskItem(id=task_id or f"00T{next(id_list):05d}", subject=subject, owner_id=owner_id, **fields)


def mailbox_task(subject: str = "Send quote", *, task_id: str | None = None, **fields: Any) -> TaskItem:
    """A task the user created in the mailbox list `Salesforce Tasks`."""
    return TaskItem(id=task_id or f"task-{next(id_list)}", subject=subject, **fields)


def sf_contact(
    first: str, last: str, email: str, *, contact_id: str | None = None, owner_id: str = ANN_ID, **fields: Any
) -> ContactItem:
    """A Salesforce Contact as the org reports it."""
    return ContactItem(
        id=contact_id or f"003{next(id_list):05d}",
        first_name=first,
        last_name=last,
        email=email,
        owner_id=owner_id,
        **fields,
    )


def contact_of(person: Person, **fields: Any) -> ContactItem:
    """A world Contact (Bob, Carol, …) as the org reports it: owner and Account name included."""
    accounts = {a.id: a.name for a in ACCOUNTS}
    contact = ContactItem(
        id=person.id,
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
        owner_id=person.owner_id,
        account_id=person.account_id,
        company=accounts.get(person.account_id or "", ""),
    )
    return dataclasses.replace(contact, **fields)


def mailbox_contact(first: str, last: str, email: str, **fields: Any) -> ContactItem:
    """A contact the user created in the mailbox folder `Salesforce Contacts`."""
    return ContactItem(id=f"person-{next(id_list)}", first_name=first, last_name=last, email=email, **fields)


def changes(*items: T, deleted: Iterable[str] = ()) -> SideChanges[T]:
    """One side's changes: these items changed, these ids disappeared."""
    return SideChanges(changed=tuple(items), deleted=tuple(deleted))


NOTHING: SideChanges[Any] = SideChanges()


# --- reading plans ------------------------------------------------------------------------------


def writes(plan: Plan, side: Side | None = None, kind: type | None = None) -> list[Any]:
    """The plan's writes, optionally only one side's and one type's (Create / Update / Delete)."""
    return [
        a.write
        for a in plan.actions
        if a.write is not None
        and (side is None or a.side is side)
        and (kind is None or isinstance(a.write, kind))
    ]


def creates(plan: Plan, side: Side) -> list[Create]:
    return [w for w in writes(plan, side, Create) if isinstance(w, Create)]


def updates(plan: Plan, side: Side) -> list[Update]:
    return [w for w in writes(plan, side, Update) if isinstance(w, Update)]


def deletes(plan: Plan, side: Side) -> list[Delete]:
    return [w for w in writes(plan, side, Delete) if isinstance(w, Delete)]


def link_only(plan: Plan) -> list[LinkChange]:
    """Link changes of actions that write nothing (unlink, adopt, new base)."""
    return [a.link for a in plan.actions if a.write is None and a.link is not None]


def reasons(plan: Plan) -> list[str]:
    return [s.reason.value for s in plan.skips]


def issue_codes(plan: Plan) -> list[str]:
    return [i.code for i in plan.issues]


def only_action(plan: Plan) -> Action:
    assert len(plan.actions) == 1, plan.actions
    return plan.actions[0]


# --- links --------------------------------------------------------------------------------------


def link_after(action: Action, new_id: str, stream: Stream) -> Link:
    """The link the session stores once `action` succeeded and its create returned `new_id`."""
    change = action.link
    assert change is not None and not change.remove
    return Link(
        stream=stream,
        mailbox_id=change.mailbox_id or new_id,
        salesforce_id=change.salesforce_id or new_id,
        origin=change.origin,
        fields=dict(change.fields),
        natural_key=change.natural_key,
    )


def with_links(links: Sequence[Link], **overrides: Any) -> StreamContext:
    """The world's context with these links stored."""
    return ctx(
        links={link.mailbox_id: link for link in links},
        links_by_salesforce_id={link.salesforce_id: link for link in links},
        **overrides,
    )


def replace(item: T, **fields: Any) -> T:
    """A copy of a frozen item with some fields changed."""
    return dataclasses.replace(item, **fields)  # type: ignore[type-var]
