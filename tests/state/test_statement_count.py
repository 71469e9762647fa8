"""How many statements the state store runs for a first session: a few per batch of writes, not
several per email (SPEC §10: writes batched; SPEC §7.1: the journal still comes before each batch).

The statements are counted by the engine's own tracing (SQLite's trace callback, libpq's protocol
trace for PostgreSQL) over whole first sessions of two sizes on the in-memory providers: the
difference may grow by only a fraction of a statement per extra saved email.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from psycopg import pq

from rgsync.session import RunOptions, SyncSession
from rgsync.session.retry import NO_WAIT
from rgsync.settings import load_settings
from rgsync.state import PostgresLocation, StateStore
from rgsync.state.postgres import drop_profile_state
from tests.system.memory_world import make_world

SENDERS = ("bob@globex.com", "carol@initech.com", "frank@acme.com", "dave@gmail.com")
# Statements the state store may add per extra saved email. Writing each email's rows one at a
# time took 18 (journal, link, issue resolution, label intent, two journal drops, savepoints).
MOST_PER_EMAIL = 0.25


@contextlib.contextmanager
def statements_of(store: StateStore, trace_file: Path) -> Iterator[Callable[[], int]]:
    """Count the statements `store` sends to its engine inside the block."""
    connection = store.backend.connection
    if store.backend.dialect == "sqlite":
        seen: list[str] = []
        connection.set_trace_callback(seen.append)
        try:
            yield lambda: len(seen)
        finally:
            connection.set_trace_callback(None)
        return
    with trace_file.open("w") as trace:
        connection.pgconn.trace(trace.fileno())
        connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            # A statement is one Execute (extended protocol) or one Query (simple protocol).
            yield lambda: sum(
                1
                for line in trace_file.read_text(errors="replace").splitlines()
                if line.startswith("F\t") and line.split("\t")[2] in ("Execute", "Query")
            )
        finally:
            connection.pgconn.untrace()


def first_session(where: Path | PostgresLocation, root: Path, emails: int) -> tuple[int, int]:
    """(statements, emails saved) of a first session over `emails` new emails."""
    world = make_world(root)
    for n in range(emails):
        world.email(SENDERS[n % len(SENDERS)], subject=f"Proposal {n}", hours_ago=1 + n / 100)
    paths = world.paths
    settings = load_settings(paths.settings_file, paths.org_policy_file).effective()
    with StateStore.open(where) as state, statements_of(state, root / "trace.txt") as count:
        session = SyncSession(
            settings,
            state,
            world.mailbox,
            world.crm,
            clock=lambda: world.now,
            retry=NO_WAIT,
            time_zone="Europe/Berlin",
        )
        result = session.run(RunOptions(force=True))
        assert result.exit_code == 0
        statements = count()
    assert result.emails_saved == len(world.crm.emails)
    return statements, result.emails_saved


def test_spec_10_a_first_sessions_state_statements_grow_by_a_fraction_per_saved_email(
    state_where: Path | PostgresLocation, tmp_path: Path
) -> None:
    small_where = state_where
    large_where: Path | PostgresLocation = tmp_path / "large" / "state.sqlite3"
    if isinstance(state_where, PostgresLocation):
        large_where = PostgresLocation(conninfo=state_where.conninfo, profile=f"{state_where.profile}-large")
    try:
        small, small_saved = first_session(small_where, tmp_path / "small", 20)
        large, large_saved = first_session(large_where, tmp_path / "large", 400)
    finally:
        if isinstance(large_where, PostgresLocation):
            drop_profile_state(large_where)
    extra_saved = large_saved - small_saved
    assert small_saved >= 10 and extra_saved >= 150
    assert large - small <= MOST_PER_EMAIL * extra_saved, (small, large, extra_saved)
