"""The admin commands and ``check``, run in-process (``main(argv)``) against a store of the test:
their output, the store's content afterwards, and their exit codes and error lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greensched import __version__
from greensched.cli import main
from greensched.testing import MockClock
from tests.cli.conftest import Store, write_jobs
from tests.support.processes import ROOT

FUNC = "tests.cli.jobfuncs:record"


def command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command; return its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(store: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]) -> Store:
    """The store with three jobs: 'soon' (12:05), 'later' (tomorrow 9:00), 'held' (paused)."""
    for argv in (
        ["soon", FUNC, "date", "run_date=2024-06-03T12:05:00", 'args=["a.jsonl"]'],
        ["later", FUNC, "cron", "hour=9", 'args=["a.jsonl"]', "name=Daily"],
        ["held", FUNC, "interval", "minutes=5", 'args=["a.jsonl"]'],
    ):
        assert command(capsys, "jobs", "add", *argv, *store.args())[0] == 0
    assert command(capsys, "jobs", "pause", "held", *store.args())[0] == 0
    return store


def test_jobs_list_shows_a_table_in_local_time(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = command(capsys, "jobs", "list", *filled.args())
    assert (code, err) == (0, "")
    assert out == (
        "ID     NAME    TRIGGER                         NEXT RUN                             STATE\n"
        "soon   record  date[2024-06-03 12:05:00 CEST]  2024-06-03 12:05:00 CEST (in 5 min)  "
        "scheduled\n"
        "later  Daily   cron[hour='9']                  2024-06-04 09:00:00 CEST (in 21 h)   "
        "scheduled\n"
        "held   record  interval[0:05:00]               -                                    "
        "paused\n"
    )


def test_jobs_list_json(filled: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = command(capsys, "jobs", "list", "--json", *filled.args())
    assert code == 0
    assert json.loads(out) == [
        {
            "id": "soon",
            "name": "record",
            "func": FUNC,
            "trigger": "date[2024-06-03 12:05:00 CEST]",
            "next_run_time": "2024-06-03T12:05:00+02:00",
            "state": "scheduled",
        },
        {
            "id": "later",
            "name": "Daily",
            "func": FUNC,
            "trigger": "cron[hour='9']",
            "next_run_time": "2024-06-04T09:00:00+02:00",
            "state": "scheduled",
        },
        {
            "id": "held",
            "name": "record",
            "func": FUNC,
            "trigger": "interval[0:05:00]",
            "next_run_time": None,
            "state": "paused",
        },
    ]


def test_jobs_list_of_an_empty_store(
    sqlite: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command(capsys, "jobs", "list", *sqlite.args()) == (0, f"No jobs in {sqlite.url}\n", "")


def test_jobs_show(filled: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = command(capsys, "jobs", "show", "later", *filled.args())
    assert code == 0
    assert out == (
        "id:                 later\n"
        "name:               Daily\n"
        f"func:               {FUNC}\n"
        "trigger:            cron[hour='9']\n"
        "next_run_time:      2024-06-04 09:00:00 CEST (in 21 h)\n"
        "state:              scheduled\n"
        "args:               ('a.jsonl',)\n"
        "kwargs:             {}\n"
        "executor:           default\n"
        "misfire_grace_time: 1\n"
        "coalesce:           True\n"
        "max_instances:      1\n"
        "timeout:            None\n"
    )
    code, out, _ = command(capsys, "jobs", "show", "later", "--json", *filled.args())
    assert json.loads(out)["args"] == ["a.jsonl"]
    assert json.loads(out)["misfire_grace_time"] == 1


def test_jobs_add_prints_the_next_run(
    sqlite: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["jobs", "add", "t", FUNC, "interval", "minutes=5", 'args=["a.jsonl"]', *sqlite.args()]
    assert command(capsys, *argv) == (
        0,
        "Added job 't': next run 2024-06-03 12:05:00 CEST (in 5 min)\n",
        "",
    )
    assert command(capsys, *argv) == (
        1,
        "",
        f"greensched: error: job 't' already exists in {sqlite.url} (--replace replaces it)\n",
    )
    argv = ["jobs", "add", "t", FUNC, "interval", "minutes=10", 'args=["a.jsonl"]', "--replace"]
    code, out, _ = command(capsys, *argv, *sqlite.args())
    assert (code, out) == (0, "Added job 't': next run 2024-06-03 12:10:00 CEST (in 10 min)\n")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            ["minuts=5"],
            "job 't': unknown option 'minuts' (not a job option, nor an option of trigger "
            "'interval': days, end_date, hours, jitter, minutes, seconds, start_date, timezone, "
            "weeks)",
            id="unknown-option",
        ),
        pytest.param(["minutes"], "options must be KEY=VALUE, got: 'minutes'", id="no-value"),
        pytest.param(["id=u"], "option 'id' is given twice", id="twice"),
        pytest.param(
            ["minutes=5", "args=[]"],
            "job 't': The following arguments have not been supplied: path",
            id="arguments",
        ),
    ],
)
def test_jobs_add_refuses_a_bad_job_before_opening_the_store(
    sqlite: Store, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    argv = ["jobs", "add", "t", FUNC, "interval", *options, *sqlite.args()]
    assert command(capsys, *argv) == (2, "", f"greensched: error: {message}\n")
    assert not sqlite.has_table()


def test_jobs_add_accepts_executors_the_store_s_schedulers_have(
    sqlite: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["jobs", "add", "t", FUNC, "interval", "hours=1", 'args=["a"]', "executor=threads"]
    assert command(capsys, *argv, *sqlite.args())[0] == 0
    out = command(capsys, "jobs", "show", "t", "--json", *sqlite.args())[1]
    assert json.loads(out)["executor"] == "threads"


def test_pause_resume_run_now_and_remove(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    args = filled.args()
    assert command(capsys, "jobs", "pause", "later", *args) == (0, "Paused job 'later'\n", "")
    assert command(capsys, "jobs", "run-now", "later", *args) == (
        1,
        "",
        (
            "greensched: error: job 'later' is paused: resume it first (greensched jobs resume "
            "later)\n"
        ),
    )
    assert command(capsys, "jobs", "resume", "later", *args) == (
        0,
        "Resumed job 'later': next run 2024-06-04 09:00:00 CEST (in 21 h)\n",
        "",
    )
    assert command(capsys, "jobs", "run-now", "later", *args) == (
        0,
        "Job 'later' is due now\n",
        "",
    )
    _, out, _ = command(capsys, "jobs", "show", "later", "--json", *args)
    assert (json.loads(out)["next_run_time"], json.loads(out)["state"]) == (
        "2024-06-03T12:00:00+02:00",
        "due",
    )
    assert command(capsys, "jobs", "remove", "later", *args) == (0, "Removed job 'later'\n", "")
    _, out, _ = command(capsys, "jobs", "list", "--json", *args)
    assert [job["id"] for job in json.loads(out)] == ["soon", "held"]


def test_resuming_a_job_whose_schedule_has_ended_removes_it(
    sqlite: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    args = sqlite.args()
    add = [FUNC, "interval", "minutes=1", "end_date=2024-06-03T12:03:00", 'args=["a"]']
    assert command(capsys, "jobs", "add", "ending", *add, *args)[0] == 0
    command(capsys, "jobs", "pause", "ending", *args)
    berlin_clock.jump(600)
    assert command(capsys, "jobs", "resume", "ending", *args) == (
        0,
        "Job 'ending' has no more run times: removed\n",
        "",
    )
    assert command(capsys, "jobs", "list", *args)[1] == f"No jobs in {sqlite.url}\n"


@pytest.mark.parametrize("action", ["show", "pause", "resume", "remove", "run-now"])
def test_an_unknown_job_id_fails(
    sqlite: Store, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    assert command(capsys, "jobs", action, "nope", *sqlite.args()) == (
        1,
        "",
        f"greensched: error: no job with id 'nope' in {sqlite.url}\n",
    )


def test_export_and_import_copy_the_jobs(
    filled: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "jobs.json"
    code, out, err = command(capsys, "export", str(export), "--progress", *filled.args())
    assert (code, out) == (0, "")
    assert err == (
        f"\rexporting 1 job\rexporting 3 jobs\nExported 3 jobs from {filled.url} to {export}\n"
    )
    assert [state["id"] for state in json.loads(export.read_text())["jobs"]] == [
        "soon",
        "later",
        "held",
    ]
    other = Store("sqlite", f"sqlite:///{tmp_path / 'other.sqlite'}")
    code, _, err = command(capsys, "import", str(export), *other.args())
    assert (code, err) == (0, f"Imported 3 jobs from {export} into {other.url}\n")
    _, before, _ = command(capsys, "jobs", "list", *filled.args())
    _, after, _ = command(capsys, "jobs", "list", *other.args())
    assert after == before


def test_import_refuses_taken_ids_and_imports_nothing(
    filled: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "jobs.json"
    command(capsys, "export", str(export), *filled.args())
    command(capsys, "jobs", "remove", "soon", *filled.args())
    assert command(capsys, "import", str(export), *filled.args()) == (
        1,
        "",
        (
            f"greensched: error: {export}: Job identifier (later) conflicts with an existing "
            f"job in {filled.url}: nothing was imported\n"
        ),
    )
    _, out, _ = command(capsys, "jobs", "list", "--json", *filled.args())
    assert [job["id"] for job in json.loads(out)] == ["later", "held"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{",
            "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("[]", "not a job export (a JSON object with a 'jobs' list)"),
        (
            '{"version": 1, "jobs": [{"version": 1, "id": "x", "func": "tests.cli.nope:f"}]}',
            "Error resolving reference tests.cli.nope:f: could not import module",
        ),
        ('{"jobs": []}', "infile's export version must be 1, got: None"),
    ],
)
def test_import_of_a_bad_file_is_a_usage_error(
    sqlite: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert command(capsys, "import", str(path), *sqlite.args()) == (
        2,
        "",
        f"greensched: error: {path}: {message}\n",
    )


def test_tables_keep_jobs_apart(sqlite: Store, capsys: pytest.CaptureFixture[str]) -> None:
    add = ["jobs", "add", "t", FUNC, "interval", "hours=1", 'args=["a"]']
    assert command(capsys, *add, *sqlite.args(), "--table", "one")[0] == 0
    assert command(capsys, "jobs", "list", *sqlite.args(), "--prefix", "two")[1].startswith(
        "No jobs"
    )
    assert command(capsys, "jobs", "list", "--json", *sqlite.args(), "--table", "one")[1] != "[]\n"


def test_the_store_can_come_from_the_environment(
    sqlite: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENSCHED_STORE", sqlite.url)
    assert command(capsys, "jobs", "list") == (0, f"No jobs in {sqlite.url}\n", "")


@pytest.mark.parametrize(
    ("store_args", "code", "message"),
    [
        pytest.param(
            [],
            2,
            "no job store: pass --jobs-file JOBS_FILE (the jobs file greensched run runs; its "
            "store is the .sqlite file next to it), --store URL, or set GREENSCHED_STORE (there "
            "is no jobs.toml here)",
            id="none",
        ),
        pytest.param(
            ["--store", "memory:"],
            2,
            "--store: a memory: store holds no jobs outside the process that runs it; give the "
            "URL of the store the schedulers run on",
            id="memory",
        ),
        pytest.param(
            ["--store", "jobs.sqlite"],
            2,
            "job store URL 'jobs.sqlite' is not one greensched knows; use sqlite:///PATH "
            "(greensched[cli]), postgresql+psycopg:// (greensched[postgresql]), mysql+pymysql:// "
            "(greensched[mysql]), redis:// (greensched[redis]), or memory: (greensched run only)",
            id="not-a-url",
        ),
        pytest.param(
            ["--store", "postgresql+psycopg://postgres:secret@127.0.0.1:1/test"],
            1,
            "cannot open job store postgresql+psycopg://postgres:***@127.0.0.1:1/test: "
            "OperationalError: (psycopg.OperationalError) connection failed: connection to "
            'server at "127.0.0.1", port 1 failed: Connection refused',
            id="unreachable",
        ),
    ],
)
def test_store_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    store_args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.delenv("GREENSCHED_STORE", raising=False)
    monkeypatch.chdir(tmp_path)  # no jobs.toml
    assert command(capsys, "jobs", "list", *store_args) == (
        code,
        "",
        f"greensched: error: {message}\n",
    )


def test_check_prints_the_next_fire_times_in_each_job_s_zone(
    tmp_path: Path, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jobs(
        tmp_path / "jobs.toml",
        f"""\
        [scheduler]
        timezone = "Europe/Berlin"
        [[jobs]]
        id = "standup"
        func = "{FUNC}"
        args = ["a.jsonl"]
        trigger = "cron"
        crontab = "30 9 * * 1-5"
        [[jobs]]
        id = "ny"
        func = "{FUNC}"
        args = ["a.jsonl"]
        trigger = "cron"
        hour = 9
        timezone = "America/New_York"
        [[jobs]]
        id = "once"
        func = "{FUNC}"
        args = ["a.jsonl"]
        trigger = "date"
        run_date = 2024-06-03T13:00:00
        """,
    )
    code, out, err = command(capsys, "check", str(path), "--count", "2")
    assert (code, err) == (0, "")
    assert out == (
        "standup: cron[crontab='30 9 * * 1-5'] (times in Europe/Berlin)\n"
        "  Tue 2024-06-04 09:30:00 CEST  (in 21 h 30 min)\n"
        "  Wed 2024-06-05 09:30:00 CEST  (in 1 day 21 h)\n"
        "ny: cron[hour='9'] (times in America/New_York)\n"
        "  Mon 2024-06-03 09:00:00 EDT  (in 3 h)\n"
        "  Tue 2024-06-04 09:00:00 EDT  (in 1 day 3 h)\n"
        "once: date[2024-06-03 13:00:00 CEST] (times in Europe/Berlin)\n"
        "  Mon 2024-06-03 13:00:00 CEST  (in 1 h)\n"
        f"{path}: 3 jobs, valid\n"
    )


def test_check_of_an_invalid_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jobs(tmp_path / "jobs.toml", "[[jobs]]\nid = 'x'\n")
    assert command(capsys, "check", str(path)) == (
        2,
        "",
        f"greensched: error: {path}: job 'x': func is required (a 'module:callable' reference)\n",
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = command(capsys, "jobs", "frobnicate")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith(
        "greensched jobs: error: argument ACTION: invalid choice"
    )
    assert command(capsys, "run", "x.toml", "--poll-interval", "0")[2].endswith(
        "greensched run: error: argument --poll-interval: must be a positive number, got: '0'\n"
    )


def test_the_example_jobs_file_is_valid(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = command(capsys, "check", "examples/jobs.toml")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "examples/jobs.toml: 4 jobs, valid"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = command(capsys, "--version")
    assert (code, out) == (0, f"greensched {__version__}\n")
