"""What the Microsoft 365 adapter promises beyond the shared contract, against the Graph emulator
with real msal and requests: call counts of an idle session, throttling inside a batch, idempotent
event creation, expired delta tokens, sign-in (device code, silent refresh, client credentials),
immutable ids, origin tags and invitations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from rgsync.credentials import CredentialStore
from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    Folder,
    MarkLabel,
    RecordKind,
    Stream,
    TaskItem,
    Update,
)
from rgsync.providers.base import AuthError, MailboxReadOptions, RetriableError
from rgsync.providers.microsoft365 import mailbox_from_settings, sign_in_config
from rgsync.providers.microsoft365.auth import CLIENT_SECRET, TOKEN_CACHE, http_session, start_device_sign_in
from rgsync.sandbox.graph import RunningGraph, start_graph
from tests.contract.graph_harness import GraphHarness, Sleeps, connect, mailbox_settings, running_graph
from tests.contract.mailbox_contract import NOW, OPTIONS, drain

pytestmark = pytest.mark.usefixtures("file_keyring")


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[RunningGraph]:
    yield from running_graph(tmp_path)


def running_graph_at(directory: Path, now: list[datetime]) -> Iterator[RunningGraph]:
    """An emulator whose clock the test moves by setting `now[0]`."""
    graph = start_graph(directory, clock=lambda: now[0])
    try:
        yield graph
    finally:
        graph.stop()


@pytest.fixture
def harness(graph: RunningGraph, tmp_path: Path) -> Iterator[GraphHarness]:
    harness = GraphHarness(graph, tmp_path)
    yield harness
    harness.mailbox.close()


def _task(n: int) -> Create:
    salesforce_id = f"00T00000000000{n:02d}AAA"
    return Create(
        RecordKind.TASK,
        salesforce_id,
        TaskItem(
            id="", subject=f"Call {n}", due=date(2026, 12, 1) + timedelta(days=n), salesforce_id=salesforce_id
        ),
    )


def _event(n: int, **extra: object) -> Create:
    salesforce_id = f"00U00000000000{n:02d}AAA"
    start = NOW + timedelta(days=1, hours=n)
    item = CalendarItem(
        id="",
        subject=f"Meeting {n}",
        start=start,
        end=start + timedelta(minutes=30),
        salesforce_id=salesforce_id,
        **extra,
    )  # type: ignore[arg-type]
    return Create(RecordKind.EVENT, salesforce_id, item)


def _contact(n: int) -> Create:
    salesforce_id = f"00300000000000{n:02d}AAA"
    return Create(
        RecordKind.CONTACT,
        salesforce_id,
        ContactItem(
            id="",
            first_name="Pat",
            last_name=f"Lee {n}",
            email=f"pat{n}@globex.com",
            salesforce_id=salesforce_id,
        ),
    )


# -- SPEC §10: what an idle session costs --------------------------------------------------------------


def test_a_session_after_nothing_changed_costs_one_delta_call_per_stream_and_folder(
    harness: GraphHarness,
) -> None:
    harness.add_email(
        folder=Folder.INBOX,
        sender="bob@globex.com",
        to=("ann@acme.com",),
        subject="Hi",
        sent_at=NOW - timedelta(hours=2),
        message_id="<idle@x>",
    )
    cursors = {}
    for stream in Stream:
        cursors[stream] = drain(harness.mailbox.changes(stream, None, OPTIONS))[2]
    before, graph_before = harness.mailbox.api_calls, dict(harness.graph.server.calls)
    per_stream = {}
    for stream in Stream:
        start = harness.mailbox.api_calls
        items, deleted, cursor, full, _ = drain(harness.mailbox.changes(stream, cursors[stream], OPTIONS))
        assert (items, deleted, full) == ([], [], False) and cursor
        per_stream[stream.value] = harness.mailbox.api_calls - start
    # Emails read Inbox and Sent Items (one delta call per folder); every other stream one call.
    assert per_stream == {"emails": 2, "events": 1, "tasks": 1, "contacts": 1}
    served = {
        k: v - graph_before.get(k, 0)
        for k, v in harness.graph.server.calls.items()
        if v != graph_before.get(k, 0)
    }
    assert served == {
        "graph.messages.delta": 2,
        "graph.calendarView.delta": 1,
        "graph.tasks.delta": 1,
        "graph.contacts.delta": 1,
    }
    assert harness.mailbox.api_calls - before == 5
    assert harness.state.requests_without_immutable_ids == []


# -- throttling, retries, idempotency --------------------------------------------------------------------


def test_throttling_inside_a_successful_batch_is_retried_for_just_the_throttled_requests(
    harness: GraphHarness,
) -> None:
    drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
    harness.state.throttle_in_batch(r"^POST /me/todo/lists/\w+/tasks$", nth=2, retry_after=7)
    harness.state.throttle_in_batch(r"^POST /me/todo/lists/\w+/tasks$", nth=4, retry_after=3)
    calls = dict(harness.graph.server.calls)
    results = harness.send(Stream.TASKS, [_task(n) for n in range(1, 6)])
    assert [r.ok for r in results] == [True] * 5
    grew = {k: v - calls.get(k, 0) for k, v in harness.graph.server.calls.items() if v != calls.get(k, 0)}
    # One batch of five; the three that went through are found by their tag; one batch carrying
    # only the two throttled creates.
    assert grew["graph.batch"] == 2 and grew["batch:graph.tasks.create"] == 7
    assert harness.sleeps.seconds == [7.0]  # the longest Retry-After of the throttled requests
    titles = sorted(t["title"] for t in harness.state.tasks("Salesforce Tasks"))
    assert titles == [f"Call {n}" for n in range(1, 6)]


def test_a_retried_event_creation_does_not_duplicate_the_event(harness: GraphHarness) -> None:
    # The mailbox creates the event but the answer is lost (504) — inside the batch, and then the
    # whole batch call: both retries carry the same transactionId, so Graph returns the same event.
    harness.state.lose_answer(r"^POST /me/events$")
    [inside] = harness.send(Stream.EVENTS, [_event(1)])
    assert inside.ok
    harness.state.lose_answer(r"^POST /v1\.0/\$batch$")
    [whole] = harness.send(Stream.EVENTS, [_event(2)])
    assert whole.ok
    subjects = sorted(e["subject"] for e in harness.state.events())
    assert subjects == ["Meeting 1", "Meeting 2"]
    # Each was sent once: the lost answers were reconciled by tag, not sent blind.
    assert harness.graph.server.calls["batch:graph.events.create"] == 2


def test_a_task_create_whose_answer_was_lost_is_adopted_not_created_twice(harness: GraphHarness) -> None:
    drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
    harness.state.lose_answer(r"^POST /v1\.0/\$batch$")
    [result] = harness.send(Stream.TASKS, [_task(1)])
    assert result.ok
    [task] = harness.state.tasks("Salesforce Tasks")
    assert result.id == task["id"]


def test_429_and_5xx_on_a_read_are_retriable_with_the_service_hint(harness: GraphHarness) -> None:
    harness.graph.inject_throttling(r"messages/delta", retry_after=12)
    with pytest.raises(RetriableError) as throttled:
        drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
    assert throttled.value.retry_after == 12 and throttled.value.code == "MAIL-THROTTLED"
    harness.graph.inject_5xx(r"calendarView", status=504)
    with pytest.raises(RetriableError) as unavailable:
        drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    assert unavailable.value.code == "MAIL-UNAVAILABLE"
    harness.graph.drop_connection_nth(r"todo/lists")
    with pytest.raises(RetriableError):
        drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))


def test_one_refused_write_becomes_an_item_failure_and_the_rest_are_written(harness: GraphHarness) -> None:
    drain(harness.mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    results = harness.mailbox.apply(
        Stream.CONTACTS,
        [
            _contact(1),
            Update(RecordKind.CONTACT, "no-such-contact", {"title": "CEO"}),
            _contact(2),
            Delete(RecordKind.CONTACT, "gone"),
        ],
    )
    assert [r.ok for r in results] == [True, False, True, True]
    assert results[1].error_code == "MAIL-NOT-FOUND"
    assert len(harness.state.contacts("Salesforce Contacts")) == 2


def test_forty_five_writes_go_in_three_batches(harness: GraphHarness) -> None:
    drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
    before = harness.mailbox.api_calls
    results = harness.mailbox.apply(Stream.TASKS, [_task(n) for n in range(1, 46)])
    assert all(r.ok for r in results) and len({r.id for r in results}) == 45
    assert harness.mailbox.api_calls - before == 3


# -- expired delta tokens (SPEC §7.6) ---------------------------------------------------------------


def test_an_expired_delta_token_gives_a_full_listing_without_duplicates(harness: GraphHarness) -> None:
    created = harness.mailbox.apply(Stream.CONTACTS, [_contact(n) for n in range(1, 4)])
    _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    harness.state.update_contact(created[0].id or "", {"jobTitle": "CFO"})
    harness.state.delete_contact(created[2].id or "")
    harness.expire(Stream.CONTACTS)
    items, deleted, cursor2, full, reset = drain(harness.mailbox.changes(Stream.CONTACTS, cursor, OPTIONS))
    ids = [c.id for c in items if isinstance(c, ContactItem)]
    assert full and reset and cursor2 and not deleted
    assert sorted(ids) == sorted([created[0].id, created[1].id]) and len(ids) == len(set(ids))
    assert {c.salesforce_id for c in items if isinstance(c, ContactItem)} == {
        "0030000000000001AAA",
        "0030000000000002AAA",
    }
    # The new cursor works again: nothing changed since.
    assert drain(harness.mailbox.changes(Stream.CONTACTS, cursor2, OPTIONS))[0] == []


def test_an_expired_calendar_token_lists_the_window_again(harness: GraphHarness) -> None:
    harness.mailbox.apply(Stream.EVENTS, [_event(1), _event(2)])
    _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    harness.expire(Stream.EVENTS)
    items, _, _, full, reset = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    assert full and reset
    assert sorted(i.subject for i in items if isinstance(i, CalendarItem)) == ["Meeting 1", "Meeting 2"]


def test_a_calendar_window_that_outgrew_its_delta_round_starts_a_new_listing_without_a_reset(
    harness: GraphHarness,
) -> None:
    _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    week_later = MailboxReadOptions(
        OPTIONS.email_since,
        OPTIONS.calendar_start + timedelta(days=7),
        OPTIONS.calendar_end + timedelta(days=7),
    )
    _, _, _, full, _ = drain(harness.mailbox.changes(Stream.EVENTS, cursor, week_later))
    assert not full  # the round was opened four weeks wider than the window
    far = NOW + timedelta(days=95)
    harness.state.add_event(
        {
            "subject": "Far",
            "start": {"dateTime": far.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (far + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        }
    )
    five_weeks = MailboxReadOptions(
        OPTIONS.email_since,
        OPTIONS.calendar_start + timedelta(days=35),
        OPTIONS.calendar_end + timedelta(days=35),
    )
    items, _, _, full, reset = drain(harness.mailbox.changes(Stream.EVENTS, cursor, five_weeks))
    assert full and not reset
    assert "Far" in {i.subject for i in items if isinstance(i, CalendarItem)}


# -- calendar specifics ------------------------------------------------------------------------------


def test_recurring_meetings_arrive_occurrence_by_occurrence_with_their_series(harness: GraphHarness) -> None:
    start = NOW + timedelta(days=2)
    series = harness.state.add_event(
        {
            "subject": "Weekly sync",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {
                "dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
            "attendees": [
                {"emailAddress": {"address": "bob@globex.com"}, "status": {"response": "accepted"}}
            ],
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [start.strftime("%A").lower()]},
                "range": {
                    "type": "numbered",
                    "numberOfOccurrences": 3,
                    "startDate": start.date().isoformat(),
                },
            },
        }
    )
    items, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    occurrences = [i for i in items if isinstance(i, CalendarItem)]
    assert [o.start for o in occurrences] == [start + timedelta(weeks=n) for n in range(3)]
    assert {o.series_id for o in occurrences} == {series} and len({o.id for o in occurrences}) == 3
    harness.delete(Stream.EVENTS, occurrences[1].id)
    _, gone, _, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    assert gone == [occurrences[1].id]


def test_down_synced_meetings_invite_nobody_and_list_their_attendees_in_the_body(
    harness: GraphHarness,
) -> None:
    create = _event(1, attendees=(Attendee(Address("bob@globex.com", "Bob Baker")),), description="Agenda")
    [created] = harness.mailbox.apply(Stream.EVENTS, [create])
    event = harness.state.event(created.id or "")
    assert event["attendees"] == [] and "Bob Baker <bob@globex.com>" in event["body"]["content"]
    assert event["transactionId"].startswith("rgsync-00U0000000000001AAA-")
    harness.mailbox.apply(
        Stream.EVENTS,
        [
            Update(
                RecordKind.EVENT,
                created.id or "",
                {"start": NOW + timedelta(days=3), "end": NOW + timedelta(days=3, hours=1)},
            )
        ],
    )
    harness.mailbox.apply(Stream.EVENTS, [Delete(RecordKind.EVENT, created.id or "")])
    assert harness.state.notifications == []
    items, _, _, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    assert items == []


def test_tagged_tasks_and_contacts_are_found_for_crash_recovery(harness: GraphHarness) -> None:
    tasks = harness.mailbox.apply(Stream.TASKS, [_task(1), _task(2)])
    contacts = harness.mailbox.apply(Stream.CONTACTS, [_contact(1)])
    harness.state.add_task("Salesforce Tasks", {"title": "Mine"})
    assert harness.mailbox.find_tagged(Stream.TASKS, ["00T0000000000001AAA", "00T0000000000009AAA"]) == {
        "00T0000000000001AAA": tasks[0].id
    }
    assert harness.mailbox.find_tagged(Stream.CONTACTS, ["0030000000000001AAA"]) == {
        "0030000000000001AAA": contacts[0].id
    }


def test_ids_stay_the_same_when_an_email_moves_to_another_folder(harness: GraphHarness) -> None:
    message = harness.add_email(
        folder=Folder.INBOX,
        sender="bob@globex.com",
        to=("ann@acme.com",),
        subject="Move me",
        sent_at=NOW - timedelta(hours=1),
        message_id="<mv@x>",
    )
    [email] = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))[0]
    harness.state.move_message(message, "archive")
    harness.mailbox.mark([MarkLabel(email.mailbox_id, "Salesforce")])  # type: ignore[attr-defined]
    assert harness.labels_of(message) == {"Salesforce"}


def test_labels_keep_the_users_own_categories(harness: GraphHarness) -> None:
    message = harness.add_email(
        folder=Folder.INBOX,
        sender="bob@globex.com",
        to=("ann@acme.com",),
        subject="Keep",
        sent_at=NOW - timedelta(hours=1),
        message_id="<keep@x>",
    )
    harness.state.set_categories(message, ["Red category"])
    results = harness.mailbox.mark(
        [MarkLabel(message, "Salesforce"), MarkLabel("AAkALgmissing", "Salesforce")]
    )
    assert [r.ok for r in results] == [True, False]
    assert harness.labels_of(message) == {"Red category", "Salesforce"}
    harness.mailbox.mark([MarkLabel(message, "Salesforce", remove=True)])
    assert harness.labels_of(message) == {"Red category"}


def test_a_long_read_keeps_only_the_newest_categories_and_labels_keep_the_users_own(
    harness: GraphHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §10 memory stays flat: the categories a run read are kept for the newest emails only.
    An email read earlier (forgotten since) is read again before it is labelled, so the user's own
    categories survive (SPEC §7)."""
    monkeypatch.setattr(harness.mailbox._categories, "limit", 2)  # type: ignore[attr-defined]
    messages = []
    for n in range(3):
        message = harness.add_email(
            folder=Folder.INBOX,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject=f"Keep {n}",
            sent_at=NOW - timedelta(hours=1, minutes=n),
            message_id=f"<keep{n}@x>",
        )
        harness.state.set_categories(message, [f"User {n}"])
        messages.append(message)
    read = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))[0]
    assert len(read) == 3
    assert len(harness.mailbox._categories) == 2  # type: ignore[attr-defined]
    results = harness.mailbox.mark([MarkLabel(e.mailbox_id, "Salesforce") for e in read])  # type: ignore[attr-defined]
    assert all(r.ok for r in results)
    for n, message in enumerate(messages):
        assert harness.labels_of(message) == {f"User {n}", "Salesforce"}
    assert len(harness.mailbox._categories) == 2  # type: ignore[attr-defined]


