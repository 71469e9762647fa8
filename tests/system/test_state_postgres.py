"""The PostgreSQL state backend against a real server: per-profile isolation in one database, the
run lock across connections (SPEC §2 step 1), a connection lost mid-transaction or a server
restart (SPEC §7.1: nothing half-written, the next session carries on), and where the password
comes from (SPEC §9: never from a URL or a settings file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rgsync.cli import main
from rgsync.errors import EXIT_LOCKED, EXIT_USAGE, LockHeldError
from rgsync.fleet.devcluster import ThrowawayCluster
from rgsync.model import Link, Side, Stream
from rgsync.state import (
    PostgresLocation,
    StateStore,
    StateStoreError,
    StateUnavailableError,
    parse_state_url,
)
from rgsync.state.postgres import AdvisoryLock, drop_profile_state, list_profiles
from tests.postgres_cluster import PASSWORD_ROLE, raw_sql


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "RGSYNC_CONFIG",
        "RGSYNC_PROFILE",
        "RGSYNC_STATE_DIR",
        "RGSYNC_ORG_POLICY",
        "RGSYNC_STATE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.pgpass of the machine's user


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def link(mailbox_id: str, salesforce_id: str) -> Link:
    return Link(Stream.EMAILS, mailbox_id, salesforce_id, Side.MAILBOX, {}, f"<{mailbox_id}@x>")


def _backend_pid(store: StateStore) -> int:
    row = store._conn.execute("SELECT pg_backend_pid()").fetchone()
    return int(row[0])


# ---------------------------------------------------------------------- isolation


def test_spec_11_profiles_sharing_a_database_never_see_each_others_state(pg_database: str) -> None:
    ann = PostgresLocation(pg_database, "ann")
    bob = PostgresLocation(pg_database, "bob")
    with StateStore.open(ann) as store:
        store.put_link(link("m1", "00T1"))
        store.set_cursor(Stream.EMAILS, Side.MAILBOX, "history-7")
    with StateStore.open(bob) as store:
        # The same mailbox id and record id are another user's own business.
        store.put_link(link("m1", "00T9"))
        assert store.cursor(Stream.EMAILS, Side.MAILBOX) is None
    with StateStore.open(ann) as store:
        assert store.links(Stream.EMAILS)["m1"].salesforce_id == "00T1"
    assert list_profiles(ann) == ["rgsync_ann", "rgsync_bob"]
    assert drop_profile_state(bob) is True
    assert list_profiles(ann) == ["rgsync_ann"]
    assert StateStore.open_existing(bob) is None


def test_a_long_profile_name_gets_a_schema_of_its_own(pg_database: str) -> None:
    """PostgreSQL cuts identifiers at 63 bytes; two long names sharing their start stay apart."""
    first = PostgresLocation(pg_database, "x" * 60 + "-one")
    second = PostgresLocation(pg_database, "x" * 60 + "-two")
    assert first.schema != second.schema and len(first.schema) <= 63
    with StateStore.open(first) as store:
        store.set_meta("who", "first")
    with StateStore.open(second) as store:
        assert store.get_meta("who") is None


# ---------------------------------------------------------------------- run lock (SPEC §2 step 1)


def test_spec_2_the_run_lock_holds_across_connections_and_names_the_holder(
    pg_location: PostgresLocation,
) -> None:
    """Two runs of one user (on two machines: two connections) never overlap."""
    with AdvisoryLock(pg_location) as lock:
        assert lock.held
        with pytest.raises(LockHeldError) as caught, AdvisoryLock(pg_location):
            pass
        assert caught.value.message == f"another rgsync run is in progress (pid {os.getpid()})"
        assert caught.value.exit_code == EXIT_LOCKED
        assert AdvisoryLock.holder(pg_location) == os.getpid()
        # Another user of the same database runs meanwhile.
        with AdvisoryLock(PostgresLocation(pg_location.conninfo, pg_location.profile + "-other")):
            pass
    assert not lock.held
    assert AdvisoryLock.holder(pg_location) is None
    with AdvisoryLock(pg_location):
        pass


HOLDER = textwrap.dedent(
    """
    import sys
    from rgsync.state import PostgresLocation
    from rgsync.state.postgres import AdvisoryLock
    with AdvisoryLock(PostgresLocation(sys.argv[1], sys.argv[2])):
        print("locked", flush=True)
        sys.stdin.read()
    """
)


def test_spec_2_a_killed_run_leaves_no_stale_lock_and_the_cli_exits_75_meanwhile(
    pg_location: PostgresLocation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_location.conninfo, pg_location.profile],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        config = tmp_path / "settings.toml"
        config.write_text('[mailbox]\nprovider = "memory"\naddress = "ann@acme.com"\n')
        code, _out, err = _cli(
            capsys,
            "--config", str(config), "--profile", pg_location.profile, "--state-url", pg_location.conninfo, "run",
        )  # fmt: skip
        assert code == EXIT_LOCKED
        assert err.strip() == f"rgsync: another rgsync run is in progress (pid {child.pid})"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdout is not None
        child.stdout.close()
        assert child.stdin is not None
        child.stdin.close()
    # The server ends the killed holder's session, and its lock with it.
    deadline = time.monotonic() + 10
    while AdvisoryLock.holder(pg_location) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    with AdvisoryLock(pg_location):
        pass


def test_writers_of_one_profile_take_turns(pg_location: PostgresLocation) -> None:
    """Like SQLite's BEGIN IMMEDIATE: a second writer waits for the first to commit."""
    first, second = StateStore.open(pg_location), StateStore.open(pg_location)
    done = threading.Event()

    def write() -> None:
        second.set_meta("second", True)
        done.set()

    try:
        with first.transaction():
            first.set_meta("first", True)
            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(0.3), "the second writer did not wait for the first"
        assert done.wait(10)
        writer.join()
        assert second.get_meta("first") is True and first.get_meta("second") is True
    finally:
        first.close()
        second.close()


