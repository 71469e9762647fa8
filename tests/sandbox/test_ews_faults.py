"""The EWS emulator's faults as exchangelib sees them (throttling with BackOffMilliseconds, 5xx,
dropped connections, latency, the N-th call), its call counters, its scenarios, and running it on
its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchangelib import (
    BASIC,
    DELEGATE,
    Account,
    Build,
    Configuration,
    Credentials,
    EWSTimeZone,
    FailFast,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.folders import Inbox, Root
from exchangelib.items import ID_ONLY
from exchangelib.properties import DistinguishedFolderId
from exchangelib.protocol import CachingProtocol
from exchangelib.services import GetFolder

from rgsync.sandbox.ews import RunningEws, start_ews
from rgsync.sandbox.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    running = start_ews()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def get_inbox(ews: RunningEws) -> Iterator[object]:
    """A GetFolder(inbox) through exchangelib, failing fast so every fault shows."""
    config = Configuration(
        service_endpoint=ews.url,
        credentials=Credentials(ews.username, ews.password),
        auth_type=BASIC,
        version=Version(build=Build(15, 1, 2507, 6)),
        retry_policy=FailFast(),
    )
    account = Account(
        ews.address,
        config=config,
        autodiscover=False,
        access_type=DELEGATE,
        default_timezone=EWSTimeZone("UTC"),
    )
    inbox = Inbox(root=Root(account=account), _distinguished_id=DistinguishedFolderId(id="inbox"))

    def call() -> list[object]:
        return list(GetFolder(account=account).call(folders=[inbox], additional_fields=[], shape=ID_ONLY))

    yield call
    with CachingProtocol._protocol_cache_lock:
        cached = CachingProtocol._protocol_cache.pop(CachingProtocol._cache_key(config), None)
    if cached is not None:
        cached[0].close()


def test_throttling_arrives_as_server_busy_with_the_back_off(ews: RunningEws, get_inbox) -> None:  # type: ignore[no-untyped-def]
    ews.inject_server_busy("GetFolder", back_off_ms=1500)
    with pytest.raises(ews_errors.ErrorServerBusy) as busy:
        get_inbox()
    assert busy.value.back_off == 1.5
    assert get_inbox()  # the fault fired once


def test_5xx_and_dropped_connections_reach_the_client(ews: RunningEws, get_inbox) -> None:  # type: ignore[no-untyped-def]
    ews.inject_5xx("GetFolder", status=503)
    with pytest.raises(ews_errors.ErrorServerBusy, match="503"):  # exchangelib's name for a 503
        get_inbox()
    ews.drop_connection("GetFolder")
    with pytest.raises(ews_errors.ErrorTimeoutExpired):
        get_inbox()
    assert ews.calls("GetFolder") == 2


def test_only_the_nth_matching_call_fails_and_others_are_left_alone(ews: RunningEws, get_inbox) -> None:  # type: ignore[no-untyped-def]
    ews.fail_nth("GetFolder", nth=2)
    ews.fail_nth("SyncFolderItems", nth=1)  # another operation: never matches GetFolder calls
    get_inbox()
    with pytest.raises(ews_errors.ErrorServerBusy):
        get_inbox()
    get_inbox()
    assert ews.server.calls == {"GetFolder": 3}


def test_latency_goes_through_the_servers_sleep(ews: RunningEws, get_inbox) -> None:  # type: ignore[no-untyped-def]
    slept: list[float] = []
    ews.server.sleep = slept.append
    ews.inject_latency("GetFolder", seconds=2.5)
    assert get_inbox()
    assert slept == [2.5]


def test_the_demo_scenario_loads_into_folders_as_exchange_files_them() -> None:
    scenario = load_scenario(REPO / "examples" / "scenarios" / "demo.toml")
    ews = start_ews(scenario=scenario.google_scenario())
    try:
        state = ews.state
        inbox = [state.items[i] for i in state.items_in("inbox")]
        expected = [e for e in scenario.emails if "INBOX" in e.labels]
        assert sorted(i.text("Subject") for i in inbox) == sorted(e.subject for e in expected)
        classes = {i.text("Subject"): i.text("ItemClass") for i in inbox}
        assert classes["Undelivered Mail Returned to Sender"].startswith("REPORT.IPM.Note")
        assert len(state.items_in("calendar")) == len(scenario.calendar)
    finally:
        ews.stop()


def test_the_emulator_runs_on_its_own(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rgsync.sandbox.ews",
            "--scenario",
            str(REPO / "examples" / "scenarios" / "demo.toml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("EWS emulator serving at http://127.0.0.1:") and first.rstrip().endswith(
            "/EWS/Exchange.asmx"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
