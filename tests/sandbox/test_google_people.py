"""The People emulator driven through the real google-api-python-client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from rgsync.sandbox.google import RunningGoogle, start_google
from tests.sandbox.google_harness import Clock, error_json, service

BOB = {
    "names": [{"givenName": "Bob", "familyName": "Stone"}],
    "emailAddresses": [{"value": "bob@globex.com", "type": "work"}],
    "phoneNumbers": [{"value": "+49 30 1234567", "type": "mobile"}],
    "organizations": [{"name": "Globex", "title": "Buyer", "department": "Purchasing"}],
    "clientData": [{"key": "rgsync_id", "value": "003B"}],
}
FIELDS = "names,emailAddresses,phoneNumbers,organizations,clientData,memberships,metadata"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def google(server: RunningGoogle) -> RunningGoogle:
    server.reset(scenario={"contacts": [BOB]}, clock=Clock())
    return server


@pytest.fixture
def people(google: RunningGoogle) -> Any:
    return service(google, "people")


def connections(people: Any, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = (
            people.people().connections().list(resourceName="people/me", pageToken=token, **params).execute()
        )
        found += page.get("connections", [])
        token = page.get("nextPageToken")
        if not token:
            return found, page


def test_person_fields_are_required_and_filter_the_answer(people: Any) -> None:
    with pytest.raises(HttpError) as missing:
        people.people().connections().list(resourceName="people/me").execute()
    assert missing.value.resp.status == 400
    assert error_json(missing.value)["status"] == "INVALID_ARGUMENT"
    found, _ = connections(people, personFields="names")
    assert set(found[0]) == {"resourceName", "etag", "names"}
    assert found[0]["names"][0]["displayName"] == "Bob Stone"


def test_contact_carries_google_derived_fields(people: Any) -> None:
    bob = connections(people, personFields=FIELDS)[0][0]
    assert bob["resourceName"].startswith("people/c")
    source = bob["metadata"]["sources"][0]
    assert source["type"] == "CONTACT" and source["etag"]
    assert bob["phoneNumbers"][0]["formattedType"] == "Mobile"
    assert bob["phoneNumbers"][0]["canonicalForm"] == "+49301234567"
    assert bob["organizations"][0] == {
        "name": "Globex",
        "title": "Buyer",
        "department": "Purchasing",
        "metadata": {"primary": True, "source": {"type": "CONTACT", "id": source["id"]}},
    }
    assert bob["clientData"][0]["key"] == "rgsync_id"
    groups = [m["contactGroupMembership"]["contactGroupResourceName"] for m in bob["memberships"]]
    assert groups == ["contactGroups/myContacts"]


def test_paging_and_sync_token_with_deleted_contacts(google: RunningGoogle, people: Any) -> None:
    for number in range(4):
        google.state.add_contact({"names": [{"givenName": f"P{number}"}]})
    first = (
        people.people()
        .connections()
        .list(resourceName="people/me", personFields="names", pageSize=2)
        .execute()
    )
    assert len(first["connections"]) == 2 and "nextSyncToken" not in first
    everyone, last = connections(people, personFields="names", pageSize=2, requestSyncToken=True)
    assert len(everyone) == 5 and last["nextSyncToken"]
    bob = everyone[0]["resourceName"]
    google.state.people.delete_contact(bob)
    renamed = everyone[1]["resourceName"]
    google.state.people.update_contact(renamed, {"names": [{"givenName": "Renamed"}]})
    changed, page = connections(
        people, personFields="names", syncToken=last["nextSyncToken"], requestSyncToken=True
    )
    by_name = {c["resourceName"]: c for c in changed}
    assert set(by_name) == {bob, renamed}
    assert by_name[bob]["metadata"]["deleted"] is True and "names" not in by_name[bob]
    assert by_name[renamed]["names"][0]["givenName"] == "Renamed"
    assert connections(people, personFields="names", syncToken=page["nextSyncToken"])[0] == []


def test_expired_sync_token_is_failed_precondition(google: RunningGoogle, people: Any) -> None:
    _, last = connections(people, personFields="names", requestSyncToken=True)
    google.state.expire_people_sync_tokens()
    with pytest.raises(HttpError) as expired:
        connections(people, personFields="names", syncToken=last["nextSyncToken"])
    assert expired.value.resp.status == 400
    error = error_json(expired.value)
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["details"][0]["reason"] == "EXPIRED_SYNC_TOKEN"


def test_update_contact_checks_the_etag(people: Any) -> None:
    bob = connections(people, personFields=FIELDS)[0][0]
    updated = (
        people.people()
        .updateContact(
            resourceName=bob["resourceName"],
            updatePersonFields="organizations",
            personFields="organizations,names",
            body={"etag": bob["etag"], "organizations": [{"name": "Globex", "title": "Head of Buying"}]},
        )
        .execute()
    )
    assert updated["organizations"][0]["title"] == "Head of Buying" and updated["etag"] != bob["etag"]
    assert updated["names"][0]["givenName"] == "Bob"  # fields outside the mask stay as they were
    with pytest.raises(HttpError) as stale:
        people.people().updateContact(
            resourceName=bob["resourceName"],
            updatePersonFields="names",
            body={"etag": bob["etag"], "names": [{"givenName": "B"}]},
        ).execute()
    assert stale.value.resp.status == 400
    error = error_json(stale.value)
    assert error["status"] == "FAILED_PRECONDITION" and error["errors"][0]["reason"] == "failedPrecondition"
    with pytest.raises(HttpError) as no_etag:
        people.people().updateContact(
            resourceName=bob["resourceName"], updatePersonFields="names", body={"names": [{"givenName": "B"}]}
        ).execute()
    assert no_etag.value.resp.status == 400


def test_batch_create_update_delete_and_their_caps(people: Any) -> None:
    created = (
        people.people()
        .batchCreateContacts(
            body={
                "contacts": [{"contactPerson": {"names": [{"givenName": f"N{n}"}]}} for n in range(3)],
                "readMask": "names",
            }
        )
        .execute()["createdPeople"]
    )
    assert [c["httpStatusCode"] for c in created] == [200, 200, 200]
    first = created[0]["person"]
    result = (
        people.people()
        .batchUpdateContacts(
            body={
                "contacts": {
                    first["resourceName"]: {"etag": first["etag"], "names": [{"givenName": "First"}]}
                },
                "updateMask": "names",
                "readMask": "names",
            }
        )
        .execute()["updateResult"]
    )
    assert result[first["resourceName"]]["person"]["names"][0]["givenName"] == "First"
    people.people().batchDeleteContacts(
        body={"resourceNames": [c["person"]["resourceName"] for c in created]}
    ).execute()
    assert len(connections(people, personFields="names")[0]) == 1
    with pytest.raises(HttpError) as too_many:
        people.people().batchCreateContacts(
            body={"contacts": [{"contactPerson": {"names": [{"givenName": "x"}]}}] * 201, "readMask": "names"}
        ).execute()
    assert too_many.value.resp.status == 400
    with pytest.raises(HttpError) as too_many_deletes:
        people.people().batchDeleteContacts(body={"resourceNames": ["people/c1"] * 501}).execute()
    assert too_many_deletes.value.resp.status == 400


def test_contact_groups_and_members_modify(people: Any) -> None:
    bob = connections(people, personFields="names")[0][0]["resourceName"]
    group = people.contactGroups().create(body={"contactGroup": {"name": "Salesforce"}}).execute()
    assert group["groupType"] == "USER_CONTACT_GROUP" and group["memberCount"] == 0
    with pytest.raises(HttpError) as duplicate:
        people.contactGroups().create(body={"contactGroup": {"name": "Salesforce"}}).execute()
    assert duplicate.value.resp.status == 409
    answer = (
        people.contactGroups()
        .members()
        .modify(resourceName=group["resourceName"], body={"resourceNamesToAdd": [bob, "people/c404"]})
        .execute()
    )
    assert answer == {"notFoundResourceNames": ["people/c404"]}
    fetched = people.contactGroups().get(resourceName=group["resourceName"], maxMembers=10).execute()
    assert fetched["memberResourceNames"] == [bob]
    groups = {g["name"] for g in people.contactGroups().list().execute()["contactGroups"]}
    assert {"myContacts", "starred", "Salesforce"} <= groups


def test_create_and_delete_single_contact(people: Any) -> None:
    carol = (
        people.people()
        .createContact(body={"names": [{"givenName": "Carol"}]}, personFields="names")
        .execute()
    )
    assert carol["names"][0]["displayName"] == "Carol"
    people.people().deleteContact(resourceName=carol["resourceName"]).execute()
    with pytest.raises(HttpError) as gone:
        people.people().get(resourceName=carol["resourceName"], personFields="names").execute()
    assert gone.value.resp.status == 404
    with pytest.raises(HttpError) as unknown_field:
        people.people().createContact(body={"nmes": [{"givenName": "Typo"}]}).execute()
    assert unknown_field.value.resp.status == 400
