"""The admin commands on a stored job that cannot be loaded where they run (issue 15): its
function's module, generated into the test's directory, is deleted after the job is added. Each
command's exit code and exact output, and the store's content afterwards (rows or keys read
directly), on SQLite, PostgreSQL and Redis; in-process (``main(argv)``) as in ``test_admin.py``,
and as real processes run from another directory."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from greensched._clock import current_clock
from greensched.cli import main
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import MissingGlobal, read_state
from greensched.jobstores.redis import RedisJobStore
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.cli.conftest import Store
from tests.services import POSTGRESQL_URL, REDIS_URL, drop_store, require, unique_name
from tests.support import PATIENCE
from tests.support.processes import ROOT, run_python

FUNC = "tests.cli.jobfuncs:record"
#: The module the jobs' function and trigger class live in, deleted once the jobs are stored.
MODULE = "gone_jobfuncs"
MODULE_SOURCE = """\
from greensched.triggers.interval import IntervalTrigger


def tick(*args):
    pass


class Every(IntervalTrigger):
    pass
"""
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 6, 3, 12, 0, tzinfo=BERLIN)


def command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command; return its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The test's own SQLite file, PostgreSQL table or Redis keys."""
    if request.param == "sqlite":
        yield Store("sqlite", f"sqlite:///{tmp_path / 'jobs.sqlite'}")
        return
    url = require(POSTGRESQL_URL if request.param == "postgresql" else REDIS_URL)
    name = unique_name("cli")
    yield Store(request.param, url, name)
    drop_store(url, name)


@contextmanager
def opened_store(store: Store) -> Iterator[SharedJobStore]:
    """The store, started by a paused scheduler of the test."""
    job_store: SharedJobStore
    if store.engine == "redis":
        keys = {"jobs_key": f"{store.table}.jobs", "run_times_key": f"{store.table}.run_times"}
        job_store = RedisJobStore(url=store.url, **keys)
    else:
        job_store = SQLAlchemyJobStore(url=store.url, tablename=store.table or "apscheduler_jobs")
    scheduler = GeventScheduler(jobstores={"default": job_store}, clock=current_clock())
    scheduler.start(paused=True)
    try:
        yield job_store
    finally:
        scheduler.shutdown(wait=False)


def stored(store: Store) -> dict[str, tuple[float | None, bytes]]:
    """Each stored job's indexed run time (SQL column, Redis score) and pickled state."""
    if store.engine == "redis":
        import redis

        client = redis.Redis.from_url(store.url)
        try:
            states = cast("dict[bytes, bytes]", client.hgetall(f"{store.table}.jobs"))
            scores = dict(client.zrange(f"{store.table}.run_times", 0, -1, withscores=True))
        finally:
            client.close()
        return {key.decode(): (scores.get(key), state) for key, state in states.items()}
    import sqlalchemy

    engine = sqlalchemy.create_engine(store.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text(
                    f"SELECT id, next_run_time, job_state FROM {store.table or 'apscheduler_jobs'}"
                )
            )
            return {row.id: (row.next_run_time, bytes(row.job_state)) for row in rows}
    finally:
        engine.dispose()


def state_of(store: Store, job_id: str) -> dict[str, Any]:
    """A stored job's state, read without importing what it names."""
    state, _ = read_state(stored(store)[job_id][1])
    return cast("dict[str, Any]", state)


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """A state with its trigger replaced by the trigger's state (triggers compare by identity)."""
    trigger = state["trigger"]
    if isinstance(trigger, MissingGlobal):  # a stand-in: the state the pickle gave it
        trigger_state = trigger.built_state()
    else:
        trigger_state = trigger.__getstate__()
    return {**state, "trigger": (type(trigger).__qualname__, trigger_state)}


