"""The session's one retry policy and the reconciliation of uncertain writes (SPEC §7.1, §7.3),
on a virtual clock: the decisions are the real ones, no test waits."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence

import pytest

from rgsync.errors import state_store_failure
from rgsync.model import Create, RecordKind, TaskItem, Update, Write, WriteResult
from rgsync.providers.base import RetriableError, UncertainWrite
from rgsync.session.reconcile import send_reconciled
from rgsync.session.retry import OutageError, Retrier, RetryPolicy, VirtualTime, outage


def retrier(deadline: float = 120.0) -> tuple[Retrier, VirtualTime, list[float]]:
    time = VirtualTime()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    policy = RetryPolicy(deadline=deadline, sleep=sleep, clock=time.clock, jitter=lambda: 1.0)
    return Retrier(policy), time, waits


def test_spec_7_3_backoff_doubles_up_to_its_cap_and_honours_the_services_hint() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=lambda: 1.0)
    assert [policy.delay(n, None) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(0, 45.0) == 45.0  # Retry-After is never shortened by the cap
    assert RetryPolicy(max_hint=0.5).delay(3, 45.0) == 0.5  # unless the environment says so (tests)


def test_spec_7_3_a_sustained_outage_ends_within_the_deadline_with_a_clear_line() -> None:
    calls = 0

    def down() -> None:
        nonlocal calls
        calls += 1
        raise RetriableError("Exchange is busy", code="MAIL-THROTTLED")

    retry, time, waits = retrier(deadline=120.0)
    with pytest.raises(OutageError) as stopped:
        retry.call(down)
    assert time.now <= 120.0 and sum(waits) == time.now  # bounded: never waits past the deadline
    assert calls == len(waits) + 1 and calls >= 5
    assert stopped.value.code == "MAIL-UNAVAILABLE"
    assert "the mailbox kept failing" in stopped.value.message and "nothing was lost" in stopped.value.message


def test_spec_7_3_a_hint_longer_than_what_is_left_of_the_deadline_stops_at_once() -> None:
    retry, _time, waits = retrier(deadline=10.0)

    def busy() -> None:
        raise RetriableError("Salesforce is busy", retry_after=60.0, code="SF-HTTP-503")

    with pytest.raises(OutageError) as stopped:
        retry.call(busy)
    assert waits == [] and stopped.value.code == "SF-UNAVAILABLE"
    assert stopped.value.message.startswith("Salesforce kept failing")


def test_spec_7_3_the_deadline_is_one_budget_for_the_whole_session() -> None:
    retry, time, _waits = retrier(deadline=20.0)
    failures = iter([RetriableError("503", code="SF-HTTP-503")] * 4)

    def flaky() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "ok"

    assert retry.call(flaky) == "ok"  # 1 + 2 + 4 + 8 = 15 s
    assert time.now == 15.0
    with pytest.raises(OutageError):  # a later failure has only what is left of the 20 s
        retry.call(lambda: (_ for _ in ()).throw(RetriableError("503", code="SF-HTTP-503")))


def test_spec_7_1_an_uncertain_write_is_never_repeated_by_the_generic_retry() -> None:
    retry, _time, _waits = retrier()
    sent = 0

    def create() -> None:
        nonlocal sent
        sent += 1
        raise UncertainWrite("the answer was lost", code="SF-NETWORK")

    with pytest.raises(UncertainWrite):
        retry.call(create)
    assert sent == 1
    assert not isinstance(UncertainWrite("x"), RetriableError)


class Org:
    """A side that applies writes and can lose the answer after applying them."""

    def __init__(self, lose_answers: int) -> None:
        self.records: dict[str, str] = {}
        self.lose_answers = lose_answers
        self.sent: list[str] = []

    def apply(self, writes: Sequence[Write]) -> list[WriteResult]:
        results = []
        for write in writes:
            assert isinstance(write, Create | Update)
            if isinstance(write, Create):
                self.sent.append(write.key)
                self.records[write.key] = f"id-{len(self.records)}"
                results.append(WriteResult(ok=True, id=self.records[write.key]))
            else:
                results.append(WriteResult(ok=True, id=write.id))
        if self.lose_answers:
            self.lose_answers -= 1
            raise UncertainWrite("the connection closed before the answer", code="SF-NETWORK")
        return results

    def find(self, _kind: RecordKind, keys: Collection[str]) -> dict[str, str]:
        return {k: self.records[k] for k in keys if k in self.records}


def task(key: str) -> Create:
    return Create(RecordKind.TASK, key, TaskItem(id="", subject=key, salesforce_id=None))


def test_spec_7_1_a_create_whose_answer_was_lost_is_adopted_not_sent_again() -> None:
    org = Org(lose_answers=1)
    retry, _time, waits = retrier()
    writes: list[Write] = [task("a"), task("b"), Update(RecordKind.TASK, "id-x", {"subject": "c"})]
    results = send_reconciled(writes, org.apply, org.find, retry, "tasks")
    assert [r.id for r in results] == ["id-0", "id-1", "id-x"]
    assert org.sent == ["a", "b"]  # each create sent once: found by its key after the lost answer
    assert len(waits) == 1


def test_spec_7_1_every_answer_lost_still_creates_each_record_once() -> None:
    org = Org(lose_answers=10**6)
    retry, _time, _waits = retrier(deadline=30.0)
    writes: list[Write] = [task("a"), task("b")]
    results = send_reconciled(writes, org.apply, org.find, retry, "tasks")
    assert all(r.ok for r in results) and org.sent == ["a", "b"]


def test_spec_7_3_uncertain_writes_that_keep_failing_end_at_the_deadline_without_duplicates() -> None:
    attempts = 0

    def refuse(_writes: Sequence[Write]) -> list[WriteResult]:
        nonlocal attempts
        attempts += 1  # the connection breaks before anything is made
        raise UncertainWrite("connection reset", code="MAIL-UNAVAILABLE")

    retry, time, _waits = retrier(deadline=30.0)
    with pytest.raises(OutageError):
        send_reconciled([task("a")], refuse, lambda _k, _keys: {}, retry, "tasks")
    assert time.now <= 30.0 and attempts > 1


def test_outage_names_the_service_by_the_failures_code() -> None:
    assert outage(RetriableError("x", code="MAIL-THROTTLED"), 3).code == "MAIL-UNAVAILABLE"
    assert outage(RetriableError("x", code=""), 3).message.startswith("a service kept failing")


def test_spec_8_a_state_store_that_cannot_be_written_is_one_line_naming_the_fix() -> None:
    full = state_store_failure(sqlite3.OperationalError("database or disk is full"))
    assert "free some space" in full and "nothing is lost" in full and "\n" not in full
    broken = state_store_failure(sqlite3.OperationalError("disk I/O error"))
    assert "check the disk" in broken and "disk I/O error" in broken