# -- sign-in (SPEC §9) ---------------------------------------------------------------------------------


def test_device_code_sign_in_polls_until_the_user_enters_the_code(
    graph: RunningGraph, tmp_path: Path
) -> None:
    graph.state.identity.auto_approve_after = None
    store = CredentialStore("p", tmp_path / "credentials.json")
    config = sign_in_config(mailbox_settings(graph))
    started = start_device_sign_in(config, store, http_session(config.ca_file))
    assert started.user_code in started.message and started.verification_uri.startswith(graph.url)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            assert graph.state.approve_device_code(started.user_code)

    assert started.wait(sleep=sleep) == graph.address
    assert waits == [5.0, 5.0]  # the interval the authority asked for, twice pending
    assert json.loads(store.get(TOKEN_CACHE) or "{}").get("RefreshToken")
    mailbox = mailbox_from_settings(mailbox_settings(graph), store)
    assert drain(mailbox.changes(Stream.TASKS, None, OPTIONS))[3]


def test_silent_refresh_renews_an_expiring_token_without_the_user(
    graph: RunningGraph, tmp_path: Path
) -> None:
    store = CredentialStore("p", tmp_path / "credentials.json")
    graph.state.identity.token_lifetime = 60  # msal renews tokens that expire within five minutes
    connect(graph, store)
    cache_before = store.get(TOKEN_CACHE)
    token_calls = graph.server.calls["oauth.token"]
    mailbox = mailbox_from_settings(mailbox_settings(graph), store)
    drain(mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    assert graph.server.calls["oauth.token"] == token_calls + 1
    assert store.get(TOKEN_CACHE) != cache_before


def test_a_token_graph_no_longer_accepts_is_renewed_once_and_the_call_repeated(tmp_path: Path) -> None:
    now = [NOW]
    for graph in running_graph_at(tmp_path, now):
        store = CredentialStore("p", tmp_path / "credentials.json")
        connect(graph, store)
        mailbox = mailbox_from_settings(mailbox_settings(graph), store)
        cursor = drain(mailbox.changes(Stream.TASKS, None, OPTIONS))[2]
        now[0] = NOW + timedelta(hours=2)  # Graph's clock says the token expired; msal's does not yet
        calls = mailbox.api_calls
        assert drain(mailbox.changes(Stream.TASKS, cursor, OPTIONS))[2]
        assert graph.server.calls["oauth.token"] == 3  # two device-code polls, then one forced refresh
        assert mailbox.api_calls - calls == 2  # the refused delta call and its repeat


def test_a_revoked_sign_in_is_a_mail_auth_error_naming_the_command(harness: GraphHarness) -> None:
    drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
    harness.state.revoke_tokens()
    with pytest.raises(AuthError) as failed:
        drain(harness.mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    assert failed.value.code == "MAIL-AUTH" and "rgsync connect microsoft365" in failed.value.advice


def test_no_stored_sign_in_is_a_mail_auth_error(graph: RunningGraph, tmp_path: Path) -> None:
    mailbox = mailbox_from_settings(mailbox_settings(graph), CredentialStore("p", tmp_path / "none.json"))
    with pytest.raises(AuthError, match="not connected"):
        drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))


