"""The back-off of items Salesforce refuses for good (SPEC §7.7): 1 h, 6 h, 24 h, then daily, or at
once when the item changed; rgsync's own sync-error mark is not a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rgsync.engine import backoff
from rgsync.model import LABEL_SYNC_ERROR, Address, EmailItem, Folder, HeldBack

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def email(**changes: object) -> EmailItem:
    values: dict[str, object] = {
        "mailbox_id": "m1",
        "message_id": "<m1@globex.com>",
        "thread_id": "t1",
        "folder": Folder.INBOX,
        "subject": "REJECTED terms",
        "sent_at": NOW - timedelta(days=1),
        "sender": Address("bob@globex.com", "Bob"),
        "to": (Address("ann@acme.com"),),
        "text_body": "Our counter-proposal.",
    }
    values.update(changes)
    return EmailItem(**values)  # type: ignore[arg-type]


def test_spec_7_7_the_schedule_is_one_six_and_twenty_four_hours_then_daily() -> None:
    assert [backoff.delay(n) for n in range(1, 7)] == [
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(hours=24),
        timedelta(days=1),
        timedelta(days=1),
        timedelta(days=1),
    ]


def test_spec_7_7_each_refusal_in_a_row_waits_longer_and_a_change_starts_again() -> None:
    first = backoff.after_refusal(None, NOW, "fp", "SF-VALIDATION")
    assert first == HeldBack(1, NOW + timedelta(hours=1), "fp", "SF-VALIDATION")
    later = NOW + timedelta(hours=1)
    second = backoff.after_refusal(first, later, "fp", "SF-VALIDATION")
    assert (second.attempts, second.next_attempt) == (2, later + timedelta(hours=6))
    changed = backoff.after_refusal(second, later, "other", "SF-VALIDATION")
    assert (changed.attempts, changed.next_attempt) == (1, later + timedelta(hours=1))


def test_spec_7_7_an_item_waits_until_its_time_unless_it_changed() -> None:
    hold = HeldBack(1, NOW + timedelta(hours=1), "fp", "SF-VALIDATION")
    assert backoff.holds_back(hold, NOW, "fp")
    assert not backoff.holds_back(hold, NOW + timedelta(hours=1), "fp")
    assert not backoff.holds_back(hold, NOW, "changed")
    assert not backoff.holds_back(None, NOW, "fp")
    assert backoff.is_due(hold, NOW + timedelta(hours=1)) and not backoff.is_due(hold, NOW)


def test_spec_7_7_only_refusals_a_resend_cannot_cure_are_held_back() -> None:
    assert backoff.is_permanent("SF-VALIDATION") and backoff.is_permanent("SF-REQUIRED-FIELD")
    assert backoff.is_permanent("SF-DUPLICATE")
    assert not backoff.is_permanent("SF-UNABLE_TO_LOCK_ROW") and not backoff.is_permanent("")


def test_spec_7_7_our_sync_error_mark_is_no_change_but_the_users_labels_are() -> None:
    own = (LABEL_SYNC_ERROR,)
    base = backoff.email_fingerprint(email(), own)
    assert backoff.email_fingerprint(email(labels=frozenset({LABEL_SYNC_ERROR})), own) == base
    assert backoff.email_fingerprint(email(labels=frozenset({"Salesforce"})), own) != base
    assert backoff.email_fingerprint(email(folder=Folder.SENT), own) != base
    assert backoff.email_fingerprint(email(subject="Fixed terms"), own) != base
