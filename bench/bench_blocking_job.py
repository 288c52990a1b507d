"""A job that blocks beside a job that must keep its schedule, in a program that is not
monkey-patched: greensched's BackgroundScheduler with its default executor against
APScheduler 3.11's, each in a child process.

A job blocks its thread (``time.sleep``, unpatched) for ``--block`` seconds every ``--every``
seconds while a 1-second interval job runs; after ``--seconds`` the report gives how often the
1-second job ran, how many of its runs were missed, and the gaps between its runs.

    python bench/bench_blocking_job.py              # 9.5 s per library
    python bench/bench_blocking_job.py --seconds 3 --block 0.6 --every 0.8 --tick 0.2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, threading, time
from {package}.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from {package}.schedulers.background import BackgroundScheduler

ticks, missed, lock = [], [], threading.Lock()

def tick():
    with lock:
        ticks.append(time.monotonic())

def block():
    time.sleep({block})  # unpatched: blocks this OS thread

def listener(event):
    if event.code == EVENT_JOB_MISSED and event.job_id == "tick":
        with lock:
            missed.append(event.scheduled_run_time)

scheduler = BackgroundScheduler()
scheduler.add_listener(listener, EVENT_JOB_MISSED)
scheduler.add_job(block, "interval", seconds={every}, id="block", next_run_time=None)
scheduler.add_job(tick, "interval", seconds={tick}, id="tick")
scheduler.start()
scheduler.modify_job("block", next_run_time=scheduler.get_job("tick").next_run_time)
time.sleep({seconds})
executor = type(scheduler._lookup_executor("default")).__name__
scheduler.shutdown(wait=False)
gaps = [round(b - a, 3) for a, b in zip(ticks, ticks[1:])]
print(json.dumps({{"executor": executor, "ran": len(ticks), "missed": len(missed), "gaps": gaps}}))
"""


def run(package: str, options: argparse.Namespace) -> dict[str, object]:
    script = CHILD.format(
        package=package,
        block=options.block,
        every=options.every,
        tick=options.tick,
        seconds=options.seconds,
    )
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=options.seconds + 60,
    )
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=9.5, help="how long each run lasts")
    parser.add_argument("--block", type=float, default=3.0, help="seconds the job blocks")
    parser.add_argument("--every", type=float, default=4.0, help="seconds between blocks")
    parser.add_argument("--tick", type=float, default=1.0, help="the other job's interval")
    options = parser.parse_args()
    print(
        f"| library | default executor | {options.tick:g}-s job ran | missed | largest gap (s) |"
    )
    print("|---|---|---|---|---|")
    for package in ("greensched", "apscheduler"):
        figures = run(package, options)
        gaps = figures["gaps"]
        largest = max(gaps) if isinstance(gaps, list) and gaps else "-"
        print(
            f"| {package} | {figures['executor']} | {figures['ran']} | {figures['missed']} "
            f"| {largest} |"
        )


if __name__ == "__main__":
    main()
