"""One Event per meeting and one EmailMessage per email across a fleet's colleagues (SPEC §3.7,
§4.2, §7.1), with the claims of `rgsync.fleet.shared_records` in a throw-away PostgreSQL and the
sessions against the team sandbox's one emulated org.

The sessions run in this process (`run_session`, what a fleet worker runs per user) with the
PostgreSQL claims as their shared-records collaborator; the race runs two of them at once in
threads, held at the claim so that both really compete for it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rgsync.demo.team import TeamMember, TeamSandbox, start_team_sandbox
from rgsync.demo.team_shared import add_colleague_items, add_shared_email, add_shared_meeting
from rgsync.fleet.shared_records import PostgresSharedRecords, create_schema
from rgsync.fleet.store import FleetStore
from rgsync.model import RecordKind
from rgsync.providers.salesforce.lookups.core import Lookups
from rgsync.providers.salesforce.lookups.events import EventLookups
from rgsync.session import RunOptions, SessionResult
from rgsync.session.shared import ClaimResult
from rgsync.sync import run_session
from tests.fleet.fleet_support import fleet_env, isolate_env, rgsync, start_worker, stop_workers, wait_for

START = (datetime.now(UTC) + timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TeamSandbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.setenv("RGSYNC_RETRY_NO_SLEEP", "1")
    for name in ("RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_CONFIG", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)
    with start_team_sandbox(tmp_path / "team", users=10) as running:
        yield running


@pytest.fixture
def claims_url(pg_database: str) -> str:
    create_schema(pg_database)
    return pg_database


@pytest.fixture
def meeting_lookups(monkeypatch: pytest.MonkeyPatch) -> list[frozenset[str]]:
    """Every fallback query for colleagues' meetings (`find_meetings`), by the keys it asked about."""
    seen: list[frozenset[str]] = []
    original = EventLookups.find_meetings

    def spy(self: EventLookups, keys: Collection[str]) -> Any:
        seen.append(frozenset(keys))
        return original(self, keys)

    monkeypatch.setattr(EventLookups, "find_meetings", spy)
    return seen


def _sync(member: TeamMember, url: str | None, **options: float) -> SessionResult:
    shared = PostgresSharedRecords(url, member.name, **options) if url else None
    try:
        result = run_session(member.paths, RunOptions(force=True), shared=shared)
    finally:
        if shared is not None:
            shared.close()
    assert result.status == "completed", result.message
    return result


def _events(team: TeamSandbox, subject: str) -> list[dict[str, Any]]:
    return [e for e in team.salesforce.org.records("Event") if e.get("Subject") == subject]


def _invitees(team: TeamSandbox, event_id: str) -> set[str]:
    return {
        str(r["RelationId"])
        for r in team.salesforce.org.records("EventRelation")
        if r["EventId"] == event_id and r.get("IsInvitee")
    }


def _meeting(team: TeamSandbox, members: Sequence[TeamMember], number: int) -> str:
    subject = f"Customer {number} workshop"
    add_shared_meeting(
        team,
        members,
        uid=f"workshop-{number}@cust{number}.com",
        subject=subject,
        start=START + timedelta(hours=number),
        customer=f"bea@cust{number}.com",
    )
    return subject


def _assert_one_event_with_everyone(team: TeamSandbox, subject: str, members: Sequence[TeamMember]) -> None:
    events = _events(team, subject)
    assert len(events) == 1, f"{subject}: {len(events)} Events"
    owner = str(events[0]["OwnerId"])
    users = {m.salesforce_user_id for m in members}
    assert owner in users
    # Every other attendee from the fleet is related to the one Event as invitee (SPEC §4.2).
    assert _invitees(team, str(events[0]["Id"])) == users - {owner}