def test_client_credentials_act_on_the_mailbox_through_users_address(
    graph: RunningGraph, tmp_path: Path
) -> None:
    store = CredentialStore("admin", tmp_path / "credentials.json")
    store.set(CLIENT_SECRET, graph.client_secret)
    mailbox = mailbox_from_settings(mailbox_settings(graph), store)
    graph.state.add_message(
        "From: bob@globex.com\r\nTo: ann@acme.com\r\nSubject: App\r\nMessage-ID: <app@x>\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n\r\nHi",
        received=NOW - timedelta(hours=2),
    )
    items = drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))[0]
    assert [i.subject for i in items] == ["App"]  # type: ignore[attr-defined]
    assert all(
        path.startswith(f"/v1.0/users/{graph.address}/")
        for method, path in graph.server.log
        if path.startswith("/v1.0/")
    )
    assert graph.state.identity.sign_ins == ["client_credentials"]
    store.set(CLIENT_SECRET, "wrong")
    with pytest.raises(AuthError, match="Invalid client secret"):
        drain(mailbox_from_settings(mailbox_settings(graph), store).changes(Stream.EMAILS, None, OPTIONS))


def test_client_certificate_signs_in_app_only(graph: RunningGraph, tmp_path: Path) -> None:
    import trustme

    from rgsync.providers.microsoft365.auth import CLIENT_CERTIFICATE

    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert("rgsync-app", key_type=trustme.KeyType.RSA)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    certificate = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    graph.state.identity.certificate_public_pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    store = CredentialStore("admin", tmp_path / "credentials.json")
    store.set(
        CLIENT_CERTIFICATE,
        json.dumps(
            {
                "private_key": leaf.private_key_pem.bytes().decode(),
                "thumbprint": certificate.fingerprint(hashes.SHA1()).hex(),
            }
        ),
    )
    mailbox = mailbox_from_settings(mailbox_settings(graph), store)
    assert drain(mailbox.changes(Stream.TASKS, None, OPTIONS))[3]
    assert graph.state.identity.sign_ins == ["client_credentials"]


def test_a_missing_client_id_is_refused_with_the_setting_named(graph: RunningGraph, tmp_path: Path) -> None:
    from rgsync.errors import UsageError

    with pytest.raises(UsageError, match=r"mailbox\.client-id"):
        mailbox_from_settings(
            mailbox_settings(graph, **{"client-id": None}), CredentialStore("p", tmp_path / "c.json")
        )


def test_sleeps_are_recorded_not_slept(graph: RunningGraph, tmp_path: Path) -> None:
    sleeps = Sleeps()
    harness = GraphHarness(graph, tmp_path, sleeps)
    harness.state.throttle_in_batch(r"^POST /me/events$", times=2, retry_after=30)
    [result] = harness.send(Stream.EVENTS, [_event(1)])
    assert result.ok and sleeps.seconds == [30.0, 30.0]
