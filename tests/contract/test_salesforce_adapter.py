"""The Salesforce adapter against the emulator, with the real simple-salesforce underneath.

It passes the shared Crm contract, and the adapter's own promises: the call counts of SPEC §10
(one call for an idle read, N/200 write calls, few lookup calls), error mapping (§7.3, §7.4),
sign-in renewal (§9), exactly-once writes (§7.1) and safe SOQL.
"""

from __future__ import annotations

import email.utils
import http.server
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rgsync.credentials import CredentialStore
from rgsync.model import (
    Address,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailActivity,
    EmailItem,
    EmailMode,
    EventInvitee,
    EventRecord,
    Folder,
    RecordKind,
    Stream,
    TaskItem,
    event_key,
)
from rgsync.providers.base import (
    ApiBudgetError,
    AuthError,
    FatalError,
    RetriableError,
)
from rgsync.providers.salesforce import SalesforceCrm
from rgsync.providers.salesforce.auth import (
    SECRET_CONSUMER_SECRET,
    SECRET_INSTANCE,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
    SECRET_SECURITY_TOKEN,
    SECRET_SESSION,
    SalesforceConfig,
)
from rgsync.providers.salesforce.cursor import StreamCursor
from rgsync.sandbox.http import Fault, Response
from rgsync.sandbox.salesforce import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    RunningSalesforce,
    start_salesforce,
)
from rgsync.sandbox.salesforce.clock import ManualClock
from rgsync.session.reconcile import send_reconciled
from rgsync.session.retry import NO_WAIT, Retrier, RetryPolicy
from tests.contract.crm_contract import CrmContract, options, read_all
from tests.contract.salesforce_harness import USERS, SalesforceHarness, emulated_org, open_adapter


