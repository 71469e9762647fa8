"""The session's product rules, as pure engine functions with `now` handed in (SPEC §2, §3.4,
§3.5, §3.7, §7.2, §7.4, §7.5, §7.6), and the typed settings boundary they are fed from (SPEC §1)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rgsync.engine.guards import absent_from_full_listing, mass_deletion_guard
from rgsync.engine.schedule import adaptive_interval, budget_backoff, is_due
from rgsync.engine.settings_rules import DERIVED, resolve_email_mode, rules_from_values
from rgsync.engine.streams import (
    EmailInputs,
    bind_new_contacts,
    business_records_needed,
    needs,
    streams_to_run,
)
from rgsync.engine.types import Action, Identity, Plan, Rules, SideChanges, StreamContext
from rgsync.model import (
    Create,
    Delete,
    EmailMode,
    NewPerson,
    Person,
    PersonKind,
    RecordKind,
    SaveEmailsAs,
    Side,
    Stream,
)
from rgsync.settings import KEYS, load_settings
from rgsync.settings.effective import python_name

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_spec_2_due_check_honours_next_due_and_force() -> None:
    assert is_due(NOW, None)
    assert not is_due(NOW, NOW + HOUR)
    assert is_due(NOW, NOW + HOUR, forced=True)
    assert is_due(NOW + HOUR, NOW + HOUR)


def test_spec_7_2_idle_sessions_double_the_gap_up_to_four_times_the_interval() -> None:
    interval = timedelta(minutes=30)
    gap = None
    gaps = []
    for _ in range(5):
        nxt = adaptive_interval(NOW, interval, gap, changed=False, failed=False, budget_stopped=False)
        gap = nxt.gap
        gaps.append(gap)
    # The first session keeps the interval, then 60, 120, and never more than 4 × 30 minutes.
    assert [g.total_seconds() / 60 for g in gaps] == [30, 60, 120, 120, 120]
    changed = adaptive_interval(NOW, interval, gap, changed=True, failed=False, budget_stopped=False)
    assert changed.gap == interval and changed.due_at == NOW + interval
    failed = adaptive_interval(NOW, interval, gap, changed=False, failed=True, budget_stopped=False)
    assert failed.gap == interval


def test_spec_7_4_budget_back_off_is_30_min_2_5_h_then_4_5_h_and_holds_the_due_time() -> None:
    assert [budget_backoff(n) for n in range(5)] == [
        timedelta(minutes=30),
        timedelta(hours=2, minutes=30),
        *[timedelta(hours=4, minutes=30)] * 3,
    ]
    until = NOW + 3 * HOUR
    stopped = adaptive_interval(
        NOW, timedelta(minutes=30), None, changed=False, failed=True, budget_stopped=True, backoff_until=until
    )
    assert stopped.due_at == until and not stopped.reset_backoff
    assert adaptive_interval(NOW, HOUR, None, changed=False, failed=False, budget_stopped=False).reset_backoff


def _deletes(stream: Stream, side: Side, count: int) -> Plan:
    return Plan(actions=[Action(stream, side, Delete(RecordKind.TASK, f"id{n}")) for n in range(count)])


def test_spec_7_5_mass_deletion_guard_names_the_side_over_the_limit() -> None:
    plan = _deletes(Stream.TASKS, Side.SALESFORCE, 3)
    assert mass_deletion_guard(plan, Stream.TASKS, 3, allowed=False) is None
    guarded = mass_deletion_guard(plan, Stream.TASKS, 2, allowed=False)
    assert guarded is not None and (guarded.side, guarded.count, guarded.limit) == (Side.SALESFORCE, 3, 2)
    assert mass_deletion_guard(plan, Stream.TASKS, 2, allowed=True) is None  # --allow-mass-delete
    assert mass_deletion_guard(plan, Stream.CONTACTS, 0, allowed=False) is None  # another stream's deletes


def test_spec_7_6_a_linked_item_absent_from_a_full_listing_is_deleted() -> None:
    assert absent_from_full_listing(["a", "b", "c"], {"b", "x"}) == ("a", "c")
    assert absent_from_full_listing([], {"b"}) == ()


def test_spec_1_save_emails_as_auto_follows_enhanced_email() -> None:
    assert resolve_email_mode(SaveEmailsAs.AUTO, True) is EmailMode.EMAIL_MESSAGE
    assert resolve_email_mode(SaveEmailsAs.AUTO, False) is EmailMode.TASK
    assert resolve_email_mode(SaveEmailsAs.TASK, True) is EmailMode.TASK
    assert resolve_email_mode(SaveEmailsAs.EMAIL_MESSAGE, False) is EmailMode.EMAIL_MESSAGE


def test_spec_2_which_streams_run() -> None:
    off = Rules(sync_salesforce_calendar=False, auto_save_meetings=False, sync_salesforce_contacts=False)
    assert streams_to_run(off, {}) == (Stream.EMAILS,)
    # A switched-off stream still runs while it has links to clean up (SPEC §4.3, §5, §6.2).
    assert streams_to_run(off, {Stream.CONTACTS: True}) == (Stream.EMAILS, Stream.CONTACTS)
    on = Rules(sync_salesforce_tasks=True)
    assert streams_to_run(on, {}) == (Stream.EMAILS, Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)
    assert streams_to_run(on, {}, manual=True) == (Stream.EMAILS,)


def test_spec_3_5_business_records_looked_up_for_contacts_only() -> None:
    contact = Person("003A", PersonKind.CONTACT, "bob@globex.com", account_id="001G")
    lead = Person("00QL", PersonKind.LEAD, "eve@initech.com")
    wanted = business_records_needed({"bob@globex.com": (contact,), "eve@initech.com": (lead,)}, Rules())
    assert wanted.account_ids == {"001G"} and wanted.opportunities
    no_opps = business_records_needed({"bob@globex.com": (contact,)}, Rules(link_to_opportunities=False))
    assert no_opps.account_ids == {"001G"} and not no_opps.opportunities
    assert business_records_needed({"eve@initech.com": (lead,)}, Rules()).account_ids == frozenset()


def test_spec_3_4_new_contact_is_bound_to_the_account_created_for_its_domain() -> None:
    def person(kind: PersonKind, email: str, company: str = "") -> Action:
        record = NewPerson(kind, email, "", "Stone", company=company)
        return Action(Stream.EMAILS, Side.SALESFORCE, Create(RecordKind.CONTACT, email, record))

    bound = bind_new_contacts(
        [person(PersonKind.CONTACT, "bob@newco.com"), person(PersonKind.LEAD, "eve@newco.com")],
        {"newco.com": "001NEW"},
    )
    records = [a.write.record for a in bound if isinstance(a.write, Create)]
    assert [getattr(r, "account_id", None) for r in records] == ["001NEW", None]


def test_needs_of_tasks_and_contacts_is_nothing_and_emails_need_their_message_ids() -> None:
    ctx = StreamContext(identity=Identity("005U", "ann@acme.com"), rules=Rules(), now=NOW)
    assert needs(Stream.TASKS, SideChanges(), ctx).addresses == frozenset()
    assert needs(Stream.EMAILS, SideChanges(), ctx, EmailInputs()).message_ids == frozenset()


def test_spec_1_every_rules_field_is_filled_from_its_setting(tmp_path: Path) -> None:
    """A `Rules` field and the SPEC §1 key of the same name agree, so the session needs no
    hand-written line per setting; a misspelt field would keep its default and fail here."""
    by_name = {python_name(k): k for k in KEYS}
    for spec in dataclasses.fields(Rules):
        if spec.name not in DERIVED:
            assert spec.name in by_name, f"Rules.{spec.name} has no setting of that name"
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text(
        "[general.emails]\nhistory-days = 9\nauto-resolve = 'lead'\nsave-as = 'task'\n"
        "[general.contacts]\nscope = 'all'\n[sync]\nmax-deletes = 7\n"
        "[mailbox]\nsave-label = 'CRM'\n",
        encoding="utf-8",
    )
    effective = load_settings(settings_file).effective()
    rules = rules_from_values(effective.rules, enhanced_email=True, save_label=effective.mailbox.save_label)
    assert (rules.history_days, rules.auto_resolve.value, rules.contacts_scope.value) == (9, "lead", "all")
    assert (rules.max_deletes, rules.email_mode, rules.save_label) == (7, EmailMode.TASK, "CRM")
    assert effective.sources["history-days"] == "user" and effective.sources["max-deletes"] == "user"
    assert effective.sources["auto-save-emails"] == "default"
    for spec in dataclasses.fields(Rules):
        if spec.name not in DERIVED:
            assert type(getattr(rules, spec.name)) is type(getattr(Rules(), spec.name)), spec.name