# ---------------------------------------------------------------------- faults (SPEC §7.1)


def test_spec_7_1_a_connection_lost_mid_transaction_is_one_line_and_loses_nothing_committed(
    pg_location: PostgresLocation,
) -> None:
    with StateStore.open(pg_location) as store:
        store.put_link(link("m1", "00T1"))
        intent = store.add_intent(Stream.EMAILS, Side.SALESFORCE, "email", "<m2@x>", {})
        with pytest.raises(StateUnavailableError) as caught, store.transaction():
            store.put_link(link("m2", "00T2"))
            raw_sql(pg_location, f"SELECT pg_terminate_backend({_backend_pid(store)})")
            store.complete_intent(intent, "00T2")
    message = caught.value.message
    assert message.startswith("lost the connection to the state database") and "\n" not in message
    assert "next run carries on" in message and caught.value.exit_code == 1
    assert isinstance(caught.value, StateStoreError) and caught.value.retriable
    with StateStore.open(pg_location) as store:
        # The half-done transaction is gone as a whole; the journal still says what to recover.
        assert set(store.links(Stream.EMAILS)) == {"m1"}
        assert [i.natural_key for i in store.pending_intents()] == ["<m2@x>"]


def test_spec_7_1_a_server_restart_fails_the_open_store_cleanly_and_a_new_open_carries_on(
    pg_cluster: ThrowawayCluster, pg_location: PostgresLocation
) -> None:
    store = StateStore.open(pg_location)
    try:
        store.put_link(link("m1", "00T1"))
        pg_cluster.restart()
        with pytest.raises(StateUnavailableError, match="lost the connection"):
            store.put_link(link("m2", "00T2"))
    finally:
        store.close()
    with StateStore.open(pg_location) as store:
        assert set(store.links(Stream.EMAILS)) == {"m1"}


def test_an_unreachable_server_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    nowhere = PostgresLocation(f"postgresql://rgsync@/rgsync?host={tmp_path}&port=9", "ann")
    with pytest.raises(StateUnavailableError) as caught:
        StateStore.open(nowhere)
    message = caught.value.message
    assert message.startswith("cannot connect to the state database") and "\n" not in message
    assert "check that PostgreSQL is running" in message


