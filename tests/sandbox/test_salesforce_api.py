"""The emulator's REST API over loopback HTTPS, driven by simple-salesforce and plain requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from rgsync.sandbox.salesforce import RunningSalesforce, start_salesforce
from rgsync.sandbox.salesforce.clock import ManualClock
from tests.sandbox.salesforce_support import NOW, SCENARIO, Api, client, start


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sf(tmp_path: Path, clock: ManualClock) -> Iterator[RunningSalesforce]:
    with start(tmp_path, clock) as running:
        yield running


@pytest.fixture
def api(sf: RunningSalesforce) -> Api:
    return Api(sf)


def task(subject: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Task"}, "Subject": subject, **fields}


# --- basics, headers and errors ------------------------------------------------------------------


def test_crud_round_trip_with_simple_salesforce(sf: RunningSalesforce) -> None:
    client_ = client(sf)
    contacts = client_.Contact
    created = contacts.create({"LastName": "Gus", "Email": "gus@globex.com", "AccountId": sf.keys["globex"]})
    assert created["success"] is True and created["id"].startswith("003")
    assert contacts.update(created["id"], {"Title": "Buyer"}) == 204
    fetched = contacts.get(created["id"])
    assert (fetched["Title"], fetched["attributes"]["type"], fetched["CreatedDate"]) == (
        "Buyer",
        "Contact",
        "2026-11-28T11:00:00.000+0000",
    )
    found = client_.query("SELECT Id, Account.Name FROM Contact WHERE Email = 'GUS@globex.com'")
    assert found["records"][0]["Account"]["Name"] == "Globex"
    assert contacts.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        contacts.get(created["id"])
    assert sf.org.get(created["id"], include_deleted=True)["IsDeleted"] is True  # type: ignore[index]


def test_every_response_reports_api_usage(sf: RunningSalesforce, api: Api) -> None:
    client_ = client(sf)
    client_.query("SELECT Id FROM Account")
    assert client_.api_usage["api-usage"].used == 1
    assert client_.api_usage["api-usage"].total == 15000
    response = api.get("sobjects/Nope/describe")
    assert response.status_code == 404
    assert response.headers["Sforce-Limit-Info"] == "api-usage=2/15000"


def test_allocation_exhaustion_refuses_with_403(sf: RunningSalesforce, api: Api) -> None:
    sf.emulator.set_allocation(14999, 15000)
    assert api.get("limits").json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 0}
    response = api.get("query", params={"q": "SELECT Id FROM Contact"})
    assert response.status_code == 403
    assert response.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert response.headers["Sforce-Limit-Info"] == "api-usage=15000/15000"
    with pytest.raises(SalesforceRefusedRequest):
        client(sf).query("SELECT Id FROM Contact")


def test_bad_and_expired_tokens_get_401(sf: RunningSalesforce) -> None:
    response = Api(sf, token="not-a-session").get("limits")
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]
    sf.emulator.expire_session(sf.token)
    with pytest.raises(SalesforceExpiredSession):
        client(sf).query("SELECT Id FROM Contact")
    assert sf.org.api_used == 0


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/services/data/v49.0/limits", 404, "NOT_FOUND"),
        ("GET", "sobjects/Contact/003Rg000000000zZZZ", 404, "NOT_FOUND"),
        ("GET", "nothing/here", 404, "NOT_FOUND"),
        ("PUT", "sobjects/Contact/describe", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "query", 400, "MALFORMED_QUERY"),
    ],
)
def test_error_shapes_and_codes(api: Api, method: str, path: str, status: int, code: str) -> None:
    response = api.call(method, path)
    assert response.status_code == status
    body = response.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code and "message" in body[0]


def test_any_version_from_fifty_is_served(api: Api) -> None:
    assert api.get("/services/data/v50.0/limits").status_code == 200
    assert api.get("/services/data/v62.0/sobjects").json()["maxBatchSize"] == 200
    assert {"version": "59.0", "label": "API 59.0", "url": "/services/data/v59.0"} in api.get(
        "/services/data/"
    ).json()


def test_unreadable_json_is_json_parser_error(api: Api) -> None:
    response = api.post(
        "sobjects/Contact/", data="{LastName: oops", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_record_errors_come_back_as_salesforce_errors(sf: RunningSalesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client(sf).Contact.create({"FirstName": "NoLast"})
    assert caught.value.content == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client(sf).query("SELECT Id FROM Contact WHERE")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_over_long_uri_is_414(api: Api) -> None:
    soql = "SELECT Id FROM Contact WHERE Id IN (" + ",".join(["'003Rg0000000001IAA'"] * 900) + ")"
    response = api.get("query", params={"q": soql})
    assert response.status_code == 414
    short = "SELECT Id FROM Contact WHERE Id IN (" + ",".join(["'003Rg0000000001IAA'"] * 300) + ")"
    assert api.get("query", params={"q": short}).status_code == 200


# --- query paging --------------------------------------------------------------------------------


def test_paging_follows_next_records_url_with_batch_size(sf: RunningSalesforce, api: Api) -> None:
    for index in range(450):
        sf.org.insert("Contact", {"LastName": f"Bulk{index:03d}"})
    headers = {"Sforce-Query-Options": "batchSize=200"}
    first = api.get(
        "query", params={"q": "SELECT Id, LastName FROM Contact ORDER BY LastName"}, headers=headers
    ).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (453, False, 200)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    second = api.get(first["nextRecordsUrl"]).json()
    third = api.get(second["nextRecordsUrl"]).json()
    assert (len(second["records"]), len(third["records"]), third["done"], "nextRecordsUrl" in third) == (
        200,
        53,
        True,
        False,
    )
    assert sf.server.calls["query.more"] == 2
    everything = list(
        client(sf).query_all_iter("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=50"})
    )
    assert len(everything) == 453
    assert sf.server.calls["query.more"] == 4  # batchSize below 200 is raised to 200


def test_default_batch_is_two_thousand(sf: RunningSalesforce, api: Api) -> None:
    for index in range(2001):
        sf.org.insert("Task", {"Subject": f"T{index}"})
    page = api.get(
        "query", params={"q": "SELECT Id FROM Task"}, headers={"Sforce-Query-Options": "batchSize=5000"}
    ).json()
    assert (len(page["records"]), page["done"]) == (2000, False)


def test_expired_cursor_is_invalid_query_locator(sf: RunningSalesforce, api: Api, clock: ManualClock) -> None:
    for index in range(250):
        sf.org.insert("Contact", {"LastName": f"C{index}"})
    page = api.get(
        "query", params={"q": "SELECT Id FROM Contact"}, headers={"Sforce-Query-Options": "batchSize=200"}
    ).json()
    clock.advance(days=3)
    response = api.get(page["nextRecordsUrl"])
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_returns_deleted_records(sf: RunningSalesforce) -> None:
    sf.org.delete(sf.keys["carol"])
    client_ = client(sf)
    assert client_.query("SELECT Id FROM Contact")["totalSize"] == 2
    deleted = client_.query("SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in deleted["records"]] == [sf.keys["carol"]]
    assert sf.server.calls["queryAll"] == 1


# --- sObject Collections -------------------------------------------------------------------------


def test_collection_create_keeps_order_and_reports_per_record_errors(sf: RunningSalesforce) -> None:
    results = client(sf).restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                task("one"),
                task("REJECT two"),
                {"attributes": {"type": "Contact"}, "LastName": "Neu"},
                task("x" * 300),
            ]
        },
    )
    assert [r["success"] for r in results] == [True, False, True, False]
    assert results[1]["errors"] == [
        {
            "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "message": "Subjects may not say REJECT",
            "fields": ["Subject"],
        }
    ]
    assert results[3]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[0]["id"].startswith("00T") and results[2]["id"].startswith("003")
    assert sf.server.calls["collections.create"] == 1 and sf.org.api_used == 1


def test_collection_all_or_none_rolls_everything_back(sf: RunningSalesforce) -> None:
    before = len(sf.org.records("Task"))
    results = client(sf).restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": [task("fine"), task("REJECT"), task("fine too")]},
    )
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert len(sf.org.records("Task")) == before


def test_collections_cap_at_two_hundred(api: Api) -> None:
    response = api.post("composite/sobjects", json={"records": [task(str(i)) for i in range(201)]})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert (
        api.post("composite/sobjects", json={"records": [task(str(i)) for i in range(200)]}).status_code
        == 200
    )
    ids = ",".join(["00TRg0000000001MAA"] * 201)
    assert api.delete("composite/sobjects", params={"ids": ids}).json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_mixed_types_are_limited_to_ten_chunks(api: Api) -> None:
    contact = {"attributes": {"type": "Contact"}, "LastName": "Chunk"}
    ten = [task("t") if i % 2 == 0 else contact for i in range(10)]
    assert api.post("composite/sobjects", json={"records": ten}).status_code == 200
    eleven = [*ten, task("t")]
    response = api.post("composite/sobjects", json={"records": eleven})
    assert response.status_code == 400
    assert "10 chunks" in response.json()[0]["message"]


def test_collection_update_and_delete(sf: RunningSalesforce, api: Api) -> None:
    keys = sf.keys
    results = api.patch(
        "composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "id": keys["bob"], "Title": "Boss"},
                {"attributes": {"type": "Contact"}, "Title": "No id"},
                {"attributes": {"type": "Contact"}, "id": keys["carol"][:15], "TaskSubtype": "x"},
            ]
        },
    ).json()
    assert results[0] == {"id": keys["bob"], "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert (results[2]["id"], results[2]["errors"][0]["statusCode"]) == (keys["carol"], "INVALID_FIELD")
    sf.org.delete(keys["dave"])
    deleted = api.delete(
        "composite/sobjects", params={"ids": f"{keys['bob']},{keys['dave']}", "allOrNone": "false"}
    ).json()
    assert deleted[0] == {"id": keys["bob"], "success": True, "errors": []}
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert sf.server.calls["collections.update"] == 1 and sf.server.calls["collections.delete"] == 1


def test_collection_upsert_by_external_id(sf: RunningSalesforce, api: Api) -> None:
    path = "composite/sobjects/Task/rgsync_Key__c"
    first = api.patch(
        path,
        json={"allOrNone": False, "records": [task("a", rgsync_Key__c="k1"), task("b", rgsync_Key__c="k2")]},
    ).json()
    assert [r["created"] for r in first] == [True, True]
    second = api.patch(
        path,
        json={
            "records": [
                task("a2", rgsync_Key__c="k1"),
                task("c", rgsync_Key__c="k3"),
                task("d", rgsync_Key__c="k3"),
                task("e"),
            ]
        },
    ).json()
    assert (second[0]["created"], second[0]["id"]) == (False, first[0]["id"])
    assert [r["errors"][0]["statusCode"] for r in second[1:3]] == [
        "DUPLICATE_EXTERNAL_ID",
        "DUPLICATE_EXTERNAL_ID",
    ]
    assert second[3]["success"] is False
    assert sf.org.get(first[0]["id"])["Subject"] == "a2"  # type: ignore[index]


def test_collection_retrieve(sf: RunningSalesforce, api: Api) -> None:
    records = api.get(
        "composite/sobjects/Contact",
        params={"ids": f"{sf.keys['bob']},003Rg000000009zAAA", "fields": "LastName,Email"},
    ).json()
    assert records[0]["LastName"] == "Stone" and records[1] is None


# --- single-record upsert ---------------------------------------------------------------------------


def test_upsert_creates_then_updates_then_reports_several_matches(sf: RunningSalesforce) -> None:
    tasks = client(sf).Task
    assert tasks.upsert("rgsync_Key__c/mail-1", {"Subject": "Hello"}) == 201
    assert tasks.upsert("rgsync_Key__c/mail-1", {"Subject": "Hello again"}) == 200
    assert tasks.get_by_custom_id("rgsync_Key__c", "mail-1")["Subject"] == "Hello again"
    sf.org.add_custom_field("Contact", "Legacy_Key__c", unique=False)
    sf.org.update(sf.keys["bob"], {"Legacy_Key__c": "L1"})
    sf.org.update(sf.keys["carol"], {"Legacy_Key__c": "L1"})
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        client(sf).Contact.upsert("Legacy_Key__c/L1", {"Title": "x"})
    assert len(caught.value.content) == 2


# --- Composite ------------------------------------------------------------------------------------


def sub(reference: str, method: str, url: str, body: Any = None) -> dict[str, Any]:
    entry = {"referenceId": reference, "method": method, "url": "/services/data/v59.0/" + url}
    if body is not None:
        entry["body"] = body
    return entry


def test_composite_references_and_one_api_call(sf: RunningSalesforce, api: Api) -> None:
    body = {
        "compositeRequest": [
            sub("acc", "POST", "sobjects/Account", {"Name": "Hooli"}),
            sub("con", "POST", "sobjects/Contact", {"LastName": "Gavin", "AccountId": "@{acc.id}"}),
            sub("q", "GET", "query?q=SELECT+Id,Account.Name+FROM+Contact+WHERE+AccountId='@{acc.id}'"),
            sub("upd", "PATCH", "sobjects/Contact/@{q.records[0].Id}", {"Title": "CEO"}),
        ]
    }
    result = api.post("composite", json=body).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in result] == [201, 201, 200, 204]
    assert result[2]["body"]["records"][0]["Account"]["Name"] == "Hooli"
    assert result[0]["httpHeaders"]["Location"].startswith("/services/data/v59.0/sobjects/Account/001")
    assert sf.org.get(result[1]["body"]["id"])["Title"] == "CEO"  # type: ignore[index]
    assert sf.org.api_used == 1
    assert sf.emulator.subrequests["sobject.create"] == 2


def test_composite_all_or_none_rolls_back_and_halts(sf: RunningSalesforce, api: Api) -> None:
    body = {
        "allOrNone": True,
        "compositeRequest": [
            sub("acc", "POST", "sobjects/Account", {"Name": "Hooli"}),
            sub("bad", "POST", "sobjects/Contact", {"FirstName": "No last name"}),
            sub("later", "POST", "sobjects/Account", {"Name": "Pied Piper"}),
        ],
    }
    result = api.post("composite", json=body).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in result] == [400, 400, 400]
    assert result[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert result[0]["body"][0]["errorCode"] == result[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert [a["Name"] for a in sf.org.records("Account")] == ["Globex", "Initech"]


def test_composite_without_all_or_none_skips_only_dependents(sf: RunningSalesforce, api: Api) -> None:
    body = {
        "compositeRequest": [
            sub("bad", "POST", "sobjects/Account", {"Website": "no name"}),
            sub("dependent", "POST", "sobjects/Contact", {"LastName": "X", "AccountId": "@{bad.id}"}),
            sub("fine", "POST", "sobjects/Account", {"Name": "Hooli"}),
        ]
    }
    result = api.post("composite", json=body).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in result] == [400, 400, 201]
    assert result[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "No value for bad.id" in result[1]["body"][0]["message"]


def test_composite_collections_inherit_all_or_none(sf: RunningSalesforce, api: Api) -> None:
    body = {
        "allOrNone": True,
        "compositeRequest": [
            sub(
                "tasks",
                "POST",
                "composite/sobjects",
                {"allOrNone": False, "records": [task("ok"), task("REJECT")]},
            ),
            sub("acc", "POST", "sobjects/Account", {"Name": "Hooli"}),
        ],
    }
    before = len(sf.org.records("Task"))
    result = api.post("composite", json=body).json()["compositeResponse"]
    assert result[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert len(sf.org.records("Task")) == before


def test_composite_caps(api: Api) -> None:
    too_many = {"compositeRequest": [sub(f"r{i}", "GET", "limits") for i in range(26)]}
    response = api.post("composite", json=too_many)
    assert response.status_code == 400 and "25" in response.json()[0]["message"]
    assert (
        api.post(
            "composite", json={"compositeRequest": [sub(f"r{i}", "GET", "limits") for i in range(25)]}
        ).status_code
        == 200
    )
    queries = {"compositeRequest": [sub(f"q{i}", "GET", "query?q=SELECT+Id+FROM+Contact") for i in range(6)]}
    response = api.post("composite", json=queries)
    assert response.status_code == 400 and "5" in response.json()[0]["message"]
    bad_reference = {"compositeRequest": [sub("no-dashes", "GET", "limits")]}
    assert api.post("composite", json=bad_reference).status_code == 400


# --- describe, list views, replication -------------------------------------------------------------


def test_describe_shows_createable_email_and_custom_fields(
    sf: RunningSalesforce, tmp_path: Path, clock: ManualClock
) -> None:
    describe = client(sf).EmailMessage.describe()
    assert describe["createable"] is True
    key = next(f for f in describe["fields"] if f["name"] == "rgsync_Key__c")
    assert (key["externalId"], key["idLookup"], key["unique"], key["custom"], key["length"]) == (
        True,
        True,
        True,
        True,
        255,
    )
    identifier = next(f for f in describe["fields"] if f["name"] == "MessageIdentifier")
    assert identifier["idLookup"] is True
    task_fields = {f["name"]: f for f in client(sf).Task.describe()["fields"]}
    assert (task_fields["TaskSubtype"]["createable"], task_fields["TaskSubtype"]["updateable"]) == (
        True,
        False,
    )
    assert task_fields["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    plain = {"org": {"enhanced_email": False, "shared_activities": False}}
    with start_salesforce(tmp_path / "plain", scenario=plain, clock=clock) as other:
        assert client(other).EmailMessage.describe()["createable"] is False
        names = {f["name"] for f in client(other).Task.describe()["fields"]}
        assert "TaskWhoIds" not in names


def test_list_view_describe_gives_runnable_soql(sf: RunningSalesforce) -> None:
    client_ = client(sf)
    views = client_.restful("sobjects/Contact/listviews")["listviews"]
    assert [v["label"] for v in views] == ["Globex people"]
    described = client_.restful(f"sobjects/Contact/listviews/{views[0]['id']}/describe")
    assert f"AccountId = '{sf.keys['globex']}'" in described["query"]
    rows = client_.query(described["query"])["records"]
    assert [r["Name"] for r in rows] == ["Bob Stone", "Carol Reed"]
    results = client_.restful(f"sobjects/Contact/listviews/{views[0]['id']}/results")
    assert results["size"] == 2


def test_get_updated_and_deleted_through_simple_salesforce(sf: RunningSalesforce, clock: ManualClock) -> None:
    clock.advance(minutes=10)
    sf.org.update(sf.keys["bob"], {"Title": "Boss"})
    sf.org.delete(sf.keys["dave"])
    clock.advance(minutes=1)
    contacts = client(sf).Contact
    start_at = NOW + timedelta(minutes=5)
    updated = contacts.updated(start_at, NOW + timedelta(days=1))
    assert updated == {"ids": [sf.keys["bob"]], "latestDateCovered": "2026-11-28T11:11:00.000+0000"}
    deleted = contacts.deleted(start_at, NOW + timedelta(hours=1))
    assert [d["id"] for d in deleted["deletedRecords"]] == [sf.keys["dave"]]
    assert deleted["deletedRecords"][0]["deletedDate"] == "2026-11-28T11:10:00.000+0000"
    assert deleted["earliestDateAvailable"] <= "2026-11-13T11:11:00.000+0000"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        contacts.updated(NOW - timedelta(days=40), NOW)
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest):
        contacts.deleted(NOW - timedelta(days=20), NOW)
    assert sf.server.calls["updated"] == 2 and sf.server.calls["deleted"] == 2


# --- faults -----------------------------------------------------------------------------------------


def test_fail_nth_and_503_and_dropped_connections(sf: RunningSalesforce, api: Api) -> None:
    client_ = client(sf)
    sf.emulator.fail_nth(2, 500, "UNKNOWN_EXCEPTION", match="/query")
    client_.query("SELECT Id FROM Contact")
    with pytest.raises(SalesforceGeneralError) as caught:
        client_.query("SELECT Id FROM Contact")
    assert caught.value.status == 500
    client_.query("SELECT Id FROM Contact")
    sf.emulator.inject_503()
    with pytest.raises(SalesforceGeneralError) as unavailable:
        client_.query("SELECT Id FROM Contact")
    assert unavailable.value.status == 503
    sf.emulator.inject_request_limit()
    assert api.get("limits").json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    sf.emulator.drop_connection_nth(1)
    with pytest.raises(requests.ConnectionError):
        api.get("limits")
    assert api.get("limits").status_code == 200
    assert sf.server.calls["query"] == 4


def test_scenario_references_resolve_to_ids(sf: RunningSalesforce) -> None:
    bob = sf.org.get(sf.keys["bob"])
    assert bob is not None
    assert (bob["AccountId"], bob["OwnerId"]) == (sf.keys["globex"], sf.keys["ann"])
    assert sf.user_id == sf.keys["ann"]
    initech = sf.org.get(sf.keys["initech"])
    assert initech is not None and initech["OwnerId"] == sf.keys["frank"]


def test_bad_scenarios_name_the_problem(tmp_path: Path, clock: ManualClock) -> None:
    from rgsync.sandbox.salesforce import ScenarioError

    broken = json.loads(json.dumps(SCENARIO))
    broken["records"]["Contact"].append({"LastName": "X", "AccountId": "@nowhere"})
    with pytest.raises(ScenarioError, match="@nowhere"):
        start_salesforce(tmp_path, scenario=broken, clock=clock)
    with pytest.raises(ScenarioError, match="REQUIRED_FIELD_MISSING"):
        start_salesforce(
            tmp_path, scenario={"records": {"Lead": [{"key": "x", "LastName": "NoCompany"}]}}, clock=clock
        )
