"""Composite requests that save EmailMessages and their relations together (SPEC §7.10), as the
Salesforce REST API documents them: a later subrequest names a record of an sObject Collections
result as `@{ref[i].id}`, and `allOrNone` on the Composite request applies to every collection in
it, so a refusal anywhere leaves nothing saved. Driven over loopback HTTPS with simple-salesforce."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rgsync.sandbox.salesforce import RunningSalesforce
from rgsync.sandbox.salesforce.clock import ManualClock
from tests.sandbox.salesforce_support import API_VERSION, NOW, SCENARIO, client, start

COLLECTIONS = f"/services/data/v{API_VERSION}/composite/sobjects"


@pytest.fixture
def sf(tmp_path: Path) -> Iterator[RunningSalesforce]:
    scenario = copy.deepcopy(SCENARIO)
    scenario["org"]["enhanced_email"] = True
    scenario["validation_rules"].append(
        {"object": "EmailMessage", "field": "Subject", "contains": "CONFIDENTIAL", "message": "No secrets"}
    )
    with start(tmp_path, ManualClock(NOW), scenario) as running:
        yield running


def email(subject: str) -> dict[str, Any]:
    return {
        "attributes": {"type": "EmailMessage"},
        "Subject": subject,
        "Status": "3",
        "Incoming": True,
        "FromAddress": "bob@globex.com",
        "MessageIdentifier": f"<{subject.replace(' ', '.')}@globex.com>",
    }


def sender(reference: str, person: str) -> dict[str, Any]:
    return {
        "attributes": {"type": "EmailMessageRelation"},
        "EmailMessageId": reference,
        "RelationId": person,
        "RelationAddress": "bob@globex.com",
        "RelationType": "FromAddress",
    }


def composite(
    running: RunningSalesforce,
    emails: list[dict[str, Any]],
    relations: list[dict[str, Any]],
    *,
    all_or_none: bool,
) -> dict[str, Any]:
    body = {
        "allOrNone": all_or_none,
        "compositeRequest": [
            {
                "method": "POST",
                "url": COLLECTIONS,
                "referenceId": "emails0",
                "body": {"allOrNone": False, "records": emails},
            },
            {
                "method": "POST",
                "url": COLLECTIONS,
                "referenceId": "senders0",
                "body": {"allOrNone": False, "records": relations},
            },
        ],
    }
    answer = client(running).restful("composite", method="POST", json=body)
    return {r["referenceId"]: r for r in answer["compositeResponse"]}


def from_relations(running: RunningSalesforce) -> list[dict[str, Any]]:
    """FromAddress relations naming a record (Salesforce adds one naming only the address itself)."""
    return [
        r
        for r in running.org.records("EmailMessageRelation")
        if r["RelationType"] == "FromAddress" and r.get("RelationId")
    ]


def test_relations_name_their_emails_by_reference_into_the_collection_result(sf: RunningSalesforce) -> None:
    bob = sf.keys["bob"]
    used = sf.org.api_used
    answers = composite(
        sf,
        [email("Quote"), email("Order")],
        [sender("@{emails0[1].id}", bob), sender("@{emails0[0].id}", bob)],
        all_or_none=True,
    )
    assert answers["emails0"]["httpStatusCode"] == 200 and answers["senders0"]["httpStatusCode"] == 200
    quote, order = (r["id"] for r in answers["emails0"]["body"])
    by_email = {r["EmailMessageId"]: r["RelationId"] for r in from_relations(sf)}
    assert by_email == {order: bob, quote: bob}
    assert sf.org.api_used == used + 1  # the whole request is one call against the allocation


def test_a_refused_relation_rolls_the_emails_back_too(sf: RunningSalesforce) -> None:
    """allOrNone on the Composite request overrides allOrNone false on its collections."""
    emails_before = len(sf.org.records("EmailMessage"))
    answers = composite(
        sf,
        [email("Quote"), email("Order")],
        [
            sender("@{emails0[0].id}", sf.keys["bob"]),
            {**sender("@{emails0[1].id}", ""), "RelationAddress": None},
        ],
        all_or_none=True,
    )
    assert len(sf.org.records("EmailMessage")) == emails_before and from_relations(sf) == []
    # The emails' subrequest had run; it is reported as undone by the failure of a later one.
    assert answers["emails0"]["httpStatusCode"] == 400
    assert answers["emails0"]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    senders = answers["senders0"]["body"]
    assert [s["success"] for s in senders] == [False, False]
    assert senders[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert senders[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"


def test_a_refused_email_halts_the_relations(sf: RunningSalesforce) -> None:
    answers = composite(
        sf,
        [email("Quote"), email("CONFIDENTIAL plan")],
        [sender("@{emails0[0].id}", sf.keys["bob"]), sender("@{emails0[1].id}", sf.keys["bob"])],
        all_or_none=True,
    )
    emails = answers["emails0"]["body"]
    assert emails[1]["errors"][0] == {
        "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "message": "No secrets",
        "fields": ["Subject"],
    }
    assert emails[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert answers["senders0"]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert [e["Subject"] for e in sf.org.records("EmailMessage")] == [] and from_relations(sf) == []


def test_a_reference_past_the_end_of_the_collection_saves_nothing(sf: RunningSalesforce) -> None:
    answers = composite(sf, [email("Quote")], [sender("@{emails0[3].id}", sf.keys["bob"])], all_or_none=True)
    assert answers["senders0"]["httpStatusCode"] == 400
    assert "emails0[3].id" in answers["senders0"]["body"][0]["message"]
    assert sf.org.records("EmailMessage") == [] and from_relations(sf) == []


def test_without_all_or_none_each_collection_keeps_its_own_partial_success(sf: RunningSalesforce) -> None:
    answers = composite(
        sf,
        [email("Quote"), email("CONFIDENTIAL plan")],
        [sender("@{emails0[0].id}", sf.keys["bob"])],
        all_or_none=False,
    )
    assert [e["success"] for e in answers["emails0"]["body"]] == [True, False]
    assert [e["Subject"] for e in sf.org.records("EmailMessage")] == ["Quote"]
    [relation] = from_relations(sf)
    assert relation["EmailMessageId"] == answers["emails0"]["body"][0]["id"]
