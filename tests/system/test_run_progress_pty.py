"""The progress display of `rgsync run` (SPEC §2 streams, §8 output for cron): in a real
pseudo-terminal of 80 columns the console script draws one line per stream with the changes read,
the actions planned and the records written; with `--quiet`, with `--json` and without a terminal
nothing of it appears. The sessions run against the sandbox emulators over real HTTP."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator

import pytest

from tests.system.rule_cases_sandbox import Box, open_box, scenario_text

ITEMS = """
[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "Pricing for the renewal"
when = "-1d 10:00"
body = "Here are the numbers."

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "Renewal call"
when = "-1d 11:00"
body = "Tuesday works."
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
PROGRESS_LINE = re.compile(r"(\w+) +read (\d+)(?:/\d+)? +planned (\d+) +written (\d+)(?:/(\d+))?")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    text = scenario_text("progress", settings={"general.emails": {"save-as": "task"}}, items=ITEMS)
    with open_box(tmp_path_factory.mktemp("progress") / "sandbox", text) as started:
        yield started


def _env(box: Box) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RGSYNC_") and k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")
    }
    env.update(RGSYNC_KEYRING="file", HOME=str(box.sandbox.settings_file.parent), TERM="xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def in_terminal(box: Box, *argv: str) -> tuple[int, str]:
    """`rgsync ARGV` in a pseudo-terminal of 80×24, as a person runs it: (exit code, all it drew)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "rgsync", "--config", str(box.sandbox.settings_file), *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(box),
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal's other end closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = process.wait(timeout=120)
    return code, b"".join(chunks).decode("utf-8", "replace")


def shown_lines(drawn: str) -> list[str]:
    """What the terminal showed, line by line (escape sequences and carriage returns removed)."""
    return [ANSI.sub("", part) for line in drawn.split("\n") for part in line.split("\r") if part.strip()]


def test_spec_2_run_on_a_terminal_shows_read_planned_written_per_stream_within_80_columns(
    box: Box,
) -> None:
    code, drawn = in_terminal(box, "run", "--force")
    assert code == 0, drawn
    lines = shown_lines(drawn)
    progress = {m.group(1): m for m in (PROGRESS_LINE.search(line) for line in lines) if m}
    assert {"emails", "contacts"} <= set(progress)
    emails = progress["emails"]
    assert int(emails.group(2)) == 2  # both emails read
    assert int(emails.group(3)) == 2 and emails.group(4) == "2" and emails.group(5) == "2"
    assert all(len(line) <= 80 for line in lines)
    assert "/s" in drawn  # a rate
    assert "completed" in drawn  # the summary follows the display


@pytest.mark.parametrize("option", ["--quiet", "--json"])
def test_spec_8_quiet_and_json_never_show_progress_even_on_a_terminal(box: Box, option: str) -> None:
    code, drawn = in_terminal(box, "run", "--force", option)
    assert code == 0, drawn
    assert not PROGRESS_LINE.search(ANSI.sub("", drawn)) and "planned" not in drawn
    assert "Syncing" not in drawn


def test_spec_8_without_a_terminal_nothing_of_the_progress_appears(box: Box) -> None:
    code, out = box.cli("run", "--force")  # stdout and stderr captured: no terminal
    assert code == 0, out
    assert "completed" in out
    assert "planned" not in out and "Syncing" not in out and "\x1b[" not in out
