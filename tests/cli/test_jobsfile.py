"""The jobs-file loader: what a valid file gives, and the one-line error of every invalid one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from greensched.cli.errors import EXIT_USAGE, CommandError
from greensched.cli.jobsfile import JobsFileError, load, parse_value, reload
from greensched.executors.pool import ThreadPoolExecutor
from greensched.testing import MockClock
from greensched.triggers.combining import OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from tests.cli.conftest import write_jobs

TICK = 'func = "tests.cli.jobfuncs:record"\nargs = ["records.jsonl"]\n'


def jobs_file(tmp_path: Path, text: str) -> str:
    return str(write_jobs(tmp_path / "jobs.toml", text))


def load_error(tmp_path: Path, text: str) -> str:
    """Load ``text`` as a jobs file; return its error message without the file's path."""
    path = jobs_file(tmp_path, text)
    with pytest.raises(JobsFileError) as info:
        load(path)
    assert info.value.exit_code == EXIT_USAGE
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    return message[len(path) + 2 :]


def job(body: str, job_id: str = "tick") -> str:
    return f'[scheduler]\ntimezone = "UTC"\n[[jobs]]\nid = "{job_id}"\n{body}'


# Valid files


def test_a_file_gives_its_scheduler_options_and_complete_jobs(
    tmp_path: Path, berlin_clock: MockClock
) -> None:
    path = jobs_file(
        tmp_path,
        """\
        [scheduler]
        timezone = "Europe/Berlin"
        jobstore_retry_interval = 3
        [scheduler.job_defaults]
        misfire_grace_time = 30
        max_instances = 2
        [scheduler.executors.threads]
        type = "threadpool"
        max_workers = 2

        [[jobs]]
        id = "report"
        func = "tests.cli.jobfuncs:record"
        trigger = "cron"
        day_of_week = "mon-fri"
        hour = 9
        args = ["records.jsonl"]
        kwargs = { label = "daily" }
        name = "Daily report"
        coalesce = false
        executor = "threads"
        timeout = 60

        [[jobs]]
        id = "tick"
        func = "tests.cli.jobfuncs:record"
        trigger = "interval"
        minutes = 5
        args = ["records.jsonl"]
        misfire_grace_time = "none"
        """,
    )
    source = load(path)
    berlin = ZoneInfo("Europe/Berlin")
    assert source.target == path
    assert source.scheduler.timezone == berlin
    assert source.scheduler.jobstore_retry_interval == 3
    assert source.default_store == f"sqlite:///{tmp_path.resolve() / 'jobs.sqlite'}"
    assert not source.is_module
    report, tick = source.jobs
    assert (report.id, report.name, report.func_ref) == (
        "report",
        "Daily report",
        "tests.cli.jobfuncs:record",
    )
    assert (report.args, report.kwargs) == (("records.jsonl",), {"label": "daily"})
    assert isinstance(report.trigger, CronTrigger)
    assert str(report.trigger) == "cron[day_of_week='mon-fri', hour='9']"
    assert report.trigger.timezone == berlin
    assert report.next_run_time == datetime(2024, 6, 4, 9, tzinfo=berlin)
    assert (report.misfire_grace_time, report.max_instances, report.coalesce) == (30, 2, False)
    assert (report.executor, report.timeout) == ("threads", 60)
    assert tick.trigger.interval == timedelta(minutes=5)
    assert tick.next_run_time == datetime(2024, 6, 3, 12, 5, tzinfo=berlin)
    assert (tick.misfire_grace_time, tick.name, tick.executor) == (None, "record", "default")
    assert [d.loose for d in source.definitions] == [frozenset({"start_date"})] * 2
    assert source.definitions[1].options == {
        "id": "tick",
        "func": "tests.cli.jobfuncs:record",
        "args": ["records.jsonl"],
        "misfire_grace_time": None,
        "trigger": tick.trigger,
    }


def test_a_crontab_line_makes_a_cron_trigger(tmp_path: Path) -> None:
    source = load(jobs_file(tmp_path, job(TICK + 'trigger = "cron"\ncrontab = "*/5 * * * *"\n')))
    trigger = source.jobs[0].trigger
    assert isinstance(trigger, CronTrigger)
    assert str(trigger) == "cron[crontab='*/5 * * * *']"
    assert trigger.timezone == timezone.utc


def test_an_or_trigger_takes_its_triggers_as_tables(tmp_path: Path) -> None:
    text = job(
        TICK + 'trigger = "or"\n'
        'triggers = [{ trigger = "cron", hour = 9 }, { trigger = "interval", hours = 2 }]\n'
    )
    trigger = load(jobs_file(tmp_path, text)).jobs[0].trigger
    assert isinstance(trigger, OrTrigger)
    assert [type(inner) for inner in trigger.triggers] == [CronTrigger, IntervalTrigger]
    assert all(inner.timezone == timezone.utc for inner in trigger.triggers)  # type: ignore[attr-defined]


