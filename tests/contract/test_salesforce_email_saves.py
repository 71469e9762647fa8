"""The Salesforce adapter saves an EmailMessage and its sender relation as one (SPEC §7.10, §10):
one all-or-none Composite request per 400 emails, a refused email costing only itself, a lost
reply adopted rather than sent twice, and `complete_emails` adding a missing relation. Real
simple-salesforce against the emulator over loopback HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rgsync.model import Address, Create, EmailActivity, EmailItem, EmailMode, Folder, RecordKind
from rgsync.providers.base import RetriableError, SavedEmail
from rgsync.providers.salesforce import SalesforceCrm
from rgsync.sandbox.http import Fault, Response
from rgsync.sandbox.salesforce import RunningSalesforce
from rgsync.session.reconcile import send_reconciled
from rgsync.session.retry import NO_WAIT, Retrier
from tests.contract.salesforce_harness import SalesforceHarness, emulated_org, open_adapter

EMAIL_SAVE = r"POST \S+/composite writes EmailMessage"


@pytest.fixture(autouse=True)
def _secrets_in_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")


@pytest.fixture
def org(tmp_path: Path) -> Iterator[RunningSalesforce]:
    with emulated_org(tmp_path) as running:
        yield running


@pytest.fixture
def crm(org: RunningSalesforce, tmp_path: Path) -> Iterator[SalesforceCrm]:
    adapter = open_adapter(org, tmp_path, email_mode="email-message")
    adapter.org_info()
    try:
        yield adapter
    finally:
        adapter.close()


def creates(user: str, bob: str, count: int, *, refused: int | None = None) -> list[Create]:
    out = []
    for n in range(count):
        email = EmailItem(
            mailbox_id=f"m{n}",
            message_id=f"<save-{n}@globex.com>",
            thread_id=f"t{n}",
            folder=Folder.INBOX,
            subject="CONFIDENTIAL" if n == refused else f"Order {n}",
            sent_at=datetime.now(UTC) - timedelta(hours=1),
            sender=Address("bob@globex.com", "Bob Stone"),
            to=(Address("ann@acme.com", "Ann Lee"),),
            text_body=f"Order {n}",
        )
        activity = EmailActivity(email, EmailMode.EMAIL_MESSAGE, (bob,), None, user)
        out.append(Create(RecordKind.EMAIL, email.message_id, activity))
    return out


def sender_links(org: RunningSalesforce, bob: str) -> dict[str, int]:
    """EmailMessage Id → FromAddress relations naming Bob."""
    out = {str(r["Id"]): 0 for r in org.org.records("EmailMessage")}
    for relation in org.org.records("EmailMessageRelation"):
        if relation["RelationType"] == "FromAddress" and relation.get("RelationId") == bob:
            out[str(relation["EmailMessageId"])] += 1
    return out


def test_a_refused_email_costs_one_more_round_and_the_rest_keep_their_sender(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    bob = SalesforceHarness(org, crm).add_contact("Bob", "Stone", "bob@globex.com")
    org.org.add_validation_rule(
        "EmailMessage", lambda r: "CONFIDENTIAL" in str(r.get("Subject") or ""), "No secrets", "Subject"
    )
    org.server.reset_counters()

    results = crm.apply(creates(org.keys["ann"], bob, 250, refused=117))

    assert [n for n, r in enumerate(results) if not r.ok] == [117]
    assert results[117].error_code == "SF-VALIDATION" and results[117].message == "No secrets"
    links = sender_links(org, bob)
    assert len(links) == 249 and set(links.values()) == {1}
    assert {r.id for r in results if r.ok} == set(links)
    # The first request was undone by the refusal; the second saved the other 249 (SPEC §7.7).
    assert dict(org.server.calls) == {"composite": 2, "query": 1}


def test_a_lost_reply_is_adopted_not_sent_twice(org: RunningSalesforce, crm: SalesforceCrm) -> None:
    """The nested-retry case: the emails and relations were saved, the answer never came."""
    bob = SalesforceHarness(org, crm).add_contact("Bob", "Stone", "bob@globex.com")
    lost = org.server.faults.add(Fault(match=EMAIL_SAVE, lose_reply=True))
    writes = creates(org.keys["ann"], bob, 30)

    # The session's path: the lost answer is an UncertainWrite, looked up before anything is re-sent.
    results = send_reconciled(writes, crm.apply, crm.find_existing, Retrier(NO_WAIT), "emails")
    assert lost.fired == 1 and len(org.org.records("EmailMessage")) == 30

    links = sender_links(org, bob)
    assert len(links) == 30 and set(links.values()) == {1}
    assert sorted(r.id or "" for r in results) == sorted(links)


def test_complete_emails_adds_only_the_missing_sender_relations(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    bob = SalesforceHarness(org, crm).add_contact("Bob", "Stone", "bob@globex.com")
    results = crm.apply(creates(org.keys["ann"], bob, 3))
    ids = [r.id or "" for r in results]
    for relation in org.org.records("EmailMessageRelation"):
        if relation["EmailMessageId"] == ids[1] and relation.get("RelationId") == bob:
            org.org.delete(relation["Id"])
    task = SalesforceHarness(org, crm).add_task("Call Bob", datetime.now(UTC).date())
    org.server.reset_counters()

    done = crm.complete_emails(
        [SavedEmail(i, "bob@globex.com", (bob,)) for i in ids]
        + [SavedEmail(task, "bob@globex.com", (bob,)), SavedEmail(ids[0], "", (bob,))]
    )

    assert all(r.ok for r in done)
    assert sender_links(org, bob) == dict.fromkeys(ids, 1)
    # One query for the relations there are, one create for the missing one (Bob's address is known).
    assert dict(org.server.calls) == {"query": 1, "collections.create": 1}


def test_an_answer_missing_parts_is_an_uncertain_save_that_is_looked_up_first(
    org: RunningSalesforce, crm: SalesforceCrm
) -> None:
    bob = SalesforceHarness(org, crm).add_contact("Bob", "Stone", "bob@globex.com")
    org.server.faults.add(Fault(match=EMAIL_SAVE, response=Response(200, {"compositeResponse": []})))
    writes = creates(org.keys["ann"], bob, 5)

    with pytest.raises(RetriableError) as failure:
        crm.apply(writes)
    assert failure.value.code == "SF-BAD-ANSWER"
    org.server.reset_counters()
    results = crm.apply(writes)

    assert all(r.ok for r in results)
    links = sender_links(org, bob)
    assert len(links) == 5 and set(links.values()) == {1}
    # The retry first asked which of the emails were there (none), then saved them with their links.
    assert org.server.calls["composite"] == 1 and org.server.calls["query"] >= 1
