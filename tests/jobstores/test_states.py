"""Job states read and written back without importing what they name
(``greensched.jobstores._states``), and the store API the admin commands use for jobs that
cannot be restored (``SharedJobStore._iter_stored`` and the methods after it) on SQLite,
PostgreSQL, MariaDB and Redis."""

from __future__ import annotations

import importlib
import json
import logging
import pickle
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from greensched.job import Job
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import (
    MissingGlobal,
    StateDecoder,
    UnloadableJob,
    check_state,
    describe_failure,
    dump_state,
    encode_state,
    is_import_failure,
    load_state,
    missing_global,
    read_state,
)
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.jobstores.redis import RedisJobStore
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from greensched.triggers.interval import IntervalTrigger
from greensched.util import ref_to_obj
from tests.services import (
    MARIADB_URL,
    POSTGRESQL_URL,
    REDIS_URL,
    backends,
    drop_store,
    require,
    unique_name,
)

from .conftest import StubScheduler

MakeJob = Callable[..., Job]

WHEN = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)
MODULE = "gone_state_classes"
MODULE_SOURCE = """\
from greensched.triggers.interval import IntervalTrigger


class Thing:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return type(other) is Thing and other.x == self.x


class Every(IntervalTrigger):
    pass


class Made:
    def __init__(self, x):
        self.x = x

    def __reduce__(self):
        return (make, (self.x,))

    def __eq__(self, other):
        return type(other) is Made and other.x == self.x


def make(x):
    return Made(x)


class Keyworded:
    def __new__(cls, *, size):
        self = object.__new__(cls)
        self.size = size
        return self

    def __getnewargs_ex__(self):
        return (), {"size": self.size}

    def __eq__(self, other):
        return type(other) is Keyworded and other.size == self.size


class Items(list):
    pass


class Mapping(dict):
    pass


class Outer:
    class Inner:
        def __eq__(self, other):
            return type(other) is Outer.Inner
"""


@pytest.fixture
def gone(tmp_path: Path) -> Iterator[Callable[[bool], Any]]:
    """``gone(True)`` writes the module and imports it; ``gone(False)`` deletes it."""
    path = tmp_path / f"{MODULE}.py"

    def switch(present: bool) -> Any:
        sys.modules.pop(MODULE, None)
        if present:
            path.write_text(MODULE_SOURCE, encoding="utf-8")
            sys.path.insert(0, str(tmp_path))
            importlib.invalidate_caches()
            return importlib.import_module(MODULE)
        path.unlink()
        sys.path.remove(str(tmp_path))
        importlib.invalidate_caches()
        return None

    yield switch
    sys.modules.pop(MODULE, None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def values(module: Any, protocol: int) -> list[Any]:
    """Objects of the module that pickle with ``protocol``, each in another way."""
    made = [module.Thing(1), module.Thing, module.make, module.Made(2)]
    if protocol >= 2:  # protocols 0 and 1 rebuild a list or dict subclass by calling list/dict
        made += [module.Items([1, 2]), module.Mapping(a=1), module.Keyworded(size=3)]
    if protocol >= 4:  # older protocols name a nested class through getattr()
        made.append(module.Outer.Inner())
    return made


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_state_naming_missing_globals_is_written_back_byte_for_byte(
    gone: Callable[[bool], Any], protocol: int
) -> None:
    module = gone(True)
    trigger = module.Every(minutes=5, timezone=timezone.utc, start_date=WHEN)
    state = {"id": "j", "trigger": trigger, "args": values(module, protocol), "when": WHEN}
    data = pickle.dumps(state, protocol)
    gone(False)

    read, missing = read_state(data)
    assert isinstance(read["trigger"], MissingGlobal)
    assert read["args"][1].reference() == f"{MODULE}:Thing"
    assert f"{MODULE}:Every" in missing
    assert str(missing[f"{MODULE}:Every"]) == f"No module named '{MODULE}'"
    assert dump_state(read, protocol) == data

    # with a change, loaded where the module is
    read["when"] = None
    changed = dump_state(read, protocol)
    module = gone(True)
    loaded = pickle.loads(changed)
    assert loaded["when"] is None
    assert loaded["args"] == values(module, protocol)
    assert type(loaded["trigger"]) is module.Every
    assert loaded["trigger"].__getstate__() == trigger.__getstate__()


def test_stand_ins_show_what_they_stand_for(gone: Callable[[bool], Any]) -> None:
    module = gone(True)
    data = pickle.dumps([module.Thing(1), module.Thing])
    gone(False)
    (thing, cls), _ = read_state(data)
    assert repr(thing) == f"<{MODULE}:Thing object (cannot be imported)>"
    assert repr(cls) == f"<{MODULE}:Thing (cannot be imported)>"
    assert thing.built_state() == {"x": 1}


def test_a_state_that_is_not_a_pickle_cannot_be_read() -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"^invalid load key, 'n'\.$"):
        read_state(b"not a pickle")
    job = UnloadableJob.read("j", b"not a pickle", ValueError("x"))
    assert job.state is None
    assert job.read_error is not None
    assert describe_failure(job.read_error) == "UnpicklingError: invalid load key, 'n'."
    with pytest.raises(
        ValueError,
        match=r"^its stored state cannot be read \(UnpicklingError: invalid load key, 'n'\.\)$",
    ):
        job.writable_state()


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("greensched_missing_module:f", "No module named 'greensched_missing_module'"),
        ("greensched.util:missing", "module 'greensched.util' has no attribute 'missing'"),
    ],
)
def test_describe_failure_names_what_cannot_be_imported(ref: str, reason: str) -> None:
    with pytest.raises(LookupError) as info:
        ref_to_obj(ref)
    assert describe_failure(info.value) == reason
    assert is_import_failure(info.value)


