"""What the commands print, on terminals 60, 80 and 120 columns wide and without a terminal
(SPEC §8): tables fold long cells, drop or stack columns when narrow, and become tab-separated
lines for pipes and cron mail. Also the wording users read: `run --quiet`, `save` of an unknown
id, the doctor's advice and the run summary's "matched" column.
"""

from __future__ import annotations

import functools
import io

import pytest
from rich.console import Console

from rgsync.cli import cli
from rgsync.cli.common import App
from rgsync.model import IssueItem, IssueReport, IssueSource, Severity, Stream
from rgsync.session import SyncSession
from rgsync.session.retry import NO_WAIT
from tests.system.cli_support import invoke
from tests.system.memory_world import World, make_world

WIDTHS = (60, 80, 120)
LONG_ADVICE = (
    "ask your Salesforce administrator to make Description optional on Task, or fill it in the "
    "mailbox item and run rgsync again; the item is retried at the next session"
)


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    w = make_world(tmp_path / "ann")
    monkeypatch.setattr(
        "rgsync.sync.SyncSession", functools.partial(SyncSession, clock=lambda: w.now, retry=NO_WAIT)
    )
    with w.registered():
        yield w


def on_terminal(world: World, width: int, *args: str) -> tuple[int, str]:
    """Run `rgsync ARGS` as on a terminal `width` columns wide: exit code and what it printed."""
    out = io.StringIO()
    app = App(
        out_console=Console(file=out, width=width, force_terminal=True, color_system=None, soft_wrap=True),
        err_console=Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None),
    )
    try:
        cli.main(
            args=["--config", str(world.root / "settings.toml"), *args],
            prog_name="rgsync",
            standalone_mode=False,
            obj=app,
        )
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    return code, out.getvalue()


def widest_line(text: str, *, prose: tuple[str, ...] = ()) -> int:
    """The widest printed line, leaving out one-line sentences (the terminal wraps those)."""
    return max(len(line) for line in text.splitlines() if not line.startswith(prose))


def seed_issues(world: World) -> None:
    with world.state() as state:
        state.record_issue(
            IssueReport(
                code="SF-REQUIRED-FIELD",
                severity=Severity.ERROR,
                source=IssueSource.SALESFORCE,
                message="Salesforce refused the Task: Required fields are missing: [Description]",
                advice=LONG_ADVICE,
                item=IssueItem(kind="task", subject="Call Bob about the renewal", mailbox_id="AAMkAGI2T"),
                stream=Stream.TASKS,
            ),
            world.now,
        )
        state.record_issue(
            IssueReport(
                code="MAIL-UNREADABLE",
                severity=Severity.WARNING,
                source=IssueSource.MAILBOX,
                message="the email could not be read: no sender or recipient address could be read",
                advice="nothing to do; open the email in your mailbox to see what it is",
                item=IssueItem(kind="email", subject="[Fwd] quote", mailbox_id="18c2f0a9"),
                stream=Stream.EMAILS,
            ),
            world.now,
        )


@pytest.mark.parametrize("width", WIDTHS)
def test_spec_8_issues_list_fits_the_terminal_without_squeezing_columns(world: World, width: int) -> None:
    seed_issues(world)
    code, out = on_terminal(world, width, "issues", "list", "--all")
    assert code == 0
    assert widest_line(out, prose=("2 open issues",)) <= width
    # Headers and codes are whole words, never folded to a few letters per line ("Ad/vi/ce").
    for word in ("Message", "Advice", "SF-REQUIRED-FIELD", "MAIL-UNREADABLE"):
        assert word in out
    flat = " ".join(out.split())
    if width >= 120:
        assert "When" in out and "Resolved" in out  # every column
    elif width == 80:
        assert "When" not in out and "Resolved" not in out  # optional columns make way
        assert "Item" in out
    else:
        # Stacked: one block per issue, one "column value" line each, nothing left out.
        assert flat.count("Advice") == 2 and "Resolved" in out
        assert "[Fwd] quote" in flat  # square brackets are text, not markup


def test_spec_8_issues_list_without_a_terminal_is_tab_separated(world: World, capsys) -> None:
    seed_issues(world)
    result = invoke(capsys, "--config", str(world.root / "settings.toml"), "issues", "list")
    assert result.code == 0
    lines = [line for line in result.out.splitlines() if "\t" in line]
    assert lines[0].split("\t") == ["ID", "When", "Issue", "Item", "Message", "Advice", "×"]
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) == 2 and all(len(row) == 7 for row in rows)
    advice = {row[2].split()[0]: row[5] for row in rows}
    assert advice["SF-REQUIRED-FIELD"] == LONG_ADVICE  # whole, on one line, for `cut -f6`


@pytest.mark.parametrize("width", WIDTHS)
def test_spec_9_doctor_never_cuts_a_check_name(world: World, width: int) -> None:
    code, out = on_terminal(world, width, "doctor")
    assert code == 1  # no Salesforce sign-in in this world
    assert widest_line(out) <= width
    assert "Salesforce settings" in out and "Settings" in out


def test_spec_9_doctor_without_a_terminal_prints_one_line_per_check(world: World, capsys) -> None:
    result = invoke(capsys, "--config", str(world.root / "settings.toml"), "doctor")
    rows = [line.split("\t") for line in result.out.splitlines()]
    assert rows[0] == ["status", "check", "found", "fix"]
    fixes = {row[1]: row[3] for row in rows[1:]}
    assert fixes["Salesforce settings"] == (
        "run `rgsync connect salesforce --auth oauth` (it asks for what is missing)"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_spec_8_run_summary_and_status_fit_the_terminal(world: World, width: int) -> None:
    world.email("bob@globex.com", subject="Pricing")
    code, out = on_terminal(world, width, "run")
    assert code == 0
    assert widest_line(out) <= width
    assert "emails" in out and "+1 ~0 -0" in out
    code, status = on_terminal(world, width, "status")
    assert code == 0 and widest_line(status) <= width
    assert "Last session" in status and "Open issues" in status


def test_spec_8_the_run_summary_counts_matches_not_links_of_saved_items(world: World) -> None:
    """Every saved email is linked to its people; "matched" counts only items that were already
    on the other side and were paired without a write (the JSON key stays `linked`)."""
    world.email("bob@globex.com", subject="Pricing")
    _code, out = on_terminal(world, 120, "run")
    header = next(line for line in out.splitlines() if line.strip().startswith("stream"))
    assert "matched" in header and "linked" not in header
    assert "matched: found already there" in " ".join(out.split())


def test_spec_8_run_quiet_after_the_command_prints_nothing_and_syncs(world: World, capsys) -> None:
    world.email("bob@globex.com", subject="Pricing")
    result = invoke(capsys, "--config", str(world.root / "settings.toml"), "run", "--quiet")
    assert (result.code, result.out, result.err) == (0, "", "")
    assert [e.email.subject for e in world.crm.emails.values()] == ["Pricing"]


def test_spec_8_save_of_an_unknown_id_is_one_line_saying_where_ids_are(world: World, capsys) -> None:
    result = invoke(capsys, "--config", str(world.root / "settings.toml"), "save", "no-such-id")
    assert result.code == 2 and result.out == ""
    [line] = result.err.splitlines()
    assert "no email with id 'no-such-id'" in line and "rgsync issues list" in line
    assert "Traceback" not in result.err and "unexpected" not in line
