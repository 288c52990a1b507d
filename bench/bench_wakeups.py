"""What one wake-up of the gevent hub costs in CPU on this machine, by how long the process
slept before it: the floor under the processing loop's CPU per run at low rates, where it
wakes at each run time (``bench/RESULTS.md``, issue 18). No scheduler is involved.

For each period, the main greenlet of a monkey-patched process calls
``gevent.sleep(period)`` for ``--seconds`` (a loop timer, a switch to the hub, one
``epoll_wait``, a switch back), and the process CPU time and the wall time per wake-up are
printed::

    python bench/bench_wakeups.py [--periods 0.001,0.002,0.004,0.01] [--seconds 3]
        [--json FILE]

A wake-up after a longer sleep costs more: the CPU's caches and the virtual machine's
scheduling are colder (on the 2-core machine of RESULTS.md, 2026-12-03: 51 µs after 1 ms,
146 µs after 4 ms).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

PERIODS = (0.001, 0.002, 0.004, 0.01)
SECONDS = 3.0


def measure(period: float, seconds: float) -> dict[str, Any]:
    """Sleep ``period`` over and over for about ``seconds``; the cost of each wake-up."""
    import gevent

    count = max(1, round(seconds / period))
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        gevent.sleep(period)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "period_ms": period * 1000,
        "wakeups": count,
        "cpu_us_per_wakeup": round(cpu / count * 1e6, 1),
        "wall_ms_per_wakeup": round(wall / count * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--periods",
        type=lambda text: [float(item) for item in text.split(",")],
        default=list(PERIODS),
        help="seconds slept before each wake-up, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=SECONDS, help="for each period")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    from gevent import monkey

    monkey.patch_all()
    import gevent

    gevent.sleep(0.1)  # the hub started, its first iteration done
    results = [measure(period, args.seconds) for period in args.periods]
    print("| slept ms | wake-ups | CPU µs per wake-up | wall ms per wake-up |")
    print("|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result['period_ms']:g} | {result['wakeups']:,} | "
            f"{result['cpu_us_per_wakeup']} | {result['wall_ms_per_wakeup']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