def test_spec_4_2_one_event_per_meeting_with_2_3_and_10_attendees_from_the_fleet(
    team: TeamSandbox, claims_url: str, meeting_lookups: list[frozenset[str]]
) -> None:
    """SPEC §4.2: a meeting colleagues attend is one Event; the first session creates it, the others
    join it as invitees, found through the claims without a query for colleagues' meetings."""
    reps = team.members
    groups = {2: reps[:2], 3: reps[2:5], 10: reps}
    subjects = {size: _meeting(team, members, 1 if size == 10 else size) for size, members in groups.items()}
    calls = {m.name: _sync(m, claims_url).api_calls["salesforce"] for m in reps}
    for size, members in groups.items():
        _assert_one_event_with_everyone(team, subjects[size], members)
    # Each rep's own meeting of the sandbox is still theirs alone: nothing shared by mistake.
    for number in range(1, len(reps) + 1):
        assert len(_events(team, f"Customer {number} review")) == 1
    # Only sessions that claimed a meeting asked Salesforce about colleagues' meetings: the
    # colleagues who joined never did for a joined meeting.
    shared_subjects = set(subjects.values())
    asked = {key.rpartition("|")[0] for keys in meeting_lookups for key in keys} & shared_subjects
    assert asked == shared_subjects
    assert (
        sum(1 for keys in meeting_lookups for key in keys if key.rpartition("|")[0] in shared_subjects) == 3
    )
    # A second round changes nothing (the links hold) and costs no more than an idle session.
    again = {m.name: _sync(m, claims_url).api_calls["salesforce"] for m in reps}
    for size, members in groups.items():
        _assert_one_event_with_everyone(team, subjects[size], members)
    print(f"salesforce calls, first round: {calls}; second round: {again}")


