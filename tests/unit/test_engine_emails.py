"""The email planner, rule by rule (SPEC §3, §7.8), plus properties that hold for any batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgsync.engine.email_items import is_service_message, message_key
from rgsync.engine.emails import (
    auto_resolve_domains,
    email_lookups,
    plan_auto_resolve,
    plan_emails,
)
from rgsync.engine.types import (
    AutoResolve,
    Direction,
    Directory,
    Plan,
    SkipReason,
    StreamContext,
    ThreadLinks,
)
from rgsync.model import (
    Account,
    Address,
    Create,
    EmailActivity,
    EmailItem,
    EmailMode,
    Folder,
    Link,
    MarkLabel,
    NewAccount,
    NewPerson,
    Person,
    PersonKind,
    RecordKind,
    Side,
    Stream,
)
from tests.unit.world import (
    ANN,
    ANN_ALIAS,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    FRANK,
    GLOBEX,
    GUS,
    NOW,
    O2,
    XENA,
    addr,
    ctx,
    directory,
    email,
    people_index,
)

LABELLED = frozenset({"Salesforce"})
THREAD_LABELLED = frozenset({"Salesforce Thread"})


def plan(
    emails: Sequence[EmailItem],
    context: StreamContext | None = None,
    org: Directory | None = None,
    tracked: dict[str, ThreadLinks] | None = None,
    **kwargs: Sequence[str],
) -> Plan:
    return plan_emails(emails, org or directory(), context or ctx(), tracked or {}, **kwargs)


def records(p: Plan) -> dict[str, EmailActivity]:
    """Saved emails by mailbox id."""
    out: dict[str, EmailActivity] = {}
    for action in p.actions:
        if isinstance(action.write, Create) and isinstance(action.write.record, EmailActivity):
            assert action.link is not None
            out[action.link.mailbox_id] = action.write.record
    return out


def reasons(p: Plan) -> dict[str, SkipReason]:
    return {s.item_id: s.reason for s in p.skips}


# --- SPEC §3.1 candidates ------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [Folder.DRAFTS, Folder.JUNK, Folder.TRASH, Folder.OTHER])
def test_spec_3_1_only_inbox_and_sent_are_saved(folder: Folder) -> None:
    item = email(BOB.email, folder=folder, labels=LABELLED)  # not even when labelled
    assert reasons(plan([item])) == {item.mailbox_id: SkipReason.NOT_INBOX_OR_SENT}


def test_spec_3_1_sent_emails_are_saved() -> None:
    item = email(ANN, [BOB.email])
    assert item.folder is Folder.SENT
    assert records(plan([item]))[item.mailbox_id].who_ids == (BOB.id,)


@pytest.mark.parametrize(
    ("direction", "saved_folder"), [(Direction.INBOUND, Folder.INBOX), (Direction.OUTBOUND, Folder.SENT)]
)
def test_spec_3_1_email_direction_narrows_to_one_folder(direction: Direction, saved_folder: Folder) -> None:
    inbound = email(BOB.email)
    outbound = email(ANN, [BOB.email])
    p = plan([inbound, outbound], ctx(email_direction=direction))
    kept = inbound if saved_folder is Folder.INBOX else outbound
    other = outbound if kept is inbound else inbound
    assert list(records(p)) == [kept.mailbox_id]
    assert reasons(p) == {other.mailbox_id: SkipReason.DIRECTION}


def test_spec_3_1_first_session_considers_history_days_only() -> None:
    inside = email(BOB.email, sent_at=NOW - timedelta(days=5, hours=23))
    outside = email(BOB.email, sent_at=NOW - timedelta(days=6, minutes=1))
    p = plan([inside, outside], ctx(first_session=True, history_days=6))
    assert list(records(p)) == [inside.mailbox_id]
    assert reasons(p) == {outside.mailbox_id: SkipReason.OUTSIDE_HISTORY_WINDOW}


def test_spec_3_1_later_sessions_take_whatever_arrived() -> None:
    old = email(BOB.email, sent_at=NOW - timedelta(days=40))
    assert list(records(plan([old], ctx(first_session=False)))) == [old.mailbox_id]


@pytest.mark.parametrize(
    "fields",
    [
        {"content_type": "multipart/report; report-type=delivery-status"},
        {"content_type": "message/disposition-notification"},
        {"content_type": "multipart/report; report-type=disposition-notification"},
        {"content_type": "text/calendar; method=REQUEST"},
        {"auto_submitted": "auto-replied"},
        {"auto_submitted": "auto-generated; owner-email=bob@globex.com"},
        {"item_class": "IPM.Schedule.Meeting.Request"},
        {"item_class": "IPM.Schedule.Meeting.Resp.Pos"},
        {"item_class": "REPORT.IPM.Note.NDR"},
        {"item_class": "REPORT.IPM.Note.IPNRN"},
        {"item_class": "IPM.Note.Rules.OofTemplate.Microsoft"},
    ],
)
def test_spec_3_1_service_messages_are_never_saved(fields: dict[str, Any]) -> None:
    item = email(BOB.email, labels=LABELLED, **fields)
    assert is_service_message(item)
    assert reasons(plan([item])) == {item.mailbox_id: SkipReason.SERVICE_MESSAGE}


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.globex.com", "postmaster@globex.com"])
def test_spec_3_1_bounces_from_mail_daemons_are_service_messages(sender: str) -> None:
    assert reasons(plan([item := email(sender)])) == {item.mailbox_id: SkipReason.SERVICE_MESSAGE}


def test_spec_3_1_ordinary_emails_are_not_service_messages() -> None:
    ordinary: list[dict[str, Any]] = [
        {},
        {"auto_submitted": "no"},
        {"item_class": "IPM.Note"},
        {"content_type": "multipart/mixed"},
    ]
    for fields in ordinary:
        assert not is_service_message(email(BOB.email, **fields))


def test_spec_7_8_unreadable_email_is_skipped_without_an_issue() -> None:
    item = email(BOB.email, unreadable="body could not be decoded")
    p = plan([item])
    assert reasons(p) == {item.mailbox_id: SkipReason.UNREADABLE}
    assert p.issues == []


# --- SPEC §3.2 participants ----------------------------------------------------------------------


def test_spec_3_2_bcc_is_never_matched() -> None:
    item = email(ANN, [FRANK], bcc=(addr(BOB.email),))
    assert reasons(plan([item])) == {item.mailbox_id: SkipReason.INTERNAL}


def test_spec_3_2_aliases_are_the_users_own_addresses() -> None:
    item = email(ANN_ALIAS, [FRANK])
    assert reasons(plan([item])) == {item.mailbox_id: SkipReason.INTERNAL}


def test_spec_3_2_blocklisted_participant_is_not_linked() -> None:
    record = records(plan([email(XENA.email, [ANN, BOB.email])])).popitem()[1]
    assert record.who_ids == (BOB.id,)


def test_spec_3_2_blocklisted_outsider_and_colleagues_only_is_blocklisted() -> None:
    item = email(FRANK, [ANN, XENA.email])
    assert reasons(plan([item])) == {item.mailbox_id: SkipReason.BLOCKLISTED}


def test_spec_3_2_user_address_list_blocks_one_address() -> None:
    item = email(BOB.email)
    assert reasons(plan([item], ctx(addresses=frozenset({BOB.email})))) == {
        item.mailbox_id: SkipReason.BLOCKLISTED
    }


def test_spec_7_8_invalid_addresses_are_ignored_and_the_email_still_considered() -> None:
    item = email(Address("undisclosed-recipients:;"), [Address("not an address"), addr(BOB.email)])
    assert records(plan([item]))[item.mailbox_id].who_ids == (BOB.id,)


# --- SPEC §3.3 resolution ------------------------------------------------------------------------


def test_spec_3_3_unknown_people_are_not_saved() -> None:
    item = email("stranger@globex.com")
    assert reasons(plan([item])) == {item.mailbox_id: SkipReason.NO_RELATED_RECORD}


def test_spec_3_3_contact_is_linked_rather_than_lead_for_one_address() -> None:
    lead = Person("00QBOB", PersonKind.LEAD, BOB.email)
    org = directory(people={**directory().people, **people_index([lead, BOB])})
    assert records(plan([item := email(BOB.email)], org=org))[item.mailbox_id].who_ids == (BOB.id,)


def test_spec_3_3_lookups_ask_only_for_external_addresses_of_candidates() -> None:
    emails = [
        email(BOB.email, [ANN, XENA.email], ["Carol@Initech.com"]),
        email("skipped@junk.com", folder=Folder.JUNK),
        email("dsn@x.com", content_type="multipart/report"),
        email(FRANK, [ANN]),
    ]
    needs = email_lookups(emails, ctx(), {})
    assert needs.addresses == {BOB.email, CAROL.email}
    assert needs.message_ids == {message_key(emails[0]), message_key(emails[3])}


def test_spec_3_3_auto_save_off_needs_lookups_only_for_manual_saves() -> None:
    labelled = email(BOB.email, labels=LABELLED)
    by_command = email(CAROL.email)
    plain = email(ERIN.email)
    needs = email_lookups(
        [labelled, by_command, plain], ctx(auto_save_emails=False), {}, [by_command.mailbox_id]
    )
    assert needs.addresses == {BOB.email, CAROL.email}


# --- SPEC §3.4 auto-resolve ----------------------------------------------------------------------


def test_spec_3_4_contact_mode_creates_one_account_per_new_domain_first() -> None:
    emails = [
        email(Address("nia@newco.com", "New, Nia"), [ANN], [Address("max@newco.com", "Max Mustermann")]),
        email("zed@globex.com"),
    ]
    context = ctx(auto_resolve=AutoResolve.CONTACT)
    assert auto_resolve_domains(emails, directory(), context, {}) == {"newco.com", "globex.com"}
    actions = plan_auto_resolve(emails, directory(), context, {})
    writes = [a.write for a in actions]
    assert all(isinstance(w, Create) for w in writes)
    assert [(w.kind, w.key) for w in writes if isinstance(w, Create)] == [
        (RecordKind.ACCOUNT, "newco.com"),
        (RecordKind.CONTACT, "nia@newco.com"),
        (RecordKind.CONTACT, "max@newco.com"),
        (RecordKind.CONTACT, "zed@globex.com"),
    ]
    records_ = [w.record for w in writes if isinstance(w, Create)]
    assert records_[0] == NewAccount(name="Newco", website="newco.com")
    nia, max_, zed = records_[1:]
    assert isinstance(nia, NewPerson) and isinstance(max_, NewPerson) and isinstance(zed, NewPerson)
    assert (nia.first_name, nia.last_name, nia.account_id, nia.company) == ("Nia", "New", None, "newco.com")
    assert (max_.first_name, max_.last_name) == ("Max", "Mustermann")
    assert (zed.account_id, zed.company, zed.last_name, zed.owner_id) == (GLOBEX.id, "Globex", "zed", "005A")


def test_spec_3_4_lead_mode_takes_company_from_matching_account() -> None:
    ibm = Account("001IBM", "International Business Machines", "https://www.ibm.com")
    org = directory(accounts_by_domain={**directory().accounts_by_domain, "ibm.com": ibm})
    emails = [email("zed@ibm.com"), email("nia@newco.co.uk")]
    actions = plan_auto_resolve(emails, org, ctx(auto_resolve=AutoResolve.LEAD), {})
    people = [a.write.record for a in actions if isinstance(a.write, Create)]
    assert [(p.kind, p.company) for p in people if isinstance(p, NewPerson)] == [
        (PersonKind.LEAD, "International Business Machines"),
        (PersonKind.LEAD, "Newco"),
    ]
    assert all(isinstance(p, NewPerson) for p in people)


@pytest.mark.parametrize(
    ("item", "overrides", "manual"),
    [
        (email("pal@yahoo.com"), {"block_free_email_domains": False}, False),  # free mail
        (email("x@blocked.com"), {}, False),  # blocklisted
        (email(FRANK, [ANN], ["new@acme.io"]), {}, False),  # internal
        (email("zed@newco.com", labels=LABELLED), {}, False),  # manual save (label)
        (email("zed@newco.com"), {}, True),  # manual save (rgsync save)
        (email("zed@newco.com"), {"auto_save_emails": False}, False),  # skipped anyway
        (email("zed@newco.com", content_type="multipart/report"), {}, False),  # service message
        (email("zed@newco.com", folder=Folder.JUNK), {}, False),  # spam is never read
    ],
)
def test_spec_3_4_auto_resolve_never_creates_for(
    item: EmailItem, overrides: dict[str, bool], manual: bool
) -> None:
    context = ctx(auto_resolve=AutoResolve.CONTACT, **overrides)
    ids = [item.mailbox_id] if manual else []
    assert plan_auto_resolve([item], directory(), context, {}, ids) == []
    assert auto_resolve_domains([item], directory(), context, {}, ids) == frozenset()


def test_spec_3_4_auto_resolve_off_creates_nothing() -> None:
    assert plan_auto_resolve([email("zed@newco.com")], directory(), ctx(), {}) == []


def test_spec_3_4_no_records_for_an_email_already_saved_in_the_org() -> None:
    item = email("zed@newco.com", message_id="<a@b>")
    org = directory(existing_emails={"<a@b>": "02sX"})
    assert plan_auto_resolve([item], org, ctx(auto_resolve=AutoResolve.LEAD), {}) == []


def test_spec_3_4_tracked_threads_do_not_auto_resolve_new_recipients() -> None:
    item = email("newguy@other.com", thread_id="T")
    context = ctx(auto_resolve=AutoResolve.LEAD, auto_save_threads=True)
    tracked = {"T": ThreadLinks("T", (BOB.id,), O2.id)}
    assert plan_auto_resolve([item], directory(), context, tracked) == []
    starter = email(BOB.email, thread_id="T2", labels=THREAD_LABELLED)
    later = email("newguy@other.com", thread_id="T2")
    assert plan_auto_resolve([starter, later], directory(), context, {}) == []


# --- SPEC §3.5 linking, through the planner --------------------------------------------------------


def test_spec_3_5_leads_and_contacts_together_link_contacts_and_opportunity() -> None:
    record = records(plan([item := email(ERIN.email, [ANN, BOB.email])]))[item.mailbox_id]
    assert (record.who_ids, record.what_id) == ((BOB.id,), O2.id)


def test_spec_3_7_who_ids_are_capped_at_50() -> None:
    many = [
        Person(f"003P{i:03}", PersonKind.CONTACT, f"p{i}@globex.com", account_id=GLOBEX.id) for i in range(70)
    ]
    org = directory(people={**directory().people, **people_index(many)})
    item = email(BOB.email, [ANN, *(p.email for p in many)])
    record = records(plan([item], org=org))[item.mailbox_id]
    assert len(record.who_ids) == 50 and record.who_ids[0] == BOB.id


# --- SPEC §3.6 threads and manual saving ---------------------------------------------------------


def test_spec_3_6_rgsync_save_saves_whatever_the_auto_save_settings() -> None:
    item = email(BOB.email, folder=Folder.SENT)
    p = plan([item], ctx(auto_save_emails=False), manual=[item.mailbox_id])
    record = records(p)[item.mailbox_id]
    # A manual save links people and their Account, never an Opportunity by rule.
    assert (record.who_ids, record.what_id) == ((BOB.id,), GLOBEX.id)


def test_spec_3_6_manual_save_links_only_non_blocklisted_people() -> None:
    item = email(XENA.email, [ANN, DAVE.email], labels=LABELLED)
    record = records(plan([item], ctx(auto_save_emails=False)))[item.mailbox_id]
    assert record.who_ids == () and record.what_id is None


def test_spec_3_6_manual_save_of_internal_email_is_saved_without_links() -> None:
    item = email(FRANK, [ANN], labels=LABELLED)
    assert records(plan([item]))[item.mailbox_id] == EmailActivity(
        item, EmailMode.TASK, (), None, owner_id="005A"
    )


def test_spec_3_6_manual_save_rescues_email_rules_would_skip() -> None:
    item = email(GUS.email, labels=LABELLED)  # by rule: no opportunity or account
    record = records(plan([item]))[item.mailbox_id]
    assert (record.who_ids, record.what_id) == ((GUS.id,), None)


def test_spec_3_6_thread_label_starts_tracking_with_the_first_emails_links() -> None:
    first = email(BOB.email, thread_id="T", labels=THREAD_LABELLED)
    p = plan([first], ctx(auto_save_threads=True))
    assert p.tracked_threads == [ThreadLinks("T", (BOB.id,), O2.id)]


def test_spec_3_6_rgsync_save_thread_starts_tracking() -> None:
    first = email(CAROL.email, thread_id="T")
    p = plan([first], ctx(auto_save_threads=True, auto_save_emails=False), manual_thread=[first.mailbox_id])
    assert p.tracked_threads == [ThreadLinks("T", (CAROL.id,), "001INITECH")]
    assert first.mailbox_id in records(p)


def test_spec_3_6_tracked_thread_reuses_links_even_when_auto_save_is_off() -> None:
    later = email("newguy@other.com", [ANN], [CAROL.email], thread_id="T")
    tracked = {"T": ThreadLinks("T", (BOB.id,), O2.id)}
    record = records(plan([later], ctx(auto_save_threads=True, auto_save_emails=False), tracked=tracked))
    assert (record[later.mailbox_id].who_ids, record[later.mailbox_id].what_id) == ((BOB.id,), O2.id)


def test_spec_3_6_tracked_thread_email_among_colleagues_only_is_not_saved() -> None:
    later = email(FRANK, [ANN], thread_id="T")
    tracked = {"T": ThreadLinks("T", (BOB.id,), O2.id)}
    assert reasons(plan([later], ctx(auto_save_threads=True), tracked=tracked)) == {
        later.mailbox_id: SkipReason.INTERNAL
    }


def test_spec_3_6_tracking_switched_off_ignores_stored_threads() -> None:
    later = email("newguy@other.com", thread_id="T")
    tracked = {"T": ThreadLinks("T", (BOB.id,), O2.id)}
    assert reasons(plan([later], ctx(auto_save_threads=False), tracked=tracked)) == {
        later.mailbox_id: SkipReason.NO_RELATED_RECORD
    }


def test_spec_3_6_saved_email_labelled_thread_later_starts_tracking_without_saving_again() -> None:
    item = email(BOB.email, thread_id="T", labels=THREAD_LABELLED)
    link = Link(Stream.EMAILS, item.mailbox_id, "00TSAVED", Side.MAILBOX, natural_key=message_key(item))
    p = plan([item], ctx(auto_save_threads=True, links={item.mailbox_id: link}))
    assert p.actions == [] and p.skips == []
    assert p.tracked_threads == [ThreadLinks("T", (BOB.id,), O2.id)]


def test_spec_3_6_saved_emails_get_the_salesforce_label() -> None:
    new = email(BOB.email)
    already = email(CAROL.email, labels=LABELLED)
    p = plan([new, already])
    assert p.labels == [MarkLabel(new.mailbox_id, "Salesforce")]


# --- SPEC §3.7 what is written, once per Message-ID -----------------------------------------------


def test_spec_3_7_create_carries_mode_owner_key_and_link() -> None:
    item = email(BOB.email, message_id="<abc@globex.com>")
    p = plan([item], ctx(email_mode=EmailMode.EMAIL_MESSAGE))
    [action] = p.actions
    assert (action.stream, action.side) == (Stream.EMAILS, Side.SALESFORCE)
    assert action.write == Create(
        RecordKind.EMAIL,
        "<abc@globex.com>",
        EmailActivity(item, EmailMode.EMAIL_MESSAGE, (BOB.id,), O2.id, "005A"),
    )
    assert action.link is not None
    assert (action.link.mailbox_id, action.link.salesforce_id, action.link.natural_key) == (
        item.mailbox_id,
        "",
        "<abc@globex.com>",
    )
    assert action.link.origin is Side.MAILBOX


def test_spec_3_7_already_linked_email_is_ignored() -> None:
    item = email(BOB.email)
    link = Link(Stream.EMAILS, item.mailbox_id, "00TSAVED", Side.MAILBOX, natural_key=message_key(item))
    p = plan([item], ctx(links={item.mailbox_id: link}))
    assert (p.actions, p.skips, p.labels) == ([], [], [])


@pytest.mark.parametrize("sent_first", [True, False])
def test_spec_3_7_inbox_and_sent_copies_are_saved_once_from_sent(sent_first: bool) -> None:
    inbox = email(ANN, [BOB.email], message_id="<self@acme.com>", folder=Folder.INBOX)
    sent = email(ANN, [BOB.email], message_id="<self@acme.com>", folder=Folder.SENT)
    p = plan([sent, inbox] if sent_first else [inbox, sent])
    assert list(records(p)) == [sent.mailbox_id]
    assert reasons(p) == {inbox.mailbox_id: SkipReason.ALREADY_SAVED}


def test_spec_3_7_copy_of_an_email_saved_earlier_is_linked_to_it() -> None:
    sent = email(ANN, [BOB.email], message_id="<self@acme.com>")
    link = Link(Stream.EMAILS, "mbx-inbox-copy", "00TSAVED", Side.MAILBOX, natural_key="<self@acme.com>")
    p = plan([sent], ctx(links={"mbx-inbox-copy": link}))
    [action] = p.actions
    assert action.write is None and action.link is not None
    assert (action.link.mailbox_id, action.link.salesforce_id) == (sent.mailbox_id, "00TSAVED")


def test_spec_7_8_missing_message_id_gets_a_stable_key_from_the_mailbox_id() -> None:
    item = email(BOB.email, message_id="", mailbox_id="AAMk/x+1=")
    again = email(BOB.email, message_id="  ", mailbox_id="AAMk/x+1=")
    other = email(BOB.email, message_id="", mailbox_id="AAMk/x+2=")
    assert message_key(item) == message_key(again) != message_key(other)
    [action] = plan([item]).actions
    assert isinstance(action.write, Create) and isinstance(action.write.record, EmailActivity)
    assert action.write.key == message_key(item)
    assert action.write.record.email.message_id == action.write.key


def test_spec_7_8_message_id_is_cleaned_into_one_form() -> None:
    assert message_key(email(None, message_id="abc@x.com")) == "<abc@x.com>"
    assert message_key(email(None, message_id=" <abc@\r\n x.com> ")) == "<abc@x.com>"


def test_spec_7_8_email_without_sender_is_still_considered() -> None:
    item = email(None, [ANN, BOB.email])
    assert records(plan([item]))[item.mailbox_id].who_ids == (BOB.id,)


# --- properties ------------------------------------------------------------------------------------

POOL = [
    ANN,
    ANN_ALIAS,
    FRANK,
    "ops@acme.io",
    BOB.email,
    CAROL.email,
    DAVE.email,
    GUS.email,
    XENA.email,
    ERIN.email,
    "zed@globex.com",
    "pal@yahoo.com",
    "nobody",
]

emails_strategy = st.lists(
    st.builds(
        lambda sender, to, cc, folder, labelled, mid, thread, days: email(
            sender,
            to,
            cc,
            folder=folder,
            labels=frozenset(
                {"Salesforce"} if labelled == 1 else {"Salesforce Thread"} if labelled == 2 else ()
            ),
            message_id=f"<{mid}@x>",
            thread_id=f"T{thread}",
            sent_at=datetime(2026, 11, 28, 10, tzinfo=UTC) - timedelta(days=days),
        ),
        st.sampled_from(POOL),
        st.lists(st.sampled_from(POOL), max_size=3),
        st.lists(st.sampled_from(POOL), max_size=2),
        st.sampled_from([Folder.INBOX, Folder.SENT, Folder.JUNK]),
        st.integers(0, 2),
        st.integers(0, 5),
        st.integers(0, 3),
        st.integers(0, 10),
    ),
    max_size=8,
)
contexts = st.builds(
    lambda threads, auto, first, free: ctx(
        auto_save_threads=threads, auto_save_emails=auto, first_session=first, block_free_email_domains=free
    ),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(emails_strategy, contexts)
def test_property_each_email_is_saved_at_most_once_and_accounted_for(
    emails: list[EmailItem], context: StreamContext
) -> None:
    p = plan(emails, context)
    creates = [a.write.key for a in p.actions if isinstance(a.write, Create)]
    assert len(creates) == len(set(creates)), "two creates for one Message-ID"
    handled = [a.link.mailbox_id for a in p.actions if a.link] + [s.item_id for s in p.skips]
    assert sorted(handled) == sorted(e.mailbox_id for e in emails), "every email gets exactly one outcome"


@settings(max_examples=150, deadline=None)
@given(emails_strategy, contexts)
def test_property_blocklisted_and_internal_people_are_never_linked(
    emails: list[EmailItem], context: StreamContext
) -> None:
    # Make Xena's domain blocklisted and give Frank a Contact record: neither may ever be linked.
    frank_contact = Person("003FRANK", PersonKind.CONTACT, FRANK, account_id=GLOBEX.id)
    org = directory(people={**directory().people, **people_index([frank_contact])})
    p = plan(emails, context, org)
    free_blocked = context.rules.blocklist.block_free_email_domains
    for record in records(p).values():
        assert XENA.id not in record.who_ids
        assert frank_contact.id not in record.who_ids
        if free_blocked:
            assert DAVE.id not in record.who_ids
