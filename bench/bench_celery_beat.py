"""``greensched celery-beat`` replicas against plain ``celery beat`` on the same schedule.

Two parts, on a private Redis database (``--db``, 14 by default) as Celery's broker:

1. **Exactly once**: ``--entries`` entries each due every second, for ``--seconds``, with a
   real ``celery worker`` recording each delivery: one and two plain ``celery beat``
   processes, three greensched replicas on a shared Redis store (in the broker's database,
   under a prefix of their own), and three replicas two of which are killed with SIGKILL
   halfway. For greensched, each delivery's task id names its scheduled time, so the expected
   runs are exact; a plain beat's task ids are random, so its runs are counted per entry and
   whole second (by the time the worker ran them; the first and last seconds left out): a
   single beat's drift alone puts some seconds at 0 or 2 deliveries, which its own row shows.
   Figures: expected, delivered, duplicated, missed.
2. **Sends per second and lateness**: ``--rate-entries`` entries each due every second, no
   worker (the messages stay in the broker's queue and are counted there), for one plain
   ``celery beat``, one greensched replica and three. Sends/s is the messages queued per
   second of the window; lateness (greensched only: a plain beat's messages do not carry their
   scheduled time) is how late each send started, from the replicas' JSON run lines.

Run it as a script (the figures as a table, and as JSON with ``--json``)::

    python bench/bench_celery_beat.py [--entries 10] [--seconds 10] [--rate-entries 500]
        [--rate-seconds 5] [--parts exactly,rate] [--json]

Servers: the Redis of ``tests/services.py`` (``GREENSCHED_TEST_REDIS_URL``); its database
``--db`` is emptied first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis

from tests.queues.servers import redis_db
from tests.queues.tally import expected_runs, scheduled_run, tally

APP = "tests.queues.celery_app"


class Processes:
    """The subprocesses of one scenario, with their logs in ``folder``."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", *command], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        self.started.append((process, log))
        return process

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Wait until every process's log shows ``text``."""
        deadline = time.monotonic() + timeout
        for process, log in self.started:
            while text not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{log} never showed {text!r}:\n{log.read_text()}")
                time.sleep(0.05)

    def stop(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.started:
            _wait_or_kill(process)


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def schedule_env(broker: str, entries: int, key: str) -> dict[str, str]:
    beat = {f"e{index:04d}": 1.0 for index in range(entries)}
    return {
        "GREENSCHED_TEST_CELERY_BROKER": broker,
        "GREENSCHED_TEST_BEAT": json.dumps(beat),
        "GREENSCHED_TEST_RECORDS": key,
    }


def beats(procs: Processes, count: int, folder: Path) -> None:
    for index in range(count):
        procs.start(
            f"beat{index}",
            "celery",
            "-A",
            APP,
            "beat",
            f"--schedule={folder / f'beat{index}.db'}",
            "--pidfile=",
            "--loglevel=INFO",
            "--max-interval=1",
        )
    procs.wait_for("beat: Starting")


def replicas(procs: Processes, count: int, store: str, table: str) -> list[Any]:
    started = [
        procs.start(
            f"replica{index}",
            "greensched",
            "celery-beat",
            "-A",
            f"{APP}:app",
            f"--store={store}",
            f"--table={table}",
            "--log-format=json",
        )
        for index in range(count)
    ]
    procs.wait_for("Running the jobs of")
    return started


def exactly_once(broker: str, entries: int, seconds: float, scenario: str) -> dict[str, Any]:
    """Deliveries of one scenario: ``1 beat``, ``2 beats``, ``3 replicas`` or ``3 replicas, 2
    killed``."""
    client = redis.Redis.from_url(broker)
    client.flushdb()
    key = f"bench.deliveries.{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        procs = Processes(folder, schedule_env(broker, entries, key))
        worker = Processes(folder, procs.env)
        worker.start(
            "worker", "celery", "-A", APP, "worker", "--pool=threads", "--concurrency=8",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
        )  # fmt: skip
        worker.wait_for(" ready.")
        try:
            if "beat" in scenario:
                beats(procs, int(scenario.split()[0]), folder)
            else:
                started = replicas(procs, 3, broker, f"bench_{os.getpid()}")
            start = time.time()
            if scenario.endswith("killed"):
                time.sleep(seconds / 2)
                for process in started[:2]:
                    process.kill()
                time.sleep(seconds / 2)
            else:
                time.sleep(seconds)
            end = time.time()
            procs.stop()
            time.sleep(2)  # the worker runs what is queued
        finally:
            procs.stop()
            worker.stop()
    deliveries = [json.loads(raw) for raw in client.lrange(key, 0, -1)]
    client.flushdb()
    if "beat" in scenario:
        # per entry and whole second of the window, by when the worker ran it (the first and
        # last seconds left out: a beat starts and stops within them)
        window = range(int(start) + 1, int(end) - 1)
        per_second = Counter(
            (d["args"][0], int(d["received"])) for d in deliveries if int(d["received"]) in window
        )
        expected = entries * len(window)
        return {
            "expected": expected,
            "delivered": len(per_second),
            "duplicated": sum(1 for count in per_second.values() if count > 1),
            "missed": expected - len(per_second),
        }
    runs = [scheduled_run(d["id"]) for d in deliveries]
    intervals = {f"e{index:04d}": 1.0 for index in range(entries)}
    window_start = datetime.fromtimestamp(start + 1, timezone.utc)
    window_end = datetime.fromtimestamp(end - 1, timezone.utc)
    return tally(runs, expected_runs(runs, intervals, window_start, window_end)).figures()


def queued(client: redis.Redis) -> list[dict[str, Any]]:
    """The messages waiting in Celery's default queue (a Redis list)."""
    return [json.loads(raw) for raw in client.lrange("celery", 0, -1)]


def send_rate(broker: str, entries: int, seconds: float, scenario: str) -> dict[str, Any]:
    """Messages queued per second by one plain beat (``1 beat``) or ``N replicas``, no worker;
    the replicas' lateness from their run lines."""
    client = redis.Redis.from_url(broker)
    client.flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        procs = Processes(folder, schedule_env(broker, entries, "unused"))
        try:
            if scenario == "1 beat":
                beats(procs, 1, folder)
            else:
                replicas(procs, int(scenario.split()[0]), broker, f"rate_{os.getpid()}")
            time.sleep(2)  # past the start
            before = client.llen("celery")
            time.sleep(seconds)
            after = client.llen("celery")
        finally:
            procs.stop()
        lateness = [
            line["lateness"]
            for _, log in procs.started
            for line in map(_json_line, log.read_text(errors="replace").splitlines())
            if line.get("event") == "run" and line.get("outcome") == "executed"
        ]
    ids = Counter(message["headers"]["id"] for message in queued(client))
    client.flushdb()
    figures: dict[str, Any] = {
        "sends_per_s": round((after - before) / seconds, 1),
        "duplicated": sum(1 for count in ids.values() if count > 1),
    }
    if lateness:
        lateness.sort()
        figures["lateness_p50_ms"] = round(statistics.median(lateness) * 1000, 2)
        figures["lateness_p99_ms"] = round(lateness[int(len(lateness) * 0.99)] * 1000, 2)
    return figures


def _json_line(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate-entries", type=int, default=500)
    parser.add_argument("--rate-seconds", type=float, default=5)
    parser.add_argument("--db", type=int, default=14)
    parser.add_argument(
        "--parts", default="exactly,rate", help="which parts to run (default: exactly,rate)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    broker = redis_db(args.db)
    results: dict[str, dict[str, Any]] = {}
    parts = args.parts.split(",")
    for scenario in ("1 beat", "2 beats", "3 replicas", "3 replicas, 2 killed"):
        if "exactly" not in parts:
            break
        results[f"exactly once: {scenario}"] = exactly_once(
            broker, args.entries, args.seconds, scenario
        )
    for scenario in ("1 beat", "1 replica", "3 replicas"):
        if "rate" not in parts:
            break
        results[f"rate: {scenario}"] = send_rate(
            broker, args.rate_entries, args.rate_seconds, scenario
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, figures in results.items():
        print(f"{name:38} " + "  ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