def test_describe_failure_of_other_errors() -> None:
    assert describe_failure(ValueError("Cannot restore Job\nsecond line")) == "Cannot restore Job"
    assert describe_failure(RuntimeError("boom")) == "RuntimeError: boom"
    assert describe_failure(EOFError()) == "EOFError"
    assert not is_import_failure(KeyError("trigger"))
    with pytest.raises(LookupError) as info:
        ref_to_obj(".relative:f")
    assert not is_import_failure(info.value)


def job_state(make_job: MakeJob, **changes: Any) -> dict[str, Any]:
    state = make_job("j", WHEN, trigger=IntervalTrigger(minutes=5, timezone=timezone.utc))
    return {**state.__getstate__(), **changes}


def test_check_state_returns_the_state_as_a_job_makes_it(make_job: MakeJob) -> None:
    state = job_state(make_job)
    shuffled = dict(reversed(list({**state, "args": [1], "extra": 1}.items())))
    checked = check_state(shuffled)
    assert list(checked) == list(state)
    assert checked["args"] == (1,)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        (
            {"version": 3},
            ValueError,
            (
                "Cannot restore Job from state version 3: this release of greensched reads versions "
                "up to 2 (the state was saved by a newer release)"
            ),
        ),
        ({"version": 2}, ValueError, "a job state must have timeout, got: "),
        ({"id": 1}, TypeError, "a job state's id must be a string, got: 1"),
        (
            {"next_run_time": datetime(2024, 1, 1)},  # naive
            ValueError,
            (
                "a job state's next_run_time must be an aware datetime or None, got: "
                "datetime.datetime(2024, 1, 1, 0, 0)"
            ),
        ),
    ],
)
def test_check_state_refuses_a_state_it_cannot_write(
    make_job: MakeJob, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        check_state(job_state(make_job, **changes))
    assert str(info.value).startswith(message)


def test_check_state_names_missing_keys(make_job: MakeJob) -> None:
    state = job_state(make_job)
    del state["trigger"], state["name"]
    with pytest.raises(ValueError, match=r"^a job state must have trigger, name, got: \["):
        check_state(state)


def test_an_export_of_a_missing_trigger_class_reads_back_where_it_exists(
    gone: Callable[[bool], Any], make_job: MakeJob
) -> None:
    module = gone(True)
    trigger = module.Every(minutes=5, timezone=timezone.utc, start_date=WHEN)
    # (a next run time that is not the start date object: an export keeps values, not
    # which of them were one object)
    state = job_state(
        make_job, trigger=trigger, args=(module.Thing(1),), next_run_time=WHEN + timedelta(0)
    )
    data = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
    gone(False)
    read, _ = read_state(data)
    text = encode_state(read)
    assert json.loads(text)["trigger"]["__greensched_class__"] == f"{MODULE}:Every"
    decoded = json.loads(text, object_hook=StateDecoder())
    assert decoded["trigger"].reference() == f"{MODULE}:Every"
    assert dump_state(check_state(decoded), pickle.HIGHEST_PROTOCOL) == data

    module = gone(True)
    restored = pickle.loads(dump_state(check_state(decoded), pickle.HIGHEST_PROTOCOL))
    assert type(restored["trigger"]) is module.Every
    assert restored["args"] == (module.Thing(1),)


def test_missing_global_makes_a_class_per_call() -> None:
    first, second = missing_global("m", "C"), missing_global("m", "C")
    assert first is not second
    assert (first.__module__, first.__qualname__, first.reference()) == ("m", "C", "m:C")


# The stores


@pytest.fixture(params=backends("sqlite", "postgresql", "mariadb", "redis"))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedJobStore]:
    job_store: SharedJobStore
    if request.param == "sqlite":
        job_store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path}/jobs.sqlite")
        name = None
    else:
        servers = {"postgresql": POSTGRESQL_URL, "mariadb": MARIADB_URL, "redis": REDIS_URL}
        url = require(servers[request.param])
        name = unique_name("states")
        if request.param == "redis":
            job_store = RedisJobStore(
                url=url, jobs_key=f"{name}.jobs", run_times_key=f"{name}.run_times"
            )
        else:
            job_store = SQLAlchemyJobStore(url=url, tablename=name)
    job_store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    yield job_store
    job_store.shutdown()
    if name is not None:
        drop_store(url, name)


