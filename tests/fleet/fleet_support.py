"""What the fleet tests share: a throw-away PostgreSQL, worker processes, org snapshots."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rgsync.demo.team import TeamSandbox
from rgsync.fleet.devcluster import ThrowawayCluster
from tests import postgres_cluster

ACTIVITY_OBJECTS = ("Task", "Event", "EmailMessage", "EmailMessageRelation", "EventRelation", "TaskRelation")
NAMED_OBJECTS = {
    "User": "Username",
    "Contact": "Email",
    "Lead": "Email",
    "Account": "Name",
    "Opportunity": "Name",
}
# Bookkeeping that differs between two orgs although the same thing happened in both.
VOLATILE = frozenset(
    {
        "Id",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
        "CreatedById",
        "LastModifiedById",
        "LastActivityDate",
        "CompletedDateTime",
        "attributes",
    }
)
# Each worker holds its pool (concurrency + 3) and a listener; the test itself a few more.
FLEET_MAX_CONNECTIONS = 100


def isolate_env(monkeypatch: Any) -> None:
    """Keep the developer's own rgsync settings, state and keyring out of a fleet test."""
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    for name in (
        "RGSYNC_STATE_DIR",
        "RGSYNC_PROFILE",
        "RGSYNC_CONFIG",
        "RGSYNC_ORG_POLICY",
        "RGSYNC_STATE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayCluster]:
    """A cluster of the test's own, with room for a few workers' connections."""
    with postgres_cluster.throwaway_postgres(max_connections=FLEET_MAX_CONNECTIONS) as cluster:
        yield cluster


def fleet_env(url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RGSYNC_")}
    env.update(
        RGSYNC_STATE_URL=url,
        RGSYNC_FLEET_HOME=str(home),
        RGSYNC_KEYRING="file",
        RGSYNC_RETRY_NO_SLEEP="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def rgsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `rgsync ARGS` as a user would; fails the test with its output when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "rgsync", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"rgsync {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}"
    return done


def start_worker(env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rgsync", "fleet", "worker", *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def org_snapshot(org: Any, owner_ids: dict[str, str]) -> dict[str, Counter[str]]:
    """Per rep: the activity records they own and their relations, Ids replaced by natural names.

    `owner_ids` maps a rep's roster name to their Salesforce user Id.
    """
    names: dict[str, str] = {}
    for object_name, field in NAMED_OBJECTS.items():
        for record in org.records(object_name):
            names[str(record["Id"])] = f"{object_name}:{record.get(field)}"
    activities: dict[str, dict[str, Any]] = {}
    for object_name in ("Task", "Event", "EmailMessage"):
        for record in org.records(object_name):
            names[str(record["Id"])] = f"{object_name}:{record.get('Subject')}"
            activities[str(record["Id"])] = record
    by_rep = {rep: Counter[str]() for rep in owner_ids}
    rep_of_user = {user_id: rep for rep, user_id in owner_ids.items()}

    def owner(record: dict[str, Any]) -> str | None:
        for field in ("OwnerId", "CreatedById"):
            if str(record.get(field)) in rep_of_user:
                return rep_of_user[str(record.get(field))]
        for field in ("ActivityId", "EventId", "TaskId", "EmailMessageId"):
            parent = activities.get(str(record.get(field)))
            if parent is not None:
                return owner(parent)
        return None

    for object_name in ACTIVITY_OBJECTS:
        for record in org.records(object_name):
            rep = owner(record)
            if rep is None:
                continue
            content = {key: _named(value, names) for key, value in record.items() if key not in VOLATILE}
            by_rep[rep][object_name + " " + json.dumps(content, sort_keys=True, default=str)] += 1
    return by_rep


def _named(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_named(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _named(v, names) for k, v in value.items()}
    return value


def add_round_two_email(team: TeamSandbox, rep_number: int, name: str, when: datetime) -> None:
    """A new customer email in rep `name`'s mailbox, the same in every sandbox."""
    router = team.mailbox_server.emulator.inner
    state = router.tenants[name].state
    raw = (
        f"From: Bea Buyer <bea@cust{rep_number}.com>\r\n"
        f"To: rep{rep_number}@example.com\r\n"
        f"Subject: Order from Customer {rep_number}\r\n"
        f"Message-ID: <order-{rep_number}@cust{rep_number}.com>\r\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "We would like to order.\r\n"
    )
    state.add_message(raw, ["INBOX"], internal_date=when)


def round_two_moment() -> datetime:
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)
