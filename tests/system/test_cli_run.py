"""`rgsync run` and `rgsync save` through the command line, over the in-memory providers (SPEC §2, §8)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap

import pytest

from rgsync.cli import main
from rgsync.model import Stream
from rgsync.session import SyncSession
from rgsync.session.retry import NO_WAIT
from tests.system.cli_support import invoke
from tests.system.memory_world import NOW, World, make_world


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    w = make_world(tmp_path / "ann")
    # The CLI builds its own session: give it the world's clock and a retry policy that never sleeps.
    monkeypatch.setattr(
        "rgsync.sync.SyncSession", functools.partial(SyncSession, clock=lambda: w.now, retry=NO_WAIT)
    )
    with w.registered():
        yield w


def rgsync(world: World, *args: str, capsys) -> tuple[int, str, str]:
    result = invoke(capsys, "--config", str(world.root / "settings.toml"), *args)
    return result.code, result.out, result.err


def test_spec_8_run_prints_a_summary_and_exits_0(world: World, capsys) -> None:
    world.email("bob@globex.com", subject="Pricing")
    world.email("frank@acme.com", subject="Lunch")
    code, out, _ = rgsync(world, "run", capsys=capsys)
    assert code == 0
    assert "completed" in out
    assert "emails" in out and "internal 1" in out
    assert len(world.crm.emails) == 1


def test_spec_8_run_json_is_the_documented_object(world: World, capsys) -> None:
    world.email("bob@globex.com")
    code, out, _ = rgsync(world, "run", "--json", capsys=capsys)
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {
        "session_id",
        "status",
        "started_at",
        "ended_at",
        "streams",
        "api_calls",
        "open_issues",
        "next_due_at",
        "message",
    }
    assert payload["status"] == "completed"
    emails = payload["streams"]["emails"]
    assert emails["created"] == {"salesforce": 1, "mailbox": 0}
    assert set(emails) == {
        "status",
        "created",
        "updated",
        "deleted",
        "linked",
        "unlinked",
        "failed",
        "changes_read",
        "skipped",
        "error",
    }
    assert payload["api_calls"]["salesforce"] >= 1


def test_spec_8_quiet_run_prints_nothing_on_success(world: World, capsys) -> None:
    world.email("bob@globex.com")
    code, out, err = rgsync(world, "--quiet", "run", capsys=capsys)
    assert (code, out, err) == (0, "", "")


def test_dry_run_lists_actions_and_skips_and_changes_nothing(world: World, capsys) -> None:
    world.email("bob@globex.com", subject="Pricing")
    world.email("dave@gmail.com", subject="Free mail")
    code, out, _ = rgsync(world, "run", "--dry-run", capsys=capsys)
    assert code == 0
    assert "Dry run" in out and "Pricing" in out
    assert "blocklisted" in out
    assert world.crm.emails == {}
    code, out, _ = rgsync(world, "status", capsys=capsys)
    assert "no session has run yet" in out.lower()


def test_S7_run_while_paused_exits_0_and_touches_nothing(world: World, capsys) -> None:
    world.email("bob@globex.com")
    assert rgsync(world, "pause", capsys=capsys)[0] == 0
    code, out, _ = rgsync(world, "run", capsys=capsys)
    assert code == 0 and "paused" in out
    assert world.crm.emails == {} and world.crm.api_calls == 0
    rgsync(world, "resume", capsys=capsys)
    assert rgsync(world, "run", capsys=capsys)[0] == 0
    assert len(world.crm.emails) == 1


def test_spec_8_failed_stream_exits_1_with_one_line(world: World, capsys) -> None:
    from rgsync.providers.base import AuthError

    world.crm.failures.fail_calls = [
        AuthError("Salesforce refused the session", code="SF-AUTH", advice="run `rgsync connect salesforce`")
    ]
    code, out, err = rgsync(world, "run", capsys=capsys)
    assert code == 1
    assert "Salesforce refused the session" in out + err
    assert "Traceback" not in out + err
    code, out, _ = rgsync(world, "issues", "list", capsys=capsys)
    assert "SF-AUTH" in out


def test_save_saves_one_email_whatever_the_settings(world: World, capsys) -> None:
    world.root.joinpath("settings.toml").write_text(
        world.root.joinpath("settings.toml").read_text() + "\n[general.emails]\nauto-save = false\n"
    )
    email = world.email("bob@globex.com", subject="Save me")
    world.email("bob@globex.com", subject="Not me")
    code, out, _ = rgsync(world, "save", email.mailbox_id, capsys=capsys)
    assert code == 0 and "Saved" in out
    assert [a.email.subject for a in world.crm.emails.values()] == ["Save me"]


def test_S6_run_while_another_run_holds_the_lock_exits_75(tmp_path) -> None:
    """Two real processes: the first holds the profile lock, the second must exit 75 at once."""
    config = tmp_path / "settings.toml"
    config.write_text('[mailbox]\nprovider = "gmail"\naddress = "ann@acme.com"\n')
    holder = textwrap.dedent(
        f"""
        import sys, time
        from rgsync.paths import resolve_paths
        from rgsync.state import ProfileLock
        paths = resolve_paths(config={str(config)!r})
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        with ProfileLock(paths.lock_file):
            print("locked", flush=True)
            sys.stdin.read()
        """
    )
    env = {**os.environ, "RGSYNC_KEYRING": "file"}
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        done = subprocess.run(
            [sys.executable, "-m", "rgsync", "--config", str(config), "run"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 75
        assert "another rgsync run is in progress (pid" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        proc.communicate("", timeout=10)


def test_run_with_an_unknown_provider_exits_2_naming_it(tmp_path, capsys) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[mailbox]\nprovider = "lotus-notes"\n')
    try:
        main(["--config", str(config), "run"])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    _, err = capsys.readouterr()
    assert code == 2
    assert "lotus-notes" in err


def test_status_shows_last_session_and_next_due_time(world: World, capsys) -> None:
    world.email("bob@globex.com")
    rgsync(world, "run", capsys=capsys)
    code, out, _ = rgsync(world, "status", "--json", capsys=capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["last_session"]["status"] == "completed"
    assert payload["next_due_at"]
    assert NOW.year == 2026 and Stream.EMAILS.value in json.dumps(payload)
