"""The per-profile run lock (SPEC §2 step 1, §8 exit code 75)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest

from rgsync.cli import cli, main
from rgsync.cli.common import App, pass_app
from rgsync.errors import EXIT_LOCKED, LockHeldError
from rgsync.state import ProfileLock

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rgsync.state import ProfileLock
    with ProfileLock(Path(sys.argv[1])):
        print("locked", flush=True)
        sys.stdin.read()  # hold the lock until the parent closes our stdin
    """
)


@contextmanager
def lock_held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        yield child
    finally:
        if child.poll() is None:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_second_run_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    path = tmp_path / "state" / "run.lock"
    with lock_held_by_another_process(path) as child:
        with pytest.raises(LockHeldError) as caught, ProfileLock(path):
            pass
        assert caught.value.message == f"another rgsync run is in progress (pid {child.pid})"
        assert caught.value.exit_code == EXIT_LOCKED == 75
        assert ProfileLock.holder(path) == child.pid
    # released when the holder finishes
    assert ProfileLock.holder(path) is None
    with ProfileLock(path) as lock:
        assert lock.held and ProfileLock.holder(path) == os.getpid()
    assert not lock.held


def test_a_killed_run_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with lock_held_by_another_process(path) as child:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        with ProfileLock(path):
            pass


def test_lock_file_is_private_and_holder_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "run.lock"
    assert ProfileLock.holder(path) is None
    assert not path.parent.exists()
    with ProfileLock(path):
        assert oct(path.stat().st_mode & 0o777) == oct(0o600)
        assert oct(path.parent.stat().st_mode & 0o777) == oct(0o700)


def test_cli_exits_75_with_one_line_when_the_lock_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    @click.command("lock-probe")
    @pass_app
    def probe(app: App) -> None:
        with ProfileLock(app.paths.lock_file):
            app.say("got the lock")

    settings = tmp_path / "settings.toml"
    lock_file = tmp_path / ".rgsync-state" / "default" / "run.lock"
    cli.add_command(probe)
    try:
        with lock_held_by_another_process(lock_file) as child, pytest.raises(SystemExit) as exited:
            main(["--config", str(settings), "lock-probe"])
    finally:
        cli.commands.pop("lock-probe", None)
    assert exited.value.code == 75
    err = capsys.readouterr().err
    assert err.strip() == f"rgsync: another rgsync run is in progress (pid {child.pid})"
