"""RULE-CASES.md E1–E22 and H1–H2 on the email planner (SPEC §3).

Each test runs the session's order of planner calls (lookups → auto-resolve → plan) against the
world of tests/unit/world.py and asserts the outcome the case requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import tests.unit.world as world
from rgsync.engine.emails import email_lookups, plan_auto_resolve, plan_emails
from rgsync.engine.types import (
    Action,
    AutoResolve,
    Direction,
    Directory,
    Plan,
    SkipReason,
    StreamContext,
    ThreadLinks,
)
from rgsync.model import (
    Address,
    Create,
    EmailActivity,
    EmailItem,
    EmailMode,
    Folder,
    NewAccount,
    NewPerson,
    Person,
    PersonKind,
    RecordKind,
)
from tests.unit.world import (
    ANN,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    FRANK,
    GLOBEX,
    GUS,
    INITECH,
    O2,
    XENA,
    ctx,
    directory,
    email,
)


@dataclass
class Outcome:
    created: list[Action]  # auto-resolve creates
    plan: Plan


def run(
    emails: Sequence[EmailItem],
    context: StreamContext | None = None,
    org: Directory | None = None,
    tracked: dict[str, ThreadLinks] | None = None,
) -> Outcome:
    """What a session does with the planner: lookups, auto-resolve (executed here), plan."""
    context = context or ctx()
    org = org or directory()
    tracked = tracked or {}
    needs = email_lookups(emails, context, tracked)
    # The org answers only about addresses that were asked for.
    looked_up = {a: p for a, p in org.people.items() if a in needs.addresses}
    org = replace(org, people=looked_up)
    created = plan_auto_resolve(emails, org, context, tracked)
    new_people: list[Person] = []
    new_accounts = {}
    for n, action in enumerate(created):
        assert isinstance(action.write, Create)
        record = action.write.record
        if isinstance(record, NewAccount):
            new_accounts[action.write.key] = f"001NEW{n}"
        elif isinstance(record, NewPerson):
            account_id = record.account_id or new_accounts.get(record.company)
            new_people.append(
                Person(f"NEW{n}", record.kind, record.email, record.first_name, record.last_name, account_id)
            )
    # The session adds the people it created to the directory before planning.
    org = replace(org, people={**org.people, **world.people_index(new_people)})
    return Outcome(created, plan_emails(emails, org, context, tracked))


def saved(plan: Plan) -> EmailActivity:
    """The one email the plan saves."""
    assert not plan.skips, plan.skips
    assert len(plan.actions) == 1, plan.actions
    write = plan.actions[0].write
    assert isinstance(write, Create) and write.kind is RecordKind.EMAIL
    assert isinstance(write.record, EmailActivity)
    return write.record


def skipped(plan: Plan) -> SkipReason:
    """The reason the one email of the plan was not saved."""
    assert not plan.actions, plan.actions
    assert len(plan.skips) == 1, plan.skips
    return plan.skips[0].reason


def test_E1_bob_to_ann_links_bob_and_newest_own_globex_opportunity() -> None:
    record = saved(run([email(BOB.email)]).plan)
    assert record.who_ids == (BOB.id,)
    assert record.what_id == O2.id


def test_E2_carol_links_initech_because_o3_is_not_anns() -> None:
    record = saved(run([email(CAROL.email)]).plan)
    assert record.who_ids == (CAROL.id,)
    assert record.what_id == INITECH.id


def test_E3_lead_erin_is_linked_alone_without_what_id() -> None:
    record = saved(run([email(ERIN.email)]).plan)
    assert record.who_ids == (ERIN.id,)
    assert record.what_id is None


def test_E4_contact_without_account_is_not_saved() -> None:
    assert skipped(run([email(GUS.email)]).plan) is SkipReason.NO_OPPORTUNITY_OR_ACCOUNT


def test_E5_link_to_opportunities_off_saves_gus_without_what_id() -> None:
    record = saved(run([email(GUS.email)], ctx(link_to_opportunities=False)).plan)
    assert record.who_ids == (GUS.id,)
    assert record.what_id is None


def test_E6_sent_to_bob_cc_frank_links_bob_only() -> None:
    item = email(ANN, [BOB.email], [FRANK])
    assert item.folder is Folder.SENT
    record = saved(run([item]).plan)
    assert record.who_ids == (BOB.id,)
    assert record.what_id == O2.id


def test_E7_colleagues_only_is_internal() -> None:
    assert skipped(run([email(FRANK, [ANN], ["ops@acme.io"])]).plan) is SkipReason.INTERNAL


def test_E8_free_mail_sender_is_blocklisted() -> None:
    assert skipped(run([email(DAVE.email)]).plan) is SkipReason.BLOCKLISTED


def test_E9_free_mail_allowed_saves_dave_with_o2() -> None:
    record = saved(run([email(DAVE.email)], ctx(block_free_email_domains=False)).plan)
    assert record.who_ids == (DAVE.id,)
    assert record.what_id == O2.id


def test_E10_blocklisted_cc_is_left_out() -> None:
    record = saved(run([email(BOB.email, [ANN], [XENA.email])]).plan)
    assert record.who_ids == (BOB.id,)
    assert XENA.id not in record.who_ids


def test_E11_blocklisted_sender_only_is_blocklisted() -> None:
    assert skipped(run([email(XENA.email)]).plan) is SkipReason.BLOCKLISTED


def test_E12_unknown_cc_is_ignored_without_auto_resolve() -> None:
    outcome = run([email(BOB.email, [ANN], ["zed@globex.com"])])
    assert outcome.created == []
    assert saved(outcome.plan).who_ids == (BOB.id,)


def test_E13_auto_resolve_contact_creates_zed_under_globex() -> None:
    outcome = run([email(BOB.email, [ANN], ["zed@globex.com"])], ctx(auto_resolve=AutoResolve.CONTACT))
    assert len(outcome.created) == 1
    write = outcome.created[0].write
    assert isinstance(write, Create) and write.kind is RecordKind.CONTACT and write.key == "zed@globex.com"
    assert isinstance(write.record, NewPerson)
    assert write.record.account_id == GLOBEX.id
    assert write.record.last_name == "zed"
    record = saved(outcome.plan)
    assert record.who_ids[0] == BOB.id and len(record.who_ids) == 2
    assert record.what_id == O2.id


def test_E14_auto_resolve_lead_creates_nia_new_with_company_from_domain() -> None:
    outcome = run([email(Address("new@newco.com", "Nia New"))], ctx(auto_resolve=AutoResolve.LEAD))
    assert [a.write.kind for a in outcome.created if isinstance(a.write, Create)] == [RecordKind.LEAD]
    write = outcome.created[0].write
    assert isinstance(write, Create) and isinstance(write.record, NewPerson)
    person = write.record
    assert (person.kind, person.first_name, person.last_name) == (PersonKind.LEAD, "Nia", "New")
    assert person.company == "Newco"
    record = saved(outcome.plan)
    assert len(record.who_ids) == 1 and record.who_ids[0].startswith("NEW")
    assert record.what_id is None


def test_E15_free_mail_is_never_auto_resolved() -> None:
    outcome = run(
        [email("pal@yahoo.com")],
        ctx(auto_resolve=AutoResolve.CONTACT, block_free_email_domains=False),
    )
    assert outcome.created == []
    assert skipped(outcome.plan) is SkipReason.NO_RELATED_RECORD


def test_E16_junk_is_never_saved() -> None:
    outcome = run([email(BOB.email, folder=Folder.JUNK)])
    assert outcome.plan.actions == []
    assert skipped(outcome.plan) is SkipReason.NOT_INBOX_OR_SENT


def test_E17_delivery_status_notification_is_a_service_message() -> None:
    dsn = email("mailer-daemon@googlemail.com", content_type="multipart/report; report-type=delivery-status")
    assert skipped(run([dsn]).plan) is SkipReason.SERVICE_MESSAGE


def test_E18_first_session_ignores_emails_older_than_history_window() -> None:
    old = email(BOB.email, sent_at=datetime(2026, 11, 10, 9, 0, tzinfo=UTC))
    assert (
        skipped(run([old], ctx(first_session=True, history_days=6)).plan) is SkipReason.OUTSIDE_HISTORY_WINDOW
    )


def test_E19_email_saved_by_colleague_is_linked_not_created_again() -> None:
    item = email(BOB.email, message_id="<shared@globex.com>")
    org = directory(existing_emails={"<shared@globex.com>": "02sFRANKS"})
    outcome = run([item], ctx(email_mode=EmailMode.EMAIL_MESSAGE), org)
    assert outcome.plan.skips == []
    [action] = outcome.plan.actions
    assert action.write is None
    assert action.link is not None
    assert (action.link.mailbox_id, action.link.salesforce_id) == (item.mailbox_id, "02sFRANKS")


def test_E20_labelled_unknown_sender_is_saved_without_links_or_records() -> None:
    item = email("zed@nowhere.org", labels=frozenset({"Salesforce"}))
    outcome = run([item], ctx(auto_save_emails=False, auto_resolve=AutoResolve.CONTACT))
    assert outcome.created == []
    record = saved(outcome.plan)
    assert record.who_ids == () and record.what_id is None


def test_E21_outbound_only_skips_inbox_email() -> None:
    assert (
        skipped(run([email(BOB.email)], ctx(email_direction=Direction.OUTBOUND)).plan) is SkipReason.DIRECTION
    )


def test_E22_auto_save_off_skips_email() -> None:
    assert skipped(run([email(BOB.email)], ctx(auto_save_emails=False)).plan) is SkipReason.AUTO_SAVE_OFF


def _thread() -> tuple[EmailItem, EmailItem]:
    m1 = email(BOB.email, thread_id="T", labels=frozenset({"Salesforce Thread"}))
    m2 = email("newguy@other.com", thread_id="T")
    return m1, m2


def _record_of(plan: Plan, item: EmailItem) -> EmailActivity:
    [action] = [a for a in plan.actions if a.link and a.link.mailbox_id == item.mailbox_id]
    assert isinstance(action.write, Create) and isinstance(action.write.record, EmailActivity)
    return action.write.record


def test_H1_tracked_thread_saves_later_email_with_first_emails_links() -> None:
    m1, m2 = _thread()
    context = ctx(auto_save_threads=True)
    first = run([m1], context).plan
    assert (_record_of(first, m1).who_ids, _record_of(first, m1).what_id) == ((BOB.id,), O2.id)
    assert first.tracked_threads == [ThreadLinks("T", (BOB.id,), O2.id)]
    # Next session: the stored thread links are handed in.
    later = run([m2], context, tracked={"T": first.tracked_threads[0]}).plan
    record = _record_of(later, m2)
    assert (record.who_ids, record.what_id) == ((BOB.id,), O2.id)
    # Both in the same session behave the same.
    both = run([m2, m1], context).plan
    assert _record_of(both, m2).who_ids == (BOB.id,)
    assert both.skips == []


def test_H2_without_thread_tracking_later_email_needs_its_own_people() -> None:
    m1, m2 = _thread()
    plan = run([m1, m2], ctx(auto_save_threads=False)).plan
    assert _record_of(plan, m1).who_ids == (BOB.id,)
    assert plan.tracked_threads == []
    assert [(s.item_id, s.reason) for s in plan.skips] == [(m2.mailbox_id, SkipReason.NO_RELATED_RECORD)]
