"""The cost of writing run history: ``store.runs.write()`` of batches of 1,000 records, on each
store's history (memory, SQLite file, PostgreSQL, MariaDB, Redis), in records/s and in CPU
per record.

Two mixes of records:

- ``busy``: those of 100 jobs, 10 per job in each batch, a run in ten failed with a traceback
  of 2,000 characters; the history keeps 10 runs per job, so from the second batch on every
  write also trims each job's oldest 10 (the steady state of a busy store);
- ``spread``: a run of a job of its own per record, executed (what ``bench_stores.py``'s fire
  rates write: many jobs due every second), the history keeping 100 per job.

Reported: the median and the slowest batch of the steady state, the first batch (inserts
only), and the CPU per record of the steady state in this process (client) and in the
server's processes (``server``: read from ``/proc``, the server on this machine; PostgreSQL's
connections are processes of their own, counted once they end as the postmaster's children).

Run it as a script::

    python bench/bench_history_stores.py [--engines memory,sqlite,postgresql,mariadb,redis]
        [--batches 20] [--batch-size 1000] [--mixes busy,spread]

or with pytest-benchmark (figures in ``extra_info``)::

    pytest bench/bench_history_stores.py -o python_files='bench_*.py' \
        -o python_functions='bench_*' --benchmark-only -s

Servers: the URLs of ``tests/services.py``. Each run uses a table / keys of its own and drops
them.
"""

from __future__ import annotations

import argparse
import os
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


#: the processes of each engine's server, by name (``/proc/<pid>/comm``)
SERVER_PROCESSES = {"postgresql": "postgres", "mariadb": "mariadbd", "redis": "redis-server"}
MIXES = ("busy", "spread")


def server_cpu(engine: str) -> float | None:
    """Seconds of CPU the processes of ``engine``'s server have used, with their ended children
    (``None``: no server, or none found on this machine)."""
    name = SERVER_PROCESSES.get(engine)
    if name is None:
        return None
    total, found = 0, False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm, open(f"/proc/{pid}/stat") as stat:
                if not comm.read().strip().startswith(name):
                    continue
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        found = True
        total += sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK") if found else None


def batch(number: int, size: int, mix: str = "busy") -> list[RunRecord]:
    """The ``number``-th batch of ``size`` records of ``mix``, newer than the batches before."""
    records = []
    for index in range(size):
        sequence = number * size + index
        started = EPOCH + timedelta(seconds=sequence * 0.001)
        failed = mix == "busy" and sequence % 10 == 0
        records.append(
            RunRecord(
                f"bench-{sequence:09d}",
                f"job{sequence % JOBS:03d}" if mix == "busy" else f"job{sequence:07d}",
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


def write_rate(
    engine: str, workdir: Path, batches: int, size: int, mix: str = "busy"
) -> dict[str, Any]:
    """Records/s and CPU per record of ``batches`` writes of ``size`` records of ``mix`` on
    ``engine``'s history."""
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
        log.configure(limit=KEPT if mix == "busy" else 100, max_age=None)
        rates = []
        client = server = 0.0
        for number in range(batches):
            records = batch(number, size, mix)
            server_before, client_before = server_cpu(engine), time.process_time()
            began = time.perf_counter()
            log.write(records)
            rates.append(size / (time.perf_counter() - began))
            server_after, client_after = server_cpu(engine), time.process_time()
            if number:  # the steady state
                client += client_after - client_before
                if server_before is not None and server_after is not None:
                    server += server_after - server_before
        if mix == "busy":
            kept = len(log.read(limit=JOBS * KEPT + 1))
            assert kept == min(JOBS * KEPT, batches * size), kept
        else:
            assert len(log.read(limit=batches * size + 1)) == batches * size
        steady = rates[1:] or rates
        steady_records = size * max(batches - 1, 1)
        return {
            "first_batch": round(rates[0]),
            "median": round(statistics.median(steady)),
            "slowest": round(min(steady)),
            "client_us": round(client / steady_records * 1e6, 1),
            "server_us": round(server / steady_records * 1e6, 1)
            if server_cpu(engine) is not None
            else None,
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
    parser.add_argument("--mixes", default=",".join(MIXES))
    return parser.parse_args(argv)


def main() -> None:
    options = parse_args()
    print(f"write() of batches of {options.batch_size} records (records/s; CPU µs per record)")
    print(
        "| engine | mix | first batch | steady median | steady slowest | client CPU µs | "
        "server CPU µs |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        for engine in options.engines.split(","):
            for mix in options.mixes.split(","):
                figures = write_rate(
                    engine, Path(directory), options.batches, options.batch_size, mix
                )
                server = "—" if figures["server_us"] is None else figures["server_us"]
                print(
                    f"| {engine} | {mix} | {figures['first_batch']:,} | {figures['median']:,} | "
                    f"{figures['slowest']:,} | {figures['client_us']} | {server} |",
                    flush=True,
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

    @pytest.mark.parametrize("mix", MIXES)
    @pytest.mark.parametrize("engine", ENGINES)
    def bench_history_write(benchmark: Any, workdir: Path, engine: str, mix: str) -> None:
        _benchmark_once(
            benchmark,
            lambda: write_rate(engine, workdir, 20, 1000, mix),
            operation="history_write",
            engine=engine,
            batch_size=1000,
            mix=mix,
        )


if __name__ == "__main__":
    main()
