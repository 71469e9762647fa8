"""`rgsync status --history` through the real command line after real sessions against the sandbox
emulators: per session the items synced per stream, the API calls per side and the issues opened
and resolved (SPEC §8), as a chart on an 80-column terminal, as tab-separated lines without one, and
as JSON whose numbers are the ones each `rgsync run --json` reported."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rgsync.cli.history import load_history, render_history
from tests.system.rule_cases_sandbox import REFUSED_SUBJECT, Box, open_box, refused_email_items, scenario_text

REFUSED = REFUSED_SUBJECT
ITEMS = refused_email_items()


def _items(stream: dict[str, Any]) -> int:
    return sum(sum(stream[k].values()) for k in ("created", "updated", "deleted")) + stream["linked"]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Box, list[dict[str, Any]]]]:
    """Two real sessions: the first opens an issue (a refused email), the second resolves it."""
    text = scenario_text("history", settings={"general.emails": {"save-as": "task"}}, items=ITEMS)
    with open_box(tmp_path_factory.mktemp("history") / "sandbox", text) as box:
        runs = []
        code, out = box.cli("run", "--force", "--json")
        assert code == 0, out
        runs.append(json.loads(out))
        box.org.validation_rules.clear()
        assert box.cli("issues", "retry", "--all")[0] == 0
        code, out = box.cli("run", "--force", "--json")
        assert code == 0, out
        runs.append(json.loads(out))
        assert box.cli("run", "--dry-run")[0] == 0  # a dry run is no session of the history
        yield box, runs


def test_spec_8_history_json_gives_each_sessions_items_api_calls_and_issues(story) -> None:
    box, runs = story
    code, out = box.cli("status", "--history", "--json")
    assert code == 0, out
    history = json.loads(out)
    assert [s["session_id"] for s in history["sessions"]] == [r["session_id"] for r in runs]
    for shown, run in zip(history["sessions"], runs, strict=True):
        assert shown["api_calls"] == run["api_calls"]
        assert shown["items"] == {name: _items(s) for name, s in run["streams"].items()}
        assert shown["status"] == "completed"
    assert [(s["issues_opened"], s["issues_resolved"]) for s in history["sessions"]] == [(1, 0), (0, 1)]
    assert history["sessions"][1]["items"]["emails"] == 1  # the refused email, saved once on retry
    totals = history["totals"]
    assert totals["sessions"] == 2 and totals["issues_opened"] == 1 and totals["issues_resolved"] == 1
    assert totals["api_calls"]["salesforce"] == sum(r["api_calls"]["salesforce"] for r in runs)


def test_history_without_a_terminal_is_one_tab_separated_line_per_session(story) -> None:
    box, runs = story
    code, out = box.cli("status", "--history")
    assert code == 0, out
    header, *rows = out.splitlines()
    assert header.split("\t")[:3] == ["started", "status", "emails"]
    assert len(rows) == 2
    first = dict(zip(header.split("\t"), rows[0].split("\t"), strict=True))
    assert first["salesforce calls"] == str(runs[0]["api_calls"]["salesforce"])
    assert (first["opened"], first["resolved"]) == ("1", "0")


def test_history_chart_fits_80_columns_one_column_per_session(story) -> None:
    box, _runs = story
    console = Console(
        record=True, width=80, force_terminal=True, color_system="truecolor", file=io.StringIO()
    )
    with box.state() as store:
        render_history(console, load_history(store, datetime.now(UTC), 7), 7)
    text = console.export_text(clear=False)
    lines = text.splitlines()
    assert lines[0] == "Last 7 days: 2 sessions"
    assert all(len(line) <= 80 for line in lines)
    chart = {line[:16].strip(): line[16:].split() for line in lines[1:-1]}
    assert chart["issues opened"][:2] == ["█·", "1"]
    assert chart["issues resolved"][:2] == ["·█", "1"]
    assert chart["emails"][0] in ("██", "▁█", "█▁") or len(chart["emails"][0]) == 2
    assert chart["API calls"][0][1] == "█" or chart["API calls"][0][0] == "█"


def test_history_keeps_to_the_days_asked_and_to_the_width_when_sessions_are_many(tmp_path: Path) -> None:
    from rgsync.state import StateStore

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with StateStore.open(tmp_path / "state.sqlite3") as store:
        old = store.start_session(now - timedelta(days=10))
        store.finish_session(old, now - timedelta(days=10), "completed", {"api_calls": {"salesforce": 999}})
        for n in range(120):
            started = now - timedelta(hours=40) + timedelta(minutes=20 * n)
            sid = store.start_session(started)
            streams = {"emails": {"created": {"salesforce": n % 5, "mailbox": 0}, "linked": 0}}
            status = "failed" if n == 119 else "completed"
            store.finish_session(sid, started, status, {"streams": streams, "api_calls": {"salesforce": 3}})
        points = load_history(store, now, 7)
    assert len(points) == 120 and all(p.api_calls["salesforce"] == 3 for p in points)
    console = Console(
        record=True, width=80, force_terminal=True, color_system="truecolor", file=io.StringIO()
    )
    render_history(console, points, 7)
    text = console.export_text(clear=False)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "120 sessions, 1 not completed (red)" in text and "the chart shows the last" in text
    emails = next(line for line in text.splitlines() if line.startswith("emails"))
    assert "·" in emails and "█" in emails  # zero sessions and the busiest ones both show
    assert "\x1b[31m" in console.export_text(styles=True)  # the failed session is red