def test_spec_3_7_one_email_message_per_email_with_a_relation_for_each_colleague(
    team: TeamSandbox, claims_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §3.7: one record per Message-ID per org; each colleague who received it is related,
    found through the claim: only the first session asks Salesforce about that Message-ID."""
    asked: list[str] = []
    original = Lookups.find_existing

    def spy(self: Lookups, kind: RecordKind, keys: Collection[str]) -> dict[str, str]:
        if kind is RecordKind.EMAIL:
            asked.extend(keys)
        return original(self, kind, keys)

    monkeypatch.setattr(Lookups, "find_existing", spy)
    reps = team.members[:3]
    when = datetime.now(UTC) - timedelta(hours=3)
    add_shared_email(
        team,
        reps,
        message_id="<plan-7@cust1.com>",
        subject="Rollout plan",
        sender="Bea Buyer <bea@cust1.com>",
        when=when,
    )
    for member in reps:
        _sync(member, claims_url)
    org = team.salesforce.org
    emails = [e for e in org.records("EmailMessage") if e.get("MessageIdentifier") == "<plan-7@cust1.com>"]
    assert len(emails) == 1
    email_id = str(emails[0]["Id"])
    relations = {
        (str(r.get("RelationId")), str(r["RelationType"]))
        for r in org.records("EmailMessageRelation")
        if r["EmailMessageId"] == email_id
    }
    creator = reps[0].salesforce_user_id
    assert str(emails[0]["CreatedById"]) == creator
    # reps[1] and reps[2] are on Cc: each related with their user, as Salesforce shows them.
    assert {(m.salesforce_user_id, "CcAddress") for m in reps[1:]} <= relations
    assert asked.count("<plan-7@cust1.com>") == 1
    # A second round neither saves it again nor relates anyone twice.
    for member in reps:
        _sync(member, claims_url)
    assert (
        len([e for e in org.records("EmailMessage") if e.get("MessageIdentifier") == "<plan-7@cust1.com>"])
        == 1
    )
    twice = [
        r
        for r in org.records("EmailMessageRelation")
        if r["EmailMessageId"] == email_id
        and str(r.get("RelationId")) in {m.salesforce_user_id for m in reps}
    ]
    assert len(twice) == 2


class _HeldAtClaim(PostgresSharedRecords):
    """Claims only once both racing sessions are about to claim the same meeting."""

    def __init__(self, url: str, holder: str, barrier: threading.Barrier, **options: float) -> None:
        super().__init__(url, holder, **options)
        self.barrier = barrier

    def claim(self, kind: str, keys: Collection[str]) -> ClaimResult:
        if kind == "event" and keys:
            self.barrier.wait(timeout=30)
        return super().claim(kind, keys)


def test_spec_7_1_two_sessions_racing_on_one_meeting_end_with_one_event_and_both_related(
    team: TeamSandbox, claims_url: str
) -> None:
    """SPEC §7.1, §4.2: two workers' sessions reach the same meeting at the same moment; the unique
    key lets one create, the other waits for its Event and joins it — one Event, both related."""
    racers = team.members[:2]
    subject = _meeting(team, racers, 7)
    barrier = threading.Barrier(2)
    results: dict[str, SessionResult] = {}
    errors: list[BaseException] = []

    def session(member: TeamMember) -> None:
        shared = _HeldAtClaim(claims_url, member.name, barrier, wait_seconds=20)
        try:
            results[member.name] = run_session(member.paths, RunOptions(force=True), shared=shared)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            shared.close()

    threads = [threading.Thread(target=session, args=(m,)) for m in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(r.status == "completed" for r in results.values()), results
    _assert_one_event_with_everyone(team, subject, racers)


class _Killed(BaseException):
    """Stands for SIGKILL at one instant of a session (nothing after it runs)."""


class _DiesAfterClaim(PostgresSharedRecords):
    kind = "event"

    def claim(self, kind: str, keys: Collection[str]) -> ClaimResult:
        result = super().claim(kind, keys)
        if kind == self.kind and result.held:
            raise _Killed
        return result


class _DiesBeforeFill(PostgresSharedRecords):
    def fill(self, kind: str, records: Any) -> None:
        if kind == "event" and records:
            raise _Killed
        super().fill(kind, records)


def test_spec_7_1_a_creator_killed_after_claiming_is_taken_over_by_its_next_session(
    team: TeamSandbox, claims_url: str
) -> None:
    """SPEC §7.1: killed between claim and create, the claim stays; the colleague waits and leaves
    the meeting for later; the creator's own next session takes its claim over and creates it."""
    first, second = team.members[:2]
    subject = _meeting(team, [first, second], 5)
    killed = _DiesAfterClaim(claims_url, first.name)
    with pytest.raises(_Killed):
        run_session(first.paths, RunOptions(force=True), shared=killed)
    killed.close()
    assert _events(team, subject) == []
    # The colleague finds a claim in flight: waits briefly, then leaves the meeting for its next session.
    _sync(second, claims_url, wait_seconds=0.3)
    assert _events(team, subject) == []
    _sync(first, claims_url)
    _sync(second, claims_url)
    _assert_one_event_with_everyone(team, subject, [first, second])


def test_spec_7_1_a_creator_killed_after_creating_leaves_a_claim_a_colleague_takes_over_without_duplicate(
    team: TeamSandbox, claims_url: str, meeting_lookups: list[frozenset[str]]
) -> None:
    """SPEC §7.1: killed after the Event was created and before the claim got it, the claim goes
    stale; the colleague takes it over, the fallback query finds the Event, and it is joined."""
    first, second = team.members[:2]
    subject = _meeting(team, [first, second], 6)
    killed = _DiesBeforeFill(claims_url, first.name)
    with pytest.raises(_Killed):
        run_session(first.paths, RunOptions(force=True), shared=killed)
    killed.close()
    assert len(_events(team, subject)) == 1
    _sync(second, claims_url, wait_seconds=0.2, stale_after=3600)
    assert len(_events(team, subject)) == 1  # waited, then left it: never a second Event
    asked_before = len(meeting_lookups)
    _sync(second, claims_url, stale_after=0)
    assert len(meeting_lookups) == asked_before + 1  # the takeover looked before creating
    _assert_one_event_with_everyone(team, subject, [first, second])


def test_spec_4_2_a_colleague_outside_the_fleet_is_found_by_the_fallback_query(
    team: TeamSandbox, claims_url: str, meeting_lookups: list[frozenset[str]]
) -> None:
    """SPEC §3.7, §4.2: what a colleague saved without the fleet (no claim) is found by query.

    The email is linked and the fleet user related to it, one EmailMessage; the claim then carries
    it, so a third colleague relates to it with no query. The meeting is looked up too and follows
    SPEC §4.2's edit rule (the emulated org shares no colleague's Event for editing, so the fleet
    user keeps an Event of their own).
    """
    outsider, insider, third = team.members[:3]
    add_shared_email(
        team,
        [outsider, insider, third],
        message_id="<terms-9@cust1.com>",
        subject="Terms",
        sender="Bea Buyer <bea@cust1.com>",
        when=datetime.now(UTC) - timedelta(hours=2),
    )
    subject = _meeting(team, [outsider, insider], 8)
    _sync(outsider, None)  # a plain `rgsync run`: no claims at all
    assert len(_events(team, subject)) == 1
    asked_before = len(meeting_lookups)
    _sync(insider, claims_url)
    assert any(key.startswith(subject + "|") for keys in meeting_lookups[asked_before:] for key in keys)
    _sync(third, claims_url)
    org = team.salesforce.org
    emails = [e for e in org.records("EmailMessage") if e.get("MessageIdentifier") == "<terms-9@cust1.com>"]
    assert len(emails) == 1
    related = {
        str(r.get("RelationId"))
        for r in org.records("EmailMessageRelation")
        if r["EmailMessageId"] == emails[0]["Id"]
    }
    assert {insider.salesforce_user_id, third.salesforce_user_id} <= related
    assert len(_events(team, subject)) == 2


def test_spec_7_1_an_email_in_flight_elsewhere_is_left_for_the_next_session_then_related(
    team: TeamSandbox, claims_url: str
) -> None:
    """SPEC §3.7, §7.1: an email whose claim a dead session holds is not saved twice: the colleague
    leaves it for its next session (fetched again by id although the mailbox cursor moved on)."""
    first, second = team.members[:2]
    add_shared_email(
        team,
        [first, second],
        message_id="<quote-4@cust1.com>",
        subject="Quote",
        sender="Bea Buyer <bea@cust1.com>",
        when=datetime.now(UTC) - timedelta(hours=1),
    )
    killed = _DiesAfterClaim(claims_url, first.name)
    killed.kind = "email"
    with pytest.raises(_Killed):
        run_session(first.paths, RunOptions(force=True), shared=killed)
    killed.close()
    org = team.salesforce.org

    def saved() -> list[dict[str, Any]]:
        return [e for e in org.records("EmailMessage") if e.get("MessageIdentifier") == "<quote-4@cust1.com>"]

    _sync(second, claims_url, wait_seconds=0.2)
    assert saved() == []
    _sync(first, claims_url)  # its own claim: taken over at once, saved
    _sync(second, claims_url)  # the deferred email comes back and joins it
    assert len(saved()) == 1
    related = {
        str(r.get("RelationId"))
        for r in org.records("EmailMessageRelation")
        if r["EmailMessageId"] == saved()[0]["Id"]
    }
    assert second.salesforce_user_id in related


def test_spec_4_2_a_claimed_event_deleted_since_is_forgotten_and_the_meeting_saved_afresh(
    team: TeamSandbox, claims_url: str
) -> None:
    """SPEC §4.2, §7.1: a colleague's Event deleted after it was claimed cannot be joined; the
    claim is dropped and the next session saves the meeting again, once, for the others to join."""
    first, second, third = team.members[:3]
    subject = _meeting(team, [first, second, third], 9)
    _sync(first, claims_url)
    [event] = _events(team, subject)
    team.salesforce.org.delete(str(event["Id"]))
    _sync(second, claims_url)  # refused: the Event is gone
    assert _events(team, subject) == []
    _sync(second, claims_url)  # the same changes read again: saved afresh
    _sync(third, claims_url)
    [again] = _events(team, subject)
    assert str(again["OwnerId"]) == second.salesforce_user_id
    assert _invitees(team, str(again["Id"])) == {third.salesforce_user_id}


def test_spec_4_2_two_fleet_worker_processes_save_each_shared_meeting_and_email_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: str
) -> None:
    """SPEC §4.2, §3.7, §11: `fleet worker` processes (the runner's PostgreSQL claims) on the
    sandbox's shared items (`--shared-items`): three reps, one Event with the other two as
    invitees, one EmailMessage with a relation for each of the other two."""

    isolate_env(monkeypatch)
    with start_team_sandbox(tmp_path / "team", users=3, latency=0.01) as team:
        assert add_colleague_items(team) == 1
        env = fleet_env(pg_database, tmp_path / "home")
        rgsync(env, "fleet", "init")
        rgsync(env, "fleet", "import", str(team.roster_file))
        store = FleetStore(pg_database)
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        workers = [start_worker(env, log, "--schedule-every", "0", "--concurrency", "2") for log in logs]
        try:
            rgsync(env, "fleet", "schedule")
            wait_for(
                lambda: len({r["user_name"] for r in store.runs() if r["status"] == "completed"}) == 3,
                90,
                "every rep's session",
            )
        finally:
            stop_workers(workers)
        runs = store.runs()
        org = team.salesforce.org
        for first in (0,):
            group = team.members[first : first + 3]
            _assert_one_event_with_everyone(team, f"Customer {first + 1} kick-off", group)
            key = f"<kickoff-{first + 1}@cust{first + 1}.com>"
            [email] = [e for e in org.records("EmailMessage") if e.get("MessageIdentifier") == key]
            related = {
                str(r.get("RelationId"))
                for r in org.records("EmailMessageRelation")
                if r["EmailMessageId"] == email["Id"]
            }
            others = {m.salesforce_user_id for m in group} - {str(email["CreatedById"])}
            assert len(others) == 2 and others <= related
        calls = sorted(int(r["api_calls_salesforce"]) for r in runs if r["status"] == "completed")
        print(f"salesforce calls per session: {calls}")
