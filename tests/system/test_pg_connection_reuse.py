"""A fleet worker reuses its PostgreSQL connections (state.pg_reuse) without letting anything of one
session reach the next: the run lock and the user lock are free once released (SPEC §11: never two
sessions of one user, and never a user locked out by a lock nobody holds), a connection left in a
failed transaction is never handed out again, one that died with a server restart is replaced,
and the state store behaves the same with reuse on (SPEC §7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rgsync.model import Link, Side, Stream
from rgsync.state import PostgresLocation, StateStore, pg_reuse
from rgsync.state.postgres import AdvisoryLock
from tests.postgres_cluster import throwaway_postgres


@pytest.fixture
def reuse() -> Iterator[None]:
    pg_reuse.enable(max_idle=4)
    try:
        yield
    finally:
        pg_reuse.disable()


def _backend_pid(connection: psycopg.Connection) -> int:  # type: ignore[type-arg]
    return int(connection.info.backend_pid)


def _lock_free(url: str, key: int) -> bool:
    with psycopg.connect(url, autocommit=True) as other:
        row = other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        taken = bool(row and row[0])
        if taken:
            other.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return taken


def test_a_kept_connection_holds_no_lock_and_no_setting(pg_database: str, reuse: None) -> None:
    url = pg_database
    first = psycopg.connect(url, autocommit=True)
    first.execute("SELECT pg_advisory_lock(4242)")
    first.execute("SET search_path TO somewhere_else")
    pid = _backend_pid(first)
    pg_reuse.release(("t", url), first)
    # Released without an unlock (a session that failed half-way): the lock is free all the same.
    assert _lock_free(url, 4242)
    again = pg_reuse.take(("t", url))
    assert again is not None and _backend_pid(again) == pid  # the same server process, reused
    row = again.execute("SHOW search_path").fetchone()
    assert row is not None and "somewhere_else" not in str(row[0])
    assert pg_reuse.take(("t", url)) is None  # one kept, one handed out
    pg_reuse.release(("t", url), again)


def test_a_connection_inside_a_failed_transaction_is_closed_not_kept(pg_database: str, reuse: None) -> None:
    url = pg_database
    connection = psycopg.connect(url)  # not autocommit: a transaction opens with the first statement
    with pytest.raises(psycopg.errors.DivisionByZero):
        connection.execute("SELECT 1 / 0")
    pg_reuse.release(("t", url), connection)
    assert connection.closed
    assert pg_reuse.take(("t", url)) is None


def test_without_reuse_a_released_connection_is_closed(pg_database: str) -> None:
    url = pg_database
    connection = psycopg.connect(url, autocommit=True)
    pg_reuse.release(("t", url), connection)
    assert connection.closed


def test_the_run_lock_is_free_after_a_reused_connection_and_state_reads_back(
    pg_location: PostgresLocation, reuse: None
) -> None:
    with AdvisoryLock(pg_location):
        assert AdvisoryLock.holder(pg_location) is not None
    assert AdvisoryLock.holder(pg_location) is None
    for round_ in range(3):  # the second and third opens get kept connections
        store = StateStore.open(pg_location)
        try:
            with store.transaction():
                store.put_link(Link(Stream.EMAILS, f"m{round_}", f"02s00000000000{round_}AAA", Side.MAILBOX))
            assert set(store.links(Stream.EMAILS)) == {f"m{n}" for n in range(round_ + 1)}
        finally:
            store.close()
    with AdvisoryLock(pg_location):  # taken again at once: nothing held it in between
        pass


def test_a_kept_connection_that_died_with_a_restart_is_replaced(tmp_path: Path, reuse: None) -> None:
    with throwaway_postgres() as cluster:
        url = cluster.create_database("restart")
        connection = psycopg.connect(url, autocommit=True)
        pg_reuse.release(("t", url), connection)
        cluster.restart()
        assert pg_reuse.take(("t", url)) is None  # the dead one failed its check and was dropped
        with psycopg.connect(url, autocommit=True) as fresh:
            assert fresh.execute("SELECT 1").fetchone() == (1,)