def test_a_date_job_without_run_date_runs_when_loaded(tmp_path: Path) -> None:
    clock = MockClock(datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc))
    from greensched._clock import using_clock

    with using_clock(clock):
        source = load(jobs_file(tmp_path, job(TICK + 'trigger = "date"\n')))
    assert isinstance(source.jobs[0].trigger, DateTrigger)
    assert source.jobs[0].next_run_time == datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)
    assert source.definitions[0].loose == frozenset({"run_date"})


def test_given_start_and_run_dates_are_not_loose(tmp_path: Path) -> None:
    text = (
        job(TICK + 'trigger = "interval"\nhours = 1\nstart_date = 2030-01-01T00:00:00\n')
        + '[[jobs]]\nid = "once"\n'
        + TICK
        + 'trigger = "date"\nrun_date = 2030-01-01T09:00:00\n'
    )
    source = load(jobs_file(tmp_path, text))
    assert [d.loose for d in source.definitions] == [frozenset(), frozenset()]
    assert source.jobs[1].next_run_time == datetime(2030, 1, 1, 9, tzinfo=timezone.utc)


def test_a_file_without_jobs_is_valid(tmp_path: Path) -> None:
    assert load(jobs_file(tmp_path, "")).jobs == []


def test_functions_import_from_the_files_directory(tmp_path: Path) -> None:
    (tmp_path / "neighbour_funcs.py").write_text("def hello():\n    pass\n")
    text = '[[jobs]]\nid = "a"\nfunc = "neighbour_funcs:hello"\ntrigger = "interval"\nhours = 1\n'
    assert load(jobs_file(tmp_path, text)).jobs[0].func_ref == "neighbour_funcs:hello"


def test_executor_option_replaces_the_default_executor(tmp_path: Path) -> None:
    source = load(jobs_file(tmp_path, ""), executor="threadpool")
    assert isinstance(source.scheduler._executors["default"], ThreadPoolExecutor)


def test_an_unknown_executor_type_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as info:
        load(jobs_file(tmp_path, ""), executor="fibers")
    assert info.value.exit_code == EXIT_USAGE
    assert str(info.value) == (
        '--executor: No executor by the name "fibers" was found '
        "(known: celery, debug, gevent, processpool, rq, threadpool)"
    )


def test_reload_reads_the_file_again(tmp_path: Path) -> None:
    path = jobs_file(tmp_path, job(TICK + 'trigger = "interval"\nhours = 1\n'))
    source = load(path)
    write_jobs(Path(path), job(TICK + 'trigger = "interval"\nhours = 2\n'))
    assert reload(source).jobs[0].trigger.interval == timedelta(hours=2)


# The module form


def test_a_module_gives_its_scheduler_and_its_pending_jobs() -> None:
    source = load("tests.cli.schedmod:scheduler")
    from tests.cli import schedmod

    assert source.is_module
    assert source.scheduler is schedmod.scheduler
    assert source.scheduler.get_jobs() == []  # taken out: the command upserts them
    tick, paused = source.jobs
    assert (tick.id, tick.args, tick.misfire_grace_time) == ("tick", ("x",), 5)
    assert paused.next_run_time is None
    assert source.definitions[0].loose == frozenset({"start_date", "run_date"})
    assert source.default_store == f"sqlite:///{Path(schedmod.__file__).with_suffix('.sqlite')}"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        pytest.param(
            "tests.cli.schedmod:not_a_scheduler",
            "tests.cli.schedmod:not_a_scheduler must name a GeventScheduler (greensched runs "
            "it in the foreground), got: 42",
            id="not-a-scheduler",
        ),
        pytest.param(
            "tests.cli.schedmod:background",
            "tests.cli.schedmod:background must name a GeventScheduler (greensched runs it in "
            "the foreground), got: 'BackgroundScheduler'",
            id="not-gevent",
        ),
        pytest.param(
            "tests.cli.schedmod:lambdas",
            "tests.cli.schedmod:lambdas: job 'anonymous': its function <function <lambda> at "
            "ADDRESS> has no importable 'module:callable' reference, which a persistent store "
            "needs",
            id="lambda",
        ),
        pytest.param(
            "tests.cli.schedmod:methods",
            "tests.cli.schedmod:methods: job 'method': its function <bound method Greeter.greet "
            "of <tests.cli.schedmod.Greeter object at ADDRESS>> is a method of an instance, "
            "which the command cannot compare with the stored job to upsert it: use a "
            "module-level function or a class method",
            id="instance-method",
        ),
        pytest.param(
            "tests.cli.nowhere:scheduler",
            "tests.cli.nowhere:scheduler: cannot be imported: No module named 'tests.cli.nowhere'",
            id="no-module",
        ),
        pytest.param(
            "tests.cli.schedmod:nothing",
            "tests.cli.schedmod:nothing: cannot be imported: no such attribute",
            id="no-attribute",
        ),
        pytest.param(
            "tests/cli/nothing.toml",
            "tests/cli/nothing.toml: no such file (expected a TOML jobs file, or a "
            "'module:attribute' reference to a scheduler)",
            id="no-file",
        ),
    ],
)
def test_bad_module_references(reference: str, message: str) -> None:
    with pytest.raises(JobsFileError) as info:
        load(reference)
    text = str(info.value)
    if "ADDRESS" in message:
        start, _, end = message.partition("ADDRESS")
        assert text.startswith(start)
        assert text.endswith(end)
    else:
        assert text == message


