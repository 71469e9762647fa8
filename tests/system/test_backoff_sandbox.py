"""An email Salesforce refuses for good waits for its back-off (SPEC §7.7), through the real Gmail
and Salesforce adapters against the emulators: a session that meets it again unchanged does not
send it, the session after its back-off ran out does (the wait grows), and a change the user makes
to it sends it at once. Its issue stays open all along, counting each refusal."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rgsync.model import LABEL_SAVE, HeldBack, Stream
from rgsync.state import StateStore, state_location
from tests.system.rule_cases_sandbox import REFUSED_SUBJECT, Box, open_box, refused_email_items, scenario_text


def _refusal(box: Box) -> tuple[int, HeldBack]:
    """(how many times the refusal was met, the hold on the refused email)."""
    with StateStore.open(state_location(box.sandbox.paths)) as store:
        [issue] = [i for i in store.issues() if i.code == "SF-VALIDATION"]
        assert issue.item.subject == REFUSED_SUBJECT
        [hold] = store.held_back(Stream.EMAILS).values()
        return issue.count, hold


def _session(box: Box) -> Counter[str]:
    """Run a session; the Salesforce calls it made, by route."""
    before = Counter(box.sandbox.salesforce.server.calls)
    result = box.run()
    assert result.status == "completed", result.message
    return Counter(box.sandbox.salesforce.server.calls) - before


def test_spec_7_7_a_refused_email_is_sent_again_after_its_back_off_or_a_change_not_every_session(
    tmp_path: Path,
) -> None:
    text = scenario_text(
        "backoff", settings={"general.emails": {"save-as": "task"}}, items=refused_email_items()
    )
    with open_box(tmp_path / "sandbox", text) as box:
        _session(box)
        count, hold = _refusal(box)
        assert (count, hold.attempts, hold.code) == (1, 1, "SF-VALIDATION")
        assert timedelta(minutes=59) < hold.next_attempt - datetime.now(UTC) <= timedelta(hours=1)

        # Gmail forgets its history: the next session lists the mailbox again and meets the
        # refused email unchanged, an hour before its next attempt. It is not sent.
        box.google.expire_history()
        calls = _session(box)
        assert _refusal(box) == (1, hold)
        assert sum(calls.values()) <= 2, dict(calls)  # the org check and the duplicate query

        # The hour has passed (the hold's time moved back): the session reads it by id and sends
        # it; refused again, it now waits six hours.
        with StateStore.open(state_location(box.sandbox.paths)) as store:
            [mailbox_id] = store.held_back(Stream.EMAILS)
            store.hold_back(
                Stream.EMAILS, mailbox_id, HeldBack(1, datetime.now(UTC), hold.fingerprint, hold.code)
            )
        _session(box)
        count, hold = _refusal(box)
        assert (count, hold.attempts) == (2, 2)
        assert timedelta(hours=5) < hold.next_attempt - datetime.now(UTC) <= timedelta(hours=6)

        # The user changes the email — labels it for saving by hand — and it is sent at once.
        box.google.gmail.modify_labels(mailbox_id, add=[LABEL_SAVE])
        _session(box)
        count, hold = _refusal(box)
        assert (count, hold.attempts) == (3, 1)

        # Nothing changed since: the next session sends nothing.
        _session(box)
        assert _refusal(box)[0] == 3