class Module:
    """The generated module of the jobs' function and trigger class, which tests delete and
    bring back."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.directory = directory
        self.path = directory / f"{MODULE}.py"

    def write(self) -> None:
        self.path.write_text(MODULE_SOURCE, encoding="utf-8")
        sys.path.insert(0, str(self.directory))
        importlib.invalidate_caches()

    def delete(self) -> None:
        self.path.unlink()
        sys.path.remove(str(self.directory))
        sys.modules.pop(MODULE, None)
        importlib.invalidate_caches()


@pytest.fixture
def module(tmp_path: Path) -> Iterator[Module]:
    made = Module(tmp_path / "code")
    yield made
    sys.modules.pop(MODULE, None)


@pytest.fixture
def broken(
    any_store: Store,
    module: Module,
    berlin_clock: MockClock,
    capsys: pytest.CaptureFixture[str],
) -> Store:
    """The store with 'tick' (a function of the deleted module, every 5 minutes from 12:05) and
    'ok' (a function that loads, at 13:00)."""
    module.write()
    add = ["jobs", "add", "tick", f"{MODULE}:tick", "interval", "minutes=5", "name=Ticker"]
    assert command(capsys, *add, *any_store.args())[0] == 0
    add = ["jobs", "add", "ok", FUNC, "date", "run_date=2024-06-03T13:00:00", 'args=["a"]']
    assert command(capsys, *add, *any_store.args())[0] == 0
    module.delete()
    return any_store


REASON = f"No module named '{MODULE}'"
TICK_AT = datetime(2024, 6, 3, 12, 5, tzinfo=BERLIN).timestamp()


def test_jobs_list_marks_a_job_that_cannot_be_loaded_with_the_reason(
    broken: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(broken)
    assert command(capsys, "jobs", "list", *broken.args()) == (
        0,
        (
            "ID    NAME    TRIGGER                         NEXT RUN                             "
            "STATE\n"
            "tick  Ticker  interval[0:05:00]               2024-06-03 12:05:00 CEST (in 5 min)  "
            f"not loadable: {REASON}\n"
            "ok    record  date[2024-06-03 13:00:00 CEST]  2024-06-03 13:00:00 CEST (in 1 h)    "
            "scheduled\n"
        ),
        "",
    )
    code, out, err = command(capsys, "jobs", "list", "--json", *broken.args())
    assert (code, err) == (0, "")
    assert json.loads(out) == [
        {
            "id": "tick",
            "name": "Ticker",
            "func": f"{MODULE}:tick",
            "trigger": "interval[0:05:00]",
            "next_run_time": "2024-06-03T12:05:00+02:00",
            "state": "not loadable",
            "error": REASON,
        },
        {
            "id": "ok",
            "name": "record",
            "func": FUNC,
            "trigger": "date[2024-06-03 13:00:00 CEST]",
            "next_run_time": "2024-06-03T13:00:00+02:00",
            "state": "scheduled",
        },
    ]
    assert stored(broken) == before


def test_jobs_show_shows_what_can_be_read(
    broken: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(broken)
    assert command(capsys, "jobs", "show", "tick", *broken.args()) == (
        0,
        (
            "id:                 tick\n"
            "name:               Ticker\n"
            f"func:               {MODULE}:tick\n"
            "trigger:            interval[0:05:00]\n"
            "next_run_time:      2024-06-03 12:05:00 CEST (in 5 min)\n"
            "state:              not loadable\n"
            f"error:              {REASON}\n"
            "args:               ()\n"
            "kwargs:             {}\n"
            "executor:           default\n"
            "misfire_grace_time: 1\n"
            "coalesce:           True\n"
            "max_instances:      1\n"
            "timeout:            None\n"
        ),
        "",
    )
    code, out, _ = command(capsys, "jobs", "show", "tick", "--json", *broken.args())
    assert code == 0
    assert json.loads(out)["state"] == "not loadable"
    assert json.loads(out)["error"] == REASON
    assert stored(broken) == before


def test_pause_and_resume_change_only_the_next_run_time(
    broken: Store, module: Module, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(broken)
    tick = state_of(broken, "tick")
    assert command(capsys, "jobs", "pause", "tick", *broken.args()) == (
        0,
        f"Paused job 'tick' (not loadable here: {REASON})\n",
        "",
    )
    after = stored(broken)
    assert after["ok"] == before["ok"]
    assert after["tick"][0] is None
    paused = state_of(broken, "tick")
    assert comparable(paused) == comparable({**tick, "next_run_time": None})

    # Loaded where its module is, the job is paused, and nothing else changed
    module.write()
    with opened_store(broken) as store:
        job = store.lookup_job("tick")
        assert job is not None
        assert (job.next_run_time, job.name, job.func_ref) == (None, "Ticker", f"{MODULE}:tick")
        assert str(job.trigger) == "interval[0:05:00]"
    module.delete()

    assert command(capsys, "jobs", "resume", "tick", *broken.args()) == (
        0,
        (
            f"Resumed job 'tick' (not loadable here: {REASON}): next run 2024-06-03 12:05:00 CEST "
            "(in 5 min)\n"
        ),
        "",
    )
    resumed = stored(broken)
    assert resumed["tick"][0] == TICK_AT
    assert comparable(state_of(broken, "tick")) == comparable(tick)
    assert resumed["ok"] == before["ok"]


def test_run_now_makes_a_job_that_cannot_be_loaded_due(
    broken: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(broken)
    assert command(capsys, "jobs", "run-now", "tick", *broken.args()) == (
        0,
        f"Job 'tick' is due now (not loadable here: {REASON})\n",
        "",
    )
    assert stored(broken)["tick"][0] == NOW.timestamp()
    assert state_of(broken, "tick")["next_run_time"] == NOW
    command(capsys, "jobs", "pause", "tick", *broken.args())
    paused = stored(broken)
    assert command(capsys, "jobs", "run-now", "tick", *broken.args()) == (
        1,
        "",
        "greensched: error: job 'tick' is paused: resume it first (greensched jobs resume tick)\n",
    )
    assert stored(broken) == paused
    assert paused["ok"] == before["ok"]


def test_remove_removes_a_job_that_cannot_be_loaded(
    broken: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(broken)
    assert command(capsys, "jobs", "remove", "tick", *broken.args()) == (
        0,
        f"Removed job 'tick' (not loadable here: {REASON})\n",
        "",
    )
    assert stored(broken) == {"ok": before["ok"]}
    assert command(capsys, "jobs", "show", "tick", *broken.args()) == (
        1,
        "",
        f"greensched: error: no job with id 'tick' in {broken.url}\n",
    )


def test_export_and_import_keep_a_job_that_cannot_be_loaded(
    broken: Store, module: Module, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(broken)
    export = tmp_path / "jobs.json"
    assert command(capsys, "export", str(export), *broken.args()) == (
        0,
        "",
        (
            f"Exported 2 jobs from {broken.url} to {export} (1 not loadable here, exported as "
            "stored: 'tick')\n"
        ),
    )
    assert stored(broken) == before
    exported = json.loads(export.read_text())["jobs"]
    assert [state["id"] for state in exported] == ["tick", "ok"]

    # The same as what the export writes where the module is
    module.write()
    loaded_export = tmp_path / "loaded.json"
    assert command(capsys, "export", str(loaded_export), *broken.args())[0] == 0
    assert json.loads(loaded_export.read_text())["jobs"] == exported
    module.delete()

    other = Store("sqlite", f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert command(capsys, "import", str(export), *other.args()) == (
        0,
        "",
        (
            f"Imported 2 jobs from {export} into {other.url} (1 not loadable here, imported as "
            "exported: 'tick')\n"
        ),
    )
    copied = stored(other)
    assert copied["tick"] == before["tick"]  # byte for byte
    again = tmp_path / "again.json"
    assert command(capsys, "export", str(again), *other.args())[0] == 0
    assert json.loads(again.read_text())["jobs"] == exported

    # Imported again where the ids are taken (by a job that cannot be loaded, too): refused
    assert command(capsys, "import", str(export), *broken.args()) == (
        1,
        "",
        (
            f"greensched: error: {export}: Job identifier (tick) conflicts with an existing job in "
            f"{broken.url}: nothing was imported\n"
        ),
    )
    assert stored(broken) == before


def test_import_refuses_an_id_taken_by_a_job_that_cannot_be_loaded_and_adds_nothing(
    broken: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = Store("sqlite", f"sqlite:///{tmp_path / 'source.sqlite'}")
    for job_id in ("new", "tick"):  # loadable jobs, the second one's id taken in broken
        add = ["jobs", "add", job_id, FUNC, "date", "run_date=2024-06-03T14:00:00", 'args=["a"]']
        assert command(capsys, *add, *source.args())[0] == 0
    export = tmp_path / "source.json"
    assert command(capsys, "export", str(export), *source.args())[0] == 0
    before = stored(broken)
    assert command(capsys, "import", str(export), *broken.args()) == (
        1,
        "",
        (
            f"greensched: error: {export}: Job identifier (tick) conflicts with an existing job "
            f"in {broken.url}: nothing was imported\n"
        ),
    )
    assert stored(broken) == before


def test_a_trigger_class_that_cannot_be_imported(
    any_store: Store,
    module: Module,
    berlin_clock: MockClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module.write()
    gone = importlib.import_module(MODULE)
    with opened_store(any_store) as store:
        store._scheduler.add_job(  # type: ignore[union-attr]
            f"{MODULE}:tick",
            gone.Every(minutes=5, timezone=BERLIN),
            args=[1],
            id="every",
            jobstore="default",
        )
    module.delete()
    args = any_store.args()
    trigger = f"<{MODULE}:Every object (cannot be imported)>"
    code, out, _ = command(capsys, "jobs", "list", *args)
    assert (code, out.splitlines()[1]) == (
        0,
        f"every  tick  {trigger}  2024-06-03 12:05:00 CEST (in 5 min)  not loadable: {REASON}",
    )
    original = stored(any_store)["every"]

    assert command(capsys, "jobs", "pause", "every", *args)[0] == 0
    paused = stored(any_store)["every"]
    assert paused[0] is None
    assert command(capsys, "jobs", "resume", "every", *args) == (
        1,
        "",
        (
            f"greensched: error: job 'every' cannot be resumed here: its trigger class "
            f"{MODULE}:Every cannot be imported ({REASON})\n"
        ),
    )
    assert stored(any_store)["every"] == paused
    export = tmp_path / "every.json"
    assert command(capsys, "export", str(export), *args)[0] == 0
    trigger_state = json.loads(export.read_text())["jobs"][0]["trigger"]
    assert trigger_state["__greensched_class__"] == f"{MODULE}:Every"
    other = Store("sqlite", f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert command(capsys, "import", str(export), *other.args())[0] == 0
    assert stored(other)["every"][1] == paused[1]

    # Where the module is: the paused job, and its copy, load with their trigger
    module.write()
    gone = importlib.import_module(MODULE)
    for where in (any_store, other):
        with opened_store(where) as store:
            job = store.lookup_job("every")
            assert job is not None
            assert type(job.trigger) is gone.Every
            assert (job.next_run_time, job.args) == (None, (1,))
    assert command(capsys, "jobs", "resume", "every", *args)[0] == 0
    resumed = stored(any_store)["every"]
    assert resumed[0] == original[0]
    assert comparable(pickle.loads(resumed[1])) == comparable(pickle.loads(original[1]))


def test_a_job_whose_state_cannot_be_read_is_listed_and_removable_but_not_exported(
    any_store: Store,
    berlin_clock: MockClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = any_store.args()
    add = ["jobs", "add", "ok", FUNC, "date", "run_date=2024-06-03T13:00:00", 'args=["a"]']
    assert command(capsys, *add, *args)[0] == 0
    with opened_store(any_store) as store:
        store._write_state("damaged", b"not a pickle", None, new=True)
    before = stored(any_store)
    reason = "UnpicklingError: invalid load key, 'n'."
    assert command(capsys, "jobs", "list", *args) == (
        0,
        (
            "ID       NAME    TRIGGER                         NEXT RUN                           "
            "STATE\n"
            "ok       record  date[2024-06-03 13:00:00 CEST]  2024-06-03 13:00:00 CEST (in 1 h)  "
            "scheduled\n"
            "damaged  ?       ?                               ?                                  "
            f"not loadable: {reason}\n"
        ),
        "",
    )
    assert command(capsys, "jobs", "show", "damaged", *args) == (
        0,
        f"id:    damaged\nstate: not loadable\nerror: {reason}\n",
        "",
    )
    assert command(capsys, "jobs", "pause", "damaged", *args) == (
        1,
        "",
        (
            "greensched: error: job 'damaged' cannot be paused here: its stored state cannot be "
            f"read ({reason})\n"
        ),
    )
    export = tmp_path / "jobs.json"
    assert command(capsys, "export", str(export), *args) == (
        1,
        "",
        (
            "greensched: error: job 'damaged' cannot be exported: its stored state cannot be read "
            f"({reason}): nothing was written to {export}\n"
        ),
    )
    assert not export.exists()
    assert list(tmp_path.glob(".jobs.json*")) == []
    assert stored(any_store) == before
    assert command(capsys, "jobs", "remove", "damaged", *args) == (
        0,
        f"Removed job 'damaged' (not loadable here: {reason})\n",
        "",
    )
    assert list(stored(any_store)) == ["ok"]


# Real processes, run from another directory than the one of the module


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield Store("sqlite", f"sqlite:///{tmp_path / 'jobs.sqlite'}")
        return
    url = require(POSTGRESQL_URL)
    table = unique_name("cli")
    yield Store("postgresql", url, table)
    drop_store(url, table)


def run(cwd: Path, *argv: str, path: Path | None = None) -> tuple[int, str, str]:
    """Run a greensched command in ``cwd`` (with ``path`` on ``PYTHONPATH`` too)."""
    pythonpath = [str(ROOT)] + ([str(path)] if path else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath), "TZ": "UTC"}
    env.pop("GREENSCHED_STORE", None)
    done = run_python("-m", "greensched", *argv, cwd=cwd, env=env, timeout=PATIENCE)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_commands_run_elsewhere_manage_a_job_whose_module_was_deleted(
    sql_store: Store, tmp_path: Path
) -> None:
    code_dir, elsewhere = tmp_path / "app", tmp_path / "elsewhere"
    code_dir.mkdir()
    elsewhere.mkdir()
    (code_dir / "tasks.py").write_text(textwrap.dedent("def tick():\n    pass\n"))
    args = sql_store.args()
    add = ["jobs", "add", "tick", "tasks:tick", "cron", "hour=3", "name=Ticker"]
    code, out, err = run(code_dir, *add, *args, path=code_dir)
    assert (code, err) == (0, ""), out
    (code_dir / "tasks.py").unlink()
    before = stored(sql_store)
    (when, _), *others = before.values()
    assert others == []
    reason = "No module named 'tasks'"

    code, out, err = run(elsewhere, "jobs", "list", "--json", *args)
    assert (code, err) == (0, "")
    next_run_time = datetime.fromtimestamp(cast("float", when), ZoneInfo("UTC")).isoformat()
    assert json.loads(out) == [
        {
            "id": "tick",
            "name": "Ticker",
            "func": "tasks:tick",
            "trigger": "cron[hour='3']",
            "next_run_time": next_run_time,
            "state": "not loadable",
            "error": reason,
        }
    ]
    code, out, err = run(elsewhere, "jobs", "show", "tick", "--json", *args)
    assert (code, err, json.loads(out)["error"]) == (0, "", reason)
    assert stored(sql_store) == before

    export = tmp_path / "backup.json"
    assert run(elsewhere, "export", str(export), *args) == (
        0,
        "",
        (
            f"Exported 1 job from {sql_store.url} to {export} (1 not loadable here, exported as "
            "stored: 'tick')\n"
        ),
    )
    assert run(elsewhere, "jobs", "pause", "tick", *args) == (
        0,
        f"Paused job 'tick' (not loadable here: {reason})\n",
        "",
    )
    paused = stored(sql_store)["tick"]
    assert paused[0] is None
    assert read_state(paused[1])[0]["next_run_time"] is None
    assert run(elsewhere, "jobs", "remove", "tick", *args) == (
        0,
        f"Removed job 'tick' (not loadable here: {reason})\n",
        "",
    )
    assert stored(sql_store) == {}
    assert run(elsewhere, "import", str(export), *args) == (
        0,
        "",
        (
            f"Imported 1 job from {export} into {sql_store.url} (1 not loadable here, imported as "
            "exported: 'tick')\n"
        ),
    )
    assert stored(sql_store) == before