# Invalid files: one line naming the bad value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "[[jobs]\n",
            "invalid TOML: Expected ']]' at the end of an array declaration (at line 1, column 7)",
            id="bad-toml",
        ),
        pytest.param(
            "[job]\n",
            "unknown top-level key 'job' (a jobs file holds a [scheduler] table and [[jobs]] "
            "tables)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "scheduler = 1\n",
            "scheduler must be a table ([scheduler]), got: 1",
            id="scheduler-not-a-table",
        ),
        pytest.param(
            "[scheduler]\nzone = 'UTC'\n",
            "[scheduler]: unknown option 'zone' (known: executors, job_defaults, "
            "jobstore_retry_interval, timezone)",
            id="unknown-scheduler-option",
        ),
        pytest.param(
            "[scheduler]\ntimezone = 'Nowhere/City'\n",
            "[scheduler]: timezone must be a known IANA zone name, got: 'Nowhere/City'",
            id="bad-timezone",
        ),
        pytest.param(
            "[scheduler.job_defaults]\nmax_instances = 0\n",
            "[scheduler]: max_instances must be a positive integer, got: 0",
            id="bad-job-default",
        ),
        pytest.param(
            "[scheduler]\njobstore_retry_interval = nan\n",
            "[scheduler]: jobstore_retry_interval must be a positive finite number of seconds, "
            "got: nan",
            id="nan-retry-interval",
        ),
        pytest.param(
            "[scheduler.executors.x]\ntype = 'fibers'\n",
            '[scheduler]: No executor by the name "fibers" was found (known: celery, debug, '
            "gevent, processpool, rq, threadpool)",
            id="bad-executor-type",
        ),
        pytest.param("jobs = 1\n", "jobs must be tables ([[jobs]]), got: 1", id="jobs-not-tables"),
        pytest.param("[[jobs]]\nfunc = 'x:y'\n", "job #1: id is required", id="no-id"),
        pytest.param(
            "[[jobs]]\nid = 5\n", "job #1: id must be a non-empty string, got: 5", id="bad-id"
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\nhours = 1\n")
            + "[[jobs]]\nid = 'tick'\n"
            + TICK
            + "trigger = 'interval'\nhours = 2\n",
            "job 'tick': duplicate id (each job needs an id of its own)",
            id="duplicate-id",
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\njobstore = 'other'\n"),
            "job 'tick': jobstore is not allowed here: the job store is the command's (--store)",
            id="jobstore",
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\nnext_run_time = 2030-01-01T00:00:00\n"),
            "job 'tick': next_run_time is not allowed here: a job's first run time comes from "
            "its trigger",
            id="next-run-time",
        ),
        pytest.param(
            job("trigger = 'interval'\n"),
            "job 'tick': func is required (a 'module:callable' reference)",
            id="no-func",
        ),
        pytest.param(
            job("func = 'record'\ntrigger = 'interval'\n"),
            "job 'tick': func must be a 'module:callable' reference, got: 'record'",
            id="func-not-a-reference",
        ),
        pytest.param(
            job("func = 'tests.cli.nope:record'\ntrigger = 'interval'\n"),
            "job 'tick': func 'tests.cli.nope:record' cannot be imported: No module named "
            "'tests.cli.nope'",
            id="func-module-missing",
        ),
        pytest.param(
            job("func = 'tests.cli.jobfuncs:nope'\ntrigger = 'interval'\n"),
            "job 'tick': func 'tests.cli.jobfuncs:nope' cannot be imported: module "
            "'tests.cli.jobfuncs' has no attribute 'nope'",
            id="func-attribute-missing",
        ),
        pytest.param(
            job("func = 'tests.cli.broken:f'\ntrigger = 'interval'\n"),
            "job 'tick': func 'tests.cli.broken:f' cannot be imported: RuntimeError: this "
            "module is broken on purpose",
            id="func-module-raises",
        ),
        pytest.param(
            job("func = 'tests.cli.jobfuncs:NOT_CALLABLE'\ntrigger = 'interval'\n"),
            "job 'tick': func 'tests.cli.jobfuncs:NOT_CALLABLE' must be callable, got: 42",
            id="func-not-callable",
        ),
        pytest.param(
            job(TICK),
            "job 'tick': trigger is required (one of and, calendarinterval, cron, date, "
            "interval, or)",
            id="no-trigger",
        ),
        pytest.param(
            job(TICK + "trigger = 'intervall'\n"),
            "job 'tick': trigger must be one of and, calendarinterval, cron, date, interval, "
            "or, got: 'intervall'",
            id="unknown-trigger",
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\nminuts = 5\n"),
            "job 'tick': unknown option 'minuts' (not a job option, nor an option of trigger "
            "'interval': days, end_date, hours, jitter, minutes, seconds, start_date, timezone, "
            "weeks)",
            id="unknown-trigger-option",
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\ncrontab = '* * * * *'\n"),
            "job 'tick': unknown option 'crontab' (not a job option, nor an option of trigger "
            "'interval': days, end_date, hours, jitter, minutes, seconds, start_date, timezone, "
            "weeks)",
            id="crontab-on-interval",
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\nminutes = 'x'\n"),
            "job 'tick': minutes must be a number, got: 'x'",
            id="bad-trigger-value",
        ),
        pytest.param(
            job(TICK + "trigger = 'cron'\ncrontab = '*/5 * * *'\n"),
            "job 'tick': crontab: '*/5 * * *' is not a valid expression (expected 5 fields "
            "(minute hour day month day_of_week), 6 with a leading second, or an alias such as "
            "@daily; got 4 fields)",
            id="bad-crontab",
        ),
        pytest.param(
            job(TICK + "trigger = 'cron'\nhour = '25'\n"),
            "job 'tick': hour: '25' is not a valid expression (expected values from 0 to 23)",
            id="bad-cron-field",
        ),
        pytest.param(
            job(TICK + "trigger = 'or'\n"),
            "job 'tick': trigger 'or' needs triggers",
            id="or-without-triggers",
        ),
        pytest.param(
            job(TICK + "trigger = 'or'\ntriggers = ['cron']\n"),
            "job 'tick': triggers must be an array of tables ({ trigger = 'cron', hour = 9 }), "
            "got: ['cron']",
            id="triggers-not-tables",
        ),
        pytest.param(
            job(TICK + "trigger = 'or'\ntriggers = [{ trigger = 'cron', hours = 9 }]\n"),
            "job 'tick': triggers[0]: unknown option 'hours' (not an option of trigger "
            "'cron': crontab, day, day_of_week, end_date, hour, jitter, minute, month, second, "
            "start_date, timezone, week, year)",
            id="bad-inner-trigger",
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\nhours = 1\nmax_instances = 0\n"),
            "job 'tick': max_instances must be a positive integer, got: 0",
            id="bad-job-option",
        ),
        pytest.param(
            job("func = 'tests.cli.jobfuncs:needs_url'\ntrigger = 'interval'\nhours = 1\n"),
            "job 'tick': The following arguments have not been supplied: url",
            id="missing-argument",
        ),
        pytest.param(
            job(TICK + "trigger = 'interval'\nhours = 1\nexecutor = 'threads'\n"),
            "job 'tick': executor must be one of default, got: 'threads'",
            id="unknown-executor",
        ),
    ],
)
def test_invalid_file(tmp_path: Path, text: str, message: str) -> None:
    assert load_error(tmp_path, text) == message


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "jobs.toml").mkdir()
    with pytest.raises(JobsFileError, match=r": no such file \(expected a TOML jobs file"):
        load(str(tmp_path / "jobs.toml"))
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"# caf\xe9\n")
    with pytest.raises(JobsFileError) as info:
        load(str(path))
    assert str(info.value) == (
        f"{path}: not UTF-8 text: 'utf-8' codec can't decode byte 0xe9 in position 5: "
        "invalid continuation byte"
    )


def test_a_reload_that_fails_names_the_error(tmp_path: Path) -> None:
    path = jobs_file(tmp_path, "")
    source = load(path)
    write_jobs(Path(path), "[[jobs]\n")
    with pytest.raises(JobsFileError, match=r"invalid TOML"):
        reload(source)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("1.5", 1.5),
        ("true", True),
        ('["a", 1]', ["a", 1]),
        ("{ a = 1 }", {"a": 1}),
        ('"quoted text"', "quoted text"),
        ("2030-01-01T09:00:00", datetime(2030, 1, 1, 9)),
        ("9-17", "9-17"),
        ("*/5 * * * *", "*/5 * * * *"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("", ""),
    ],
)
def test_parse_value_reads_toml_values_or_text(text: str, value: Any) -> None:
    assert parse_value(text) == value