@pytest.fixture(autouse=True)
def _secrets_in_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the OS keyring of the machine running the tests."""
    monkeypatch.setenv("RGSYNC_KEYRING", "file")


class TestSalesforceCrmContract(CrmContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[SalesforceHarness]:
        with emulated_org(tmp_path) as running:
            crm = open_adapter(running, tmp_path)
            try:
                yield SalesforceHarness(running, crm)
            finally:
                crm.close()


# The adapter's own promises (beyond the shared contract)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def org(tmp_path: Path) -> Iterator[RunningSalesforce]:
    with emulated_org(tmp_path) as running:
        yield running


@pytest.fixture
def crm(org: RunningSalesforce, tmp_path: Path) -> Iterator[SalesforceCrm]:
    adapter = open_adapter(org, tmp_path)
    adapter.org_info()
    org.server.reset_counters()
    try:
        yield adapter
    finally:
        adapter.close()


def _email(n: int, *, subject: str = "Proposal", folder: Folder = Folder.INBOX) -> EmailItem:
    return EmailItem(
        mailbox_id=f"m{n}",
        message_id=f"<msg-{n}@globex.com>",
        thread_id=f"thread-{n}",
        folder=folder,
        subject=subject,
        sent_at=_now() - timedelta(hours=1),
        sender=Address("bob@globex.com", "Bob Stone"),
        to=(Address("ann@acme.com", "Ann Lee"),),
        text_body=f"Hello {n}",
    )


def _email_creates(crm_user: str, who: str, count: int, mode: EmailMode) -> list[Create]:
    return [
        Create(RecordKind.EMAIL, e.message_id, EmailActivity(e, mode, (who,), None, crm_user))
        for e in (_email(n) for n in range(count))
    ]


# -- reading (SPEC §10: an idle session costs one call) ------------------------------------------


def test_an_idle_read_costs_exactly_one_composite_call(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    user = org.keys["ann"]
    h = SalesforceHarness(org, crm)
    h.add_task("Call Bob", _now().date())
    h.add_event("Demo", _now() + timedelta(days=1), _now() + timedelta(days=1, hours=1))
    h.add_contact("Bob", "Stone", "bob@globex.com")
    pages = crm.changes({}, options(user))
    cursors = {s: read_all(p)[2] for s, p in pages.items()}
    org.server.reset_counters()

    pages = crm.changes(cursors, options(user))

    assert dict(org.server.calls) == {"composite": 1}
    assert all(read_all(p)[0] == [] and read_all(p)[1] == [] for p in pages.values())


def test_changes_and_deletions_of_all_streams_still_cost_one_call(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    user = org.keys["ann"]
    h = SalesforceHarness(org, crm)
    task = h.add_task("Call Bob", _now().date())
    event = h.add_event("Demo", _now() + timedelta(days=1), _now() + timedelta(days=1, hours=1))
    contact = h.add_contact("Bob", "Stone", "bob@globex.com")
    cursors = {s: read_all(p)[2] for s, p in crm.changes({}, options(user)).items()}
    h.edit(Stream.TASKS, task, subject="Call Bob back")
    h.delete(Stream.EVENTS, event)
    h.edit(Stream.CONTACTS, contact, title="CTO")
    org.server.reset_counters()

    pages = crm.changes(cursors, options(user))

    assert dict(org.server.calls) == {"composite": 1}
    assert [t.subject for t in read_all(pages[Stream.TASKS])[0]] == ["Call Bob back"]  # type: ignore[attr-defined]
    assert read_all(pages[Stream.EVENTS])[1] == [event]
    assert [c.title for c in read_all(pages[Stream.CONTACTS])[0]] == ["CTO"]  # type: ignore[attr-defined]


@pytest.fixture
def manual_org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningSalesforce, ManualClock]]:
    """An emulator on a clock the test moves; its HTTP Date header follows that clock."""
    clock = ManualClock(_now())
    monkeypatch.setattr(
        http.server.BaseHTTPRequestHandler,
        "date_time_string",
        lambda self, timestamp=None: email.utils.formatdate(clock().timestamp(), usegmt=True),
    )
    running = start_salesforce(tmp_path, scenario={"users": USERS}, clock=clock)
    try:
        yield running, clock
    finally:
        running.stop()


def test_getdeleted_reports_a_deletion_the_delta_query_cannot_see(
    manual_org: tuple[RunningSalesforce, ManualClock], tmp_path: Path
) -> None:
    org, clock = manual_org
    crm = open_adapter(org, tmp_path, clock=clock)
    user = org.keys["ann"]
    h = SalesforceHarness(org, crm)
    task = h.add_task("Call Bob", _now().date())
    read = options(user, streams=frozenset({Stream.TASKS}))
    cursor = read_all(crm.changes({}, read)[Stream.TASKS])[2]
    # A colleague takes the Task over, then deletes it: the user's delta query no longer sees it.
    org.org.update(task, {"OwnerId": org.keys["frank"]})
    org.org.delete(task)
    clock.advance(minutes=2)
    org.server.reset_counters()

    pages = crm.changes({Stream.TASKS: cursor}, read)

    # Only getDeleted (a subrequest of the one Composite call) can have reported it.
    assert read_all(pages[Stream.TASKS])[1] == [task]
    assert dict(org.server.calls) == {"composite": 1}


def test_a_cursor_older_than_getdeleted_reaches_gives_a_full_listing_in_one_call(
    manual_org: tuple[RunningSalesforce, ManualClock], tmp_path: Path
) -> None:
    org, clock = manual_org
    crm = open_adapter(org, tmp_path, clock=clock)
    user = org.keys["ann"]
    task = SalesforceHarness(org, crm).add_task("Call Bob", (clock() + timedelta(days=16)).date())
    read = options(user, streams=frozenset({Stream.TASKS}))
    cursor = read_all(crm.changes({}, read)[Stream.TASKS])[2]
    clock.advance(days=16)
    org.server.reset_counters()

    items, _deleted, new_cursor, full, reset = read_all(
        crm.changes({Stream.TASKS: cursor}, read)[Stream.TASKS]
    )

    assert full and reset and new_cursor and [i.id for i in items] == [task]  # type: ignore[attr-defined]
    assert dict(org.server.calls) == {"composite": 1}


def test_a_purged_delete_log_found_by_the_server_gives_a_full_listing(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    user = org.keys["ann"]
    task = SalesforceHarness(org, crm).add_task("Call Bob", _now().date())
    read = options(user, streams=frozenset({Stream.TASKS}))
    cursor = read_all(crm.changes({}, read)[Stream.TASKS])[2]
    assert cursor
    # Pretend the cursor was taken two minutes ago, then the delete log was purged up to now.
    old = StreamCursor.decode(cursor)
    assert old is not None and old.deleted_from is not None
    cursor = StreamCursor(
        **{**old.__dict__, "deleted_from": old.deleted_from - timedelta(minutes=2)}
    ).encode()
    org.org.purge_deleted("Task")
    org.server.reset_counters()

    items, _deleted, _cursor, full, reset = read_all(crm.changes({Stream.TASKS: cursor}, read)[Stream.TASKS])

    assert full and reset and [i.id for i in items] == [task]  # type: ignore[attr-defined]
    assert sum(org.server.calls.values()) == 2  # the bundled read, then the listing


def test_an_event_entering_the_window_is_listed_once(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    user = org.keys["ann"]
    start = _now() + timedelta(days=61)
    event = SalesforceHarness(org, crm).add_event("Far", start, start + timedelta(hours=1))
    read = options(user, streams=frozenset({Stream.EVENTS}))
    cursor = read_all(crm.changes({}, read)[Stream.EVENTS])[2]
    later = options(
        user, streams=frozenset({Stream.EVENTS}), calendar_end=read.calendar_end + timedelta(days=2)
    )

    items, *_rest, cursor2, _f, _r = read_all(crm.changes({Stream.EVENTS: cursor}, later)[Stream.EVENTS])
    again = read_all(crm.changes({Stream.EVENTS: cursor2}, later)[Stream.EVENTS])[0]

    assert [i.id for i in items] == [event] and again == []  # type: ignore[attr-defined]


def test_contacts_of_a_list_view_are_read_and_the_view_costs_calls_only_once(tmp_path: Path) -> None:
    scenario: dict[str, Any] = {
        "records": {
            "Account": [{"key": "globex", "Name": "Globex"}, {"key": "initech", "Name": "Initech"}],
            "Contact": [
                {"key": "bob", "LastName": "Stone", "AccountId": "@globex", "OwnerId": "@frank"},
                {"key": "carol", "LastName": "Reed", "AccountId": "@initech"},
            ],
        },
        "list_views": [{"object": "Contact", "label": "Globex people", "where": "AccountId = '@globex'"}],
    }
    with emulated_org(tmp_path, scenario) as org:
        crm = open_adapter(org, tmp_path)
        read = options(
            org.keys["ann"],
            streams=frozenset({Stream.CONTACTS}),
            contacts_scope="view",
            contacts_view="globex PEOPLE",
        )
        items, _d, cursor, full, _r = read_all(crm.changes({}, read)[Stream.CONTACTS])
        assert full and [i.id for i in items] == [org.keys["bob"]]  # type: ignore[attr-defined]
        org.server.reset_counters()
        crm.changes({Stream.CONTACTS: cursor}, read)
        assert dict(org.server.calls) == {"composite": 1}
        with pytest.raises(FatalError) as refused:
            crm.changes({}, options(org.keys["ann"], contacts_scope="view", contacts_view="Nope"))
        assert refused.value.code == "SF-LIST-VIEW" and "Globex people" in refused.value.message


# -- lookups --------------------------------------------------------------------------------------------


def test_one_thousand_addresses_are_looked_up_in_at_most_two_calls(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    h = SalesforceHarness(org, crm)
    known = {
        h.add_contact("P", f"Person {n}", f"person{n:04d}@example-company.com"): n for n in range(0, 1000, 20)
    }
    addresses = [f"person{n:04d}@example-company.com" for n in range(1000)]
    org.server.reset_counters()

    found = crm.find_people(addresses)

    assert sorted(p.id for people in found.values() for p in people) == sorted(known)
    assert sum(org.server.calls.values()) <= 2
    assert "uri_too_long" not in org.server.calls


def test_an_injection_attempt_in_an_address_matches_nothing(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    h = SalesforceHarness(org, crm)
    h.add_contact("Bob", "Stone", "bob@globex.com")
    h.add_contact("Carol", "Reed", "carol@globex.com")
    assert crm.find_people(["nobody' OR Email != 'x", "a\\' OR Email LIKE '%"]) == {}
    assert crm.find_existing(RecordKind.CONTACT, ["x' OR LastName != 'y"]) == {}


# -- writing (SPEC §10: N/200 write calls; §7.7 partial failures) ---------------------------------------


def test_saving_1000_emails_as_tasks_costs_one_write_call(org: RunningSalesforce, tmp_path: Path) -> None:
    crm = open_adapter(org, tmp_path, email_mode="task")
    crm.org_info()  # the session keeps it in the state store
    bob = SalesforceHarness(org, crm).add_contact("Bob", "Stone", "bob@globex.com")
    writes = _email_creates(org.keys["ann"], bob, 1000, EmailMode.TASK)
    org.server.reset_counters()

    results = crm.apply(writes)

    assert all(r.ok for r in results) and len({r.id for r in results}) == 1000
    # SPEC §10: five collections of 200 in one Composite request.
    assert dict(org.server.calls) == {"composite": 1}
    tasks = [t for t in org.org.records("Task") if t["TaskSubtype"] == "Email"]
    assert len(tasks) == 1000 and all(t["WhoId"] == bob and t["Status"] == "Completed" for t in tasks)


def test_saving_1000_inbound_emails_as_email_messages(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    bob = SalesforceHarness(org, crm).add_contact("Bob", "Stone", "bob@globex.com")
    writes = _email_creates(org.keys["ann"], bob, 1000, EmailMode.EMAIL_MESSAGE)
    org.server.reset_counters()

    results = crm.apply(writes)

    assert all(r.ok for r in results)
    # Each Composite request saves 400 emails with their senders' FromAddress relations (SPEC §10):
    # 3 calls for 1,000, plus 1 to learn Bob's address. No relation goes through a call of its own.
    assert dict(org.server.calls) == {"composite": 3, "query": 1}, dict(org.server.calls)
    messages = org.org.records("EmailMessage")
    assert len(messages) == 1000 and {m["Incoming"] for m in messages} == {True}
    senders = [r for r in org.org.records("EmailMessageRelation") if r["RelationId"] == bob]
    assert len(senders) == 1000 and {r["RelationType"] for r in senders} == {"FromAddress"}


def test_one_email_refused_by_a_validation_rule_among_200(org: RunningSalesforce, tmp_path: Path) -> None:
    crm = open_adapter(org, tmp_path, email_mode="task")
    crm.org_info()
    h = SalesforceHarness(org, crm)
    h.reject_subject("CONFIDENTIAL")
    writes = [
        Create(RecordKind.EMAIL, e.message_id, EmailActivity(e, EmailMode.TASK, (), None, org.keys["ann"]))
        for e in (_email(n, subject="CONFIDENTIAL" if n == 117 else "Hi") for n in range(200))
    ]
    org.server.reset_counters()

    results = crm.apply(writes)

    assert [n for n, r in enumerate(results) if not r.ok] == [117]
    assert results[117].error_code == "SF-VALIDATION" and "Subject is not allowed" in results[117].message
    assert sum(r.ok for r in results) == 199 and dict(org.server.calls) == {"collections.create": 1}


def test_an_all_day_event_keeps_its_days(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    user = org.keys["ann"]
    first = _now().date() + timedelta(days=3)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    item = CalendarItem(id="", subject="Offsite", start=start, end=start + timedelta(days=2), all_day=True)
    [created] = crm.apply(
        [Create(RecordKind.EVENT, event_key("Offsite", start, user), EventRecord(item, (), None, user))]
    )
    events = read_all(crm.changes({}, options(user, streams=frozenset({Stream.EVENTS})))[Stream.EVENTS])[0]
    [event] = [e for e in events if isinstance(e, CalendarItem)]
    assert (event.id, event.all_day, event.start, event.end) == (
        created.id,
        True,
        start,
        start + timedelta(days=2),
    )


def test_an_invitation_is_added_and_withdrawn_without_touching_the_event(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    user = org.keys["ann"]
    h = SalesforceHarness(org, crm)
    start = _now() + timedelta(days=2)
    theirs = h.add_event("Board", start, start + timedelta(hours=1), owner_id=org.keys["frank"])
    key = f"invitee|{theirs}|{user}"
    assert crm.apply([Create(RecordKind.EVENT_INVITEE, key, EventInvitee(theirs, user))])[0].ok
    assert crm.find_existing(RecordKind.EVENT_INVITEE, [key]) == {key: theirs}
    assert crm.apply([Delete(RecordKind.EVENT_INVITEE, theirs)])[0].ok
    assert crm.find_existing(RecordKind.EVENT_INVITEE, [key]) == {}
    assert org.org.get(theirs) is not None


def test_the_duplicate_rule_header_is_sent_on_creates(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    seen: list[str] = []
    original = crm.client._adapter.send

    def spy(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.method == "POST" and (request.url or "").endswith("/composite/sobjects"):
            seen.append(str(request.headers.get("Sforce-Duplicate-Rule-Header")))
        return original(request, **kwargs)

    crm.client._adapter.send = spy  # type: ignore[method-assign]
    crm.apply([Create(RecordKind.CONTACT, "zed@x.com", _contact())])
    assert seen == ["allowSave=false; includeRecordDetails=false; runAsCurrentUser=true"]


def _contact() -> ContactItem:
    return ContactItem(id="", first_name="Zed", last_name="Zane", email="zed@x.com")


# -- errors (SPEC §7.3, §7.4) ---------------------------------------------------------------------------


def test_request_limit_exceeded_is_an_api_budget_error(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    org.org.set_allocation(15000, 15000)
    with pytest.raises(ApiBudgetError) as stopped:
        crm.find_people(["bob@globex.com"])
    assert stopped.value.code == "SF-API-BUDGET"
    usage = crm.usage()
    assert usage is not None and (usage.used, usage.limit) == (15000, 15000)


def test_usage_follows_sforce_limit_info(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    org.org.set_allocation(9000, 10000)
    crm.find_people(["bob@globex.com"])
    usage = crm.usage()
    assert usage is not None and (usage.used, usage.limit) == (9001, 10000) and usage.remaining_percent < 10


def test_503_is_retriable_and_honours_retry_after(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    body = [{"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
    org.server.faults.add(
        Fault(match="composite", response=Response(503, body, headers={"Retry-After": "7"}))
    )
    with pytest.raises(RetriableError) as transient:
        crm.find_people(["a@x.com", "b@y.com"])
    assert transient.value.retry_after == 7.0
    waits: list[float] = []
    org.emulator.inject_503(1)
    retrier = Retrier(RetryPolicy(sleep=waits.append, clock=lambda: sum(waits)))
    found = retrier.call(lambda: crm.find_people(["a@x.com", "b@y.com"]))
    assert found == {} and len(waits) == 1


def test_a_dropped_connection_is_retriable(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    org.emulator.drop_connection_nth(1)
    with pytest.raises(RetriableError):
        crm.accounts_by_id([org.keys["ann"]])


def test_every_call_has_a_timeout(org: RunningSalesforce, tmp_path: Path) -> None:
    crm = open_adapter(org, tmp_path)
    crm.client._adapter._timeout = 0.05
    org.server.sleep = time.sleep
    org.emulator.add_latency(0.3)
    with pytest.raises(RetriableError) as transient:
        crm.org_info()
    assert transient.value.code == "SF-TIMEOUT"


def test_requests_ca_bundle_in_the_environment_does_not_override_the_ca_file(
    org: RunningSalesforce, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    assert open_adapter(org, tmp_path).org_info().user_id == org.keys["ann"]


# -- sign-in (SPEC §9) ----------------------------------------------------------------------------------


def _store(tmp_path: Path, **secrets: str) -> CredentialStore:
    store = CredentialStore("test", tmp_path / "credentials.json")
    for name, value in secrets.items():
        store.set(name, value)
    return store


def _oauth_config(org: RunningSalesforce, **extra: Any) -> SalesforceConfig:
    return SalesforceConfig(
        auth="oauth", login_url=org.url, consumer_key=DEFAULT_CLIENT_ID, ca_file=str(org.ca_file), **extra
    )


def test_an_expired_token_is_renewed_silently_with_the_refresh_token(
    org: RunningSalesforce, tmp_path: Path
) -> None:
    _access, refresh = org.emulator.oauth.issue(
        org.keys["ann"], client_id=DEFAULT_CLIENT_ID, with_refresh=True
    )
    store = _store(
        tmp_path,
        **{SECRET_SESSION: "00D!expired", SECRET_INSTANCE: org.url, SECRET_REFRESH_TOKEN: str(refresh)},
    )
    crm = SalesforceCrm(_oauth_config(org), store)

    assert crm.org_info().user_id == org.keys["ann"]
    assert store.get(SECRET_SESSION) not in (None, "00D!expired")
    assert org.server.calls["oauth.token"] == 1


def test_a_revoked_refresh_token_is_an_sf_auth_failure(org: RunningSalesforce, tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        **{SECRET_SESSION: "00D!expired", SECRET_INSTANCE: org.url, SECRET_REFRESH_TOKEN: "5Aep-revoked"},
    )
    with pytest.raises(AuthError) as refused:
        SalesforceCrm(_oauth_config(org), store).org_info()
    assert refused.value.code == "SF-AUTH" and "rgsync connect salesforce" in refused.value.advice


def test_a_dead_session_id_is_an_sf_auth_failure(org: RunningSalesforce, tmp_path: Path) -> None:
    store = _store(tmp_path, **{SECRET_SESSION: "00D!not-a-session"})
    config = SalesforceConfig(auth="session", instance_url=org.url, ca_file=str(org.ca_file))
    with pytest.raises(AuthError) as refused:
        SalesforceCrm(config, store).find_people(["bob@globex.com"])
    assert refused.value.code == "SF-AUTH" and "rgsync connect salesforce" in refused.value.advice
    assert "not-a-session" not in refused.value.message


def test_password_sign_in_through_the_connected_app(org: RunningSalesforce, tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        **{
            SECRET_PASSWORD: DEFAULT_PASSWORD,
            SECRET_SECURITY_TOKEN: DEFAULT_SECURITY_TOKEN,
            SECRET_CONSUMER_SECRET: DEFAULT_CLIENT_SECRET,
        },
    )
    config = SalesforceConfig(
        auth="password",
        login_url=org.url,
        username="ann@acme.com",
        consumer_key=DEFAULT_CLIENT_ID,
        ca_file=str(org.ca_file),
    )
    assert SalesforceCrm(config, store).org_info().user_id == org.keys["ann"]
    assert store.get(SECRET_SESSION)


def test_jwt_bearer_sign_in(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "jwt.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    scenario = {"connected_apps": [{"client_id": "rgsync-jwt", "public_key_pem": public.decode()}]}
    with emulated_org(tmp_path, scenario) as org:
        config = SalesforceConfig(
            auth="jwt",
            login_url=org.url,
            username="ann@acme.com",
            consumer_key="rgsync-jwt",
            private_key_file=str(private),
            ca_file=str(org.ca_file),
        )
        assert SalesforceCrm(config, _store(tmp_path)).org_info().user_id == org.keys["ann"]


# -- exactly once (SPEC §7.1) ------------------------------------------------------------------------


def test_a_create_whose_answer_was_lost_is_not_sent_twice(org: RunningSalesforce, tmp_path: Path) -> None:
    crm = open_adapter(org, tmp_path, email_mode="task")
    crm.org_info()
    writes = _email_creates(
        org.keys["ann"], SalesforceHarness(org, crm).add_contact("B", "S", "b@g.com"), 450, EmailMode.TASK
    )
    original = crm.client._adapter.send
    lost = []

    def lose_the_second_answer(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = original(request, **kwargs)
        if request.method == "POST" and (request.url or "").endswith("/composite/sobjects"):
            lost.append(request.url)
            if len(lost) == 2:  # Salesforce saved the records; the answer never arrived
                raise requests.ConnectionError("connection reset by peer")
        return response

    crm.client._adapter.send = lose_the_second_answer  # type: ignore[method-assign]

    # The lost answer is an UncertainWrite: the session looks the emails up by Message-ID first.
    results = send_reconciled(writes, crm.apply, crm.find_existing, Retrier(NO_WAIT), "emails")

    assert all(r.ok for r in results) and len({r.id for r in results}) == 450
    assert len([t for t in org.org.records("Task") if t["TaskSubtype"] == "Email"]) == 450


def test_after_a_crash_a_new_session_finds_what_was_created_by_natural_key(
    org: RunningSalesforce, tmp_path: Path
) -> None:
    user = org.keys["ann"]
    first = open_adapter(org, tmp_path, email_mode="task")
    bob = SalesforceHarness(org, first).add_contact("Bob", "Stone", "bob@globex.com")
    start = _now() + timedelta(days=1)
    event = CalendarItem(id="", subject="Demo | Q4", start=start, end=start + timedelta(hours=1))
    task = TaskItem(id="", subject="Follow up", due=start.date(), owner_id=user)
    created = first.apply(
        [
            *_email_creates(user, bob, 3, EmailMode.TASK),
            Create(
                RecordKind.EVENT,
                event_key(event.subject, start, user),
                EventRecord(event, (bob,), None, user),
            ),
            Create(RecordKind.TASK, f"Follow up|{start.date().isoformat()}|{user}", task),
        ]
    )
    # The process dies here: nothing was recorded. A new session starts with a new adapter.
    second = open_adapter(org, tmp_path, email_mode="task")
    emails = second.find_existing(RecordKind.EMAIL, [f"<msg-{n}@globex.com>" for n in range(3)])
    events = second.find_existing(RecordKind.EVENT, [event_key(event.subject, start, user)])
    tasks = second.find_existing(RecordKind.TASK, [f"Follow up|{start.date().isoformat()}|{user}"])
    assert sorted(emails.values()) == sorted(r.id for r in created[:3])
    assert list(events.values()) == [created[3].id] and list(tasks.values()) == [created[4].id]


def test_with_rgsyncs_key_field_a_repeated_create_updates_instead_of_duplicating(tmp_path: Path) -> None:
    scenario = {"org": {"external_id_fields": {"Event": "rgsync_Key__c", "Task": "rgsync_Key__c"}}}
    with emulated_org(tmp_path, scenario) as org:
        user = org.keys["ann"]
        start = _now() + timedelta(days=1)
        item = CalendarItem(id="", subject="Demo", start=start, end=start + timedelta(hours=1))
        write = Create(RecordKind.EVENT, event_key("Demo", start, user), EventRecord(item, (), None, user))
        first = open_adapter(org, tmp_path)
        assert first.org_info().external_id_fields == {"Event": "rgsync_Key__c", "Task": "rgsync_Key__c"}
        [one] = first.apply([write])
        second = open_adapter(org, tmp_path)
        second.org_info()
        [two] = second.apply([write])
        assert one.ok and two.ok and one.id == two.id
        assert len(org.org.records("Event")) == 1
        events = read_all(
            second.changes({}, options(user, streams=frozenset({Stream.EVENTS})))[Stream.EVENTS]
        )[0]
        assert [e.created_by_rgsync for e in events] == [True]  # type: ignore[attr-defined]


def test_a_mailbox_task_of_an_org_without_shared_activities_uses_whoid(tmp_path: Path) -> None:
    with emulated_org(tmp_path, {"org": {"shared_activities": False, "enhanced_email": False}}) as org:
        crm = open_adapter(org, tmp_path)
        info = crm.org_info()
        assert (info.enhanced_email, info.shared_activities) == (False, False)
        h = SalesforceHarness(org, crm)
        bob, carol = h.add_contact("B", "S", "b@g.com"), h.add_contact("C", "R", "c@g.com")
        [result] = crm.apply(_email_creates(info.user_id, bob, 1, EmailMode.TASK)[:1])
        [write] = _email_creates(info.user_id, bob, 1, EmailMode.TASK)
        assert result.ok and org.org.get(result.id or "")["WhoId"] == bob  # type: ignore[index]
        assert crm.find_existing(RecordKind.EMAIL, [write.key]) == {write.key: result.id}
        del carol
