"""Time of turning email HTML into the plain text saved to Salesforce (SPEC §10: a first sync of
thousands of emails must not be held up by body conversion).

Run: `python benchmarks/bench_html_to_text.py [--emails 10000]`.

Builds N distinct bodies from the real-world-shaped samples in tests/data/html/ (Outlook, Gmail,
a marketing newsletter, …; each copy numbered so nothing is cached), plus a newsletter about
60 KB long and N plain-text bodies, and prints the wall and CPU time of each set (CPU time is the steadier figure on a busy machine).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from rgsync.providers.text import html_to_text

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "html"


def html_bodies(count: int) -> list[str]:
    shapes = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.html"))]
    return [shapes[n % len(shapes)].replace("</body>", f"<p>Ref {n}</p></body>") for n in range(count)]


def long_newsletter(count: int) -> list[str]:
    marketing = (SAMPLES / "marketing-table.html").read_text(encoding="utf-8")
    start, end = marketing.index("<table"), marketing.rindex("</table>") + len("</table>")
    block = marketing[start:end]
    return [marketing.replace(block, block * 20).replace("#4821", f"#{n}") for n in range(count)]


def plain_bodies(count: int) -> list[str]:
    return [f"Hi Ann,\n\nQuestion number {n}: can we move the call?\n\nBob" for n in range(count)]


def measure(label: str, bodies: list[str], convert: Callable[[str], str]) -> None:
    size = sum(len(b) for b in bodies) / max(1, len(bodies))
    started, cpu_started = time.perf_counter(), time.process_time()
    for body in bodies:
        convert(body)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    per = cpu / max(1, len(bodies)) * 1000
    print(
        f"{label:<24} {len(bodies):>6} bodies  avg {size / 1024:5.1f} KB"
        f"  wall {took:6.2f} s  cpu {cpu:6.2f} s  {per:6.3f} ms cpu/email"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    args = parser.parse_args()
    measure("HTML emails (samples)", html_bodies(args.emails), html_to_text)
    measure("long newsletters", long_newsletter(max(1, args.emails // 10)), html_to_text)
    measure("plain-text bodies", plain_bodies(args.emails), html_to_text)


if __name__ == "__main__":
    main()
