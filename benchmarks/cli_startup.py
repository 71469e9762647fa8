"""How long `rgsync` takes to start: `--help`, `run --help`, and the bare interpreter for scale.

Each command runs in a fresh subprocess; the minimum of the repeats is reported (the least
disturbed by other load on the machine), with the median beside it, for the wall time and for the
CPU time the process used (user + system, from wait4: on a busy machine the wall time mostly
measures the wait for a core, the CPU time what starting rgsync costs). Also lists the rgsync
modules and client libraries that `rgsync --help` imported.

    python benchmarks/cli_startup.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HEAVY = (
    "rgsync.sandbox",
    "rgsync.session",
    "simple_salesforce",
    "exchangelib",
    "googleapiclient",
    "msal",
    "rich",
)

PROBE = """
import sys
from rgsync.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = {heavy!r}
print("MODULES", len(sys.modules), [m for m in heavy if m in sys.modules], file=sys.stderr)
"""


def timed(argv: list[str], repeat: int) -> tuple[float, float, float, float]:
    """Minimum and median wall time, then minimum and median CPU time, of `argv` over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{argv} failed")
        cpus.append(usage.ru_utime + usage.ru_stime)
    return min(walls), statistics.median(walls), min(cpus), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "rgsync --help": [python, "-c", "from rgsync.cli import main; main(['--help'])"],
        "rgsync run --help": [python, "-c", "from rgsync.cli import main; main(['run', '--help'])"],
        "import rgsync.cli": [python, "-c", "import rgsync.cli"],
    }
    for label, argv in cases.items():
        low, mid, cpu_low, cpu_mid = timed(argv, args.repeat)
        print(
            f"{label:20} wall min {low:.3f} s  median {mid:.3f} s   "
            f"CPU min {cpu_low:.3f} s  median {cpu_mid:.3f} s"
        )
    probe = subprocess.run(
        [python, "-c", PROBE.format(heavy=HEAVY)], check=True, capture_output=True, text=True
    )
    print(probe.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
