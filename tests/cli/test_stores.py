"""The store of every command that opens one (``run``, ``jobs *``, ``export``, ``import``): a bad
URL or an unreachable server is one error line (exit 2 or 1) before anything starts or is
written; the admin commands find the store ``greensched run JOBS_FILE`` uses; no output shows
a password of a store URL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from greensched.cli.stores import describe_store
from tests.cli.conftest import Store, toml, write_jobs
from tests.cli.test_admin import FUNC, command
from tests.services import POSTGRESQL_URL, drop_store, require, unique_name
from tests.support.processes import Run, greensched

KNOWN = (
    "use sqlite:///PATH (greensched[cli]), postgresql+psycopg:// (greensched[postgresql]), "
    "mysql+pymysql:// (greensched[mysql]), redis:// (greensched[redis]), or memory: "
    "(greensched run only)"
)

#: Every admin command, with the arguments that get it as far as opening the store.
ADMIN_COMMANDS = [
    pytest.param(["jobs", "list"], id="list"),
    pytest.param(["jobs", "show", "x"], id="show"),
    pytest.param(["jobs", "add", "x", FUNC, "interval", "hours=1", 'args=["a"]'], id="add"),
    pytest.param(["jobs", "pause", "x"], id="pause"),
    pytest.param(["jobs", "resume", "x"], id="resume"),
    pytest.param(["jobs", "remove", "x"], id="remove"),
    pytest.param(["jobs", "run-now", "x"], id="run-now"),
    pytest.param(["export", "-"], id="export"),
    pytest.param(["import", "EXPORT"], id="import"),
]


def tick_file(tmp_path: Path) -> Path:
    """``tmp_path/jobs.toml``: the job 'tick', every hour, recording its runs."""
    return write_jobs(
        tmp_path / "jobs.toml",
        f'[[jobs]]\nid = "tick"\nfunc = "{FUNC}"\n'
        f'args = [{toml(tmp_path / "records.jsonl")}, "tick"]\ntrigger = "interval"\nhours = 1\n',
    )


def bad_url(store: Store, tmp_path: Path) -> tuple[str, str]:
    """A URL that names no store, on the engine of ``store``, and its error message: an SQLite
    file in a directory that does not exist; ``postgres://`` (with a password, masked)."""
    if store.engine == "sqlite":
        missing = tmp_path / "missing"
        url = f"sqlite:///{missing / 'jobs.sqlite'}"
        return url, f"job store URL {url!r}: directory {str(missing)!r} does not exist"
    parsed = make_url(store.url)
    rest = f"@{parsed.host}:{parsed.port or 5432}/{parsed.database}"
    return f"postgres://{parsed.username}:s3cret{rest}", (
        f"job store URL 'postgres://{parsed.username}:***{rest}': use postgresql+psycopg:// "
        "(greensched[postgresql]) instead of postgres://"
    )


def assert_untouched(store: Store, tmp_path: Path) -> None:
    """Nothing was created: no table, no SQLite file (the default one next to jobs.toml
    either), no directory."""
    assert not store.has_table()
    assert not (tmp_path / "missing").exists()
    assert not (tmp_path / "jobs.sqlite").exists()


# Point 4: a bad store URL


@pytest.mark.slow
def test_a_bad_store_url_is_one_line_and_exit_2(store: Store, tmp_path: Path) -> None:
    jobs_file = tick_file(tmp_path)
    table = ["--table", store.table] if store.table else []
    for url, message in [
        bad_url(store, tmp_path),
        ("foo://bar", f"job store URL 'foo://bar' is not one greensched knows; {KNOWN}"),
    ]:
        for argv in (["run", str(jobs_file)], ["jobs", "list"]):
            result = greensched(*argv, "--store", url, *table)
            assert (result.returncode, result.stdout, result.stderr) == (
                2,
                "",
                f"greensched: error: {message}\n",
            ), argv
    assert_untouched(store, tmp_path)


