"""The cost of writing run history: ``store.runs.write()`` of batches of 1,000 records, on each
store's history (memory, SQLite file, PostgreSQL, MariaDB, Redis), in records/s.

The records are those of 100 jobs, 10 per job in each batch, a run in ten failed with a
traceback of 2,000 characters; the history keeps 10 runs per job, so from the second batch on
every write also trims each job's oldest 10 (the steady state of a busy store). Reported: the
median and the slowest batch of the steady state, and the first batch (inserts only).

Run it as a script::

    python bench/bench_history_stores.py [--engines memory,sqlite,postgresql,mariadb,redis]
        [--batches 20] [--batch-size 1000]

or with pytest-benchmark (figures in ``extra_info``)::

    pytest bench/bench_history_stores.py -o python_files='bench_*.py' \
        -o python_functions='bench_*' --benchmark-only -s

Servers: the URLs of ``tests/services.py``. Each run uses a table / keys of its own and drops
them.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stores import EPOCH, _benchmark_once, _Scheduler, engine_url, make_store

from greensched.history import OUTCOME_ERROR, OUTCOME_EXECUTED, RunRecord
from tests.services import drop_store

ENGINES = ("memory", "sqlite", "postgresql", "mariadb", "redis")
JOBS = 100
#: runs kept per job: every batch after the first trims as many as it writes
KEPT = 10
TRACEBACK = ("Traceback (most recent call last):\n  File 'job.py', line 1\n" * 40)[:2000]


def batch(number: int, size: int) -> list[RunRecord]:
    """The ``number``-th batch of ``size`` records, newer than the batches before."""
    records = []
    for index in range(size):
        sequence = number * size + index
        started = EPOCH + timedelta(seconds=sequence * 0.001)
        failed = sequence % 10 == 0
        records.append(
            RunRecord(
                f"bench-{sequence:09d}",
                f"job{sequence % JOBS:03d}",
                "tick",
                started - timedelta(seconds=0.002),
                OUTCOME_ERROR if failed else OUTCOME_EXECUTED,
                started=started,
                ended=started + timedelta(seconds=0.0005),
                lateness=0.002,
                duration=0.0005,
                exc_type="builtins.ValueError" if failed else None,
                exc_message="bad input" if failed else None,
                traceback=TRACEBACK if failed else None,
                retval=None if failed else "42",
                host="bench-host",
                pid=1234,
                owner="bench-owner",
            )
        )
    return records


def write_rate(engine: str, workdir: Path, batches: int, size: int) -> dict[str, Any]:
    """Records/s of ``batches`` writes of ``size`` records on ``engine``'s history."""
    name = f"bench_history_{secrets.token_hex(4)}"
    if engine == "memory":
        from greensched.jobstores.memory import MemoryJobStore

        store: Any = MemoryJobStore()
    else:
        url = engine_url(engine, workdir)
        store = make_store("greensched", url, name)
    store.start(_Scheduler(), "default")
    try:
        log = store.runs
        log.configure(limit=KEPT, max_age=None)
        rates = []
        for number in range(batches):
            records = batch(number, size)
            began = time.perf_counter()
            log.write(records)
            rates.append(size / (time.perf_counter() - began))
        kept = len(log.read(limit=JOBS * KEPT + 1))
        assert kept == min(JOBS * KEPT, batches * size), kept
        steady = rates[1:] or rates
        return {
            "first_batch": round(rates[0]),
            "median": round(statistics.median(steady)),
            "slowest": round(min(steady)),
        }
    finally:
        store.shutdown()
        if engine != "memory":
            drop_store(url, name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1000)
    return parser.parse_args(argv)


def main() -> None:
    options = parse_args()
    print(
        f"write() of batches of {options.batch_size} records, {JOBS} jobs, {KEPT} kept per "
        "job (records/s)"
    )
    print("| engine | first batch | steady median | steady slowest |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        for engine in options.engines.split(","):
            figures = write_rate(engine, Path(directory), options.batches, options.batch_size)
            print(
                f"| {engine} | {figures['first_batch']:,} | {figures['median']:,} | "
                f"{figures['slowest']:,} |"
            )


try:
    import pytest
except ImportError:  # the script runs without pytest
    pass
else:

    @pytest.fixture(scope="module")
    def workdir(tmp_path_factory: Any) -> Path:
        path: Path = tmp_path_factory.mktemp("history")
        return path

    @pytest.mark.parametrize("engine", ENGINES)
    def bench_history_write(benchmark: Any, workdir: Path, engine: str) -> None:
        _benchmark_once(
            benchmark,
            lambda: write_rate(engine, workdir, 20, 1000),
            operation="history_write",
            engine=engine,
            batch_size=1000,
        )


if __name__ == "__main__":
    main()