# ---------------------------------------------------------------------- state-url and the password (SPEC §9)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://rgsync:s3cret-pw@db.example.com:5432/rgsync",
        "postgresql://db.example.com/rgsync?user=rgsync&password=s3cret-pw",
    ],
)
def test_spec_9_a_password_in_the_state_url_is_refused_in_one_line_without_repeating_it(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "settings.toml"
    code, _out, err = _cli(capsys, "--config", str(config), "--state-url", url, "status")
    assert code == EXIT_USAGE and len(err.strip().splitlines()) == 1
    assert "holds a password" in err and "~/.pgpass" in err and "s3cret-pw" not in err
    monkeypatch.setenv("RGSYNC_STATE_URL", url)
    code, _out, err = _cli(capsys, "--config", str(config), "issues", "list")
    assert code == EXIT_USAGE and "holds a password" in err and "s3cret-pw" not in err
    monkeypatch.delenv("RGSYNC_STATE_URL")
    code, _out, err = _cli(capsys, "--config", str(config), "settings", "set", "state-url", url)
    assert code == EXIT_USAGE and "holds a password" in err and "s3cret-pw" not in err
    assert not config.exists() or "s3cret-pw" not in config.read_text()


def test_spec_11_state_url_forms() -> None:
    default = Path("/tmp/x/state.sqlite3")
    assert parse_state_url(None, profile="ann", default_path=default) == default
    assert parse_state_url("sqlite:///srv/rgsync/ann.db", profile="ann", default_path=default) == Path(
        "/srv/rgsync/ann.db"
    )
    socket_url = "postgresql:///rgsync?host=/run/postgresql"
    assert parse_state_url(socket_url, profile="ann", default_path=default) == PostgresLocation(
        socket_url, "ann"
    )
    with pytest.raises(StateStoreError.__mro__[1], match="not understood"):  # RgsyncError, exit 2
        parse_state_url("mysql://db/rgsync", profile="ann", default_path=default)


def test_the_settings_select_postgresql_and_state_check_reads_it_there(
    pg_location: PostgresLocation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "settings.toml"
    base = ["--config", str(config), "--profile", pg_location.profile]
    code, _out, err = _cli(capsys, *base, "settings", "set", "state-url", pg_location.conninfo)
    assert code == 0, err
    with StateStore.open(pg_location) as store:
        store.put_link(link("m1", "00T1"))
    code, out, err = _cli(capsys, *base, "state", "check")
    assert code == 0 and "is sound" in out and pg_location.schema in out, err
    assert not (tmp_path / ".rgsync-state").exists()  # no SQLite file was made on the way
    # The command line wins over the settings: an explicit SQLite file is a fresh, empty state.
    sqlite_file = tmp_path / "elsewhere.sqlite3"
    code, out, _err = _cli(capsys, *base, "--state-url", f"sqlite://{sqlite_file}", "state", "check")
    assert code == 0 and "No state database" in out and str(sqlite_file) in out


def test_spec_9_the_password_comes_from_the_credentials_store_or_pgpass(
    pg_cluster: ThrowawayCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role_password = "pw-for-tests-only"
    pg_cluster.sql(f"DROP ROLE IF EXISTS {PASSWORD_ROLE}")
    pg_cluster.sql(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{role_password}'")
    pg_cluster.sql(f"GRANT CREATE ON DATABASE postgres TO {PASSWORD_ROLE}")
    url = f"postgresql://{PASSWORD_ROLE}@127.0.0.1:{pg_cluster.port}/postgres"
    config = tmp_path / "settings.toml"
    base = ["--config", str(config), "--profile", f"pw{os.getpid()}", "--state-url", url]
    try:
        code, _out, err = _cli(capsys, *base, "state", "check")
        assert code == 1 and "password" in err and "rgsync state password" in err
        monkeypatch.setattr("sys.stdin", _Stdin(role_password + "\n"))
        code, _out, err = _cli(capsys, *base, "state", "password")
        assert code == 0, err
        assert role_password not in config.read_text() if config.exists() else True
        code, out, err = _cli(capsys, *base, "state", "check")
        assert code == 0 and "No state database" in out, err
        code, _out, err = _cli(capsys, *base, "state", "password", "--delete")
        assert code == 0, err
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{pg_cluster.port}:postgres:{PASSWORD_ROLE}:{role_password}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        code, out, err = _cli(capsys, *base, "state", "check")
        assert code == 0 and "No state database" in out, err
    finally:
        pg_cluster.sql(f"REVOKE CREATE ON DATABASE postgres FROM {PASSWORD_ROLE}")
        pg_cluster.sql(f"DROP ROLE IF EXISTS {PASSWORD_ROLE}")


class _Stdin:
    """Standard input that is not a terminal, holding one line."""

    def __init__(self, text: str) -> None:
        self._text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        text, self._text = self._text, ""
        return text


def test_spec_1_an_org_policy_points_every_user_at_the_shared_database(
    pg_location: PostgresLocation,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "org-policy.toml"
    policy.write_text(f'[forced.sync]\nstate-url = "{pg_location.conninfo}"\n')
    with StateStore.open(pg_location) as store:
        store.paused = True
    base = [
        "--config",
        str(tmp_path / "settings.toml"),
        "--org-policy",
        str(policy),
        "--profile",
        pg_location.profile,
    ]
    code, out, err = _cli(capsys, *base, "--json", "status")
    assert code == 0 and '"paused": true' in out, err
    # A user cannot move away from a forced value in the settings; the environment still can (tests, moves).
    code, _out, err = _cli(capsys, *base, "settings", "set", "state-url", "sqlite:///tmp/mine.sqlite3")
    assert code == EXIT_USAGE and "forced" in err
    monkeypatch.setenv("RGSYNC_STATE_URL", f"sqlite://{tmp_path / 'moved.sqlite3'}")
    code, out, err = _cli(capsys, *base, "state", "check")
    assert code == 0 and "moved.sqlite3" in out, err
