"""The pure rules behind one record per shared meeting or email across a fleet (SPEC §3.7, §4.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from rgsync.engine.shared import join_colleague_emails, meeting_claim_key, relation_type
from rgsync.engine.types import Action, Identity, LinkChange, Plan
from rgsync.model import Address, CalendarItem, Create, EmailItem, EmailRecipient, Folder, Side, Stream

WHEN = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ME = Identity(user_id="005000000000001AAA", address="ann@acme.com", aliases=frozenset({"a.lee@acme.com"}))


def _meeting(uid: str, start: datetime) -> CalendarItem:
    return CalendarItem("m1", "Kick-off", start, start + timedelta(hours=1), ical_uid=uid)


def test_spec_4_2_a_meeting_is_the_same_in_every_calendar_by_uid_and_utc_start() -> None:
    berlin = WHEN.astimezone(timezone(timedelta(hours=1)))
    assert meeting_claim_key(_meeting("k@x", WHEN)) == meeting_claim_key(_meeting("k@x", berlin))
    assert meeting_claim_key(_meeting("k@x", WHEN)) == "k@x|2026-03-02T15:00:00Z"
    # Occurrences of one series share the UID; the start tells them apart.
    assert meeting_claim_key(_meeting("k@x", WHEN + timedelta(days=7))) != meeting_claim_key(
        _meeting("k@x", WHEN)
    )
    assert meeting_claim_key(_meeting("  ", WHEN)) is None


def _email(**fields: object) -> EmailItem:
    base: dict[str, object] = {
        "mailbox_id": "g1",
        "message_id": "<a@cust.com>",
        "thread_id": "t1",
        "folder": Folder.INBOX,
        "subject": "Terms",
        "sent_at": WHEN,
        "sender": Address("bea@cust.com"),
        "to": (Address("bob@acme.com"),),
    }
    base.update(fields)
    return EmailItem(**base)  # type: ignore[arg-type]


def test_spec_3_7_the_user_is_related_as_the_email_shows_them() -> None:
    assert relation_type(_email(cc=(Address("A.Lee@acme.com"),)), ME) == ("CcAddress", "A.Lee@acme.com")
    assert relation_type(_email(sender=Address("ann@acme.com")), ME) == ("FromAddress", "ann@acme.com")
    assert relation_type(_email(), ME) == ("ToAddress", "ann@acme.com")  # reached through a list


def test_spec_3_7_a_colleagues_email_message_gets_a_relation_and_an_email_task_only_a_link() -> None:
    email = _email(to=(Address("ann@acme.com"),))
    link = LinkChange("g1", "02s000000000001AAA", Side.MAILBOX, natural_key="<a@cust.com>")
    plan = Plan(actions=[Action(Stream.EMAILS, Side.SALESFORCE, None, link, "Terms")])
    joined = join_colleague_emails(plan, {"<a@cust.com>": "02s000000000001AAA"}, [email], ME)
    write = joined.actions[0].write
    assert isinstance(write, Create) and write.key == f"recipient|02s000000000001AAA|{ME.user_id}"
    assert write.record == EmailRecipient("02s000000000001AAA", ME.user_id, "ann@acme.com", "ToAddress")
    task_link = LinkChange("g1", "00T000000000001AAA", Side.MAILBOX, natural_key="<a@cust.com>")
    task_plan = Plan(actions=[Action(Stream.EMAILS, Side.SALESFORCE, None, task_link, "Terms")])
    kept = join_colleague_emails(task_plan, {"<a@cust.com>": "00T000000000001AAA"}, [email], ME)
    assert kept.actions[0].write is None
