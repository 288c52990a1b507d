"""``greensched runs``, run in-process (``main(argv)``) against a store of the test (SQLite,
PostgreSQL) whose history was written through ``store.runs.write``: the table, the JSON, the
filters, and the errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from greensched.cli import main
from greensched.cli.runs import runs_table
from greensched.cli.stores import open_store
from greensched.history import RunRecord
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.cli.conftest import Store

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)  # 12:00 in Berlin


def records() -> list[RunRecord]:
    """Three runs of 'report' (executed, failed, missed) and one of 'backup' (running)."""
    common = {"host": "web1", "pid": 4242, "owner": "web1:4242:abcd"}
    return [
        RunRecord(
            "web1:4242:abcd-000000001",
            "report",
            "Daily report",
            T0,
            "executed",
            started=T0 + timedelta(seconds=0.25),
            ended=T0 + timedelta(seconds=1.75),
            lateness=0.25,
            duration=1.5,
            retval="{'rows': 12}",
            **common,
        ),
        RunRecord(
            "web1:4242:abcd-000000002",
            "report",
            "Daily report",
            T0 + timedelta(minutes=1),
            "error",
            started=T0 + timedelta(minutes=1),
            ended=T0 + timedelta(minutes=1, seconds=2),
            lateness=0.0,
            duration=2.0,
            exc_type="builtins.ValueError",
            exc_message="no such file",
            traceback='  File "report.py", line 3\nValueError: no such file\n',
            **common,
        ),
        RunRecord(
            "web1:4242:abcd-000000003",
            "report",
            "Daily report",
            T0 + timedelta(minutes=2),
            "missed",
            lateness=5.0,
            **common,
        ),
        RunRecord(
            "web1:4242:abcd-000000004",
            "backup",
            "backup",
            T0 + timedelta(minutes=3),
            "running",
            started=T0 + timedelta(minutes=3),
            lateness=0.0,
            **common,
        ),
    ]


@pytest.fixture
def history(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The store, with :func:`records` written to its history (by a scheduler of its own that
    records nothing itself); the command's local zone is Europe/Berlin."""
    monkeypatch.setattr("greensched.cli.runs.get_localzone", lambda: BERLIN)
    jobstore = open_store(store.url, store.table)
    scheduler = GeventScheduler(
        jobstores={"default": jobstore}, clock=MockClock(T0), history=False
    )
    scheduler.start(paused=True)
    try:
        assert not jobstore.runs.local, "a persistent store keeps its history in the store"
        jobstore.runs.open()
        jobstore.runs.write(records())
    finally:
        scheduler.shutdown()
    return store


def command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_shows_a_table_newest_first_in_local_time(
    history: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = command(capsys, "runs", *history.args())
    assert (code, err) == (0, "")
    assert out == runs_table(list(reversed(records())), BERLIN)
    assert out.splitlines()[1].split()[3:5] == ["backup", "running"]


def test_runs_of_one_job_with_an_outcome_and_a_limit(
    history: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = command(
        capsys, "runs", "report", "--outcome", "error,executed", *history.args()
    )
    assert code == 0
    assert [line.split("  ")[2] for line in out.splitlines()[1:]] == ["error", "executed"]
    code, out, _ = command(capsys, "runs", "report", "--limit", "1", *history.args())
    assert len(out.splitlines()) == 2


def test_runs_json(history: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = command(capsys, "runs", "report", "--json", *history.args())
    assert code == 0
    assert json.loads(out) == [record.to_dict() for record in reversed(records()[:3])]


def test_runs_of_a_job_without_any(history: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = command(capsys, "runs", "nothing", *history.args())
    assert code == 0
    assert out.startswith("No recorded runs of job 'nothing' in ")


def test_a_bad_outcome_names_the_valid_ones(
    sqlite: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = command(capsys, "runs", "--outcome", "failed", *sqlite.args())
    assert (code, out) == (2, "")
    assert err == (
        "greensched: error: --outcome: 'failed' is not an outcome; valid: running, executed, "
        "error, timeout, missed, max_instances, claim_lost\n"
    )


def test_the_table_shows_each_field() -> None:
    table = runs_table(list(reversed(records())), BERLIN)
    assert table.splitlines() == [
        "STARTED                         JOB     OUTCOME   DURATION  LATENESS  PROCESS    DETAIL",
        "2024-06-03 12:03:00 CEST        backup  running   -         0.000 s   web1:4242",
        "2024-06-03 12:02:00 CEST (due)  report  missed    -         5.000 s   web1:4242",
        (
            "2024-06-03 12:01:00 CEST        report  error     2.000 s   0.000 s   web1:4242  "
            "ValueError: no such file"
        ),
        (
            "2024-06-03 12:00:00 CEST        report  executed  1.500 s   0.250 s   web1:4242  "
            "{'rows': 12}"
        ),
    ]
