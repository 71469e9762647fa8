"""How long `rgsync` takes to start: `--help`, `run --help`, and the bare interpreter for scale.

Each command runs in a fresh subprocess; the minimum of the repeats is reported (the least
disturbed by other load on the machine), with the median beside it. Also lists the rgsync
modules and client libraries that `rgsync --help` imported.

    python benchmarks/cli_startup.py [--repeat 10]
"""

from __future__ import annotations

import argparse
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


def timed(argv: list[str], repeat: int) -> tuple[float, float]:
    """Minimum and median wall time of `argv` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


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
        low, mid = timed(argv, args.repeat)
        print(f"{label:20} min {low:.3f} s  median {mid:.3f} s")
    probe = subprocess.run(
        [python, "-c", PROBE.format(heavy=HEAVY)], check=True, capture_output=True, text=True
    )
    print(probe.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
