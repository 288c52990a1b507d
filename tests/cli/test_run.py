"""``greensched run`` as a real process (``python -m greensched run``, from the project's root)
on a store of the test (its own SQLite file or PostgreSQL table): it runs the file's jobs, obeys
admin commands given from other processes, stops gracefully on SIGTERM, reloads on SIGHUP, and
refuses an invalid file with one line and exit code 2, without touching the store.

The jobs (``tests/cli/jobfuncs.py``) record each run as a JSON line with its wall time. Every
wait is bounded.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Store, sqlite_store, toml, write_jobs
from tests.support.processes import Run, greensched

pytestmark = pytest.mark.slow


def tick_file(tmp_path: Path, trigger: str, **more: str) -> Path:
    """A jobs file with the job 'tick' (``trigger``: its trigger lines) recording runs."""
    records = tmp_path / "records.jsonl"
    text = (
        '[[jobs]]\nid = "tick"\nfunc = "tests.cli.jobfuncs:record"\n'
        f'args = [{toml(records)}, "tick"]\n{trigger}\n'
    )
    for job_id, lines in more.items():
        text += f'[[jobs]]\nid = "{job_id}"\n{lines}\n'
    return write_jobs(tmp_path / "jobs.toml", text)


def test_run_fires_the_jobs_of_the_file(
    store: Store, tmp_path: Path, start_run: Callable[..., Run]
) -> None:
    records = toml(tmp_path / "records.jsonl")
    jobs_file = tick_file(
        tmp_path,
        'trigger = "interval"\nseconds = 0.3',
        once=f'func = "tests.cli.jobfuncs:record"\nargs = [{records}, "once"]\ntrigger = "date"',
    )
    run = start_run(jobs_file, *store.args(), "--log-format", "json")
    run.wait_for(lambda: len(run.runs(label="tick")) >= 3 and run.runs(label="once"), "runs")
    assert run.stop() == 0
    assert len(run.runs(label="once")) == 1

    lines = [json.loads(line) for line in run.log().splitlines()]
    executed = [line for line in lines if line.get("event") == "run"]
    assert {line["job_id"] for line in executed} == {"tick", "once"}
    for line in executed:
        assert set(line) == {
            "time",
            "level",
            "logger",
            "message",
            "event",
            "outcome",
            "job_id",
            "scheduled",
            "lateness",
            "duration",
        }
        assert (line["level"], line["logger"], line["outcome"]) == (
            "INFO",
            "greensched.run",
            "executed",
        )
        assert line["lateness"] >= 0
        assert line["duration"] >= 0
    assert lines[-1]["message"] == "Stopped"

    listed = greensched("jobs", "list", "--json", *store.args())
    assert listed.returncode == 0, listed.stderr
    assert [job["id"] for job in json.loads(listed.stdout)] == ["tick"]  # 'once' is done


def test_jobs_pause_in_another_process_stops_the_job(
    store: Store, tmp_path: Path, start_run: Callable[..., Run]
) -> None:
    records = toml(tmp_path / "records.jsonl")
    probe = f'func = "tests.cli.jobfuncs:record"\nargs = [{records}, "probe"]\n'
    jobs_file = tick_file(
        tmp_path,
        'trigger = "interval"\nseconds = 0.2',
        probe=probe + 'trigger = "interval"\nhours = 1',
    )
    run = start_run(jobs_file, *store.args())
    run.wait_for(lambda: len(run.runs(label="tick")) >= 2, "two runs")
    paused = greensched("jobs", "pause", "tick", *store.args())
    assert (paused.returncode, paused.stdout) == (0, "Paused job 'tick'\n")
    # A run asked for after the pause shows that the process has seen it; a tick that starts
    # after that run, or after a second one, ran while paused.
    for runs in (1, 2):
        assert greensched("jobs", "run-now", "probe", *store.args()).returncode == 0
        run.wait_for(lambda runs=runs: len(run.runs(label="probe")) == runs, "the probe")
    seen_at = run.runs(label="probe")[0]["time"]
    assert [r["time"] for r in run.runs(label="tick") if r["time"] > seen_at] == []
    assert run.process.poll() is None
    assert run.stop() == 0


def test_jobs_run_now_runs_the_job_at_once(
    store: Store, tmp_path: Path, start_run: Callable[..., Run]
) -> None:
    run = start_run(tick_file(tmp_path, 'trigger = "interval"\nhours = 1'), *store.args())
    run.wait_until_running()
    result = greensched("jobs", "run-now", "tick", *store.args())
    assert (result.returncode, result.stdout) == (0, "Job 'tick' is due now\n")
    run.wait_for(lambda: run.runs(), "the run")  # its interval alone would wait an hour
    assert run.stop() == 0


def test_sigterm_waits_for_the_running_job(tmp_path: Path, start_run: Callable[..., Run]) -> None:
    records = toml(tmp_path / "records.jsonl")
    jobs_file = write_jobs(
        tmp_path / "jobs.toml",
        f'[[jobs]]\nid = "slow"\nfunc = "tests.cli.jobfuncs:slow"\nargs = [{records}, 1.0]\n'
        'trigger = "date"\n',
    )
    run = start_run(jobs_file)
    run.wait_for(lambda: run.runs(event="start"), "the job to start")
    assert run.stop(signal.SIGTERM) == 0
    assert len(run.runs(event="end")) == 1
    log = run.log()
    assert "SIGTERM: shutting down once the running jobs end (SIGTERM again exits at once)" in log
    assert "Job 'slow' executed" in log


def test_a_second_signal_exits_at_once(tmp_path: Path, start_run: Callable[..., Run]) -> None:
    records = toml(tmp_path / "records.jsonl")
    jobs_file = write_jobs(
        tmp_path / "jobs.toml",
        f'[[jobs]]\nid = "slow"\nfunc = "tests.cli.jobfuncs:slow"\nargs = [{records}, 30]\n'
        'trigger = "date"\n',
    )
    run = start_run(jobs_file)
    run.wait_for(lambda: run.runs(event="start"), "the job to start")
    run.send(signal.SIGINT)
    run.wait_for(lambda: "SIGINT: shutting down" in run.log(), "the first signal")
    assert run.stop(signal.SIGINT) == 128 + signal.SIGINT
    assert run.runs(event="end") == []
    assert "SIGINT again: exiting at once, without waiting for running jobs" in run.log()


def test_sighup_reloads_the_file(tmp_path: Path, start_run: Callable[..., Run]) -> None:
    jobs_file = tick_file(tmp_path, 'trigger = "interval"\nhours = 1')
    run = start_run(jobs_file)
    run.wait_until_running()
    tick_file(tmp_path, 'trigger = "interval"\nseconds = 0.2')
    run.send(signal.SIGHUP)
    run.wait_for(lambda: len(run.runs()) >= 2, "runs on the new schedule")
    assert f"""Updated job 'tick' ("record") from {jobs_file}: trigger""" in run.log()

    write_jobs(jobs_file, "[[jobs]\n")
    run.send(signal.SIGHUP)
    run.wait_for(lambda: "Not reloaded" in run.log(), "the refused reload")
    assert (
        f"Not reloaded, the jobs stay as they are: {jobs_file}: invalid TOML: Expected ']]' at "
        "the end of an array declaration (at line 1, column 7)"
    ) in run.log()
    count = len(run.runs())
    run.wait_for(lambda: len(run.runs()) >= count + 2, "runs after the refused reload")
    assert run.stop() == 0


def test_run_takes_the_jobs_of_a_scheduler_module(
    tmp_path: Path, start_run: Callable[..., Run]
) -> None:
    store = sqlite_store(tmp_path)
    run = start_run("tests.cli.schedmod:scheduler", *store.args())
    run.wait_until_running()
    assert run.stop() == 0
    listed = greensched("jobs", "list", "--json", *store.args())
    assert [(job["id"], job["state"]) for job in json.loads(listed.stdout)] == [
        ("tick", "scheduled"),
        ("paused", "paused"),
    ]


RECORD = 'func = "tests.cli.jobfuncs:record"\nargs = ["r.jsonl"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "[[jobs]\n",
            "invalid TOML: Expected ']]' at the end of an array declaration (at line 1, column 7)",
            id="bad-toml",
        ),
        pytest.param(
            f'[[jobs]]\nid = "tick"\n{RECORD}trigger = "interval"\nminuts = 5\n',
            "job 'tick': unknown option 'minuts' (not a job option, nor an option of trigger "
            "'interval': days, end_date, hours, jitter, minutes, seconds, start_date, timezone, "
            "weeks)",
            id="unknown-trigger-option",
        ),
        pytest.param(
            '[[jobs]]\nid = "tick"\nfunc = "tests.cli.nope:record"\ntrigger = "interval"\n',
            "job 'tick': func 'tests.cli.nope:record' cannot be imported: No module named "
            "'tests.cli.nope'",
            id="unresolvable-function",
        ),
        pytest.param(
            f'[[jobs]]\nid = "tick"\n{RECORD}trigger = "cron"\ncrontab = "*/5 * * *"\n',
            "job 'tick': crontab: '*/5 * * *' is not a valid expression (expected 5 fields "
            "(minute hour day month day_of_week), 6 with a leading second, or an alias such as "
            "@daily; got 4 fields)",
            id="bad-cron-string",
        ),
    ],
)
def test_an_invalid_file_is_one_error_line_and_the_store_is_untouched(
    store: Store, tmp_path: Path, text: str, message: str
) -> None:
    jobs_file = write_jobs(tmp_path / "jobs.toml", text)
    # SQLite: the default store, the file next to jobs.toml (which must not be created)
    options = [] if store.engine == "sqlite" else store.args()
    result = greensched("run", str(jobs_file), *options)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"greensched: error: {jobs_file}: {message}\n"
    assert not store.has_table()
    assert not (tmp_path / "jobs.sqlite").exists()


def test_an_unreachable_store_fails_with_one_line(tmp_path: Path) -> None:
    jobs_file = tick_file(tmp_path, 'trigger = "interval"\nhours = 1')
    result = greensched(
        "run", str(jobs_file), "--store", "postgresql+psycopg://u:pw@127.0.0.1:1/x"
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "greensched: error: cannot open job store postgresql+psycopg://u:***@127.0.0.1:1/x: "
        "OperationalError: (psycopg.OperationalError) connection failed: connection to server "
        'at "127.0.0.1", port 1 failed: Connection refused\n'
    )
