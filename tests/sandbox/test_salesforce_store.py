"""Save rules of the emulated org: Ids, required/unknown/read-only fields, lengths, activities."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from rgsync.sandbox.salesforce import SalesforceEmulator, load_scenario
from rgsync.sandbox.salesforce.clock import ManualClock
from rgsync.sandbox.salesforce.errors import RecordError, RequestError
from rgsync.sandbox.salesforce.ids import checksum, normalize
from rgsync.sandbox.salesforce.store import Org
from tests.sandbox.salesforce_support import NOW, SCENARIO


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def world(clock: ManualClock) -> tuple[Org, dict[str, str]]:
    org = Org(clock=clock)
    keys = load_scenario(SalesforceEmulator(org), SCENARIO)
    return org, keys


def refusal(action: object) -> RecordError:
    with pytest.raises(RecordError) as caught:
        action()  # type: ignore[operator]
    return caught.value


# --- Ids ---------------------------------------------------------------------------------------


def test_checksum_matches_salesforce_examples() -> None:
    # Each 5-character chunk maps its upper-case positions (bit i = position i) to A-Z0-5.
    assert checksum("001A0000006Vm9r") == "IAC"
    assert checksum("003D000000QZnLE") == "IA1"
    assert checksum("aaaaaaaaaaaaaaa") == "AAA"
    assert checksum("AAAAAAAAAAAAAAA") == "555"


def test_new_ids_carry_the_object_key_prefix_and_a_valid_checksum(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    task = org.insert("Task", {"Subject": "Call"})
    event = org.insert(
        "Event", {"Subject": "Meet", "StartDateTime": "2026-11-30T09:00:00Z", "DurationInMinutes": 30}
    )
    prefixes = {
        keys["globex"]: "001",
        keys["bob"]: "003",
        keys["erin"]: "00Q",
        keys["o1"]: "006",
        keys["ann"]: "005",
        task: "00T",
        event: "00U",
    }
    for record_id, prefix in prefixes.items():
        assert re.fullmatch(r"[0-9A-Za-z]{18}", record_id)
        assert record_id.startswith(prefix)
        assert record_id[15:] == checksum(record_id[:15])


def test_fifteen_character_ids_are_case_sensitive(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    bob = keys["bob"]
    assert org.get(bob[:15])["Id"] == bob  # type: ignore[index]
    assert org.get(bob[:15].swapcase()) is None
    # The 18-character form survives case changes: the suffix restores the case.
    assert normalize(bob.lower()) == bob
    assert normalize(bob[:15] + "ZZZ") is None


# --- fields --------------------------------------------------------------------------------------


def test_required_fields_are_named(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refusal(lambda: org.insert("Lead", {"FirstName": "No"}))
    assert error.code == "REQUIRED_FIELD_MISSING"
    assert error.errors[0].fields == ("LastName", "Company")
    assert error.errors[0].message == "Required fields are missing: [LastName, Company]"


def test_unknown_field_is_invalid_field(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refusal(lambda: org.insert("Contact", {"LastName": "X", "Nickname__c": "x"}))
    assert error.code == "INVALID_FIELD"
    assert "No such column 'Nickname__c' on sobject of type Contact" in error.errors[0].message


def test_read_only_fields_are_refused_on_insert(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refusal(lambda: org.insert("Contact", {"LastName": "X", "CreatedDate": "2026-01-01T00:00:00Z"}))
    assert error.code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error.errors[0].fields == ("CreatedDate",)


def test_task_subtype_is_set_on_create_and_never_updated(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    task = org.insert("Task", {"Subject": "Call Bob", "TaskSubtype": "Call"})
    assert org.get(task)["TaskSubtype"] == "Call"  # type: ignore[index]
    error = refusal(lambda: org.update(task, {"TaskSubtype": "Task"}))
    assert error.code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    event = org.insert("Event", {"StartDateTime": "2026-11-30T09:00:00Z", "DurationInMinutes": 30})
    assert (
        refusal(lambda: org.update(event, {"EventSubtype": "Event"})).code
        == "INVALID_FIELD_FOR_INSERT_UPDATE"
    )


def test_text_longer_than_the_field_is_string_too_long(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refusal(lambda: org.insert("Task", {"Subject": "x" * 256}))
    assert error.code == "STRING_TOO_LONG"
    assert "(max length=255)" in error.errors[0].message
    assert org.insert("Task", {"Subject": "x" * 255, "Description": "y" * 32000})


def test_restricted_picklist_and_email_checks(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    assert (
        refusal(lambda: org.insert("Task", {"Status": "Done-ish"})).code
        == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    )
    assert (
        refusal(lambda: org.insert("Contact", {"LastName": "X", "Email": "not-an-address"})).code
        == "INVALID_EMAIL_ADDRESS"
    )


def test_values_of_the_wrong_json_type_are_parser_errors(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    with pytest.raises(RequestError) as caught:
        org.insert("Task", {"ActivityDate": "28/11/2026"})
    assert caught.value.code == "JSON_PARSER_ERROR"


def test_references_must_point_at_live_records_of_the_right_type(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    assert (
        refusal(lambda: org.insert("Contact", {"LastName": "X", "AccountId": keys["bob"]})).code
        == "FIELD_INTEGRITY_EXCEPTION"
    )
    assert (
        refusal(lambda: org.insert("Contact", {"LastName": "X", "AccountId": "001xyz"})).code
        == "MALFORMED_ID"
    )
    org.delete(keys["initech"])
    assert (
        refusal(lambda: org.insert("Contact", {"LastName": "X", "AccountId": keys["initech"]})).code
        == "ENTITY_IS_DELETED"
    )


def test_audit_fields_and_defaults_are_maintained(
    world: tuple[Org, dict[str, str]], clock: ManualClock
) -> None:
    org, keys = world
    org.acting_user_id = keys["ann"]
    task = org.insert("Task", {"Subject": "Call"})
    row = org.get(task)
    assert row is not None
    assert (row["Status"], row["Priority"], row["TaskSubtype"], row["OwnerId"]) == (
        "Not Started",
        "Normal",
        "Task",
        keys["ann"],
    )
    assert row["CreatedDate"] == row["SystemModstamp"] == NOW
    clock.advance(minutes=5)
    org.acting_user_id = keys["frank"]
    org.update(task, {"Status": "Completed"})
    row = org.get(task)
    assert row is not None
    assert row["LastModifiedDate"] == row["SystemModstamp"] == datetime(2026, 11, 28, 11, 5, tzinfo=UTC)
    assert (row["CreatedById"], row["LastModifiedById"], row["IsClosed"]) == (
        keys["ann"],
        keys["frank"],
        True,
    )


def test_validation_rule_rejects_chosen_records(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refusal(lambda: org.insert("Task", {"Subject": "Please REJECT"}))
    assert error.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert (error.errors[0].message, error.errors[0].fields) == ("Subjects may not say REJECT", ("Subject",))
    org.add_validation_rule("Contact", lambda r: not r.get("Email"), "Contacts need an email")
    assert refusal(lambda: org.insert("Contact", {"LastName": "X"})).errors[0].fields == ()


def test_unique_external_id_and_upsert(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    first, created = org.upsert("Task", "rgsync_Key__c", "mail-1", {"Subject": "One"})
    again, created_again = org.upsert("Task", "rgsync_Key__c", "MAIL-1", {"Subject": "Changed"})
    assert (created, created_again, again) == (True, False, first)
    assert org.get(first)["Subject"] == "Changed"  # type: ignore[index]
    assert (
        refusal(lambda: org.insert("Task", {"Subject": "Dup", "rgsync_Key__c": "mail-1"})).code
        == "DUPLICATE_VALUE"
    )


def test_converted_leads_are_read_only(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    org.convert_lead(keys["erin"], contact_id=keys["bob"])
    assert org.get(keys["erin"])["IsConverted"] is True  # type: ignore[index]
    assert refusal(lambda: org.update(keys["erin"], {"Title": "CEO"})).code == "CANNOT_UPDATE_CONVERTED_LEAD"


# --- Events ------------------------------------------------------------------------------------


def test_event_needs_an_end_or_a_duration(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refusal(lambda: org.insert("Event", {"StartDateTime": "2026-11-30T09:00:00Z"}))
    assert (error.code, error.errors[0].fields) == ("REQUIRED_FIELD_MISSING", ("DurationInMinutes",))
    event = org.insert(
        "Event", {"StartDateTime": "2026-11-30T09:00:00Z", "EndDateTime": "2026-11-30T10:30:00Z"}
    )
    row = org.get(event)
    assert row is not None
    assert (row["DurationInMinutes"], row["ActivityDateTime"], str(row["ActivityDate"])) == (
        90,
        row["StartDateTime"],
        "2026-11-30",
    )


def test_moving_an_event_keeps_its_duration(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    event = org.insert("Event", {"StartDateTime": "2026-11-30T09:00:00Z", "DurationInMinutes": 45})
    org.update(event, {"StartDateTime": "2026-12-01T14:00:00+01:00"})
    row = org.get(event)
    assert row is not None
    assert row["EndDateTime"] == datetime(2026, 12, 1, 13, 45, tzinfo=UTC)


def test_all_day_events_use_activity_date(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    event = org.insert(
        "Event", {"IsAllDayEvent": True, "ActivityDate": "2026-12-24", "EndDateTime": "2026-12-26T00:00:00Z"}
    )
    row = org.get(event)
    assert row is not None
    assert (row["DurationInMinutes"], str(row["EndDate"])) == (3 * 1440, "2026-12-26")
    assert refusal(lambda: org.insert("Event", {"IsAllDayEvent": True})).errors[0].fields == ("ActivityDate",)


def test_events_longer_than_fourteen_days_are_refused(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refusal(
        lambda: org.insert(
            "Event", {"StartDateTime": "2026-11-01T00:00:00Z", "EndDateTime": "2026-11-20T00:00:00Z"}
        )
    )
    assert error.code == "FIELD_INTEGRITY_EXCEPTION"


# --- Shared Activities and Enhanced Email ---------------------------------------------------------


def test_task_who_ids_create_relations_and_set_the_primary(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    task = org.insert(
        "Task", {"Subject": "Call", "TaskWhoIds": [keys["carol"], keys["bob"]], "WhatId": keys["o1"]}
    )
    row = org.get(task)
    assert row is not None
    assert (row["WhoId"], row["AccountId"]) == (keys["carol"], keys["globex"])
    relations = {(r["RelationId"], r["IsWhat"]) for r in org.records("TaskRelation") if r["TaskId"] == task}
    assert relations == {(keys["carol"], False), (keys["bob"], False), (keys["o1"], True)}
    org.update(task, {"TaskWhoIds": [keys["dave"]]})
    relations = {
        r["RelationId"] for r in org.records("TaskRelation") if r["TaskId"] == task and not r["IsWhat"]
    }
    assert relations == {keys["dave"]}
    assert org.get(task)["WhoId"] == keys["dave"]  # type: ignore[index]


def test_who_ids_allow_one_lead_or_up_to_fifty_contacts(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    assert (
        refusal(lambda: org.insert("Task", {"TaskWhoIds": [keys["erin"], keys["bob"]]})).code
        == "FIELD_INTEGRITY_EXCEPTION"
    )
    many = [org.insert("Contact", {"LastName": f"C{i}"}) for i in range(51)]
    assert refusal(lambda: org.insert("Task", {"TaskWhoIds": many})).code == "FIELD_INTEGRITY_EXCEPTION"
    assert org.insert("Task", {"TaskWhoIds": many[:50]})


def test_event_who_ids_create_parent_relations(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    event = org.insert(
        "Event",
        {
            "StartDateTime": "2026-11-30T09:00:00Z",
            "DurationInMinutes": 30,
            "EventWhoIds": [keys["bob"], keys["carol"]],
        },
    )
    rows = [r for r in org.records("EventRelation") if r["EventId"] == event]
    assert {(r["RelationId"], r["IsParent"], r["IsInvitee"]) for r in rows} == {
        (keys["bob"], True, False),
        (keys["carol"], True, False),
    }
    org.delete(event)
    assert [r for r in org.records("EventRelation") if r["EventId"] == event] == []


def test_without_shared_activities_who_lists_are_unknown_fields(clock: ManualClock) -> None:
    org = Org(clock=clock, shared_activities=False)
    contact = org.insert("Contact", {"LastName": "Solo"})
    assert refusal(lambda: org.insert("Task", {"TaskWhoIds": [contact]})).code == "INVALID_FIELD"
    org.insert("Task", {"WhoId": contact})
    assert org.records("TaskRelation") == []


def test_enhanced_email_files_relations_and_a_task(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    email = org.insert(
        "EmailMessage",
        {
            "Subject": "Proposal",
            "HtmlBody": "<p>Hi Bob &amp; Carol</p>",
            "Status": "3",
            "FromAddress": "ann@acme.com",
            "ToIds": [keys["bob"]],
            "CcIds": [keys["carol"]],
            "MessageDate": "2026-11-27T09:00:00Z",
            "RelatedToId": keys["o1"],
        },
    )
    row = org.get(email)
    assert row is not None
    assert row["TextBody"] == "Hi Bob & Carol"
    task = org.get(row["ActivityId"])
    assert task is not None
    assert (task["TaskSubtype"], task["Subject"], task["Status"], str(task["ActivityDate"])) == (
        "Email",
        "Email: Proposal",
        "Completed",
        "2026-11-27",
    )
    assert task["WhatId"] == keys["o1"]
    kinds = {(r["RelationType"], r["RelationId"]) for r in org.records("EmailMessageRelation")}
    assert kinds == {("ToAddress", keys["bob"]), ("CcAddress", keys["carol"]), ("FromAddress", keys["ann"])}
    assert {
        r["RelationId"] for r in org.records("TaskRelation") if r["TaskId"] == task["Id"] and not r["IsWhat"]
    } == {keys["bob"], keys["carol"]}
    # Sent emails are locked except a few fields.
    assert refusal(lambda: org.update(email, {"Subject": "Changed"})).code == "FIELD_INTEGRITY_EXCEPTION"
    org.update(email, {"IsExternallyVisible": True})
    org.delete(email)
    assert org.get(task["Id"]) is None


def test_email_message_needs_enhanced_email(clock: ManualClock) -> None:
    org = Org(clock=clock, enhanced_email=False)
    assert (
        refusal(lambda: org.insert("EmailMessage", {"Subject": "x", "Status": "3"})).code
        == "INVALID_TYPE_FOR_OPERATION"
    )


# --- rollback and replication --------------------------------------------------------------------


def test_rollback_undoes_records_and_their_companions(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    before = len(org.records("TaskRelation"))
    mark = org.savepoint()
    task = org.insert("Task", {"TaskWhoIds": [keys["bob"]]})
    org.update(keys["bob"], {"Title": "Boss"})
    org.delete(keys["carol"])
    org.rollback(mark)
    assert org.get(task, include_deleted=True) is None
    assert len(org.records("TaskRelation")) == before
    assert org.get(keys["bob"])["Title"] is None  # type: ignore[index]
    assert org.get(keys["carol"]) is not None


def test_updated_and_deleted_windows(world: tuple[Org, dict[str, str]], clock: ManualClock) -> None:
    org, keys = world
    clock.advance(minutes=10)
    org.update(keys["bob"], {"Title": "Boss"})
    org.delete(keys["carol"])
    clock.advance(minutes=2)
    found, latest = org.updated_ids(
        "Contact", datetime(2026, 11, 28, 11, 5, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert (found, latest) == ([keys["bob"]], datetime(2026, 11, 28, 11, 12, tzinfo=UTC))
    deleted, _earliest, latest = org.deleted_records(
        "Contact", datetime(2026, 11, 28, 11, 0, tzinfo=UTC), datetime(2026, 11, 28, 12, tzinfo=UTC)
    )
    assert [d[0] for d in deleted] == [keys["carol"]]
    with pytest.raises(RequestError) as too_old:
        org.updated_ids("Contact", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))
    assert too_old.value.code == "INVALID_REPLICATION_DATE"
    with pytest.raises(RequestError):
        org.deleted_records("Contact", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))
    org.purge_deleted("Contact")
    with pytest.raises(RequestError):
        org.deleted_records(
            "Contact", datetime(2026, 11, 28, 11, 0, tzinfo=UTC), datetime(2026, 11, 28, 11, 5, tzinfo=UTC)
        )
    assert org.get(keys["carol"], include_deleted=True) is None
