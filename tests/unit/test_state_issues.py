"""The issue log (SPEC §8): one issue per problem and item with a count, auto-resolve, filters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rgsync.model import IssueItem, IssueReport, IssueSource, Severity, Stream
from rgsync.state import PostgresLocation, StateStore, hide_secrets

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=30)
T2 = T0 + timedelta(hours=1)


@pytest.fixture
def store(state_where: Path | PostgresLocation) -> Iterator[StateStore]:
    """Each test runs on a SQLite file, then on a PostgreSQL schema."""
    opened = StateStore.open(state_where)
    yield opened
    opened.close()


def report(
    code: str = "SF-VALIDATION",
    mailbox_id: str = "m1",
    salesforce_id: str = "",
    stream: Stream | None = Stream.EMAILS,
    message: str = "Subject is required",
    subject: str = "Quarterly review",
) -> IssueReport:
    return IssueReport(
        code=code,
        severity=Severity.ERROR,
        source=IssueSource.SALESFORCE,
        message=message,
        advice="Ask your admin to relax the validation rule.",
        item=IssueItem(kind="email", subject=subject, mailbox_id=mailbox_id, salesforce_id=salesforce_id),
        stream=stream,
    )


def test_same_problem_on_same_item_is_one_issue_with_a_count(store: StateStore) -> None:
    first = store.record_issue(report(), T0)
    again = store.record_issue(report(message="Subject is required (again)"), T1)
    assert first == again
    (issue,) = store.issues()
    assert issue.count == 2
    assert issue.first_seen == T0 and issue.last_seen == T1
    assert issue.message == "Subject is required (again)"  # the latest words of the service
    assert issue.item == IssueItem("email", "Quarterly review", "m1", "")
    assert issue.stream is Stream.EMAILS and issue.severity is Severity.ERROR and issue.is_open


def test_other_code_or_other_item_is_another_issue(store: StateStore) -> None:
    store.record_issue(report(), T0)
    store.record_issue(report(code="SF-REQUIRED-FIELD"), T0)
    store.record_issue(report(mailbox_id="m2"), T0)
    assert len(store.issues()) == 3
    assert store.open_issue_count() == 3


def test_issues_without_ids_are_told_apart_by_subject(store: StateStore) -> None:
    store.record_issue(report(mailbox_id="", subject="Weekly sync"), T0)
    store.record_issue(report(mailbox_id="", subject="Board meeting"), T0)
    store.record_issue(report(mailbox_id="", subject="Weekly sync"), T1)
    counts = {issue.item.subject: issue.count for issue in store.issues()}
    assert counts == {"Weekly sync": 2, "Board meeting": 1}


def test_issue_is_resolved_when_its_item_later_syncs(store: StateStore) -> None:
    email = store.record_issue(report(mailbox_id="m1"), T0)
    other = store.record_issue(report(mailbox_id="m2"), T0)
    by_sf_id = store.record_issue(report(mailbox_id="", salesforce_id="00T9", stream=Stream.EVENTS), T0)
    assert store.resolve_issues_for_item(Stream.EMAILS, mailbox_id="m1", now=T1) == 1
    assert store.resolve_issues_for_item(Stream.EMAILS, salesforce_id="00T9", now=T1) == 0  # other stream
    assert store.resolve_issues_for_item(None, salesforce_id="00T9", now=T1) == 1
    assert store.resolve_issues_for_item(Stream.EMAILS, now=T1) == 0  # no id: resolves nothing
    assert [issue.id for issue in store.issues()] == [other]
    resolved = store.issue(email)
    assert resolved is not None and resolved.resolved_at == T1 and not resolved.is_open
    assert store.issue(by_sf_id) is not None


def test_a_resolved_issue_that_happens_again_is_reopened(store: StateStore) -> None:
    issue_id = store.record_issue(report(), T0)
    assert store.resolve_issue(issue_id, T1) is True
    assert store.resolve_issue(issue_id, T1) is False  # already resolved
    assert store.open_issue_count() == 0
    assert store.record_issue(report(), T2) == issue_id
    reopened = store.issue(issue_id)
    assert reopened is not None and reopened.is_open and reopened.count == 2 and reopened.last_seen == T2


def test_resolve_unknown_issue_says_so(store: StateStore) -> None:
    assert store.resolve_issue(404, T0) is False
    assert store.issue(404) is None


def test_resolve_by_code_clears_a_condition(store: StateStore) -> None:
    budget = IssueReport("SF-API-BUDGET", Severity.WARNING, IssueSource.SALESFORCE, "API budget low")
    store.record_issue(budget, T0)
    store.record_issue(report(), T0)
    assert store.resolve_issues_by_code("SF-API-BUDGET", T1) == 1
    assert [issue.code for issue in store.issues()] == ["SF-VALIDATION"]


def test_list_is_newest_first_and_filters_resolved_and_since(store: StateStore) -> None:
    old = store.record_issue(report(mailbox_id="m1"), T0)
    new = store.record_issue(report(mailbox_id="m2"), T2)
    gone = store.record_issue(report(mailbox_id="m3"), T1)
    store.resolve_issue(gone, T2)
    assert [i.id for i in store.issues()] == [new, old]
    assert [i.id for i in store.issues(include_resolved=True)] == [new, gone, old]
    assert [i.id for i in store.issues(include_resolved=True, since=T1)] == [new, gone]
    assert [i.id for i in store.issues(since=T1 + timedelta(seconds=1))] == [new]


def test_secrets_echoed_by_a_service_never_reach_an_issue(store: StateStore) -> None:
    """SPEC §9: secrets never appear in issues."""
    message = (
        'token refresh failed: {"refresh_token": "1//0gSECRET", "error": "invalid_grant"} '
        "POST password=hunter2&client_id=abc Authorization: Bearer ya29.SECRETSECRET "
        "session 00D5g000004RzABEAY!AQcAQSECRET.x"
    )
    issue_id = store.record_issue(report(message=message), T0)
    stored = store.issue(issue_id)
    assert stored is not None
    for secret in ("0gSECRET", "hunter2", "ya29.SECRETSECRET", "AQcAQSECRET"):
        assert secret not in stored.message
    assert "invalid_grant" in stored.message and "client_id=abc" in stored.message


def test_hide_secrets_leaves_plain_prose_alone() -> None:
    text = "Check your password: it may have expired. Reconnect with `rgsync connect salesforce`."
    assert hide_secrets(text) == text


def test_spec_8_a_retry_request_waits_on_open_issues_until_a_session_takes_it_up(tmp_path: Path) -> None:
    """`rgsync issues retry`: queued on open issues only, listed until a session takes it up."""
    with StateStore.open(tmp_path / "state.sqlite3") as store:
        now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
        first = store.record_issue(
            IssueReport(
                "SF-VALIDATION",
                Severity.ERROR,
                IssueSource.SALESFORCE,
                "refused",
                item=IssueItem("email", "A", "m1"),
            ),
            now,
        )
        second = store.record_issue(
            IssueReport(
                "SF-VALIDATION",
                Severity.ERROR,
                IssueSource.SALESFORCE,
                "refused",
                item=IssueItem("email", "B", "m2"),
            ),
            now,
        )
        store.resolve_issue(second, now)
        queued = store.request_retry(None, now)
        assert [i.id for i in queued] == [first]
        assert store.issue(first).retry_requested_at == now  # type: ignore[union-attr]
        store.retry_taken([first])
        assert store.retry_requests() == []
