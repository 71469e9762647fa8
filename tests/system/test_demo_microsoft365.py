"""`rgsync demo --mailbox microsoft365`: the demo scenario over the Microsoft 365 adapter and the
Graph emulator gives Salesforce exactly what it gives with Gmail (issue 8), and a quiet run costs
one Graph call per stream and folder (SPEC §10)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rgsync.cli import main
from rgsync.demo.sandbox import start_sandbox
from rgsync.demo.story import DemoRun, run_demo
from rgsync.sandbox.scenario import load_scenario
from tests.paths import MINIMAL_SCENARIO as MINIMAL


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, DemoRun]]:
    patch = pytest.MonkeyPatch()
    patch.setenv("RGSYNC_KEYRING", "file")  # never touch a developer's OS keyring
    try:
        yield {
            kind: run_demo(Console(file=io.StringIO(), width=160), mailbox=kind, fast=True)
            for kind in ("gmail", "microsoft365")
        }
    finally:
        patch.undo()


def _org(run: DemoRun) -> dict[str, list[tuple[Any, ...]]]:
    """Salesforce's records by object, with names instead of Ids (Ids differ between two orgs)."""
    org = run.sandbox.salesforce.org

    def name(record_id: Any) -> str:
        row = org.get(record_id) if record_id else None
        if row is None:
            return str(record_id or "")
        return str(row.get("Subject") or row.get("Name") or row.get("LastName") or row.get("Email") or "")

    view: dict[str, list[tuple[Any, ...]]] = {}
    for obj, fields in {
        "EmailMessage": ("Subject", "Incoming", "MessageIdentifier", "FromAddress", "ToAddress"),
        "EmailMessageRelation": ("EmailMessageId", "RelationId", "RelationType"),
        "Event": (
            "Subject",
            "StartDateTime",
            "EndDateTime",
            "IsAllDayEvent",
            "Location",
            "ShowAs",
            "WhoId",
            "WhatId",
        ),
        "EventRelation": ("EventId", "RelationId"),
        "Task": ("Subject", "Status", "ActivityDate", "Priority", "WhoId", "WhatId"),
        "Lead": ("LastName", "Email", "Company"),
        "Contact": ("LastName", "Email", "AccountId"),
        "Account": ("Name",),
    }.items():
        rows = []
        for row in org.records(obj):
            values = [name(row.get(f)) if f.endswith("Id") else row.get(f) for f in fields]
            # The demo's own reply gets a Message-ID from the clock: equal up to that.
            values = ["<demo-…>" if str(v).startswith("<demo-") else v for v in values]
            rows.append(tuple(values))
        view[obj] = sorted(rows, key=repr)
    return view


def test_the_demo_gives_salesforce_the_same_result_with_microsoft365_as_with_gmail(
    runs: dict[str, DemoRun],
) -> None:
    gmail, microsoft = runs["gmail"], runs["microsoft365"]
    assert microsoft.first.status == microsoft.second.status == "completed"
    assert _org(microsoft) == _org(gmail)
    for when in ("before", "after"):
        mine, theirs = getattr(microsoft, when), getattr(gmail, when)
        assert mine.saved_emails == theirs.saved_emails and mine.saved_meetings == theirs.saved_meetings
        assert mine.salesforce_tasks == theirs.salesforce_tasks
        assert mine.mailbox_tasks == theirs.mailbox_tasks and mine.mailbox_contacts == theirs.mailbox_contacts
        assert mine.mailbox_events == theirs.mailbox_events


def test_the_microsoft365_demo_idles_at_one_graph_call_per_stream_and_folder(
    runs: dict[str, DemoRun],
) -> None:
    idle = runs["microsoft365"].idle
    # Inbox and Sent Items, the calendar view, the To Do list, the contact folder; one Composite call.
    assert idle.api_calls == {"mailbox": 5, "salesforce": 1}
    graph = runs["microsoft365"].sandbox.mailbox
    assert graph.state.requests_without_immutable_ids == []
    # The down-synced meeting invited nobody; only Ann's own Outlook edit of her meeting notified.
    assert [(n.kind, n.subject) for n in graph.state.notifications] == [("update", "Globex renewal review")]


def test_a_microsoft365_sandbox_writes_a_profile_that_run_and_doctor_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.delenv("RGSYNC_STATE_DIR", raising=False)
    directory = tmp_path / "sbx"
    with start_sandbox(load_scenario(MINIMAL), directory, mailbox="microsoft365") as sandbox:
        endpoints = json.loads((directory / "endpoints.json").read_text(encoding="utf-8"))
        assert endpoints["mailbox"]["kind"] == "microsoft365" and endpoints["mailbox"][
            "graph_url"
        ].startswith("https://127.0.0.1:")
        settings_text = sandbox.settings_file.read_text(encoding="utf-8")
        assert (
            'provider = "microsoft365"' in settings_text
            and endpoints["mailbox"]["access_token"] not in settings_text
        )
        config = str(sandbox.settings_file)
        assert _cli("--config", config, "run", "--json") == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["status"] == "completed"
        assert summary["streams"]["emails"]["created"]["salesforce"] == 1  # "Hello from Globex"
        assert summary["streams"]["events"]["created"]["salesforce"] == 1  # "Globex intro meeting"
        _cli("--config", config, "doctor", "--json")
        checks = {c["check"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
        assert {k: v for k, v in checks.items() if k.startswith("Microsoft 365")} == {
            "Microsoft 365 sign-in": "ok",
            "Microsoft 365 mailbox": "ok",
            "Microsoft 365 Mail": "ok",
            "Microsoft 365 Calendar": "ok",
            "Microsoft 365 To Do": "ok",
            "Microsoft 365 Contacts": "ok",
        }


def _cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