def add_unrestorable(store: SharedJobStore, make_job: MakeJob, job_id: str) -> bytes:
    """Store a job whose function's module does not exist, as another program would."""
    state = job_state(make_job, id=job_id, func="greensched_missing_module:gone")
    data = pickle.dumps(state)
    store._write_state(job_id, data, WHEN, new=True)
    return data


def test_stored_jobs_include_those_that_cannot_be_restored(
    store: SharedJobStore, make_job: MakeJob, caplog: pytest.LogCaptureFixture
) -> None:
    store.add_job(make_job("good", WHEN + timedelta(hours=1)))
    data = add_unrestorable(store, make_job, "broken")
    with caplog.at_level(logging.DEBUG, logger="greensched.jobstores"):
        found = list(store._iter_stored())
        looked_up = store._lookup_stored("broken")
    assert caplog.records == []  # nothing logged, nothing skipped from then on
    assert [job.id for job in found] == ["broken", "good"]
    broken = found[0]
    assert isinstance(broken, UnloadableJob)
    assert isinstance(looked_up, UnloadableJob)
    assert (broken.data, broken.reason) == (data, "No module named 'greensched_missing_module'")
    assert broken.get("next_run_time") == WHEN
    assert isinstance(found[1], Job)
    assert store._lookup_stored("nope") is None
    assert [job.id for job in store.iter_jobs()] == ["good"]  # the scheduler's view: skipped


def test_a_new_next_run_time_changes_nothing_else(
    store: SharedJobStore, make_job: MakeJob
) -> None:
    data = add_unrestorable(store, make_job, "broken")
    broken = store._lookup_stored("broken")
    assert isinstance(broken, UnloadableJob)
    paused = store._rewrite_next_run_time(broken, None)
    assert store._read_state("broken") == paused.data
    assert store.get_next_run_time() is None  # nothing scheduled: paused in the index too
    original, _ = read_state(data)
    assert read_state(paused.data)[0]["next_run_time"] is None
    resumed = store._rewrite_next_run_time(paused, WHEN)
    assert store.get_next_run_time() == WHEN
    assert read_state(resumed.data)[0]["func"] == original["func"]
    store.remove_job("broken")
    with pytest.raises(JobLookupError):
        store._rewrite_next_run_time(resumed, None)


def test_a_state_added_without_restoring_it(store: SharedJobStore, make_job: MakeJob) -> None:
    data = add_unrestorable(store, make_job, "broken")
    state, _ = read_state(data)
    with pytest.raises(ConflictingIdError):
        store._add_state(state)
    written = store._add_state({**state, "id": "copy"})
    assert store._read_state("copy") == written
    copy, _ = read_state(written)
    assert (copy["id"], copy["func"], copy["next_run_time"]) == ("copy", state["func"], WHEN)
    assert store.count_jobs() == 2


def test_an_application_class_found_once_is_looked_up_again(
    gone: Callable[[bool], Any],
) -> None:
    """Unpickling keeps the standard library's and greensched's globals once found (each job
    names several); an application's module that goes away makes its states unloadable at
    once, even right after one loaded."""
    module = gone(True)
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    data = pickle.dumps(
        {"thing": module.Thing(1), "when": when, "trigger": IntervalTrigger(seconds=5)}, 5
    )
    loaded = load_state(data)
    assert (loaded["when"], type(loaded["trigger"])) == (when, IntervalTrigger)
    gone(False)
    with pytest.raises(ModuleNotFoundError, match=rf"^No module named '{MODULE}'$"):
        load_state(data)
