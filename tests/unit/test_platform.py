"""rgsync is POSIX-only (README "Install"): elsewhere it stops with one line saying so, exit 2
(SPEC §8: a usage or set-up error), instead of a traceback about `fcntl`."""

from __future__ import annotations

import subprocess
import sys


def test_spec_8_on_windows_rgsync_says_it_needs_posix_in_one_line() -> None:
    # Pretend to be Windows before rgsync is imported, as the `rgsync` console script would be.
    code = "import os; os.name = 'nt'; from rgsync.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Linux and macOS only" in lines[0] and "WSL" in lines[0]
    assert "Traceback" not in done.stderr and "fcntl" not in done.stderr


def test_on_posix_rgsync_imports() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import rgsync.credentials, rgsync.state.lock; print('ok')"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok")
