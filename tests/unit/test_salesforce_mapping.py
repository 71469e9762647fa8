"""The Salesforce adapter's pure parts: SOQL escaping and chunking, field mapping, the cursor,
error codes and batching (SPEC §3.7, §4.2, §7.7, §10)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rgsync.model import (
    Address,
    CalendarItem,
    EmailActivity,
    EmailItem,
    EmailMode,
    Folder,
    NewPerson,
    PersonKind,
    PostalAddress,
)
from rgsync.providers.base import ApiBudgetError, AuthError, FatalError, RetriableError
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.auth import SalesforceConfig, jwt_audience
from rgsync.providers.salesforce.client import error_for_status
from rgsync.providers.salesforce.cursor import OVERLAP, StreamCursor, advance
from rgsync.providers.salesforce.mapping import (
    TRUNCATION_MARKER,
    OrgShape,
    contact_update,
    email_message,
    email_task,
    event_create,
    event_from_record,
    event_update,
    key_value,
    message_id_of_description,
    new_person,
    website_domain,
    who_list,
)
from rgsync.providers.salesforce.writes import error_code
from rgsync.providers.salesforce.writes.batches import Op, chunk_ops

SENT = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
C1, C2, L1 = "003000000000001AAA", "003000000000002AAA", "00Q000000000001AAA"


def _email(**changes: object) -> EmailItem:
    values: dict[str, object] = {
        "mailbox_id": "m1",
        "message_id": "<a1@globex.com>",
        "thread_id": "t1",
        "folder": Folder.INBOX,
        "subject": "Quote",
        "sent_at": SENT,
        "sender": Address("bob@globex.com", "Bob Stone"),
        "to": (Address("ann@acme.com", "Ann Lee"),),
        "cc": (Address("carol@globex.com"),),
        "text_body": "See attached.",
    }
    values.update(changes)
    return EmailItem(**values)  # type: ignore[arg-type]


# -- SOQL ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("o'brien@x.com", r"'o\'brien@x.com'"),
        ("back\\slash", r"'back\\slash'"),
        ("two\nlines\r\tend", r"'two\nlines\r\tend'"),
        ('say "hi"', r"'say \"hi\"'"),
        ("bell\x07gone", "'bellgone'"),
    ],
)
def test_every_string_placed_in_soql_is_escaped(value: str, literal: str) -> None:
    assert soql.text(value) == literal


def test_like_patterns_escape_wildcards_too() -> None:
    assert soql.like("50%_off's.com") == r"'%50\%\_off\'s.com%'"


def test_ids_and_datetimes_are_checked_not_formatted_raw() -> None:
    assert soql.record_id("003000000000001AAA") == "'003000000000001AAA'"
    with pytest.raises(ValueError):
        soql.record_id("003' OR Id != '")
    with pytest.raises(ValueError):
        soql.datetime_literal(datetime(2026, 1, 1))  # naive: no time zone is guessed
    assert (
        soql.datetime_literal(datetime(2026, 1, 1, 1, 0, tzinfo=UTC) + timedelta(microseconds=5))
        == "2026-01-01T01:00:00Z"
    )


def test_in_lists_are_chunked_to_fit_a_uri() -> None:
    addresses = [
        f"someone.with.a.long.name{n:04d}@a-rather-long-company-domain.example.com" for n in range(1000)
    ]
    queries = soql.chunked_in_queries(lambda v: f"SELECT Id FROM Contact WHERE Email IN {v}", addresses)
    assert 3 <= len(queries) <= 10
    assert all(soql.encoded_length(q) <= soql.MAX_ENCODED_QUERY for q in queries)
    assert sum(q.count("@") for q in queries) == 1000


def test_a_list_views_filter_and_scope_are_read_from_its_query() -> None:
    query = (
        "SELECT Name, Email FROM Contact USING SCOPE mine WHERE (MailingCity = 'Order By' AND "
        "Title LIKE '%where%') ORDER BY Name ASC NULLS FIRST, Id ASC NULLS FIRST"
    )
    assert soql.split_view_query(query) == ("mine", "(MailingCity = 'Order By' AND Title LIKE '%where%')")
    assert soql.split_view_query("SELECT Id FROM Contact ORDER BY Name") == ("", "")


# -- emails (SPEC §3.7) ----------------------------------------------------------------------------


def test_an_email_task_carries_the_header_block_and_a_cut_body() -> None:
    email = _email(text_body="x" * 40_000)
    record = email_task(
        EmailActivity(email, EmailMode.TASK, (C1, C2), "006000000000001AAA", "005000000000001AAA"),
        OrgShape(time_zone=UTC),
        email.message_id,
    )
    assert (
        record["Subject"] == "Email: Quote"
        and record["TaskSubtype"] == "Email"
        and record["Status"] == "Completed"
    )
    assert record["ActivityDate"] == "2026-11-27" and record["WhatId"] == "006000000000001AAA"
    assert record["TaskWhoIds"] == [C1, C2] and "WhoId" not in record
    description = record["Description"]
    assert description.startswith(
        "From: Bob Stone <bob@globex.com>\nTo: Ann Lee <ann@acme.com>\nCc: carol@globex.com\nDate: "
    )
    assert len(description) == 32_000 and description.endswith(TRUNCATION_MARKER)
    assert message_id_of_description(description) == "<a1@globex.com>"


def test_the_activity_date_is_the_sent_date_in_the_users_time_zone() -> None:
    from zoneinfo import ZoneInfo

    record = email_task(
        EmailActivity(_email(), EmailMode.TASK), OrgShape(time_zone=ZoneInfo("Europe/Berlin")), "k"
    )
    assert record["ActivityDate"] == "2026-11-28"


def test_a_long_subject_is_cut_to_the_field() -> None:
    record = email_task(EmailActivity(_email(subject="s" * 400), EmailMode.TASK), OrgShape(), "k")
    assert len(record["Subject"]) == 255


def test_an_email_message_relates_people_by_their_header_and_the_sender_separately() -> None:
    email = _email(to=(Address("ann@acme.com"), Address("dan@globex.com")))
    addresses = {C1: "bob@globex.com", C2: "carol@globex.com", "003000000000003AAA": "dan@globex.com"}
    record, senders = email_message(
        EmailActivity(email, EmailMode.EMAIL_MESSAGE, (C1, C2, "003000000000003AAA"), None),
        OrgShape(key_fields={"EmailMessage": "rgsync_Key__c"}),
        email.message_id,
        addresses,
    )
    assert record["ToIds"] == ["003000000000003AAA"] and record["CcIds"] == [C2]
    assert senders == [(C1, "bob@globex.com")]
    assert record["ToAddress"] == "ann@acme.com" and record["CcAddress"] is None
    assert (record["Status"], record["Incoming"], record["MessageIdentifier"]) == (
        "3",
        True,
        "<a1@globex.com>",
    )
    assert record["rgsync_Key__c"] == "<a1@globex.com>"
    sent, _ = email_message(
        EmailActivity(_email(folder=Folder.SENT), EmailMode.EMAIL_MESSAGE), OrgShape(), "k", {}
    )
    assert sent["Incoming"] is False


def test_activities_relate_one_lead_or_up_to_fifty_contacts() -> None:
    assert who_list([L1, C1, C2]) == [C1, C2]
    assert who_list([L1, "00Q000000000002AAA"]) == [L1]
    assert len(who_list([f"003{n:015d}" for n in range(60)])) == 50


def test_a_long_natural_key_is_hashed_to_fit_the_key_field() -> None:
    assert key_value("short") == "short"
    long = key_value("x" * 300)
    assert long.startswith("sha256:") and len(long) <= 255 and long == key_value("x" * 300)


# -- events (SPEC §4.2, §4.4) ----------------------------------------------------------------------


def test_a_private_event_relates_to_nobody_and_the_description_goes_once() -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    item = CalendarItem(
        id="",
        subject="Doctor",
        start=start,
        end=start + timedelta(hours=1),
        private=True,
        description="notes",
    )
    record = event_create(item, OrgShape(), "k")
    assert record["IsPrivate"] is True and "WhoId" not in record and "WhatId" not in record
    assert record["Description"] == "notes"
    fields, unknown = event_update({"subject": "Dentist", "location": "Main St"}, OrgShape(), None)
    assert fields == {"Subject": "Dentist", "Location": "Main St"} and unknown == []


def test_an_all_day_event_is_written_as_dates_and_read_back_with_an_exclusive_end() -> None:
    start = datetime(2026, 12, 3, tzinfo=UTC)
    record = event_create(
        CalendarItem(id="", subject="Offsite", start=start, end=start + timedelta(days=2), all_day=True),
        OrgShape(),
        "k",
    )
    assert (record["IsAllDayEvent"], record["ActivityDate"], record["DurationInMinutes"]) == (
        True,
        "2026-12-03",
        2880,
    )
    row = {
        "Id": "00U000000000001AAA",
        "IsAllDayEvent": True,
        "ActivityDate": "2026-12-03",
        "DurationInMinutes": 2880,
        "StartDateTime": "2026-12-03T00:00:00.000+0000",
        "EndDateTime": "2026-12-04T00:00:00.000+0000",
    }
    item = event_from_record(row, OrgShape())
    assert item is not None and (item.start, item.end, item.all_day) == (
        start,
        start + timedelta(days=2),
        True,
    )


def test_lengthening_a_timed_event_sends_both_ends() -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    current = CalendarItem(id="x", subject="Demo", start=start, end=start + timedelta(hours=1))
    fields, unknown = event_update({"end": start + timedelta(hours=2)}, OrgShape(), current)
    assert unknown == []
    assert fields == {
        "IsAllDayEvent": False,
        "StartDateTime": "2026-12-01T09:00:00.000+0000",
        "EndDateTime": "2026-12-01T11:00:00.000+0000",
    }


def test_event_people_updates_replace_the_junction_list() -> None:
    fields, _ = event_update({"who_ids": (C1,)}, OrgShape(shared_activities=True), None)
    assert fields == {"EventWhoIds": [C1]}
    fields, _ = event_update({"who_ids": ()}, OrgShape(shared_activities=False), None)
    assert fields == {"WhoId": None}


def test_a_read_event_lists_its_people_and_invited_users() -> None:
    row = {
        "Id": "00U000000000001AAA",
        "Subject": "Demo",
        "StartDateTime": "2026-12-01T09:00:00.000+0000",
        "EndDateTime": "2026-12-01T10:00:00.000+0000",
        "OwnerId": "005000000000001AAA",
        "WhoId": C1,
        "EventRelations": {
            "records": [
                {"RelationId": C1, "IsParent": True, "IsInvitee": False, "IsWhat": False},
                {"RelationId": C2, "IsParent": True, "IsInvitee": False, "IsWhat": False},
                {"RelationId": "005000000000002AAA", "IsParent": False, "IsInvitee": True, "IsWhat": False},
                {"RelationId": "001000000000001AAA", "IsParent": True, "IsInvitee": False, "IsWhat": True},
            ]
        },
        "rgsync_Key__c": "Demo|…",
    }
    item = event_from_record(row, OrgShape(key_fields={"Event": "rgsync_Key__c"}))
    assert item is not None
    assert item.who_ids == (C1, C2) and item.invitee_ids == ("005000000000002AAA",) and item.created_by_rgsync


# -- contacts and people ----------------------------------------------------------------------------


def test_contact_updates_map_domain_names_and_refuse_unknown_ones() -> None:
    fields, unknown = contact_update(
        {
            "last_name": "Stone",
            "mailing": PostalAddress("1 Main St", "Springfield", "IL", "62701", "US"),
            "shoe_size": 9,
        }
    )
    assert (
        fields["LastName"] == "Stone"
        and fields["MailingStreet"] == "1 Main St"
        and fields["MailingPostalCode"] == "62701"
    )
    assert unknown == ["shoe_size"]


def test_a_lead_without_company_leaves_the_field_out_for_salesforce_to_refuse() -> None:
    record = new_person(NewPerson(PersonKind.LEAD, "x@y.com", "X", "Y", company=" "))
    assert "Company" not in record and record["attributes"] == {"type": "Lead"}


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.Globex.com/about", "globex.com"),
        ("globex.com:8443", "globex.com"),
        ("http://user@shop.globex.com", "shop.globex.com"),
    ],
)
def test_website_domains(website: str, domain: str) -> None:
    assert website_domain(website) == domain


# -- errors and batching (SPEC §7.3, §7.4, §7.7) ------------------------------------------------------


def test_errors_are_mapped_in_one_place() -> None:
    assert isinstance(error_for_status(401, [{"errorCode": "INVALID_SESSION_ID"}]), AuthError)
    budget = error_for_status(
        403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    )
    assert isinstance(budget, ApiBudgetError) and budget.code == "SF-API-BUDGET"
    busy = error_for_status(
        403,
        [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}],
        3.0,
    )
    assert isinstance(busy, RetriableError) and busy.retry_after == 3.0
    assert isinstance(error_for_status(503, "maintenance", 30.0), RetriableError)
    assert isinstance(error_for_status(429, []), RetriableError)
    malformed = error_for_status(400, [{"errorCode": "INVALID_FIELD", "message": "No such column"}])
    assert isinstance(malformed, FatalError) and malformed.code == "SF-INVALID_FIELD"


def test_record_errors_become_stable_issue_codes() -> None:
    assert error_code("FIELD_CUSTOM_VALIDATION_EXCEPTION") == "SF-VALIDATION"
    assert error_code("REQUIRED_FIELD_MISSING") == "SF-REQUIRED-FIELD"
    assert error_code("DUPLICATES_DETECTED") == "SF-DUPLICATE"
    assert error_code("STRING_TOO_LONG") == "SF-STRING_TOO_LONG"


def test_batches_hold_200_records_and_at_most_ten_type_chunks() -> None:
    ops = [Op(n, "create", f"Type{n % 12:02d}") for n in range(24)]
    chunks = chunk_ops(sorted(ops, key=lambda op: op.sobject))
    assert [len({op.sobject for op in c}) for c in chunks] == [10, 2]
    assert [len(c) for c in chunk_ops([Op(n, "create", "Task") for n in range(450)])] == [200, 200, 50]


# -- cursor and sign-in ----------------------------------------------------------------------------


def test_the_cursor_remembers_what_it_read_near_its_mark() -> None:
    mark = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    cursor = advance(
        StreamCursor(scope="tasks|005"),
        [
            ("a", mark, "2026-11-28T10:00:00.000+0000"),
            ("b", mark - timedelta(minutes=5), "2026-11-28T09:55:00.000+0000"),
        ],
        deleted_from=mark,
        clock_offset=1.5,
        window_end=None,
    )
    again = StreamCursor.decode(cursor.encode())
    assert again == cursor and again is not None
    assert again.mark == mark and again.query_from() == mark - OVERLAP
    assert again.already_read("a", "2026-11-28T10:00:00.000+0000") and not again.already_read(
        "b", "2026-11-28T09:55:00.000+0000"
    )
    assert not again.expired(mark + timedelta(days=14)) and again.expired(mark + timedelta(days=15))
    assert StreamCursor.decode("m42") is None and StreamCursor.decode("sf1:not-base64!") is None


def test_settings_table_and_jwt_audience() -> None:
    config = SalesforceConfig.from_table(
        {"auth": "JWT", "instance-url": "https://acme.my.salesforce.com/", "login-url": None}
    )
    assert (config.auth, config.instance_url, config.login_url, config.api_version) == (
        "jwt",
        "https://acme.my.salesforce.com",
        "https://login.salesforce.com",
        "59.0",
    )
    assert jwt_audience("https://acme.my.salesforce.com") == "https://login.salesforce.com"
    assert jwt_audience("https://acme--uat.sandbox.my.salesforce.com") == "https://test.salesforce.com"
    assert jwt_audience("https://127.0.0.1:8443") == "https://127.0.0.1:8443"


def test_dates_are_not_shifted() -> None:
    assert soql.date_literal(date(2026, 2, 28)) == "2026-02-28"


def test_spec_6_2_a_salesforce_cursor_asks_for_a_full_listing_once_a_day() -> None:
    """A record the user can no longer read shows in no delta query: the scope is listed again
    daily, and the listing time survives the cursor's round trip through the state store."""
    from rgsync.providers.salesforce.cursor import RELIST_AFTER, StreamCursor

    listed = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    cursor = StreamCursor.decode(StreamCursor(scope="tasks|005A", listed_at=listed).encode())
    assert cursor is not None and cursor.listed_at == listed
    assert not cursor.relist_due(listed + RELIST_AFTER / 2)
    assert cursor.relist_due(listed + RELIST_AFTER)
    assert StreamCursor(scope="tasks|005A").relist_due(listed)  # never listed: list now