@pytest.mark.parametrize("argv", ADMIN_COMMANDS)
def test_every_admin_command_refuses_a_bad_store_url(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    export = tmp_path / "export.json"
    export.write_text('{"version": 1, "jobs": []}')
    argv = [str(export) if word == "EXPORT" else word for word in argv]
    url, message = bad_url(store, tmp_path)
    table = ["--table", store.table] if store.table else []
    assert command(capsys, *argv, "--store", url, *table) == (
        2,
        "",
        f"greensched: error: {message}\n",
    )
    assert_untouched(store, tmp_path)


# Point 5: an unreachable store

UNREACHABLE = [
    pytest.param(
        "redis://:s3cret@127.0.0.1:1/0",
        "cannot open job store redis://:***@127.0.0.1:1/0: ConnectionError: Error 111 "
        "connecting to 127.0.0.1:1. Connection refused.",
        id="redis",
    ),
    pytest.param(
        "postgresql+psycopg://u:s3cret@127.0.0.1:1/x",
        "cannot open job store postgresql+psycopg://u:***@127.0.0.1:1/x: OperationalError: "
        '(psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", '
        "port 1 failed: Connection refused",
        id="postgresql",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(("url", "message"), UNREACHABLE)
def test_run_on_an_unreachable_store_starts_nothing(
    tmp_path: Path, url: str, message: str, log_format: str
) -> None:
    result = greensched(
        "run", str(tick_file(tmp_path)), "--store", url, "--log-format", log_format
    )
    assert (result.returncode, result.stdout) == (1, "")
    if log_format == "text":
        assert result.stderr == f"greensched: error: {message}\n"  # no "Scheduler started"
    else:
        [line] = result.stderr.splitlines()
        record = json.loads(line)
        assert set(record) == {"time", "level", "logger", "message"}
        assert (record["level"], record["logger"], record["message"]) == (
            "ERROR",
            "greensched",
            message,
        )
    assert not (tmp_path / "jobs.sqlite").exists()


@pytest.mark.parametrize(("url", "message"), UNREACHABLE)
def test_admin_commands_on_an_unreachable_store_fail_at_once(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    assert command(capsys, "jobs", "list", "--store", url) == (
        1,
        "",
        f"greensched: error: {message}\n",
    )


# Point 6: the store of greensched run JOBS_FILE


@pytest.mark.slow
def test_admin_commands_given_the_jobs_file_use_the_store_run_uses(
    store: Store,
    tmp_path: Path,
    start_run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs_file = tick_file(tmp_path)
    if store.engine == "sqlite":  # run's default: the SQLite file next to the jobs file
        monkeypatch.delenv("GREENSCHED_STORE", raising=False)
        table = []
    else:  # run's store from the environment: the admin commands take it too
        monkeypatch.setenv("GREENSCHED_STORE", store.url)
        table = ["--table", str(store.table)]
    run = start_run(jobs_file, *table)
    run.wait_until_running()

    listed = greensched("jobs", "list", "--json", str(jobs_file), *table)
    assert (listed.returncode, listed.stderr) == (0, "")
    assert [(job["id"], job["state"]) for job in json.loads(listed.stdout)] == [
        ("tick", "scheduled")
    ]
    paused = greensched("jobs", "pause", "tick", "--jobs-file", str(jobs_file), *table)
    assert (paused.returncode, paused.stdout, paused.stderr) == (0, "Paused job 'tick'\n", "")
    assert run.stop() == 0
    assert store.has_table()
    listed = greensched("jobs", "list", "--json", *store.args())
    assert [(job["id"], job["state"]) for job in json.loads(listed.stdout)] == [("tick", "paused")]


def test_a_store_is_shown_without_its_secrets() -> None:
    from greensched.jobstores.redis import RedisJobStore
    from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore

    sql = SQLAlchemyJobStore(url="postgresql+psycopg://u:p/w@h/db?password=s3cret")
    assert describe_store(sql) == "postgresql+psycopg://u:***@h/db?password=***"
    redis = RedisJobStore(url="redis://:s3cret@h:7/3")
    assert describe_store(redis) == "redis://h:7/3"


@pytest.mark.slow
def test_without_a_store_the_error_says_what_to_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GREENSCHED_STORE", raising=False)
    result = greensched("jobs", "list")  # in the project's root: no jobs.toml
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        (
            "greensched: error: no job store: pass --jobs-file JOBS_FILE (the jobs file "
            "greensched run runs; its store is the .sqlite file next to it), --store URL, or set "
            "GREENSCHED_STORE (there is no jobs.toml here)\n"
        ),
    )


def test_the_default_is_the_store_of_jobs_toml_in_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GREENSCHED_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    tick_file(tmp_path)
    assert command(capsys, "jobs", "list") == (
        0,
        f"No jobs in sqlite:///{tmp_path.resolve() / 'jobs.sqlite'}\n",
        "",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["jobs", "list", "nope.toml"],
            "nope.toml: no such jobs file (the TOML file greensched run runs; for a scheduler "
            "module, pass --store URL)",
            id="missing",
        ),
        pytest.param(
            ["jobs", "show", "x", "--jobs-file", "tests.cli.schedmod:scheduler"],
            "tests.cli.schedmod:scheduler: no such jobs file (the TOML file greensched run "
            "runs; for a scheduler module, pass --store URL)",
            id="module",
        ),
        pytest.param(
            ["jobs", "list", "a.toml", "--jobs-file", "b.toml"],
            "give the jobs file once: JOBS_FILE or --jobs-file",
            id="twice",
        ),
    ],
)
def test_a_jobs_file_that_names_no_store_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("GREENSCHED_STORE", raising=False)
    assert command(capsys, *argv) == (2, "", f"greensched: error: {message}\n")


# Point 10: no password shown

#: A password with / ? # : as they are (SQLAlchemy takes them so) and @ % percent-encoded.
PASSWORD = "s/e?c#r:e%40t%25"
SECRETS = ("s/e?c", "e%40t", "e@t", "r:e")


@pytest.fixture
def trusted_postgresql() -> tuple[str, str]:
    """The test server's ``user@host:port/db`` (it must trust the user, whatever the password)
    and a table of the test's own."""
    url = make_url(require(POSTGRESQL_URL))
    if url.password is not None:
        pytest.skip("needs a PostgreSQL server that trusts its test user (no password)")
    return f"{url.username}@{url.host}:{url.port or 5432}/{url.database}", unique_name("cli")


@pytest.mark.slow
def test_no_output_shows_the_password_of_a_store_url(
    trusted_postgresql: tuple[str, str], tmp_path: Path, start_run: Callable[..., Run]
) -> None:
    where, table = trusted_postgresql
    user, _, address = where.partition("@")
    url = f"postgresql+psycopg://{user}:{PASSWORD}@{address}"
    shown = f"postgresql+psycopg://{user}:***@{address}"
    try:
        run = start_run(tick_file(tmp_path), "--store", url, "--table", table)
        run.wait_until_running()
        assert f"on job store {shown} (pid" in run.log()
        assert run.stop() == 0

        export = greensched("export", "-", "--store", url, "--table", table)
        assert export.returncode == 0
        assert export.stderr == f"Exported 1 job from {shown} to -\n"
        removed = greensched("jobs", "remove", "tick", "--store", url, "--table", table)
        assert removed.returncode == 0
        query = f"postgresql+psycopg://{where}?password=s3cret"
        listed = greensched("jobs", "list", "--store", query, "--table", table)
        assert (listed.returncode, listed.stdout) == (
            0,
            f"No jobs in postgresql+psycopg://{where}?password=***\n",
        )
        closed = f"postgresql+psycopg://{user}:{PASSWORD}@127.0.0.1:1/x"
        failed = greensched("jobs", "list", "--store", closed)
        assert failed.returncode == 1
        assert failed.stderr.startswith(
            f"greensched: error: cannot open job store postgresql+psycopg://{user}:***@127.0.0.1:1"
            "/x: OperationalError: "
        )
        outputs = [run.log(), export.stderr, removed.stdout, listed.stdout, failed.stderr]
    finally:
        drop_store(POSTGRESQL_URL, table)
    assert not [text for text in outputs if any(s in text for s in (*SECRETS, "s3cret"))]
