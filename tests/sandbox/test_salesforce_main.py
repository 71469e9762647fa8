"""`python -m rgsync.sandbox.salesforce`: serves in the foreground and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.sandbox.salesforce_support import SCENARIO


def test_foreground_server_prints_how_to_reach_it_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rgsync.sandbox.salesforce",
            "--scenario",
            str(scenario),
            "--directory",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: dict[str, str] = {}
        for line in process.stdout:
            if line.startswith("Press Ctrl-C"):
                break
            name, _, value = line.partition(":")
            printed[name.strip()] = value.strip()
        session = requests.Session()
        session.verify = printed["ca file"]
        session.trust_env = False
        response = session.get(
            f"{printed['url']}/services/data/v59.0/query",
            params={"q": "SELECT Name FROM Account ORDER BY Name"},
            headers={"Authorization": f"Bearer {printed['token']}"},
            timeout=10,
        )
        assert [r["Name"] for r in response.json()["records"]] == ["Globex", "Initech"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "Stopped." in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_unreadable_scenario_is_one_line_and_exit_2(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.json"
    scenario.write_text("{not json")
    finished = subprocess.run(
        [sys.executable, "-m", "rgsync.sandbox.salesforce", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1 and "broken.json" in finished.stderr
