"""The command's ``--serializer`` and ``--signing-key`` options (and ``GREENSCHED_SERIALIZER``,
``GREENSCHED_SIGNING_KEY``), and ``greensched store convert`` (issue 19), in-process against
the test's SQLite file, PostgreSQL and MariaDB tables and Redis keys: the rows written, what
``jobs list`` shows, and a hostile row that must not run."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from greensched.cli import convert
from greensched.jobstores._serializers import SIGNED_MARK, make_serializer
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import dump_state, missing_global, read_state
from greensched.jobstores._url import store_from_url
from greensched.testing import MockClock
from tests.cli.conftest import Store
from tests.cli.test_admin import command
from tests.services import (
    MARIADB_URL,
    POSTGRESQL_URL,
    REDIS_URL,
    backends,
    drop_store,
    require,
    unique_name,
)

FUNC = "tests.cli.jobfuncs:record"
KEY = "the signing key"


@pytest.fixture(params=backends("sqlite", "postgresql", "mariadb", "redis"))
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The test's own SQLite file, PostgreSQL or MariaDB table, or Redis key prefix."""
    if request.param == "sqlite":
        yield Store("sqlite", f"sqlite:///{tmp_path / 'jobs.sqlite'}")
        return
    name = unique_name("cliserial")
    servers = {"postgresql": POSTGRESQL_URL, "mariadb": MARIADB_URL, "redis": REDIS_URL}
    url = require(servers[request.param])
    yield Store(request.param, url, name)
    drop_store(url, name)


def rows(store: Store) -> dict[str, bytes]:
    """The stored rows (keys) of the store, read directly."""
    opened = store_from_url(store.url, name=store.table)
    assert isinstance(opened, SharedJobStore)
    try:
        return dict(opened._read_states())
    finally:
        opened.shutdown()


def add_jobs(capsys: pytest.CaptureFixture[str], store: Store, *options: str) -> None:
    for argv in (
        ["a", FUNC, "interval", "minutes=5", 'args=["a.jsonl"]'],
        ["b", FUNC, "cron", "hour=9", 'args=["b.jsonl"]'],
    ):
        assert command(capsys, "jobs", "add", *argv, *store.args(), *options)[0] == 0


def listed(capsys: pytest.CaptureFixture[str], store: Store, *options: str) -> list[Any]:
    code, out, err = command(capsys, "jobs", "list", "--json", *store.args(), *options)
    assert (code, err) == (0, "")
    return [(job["id"], job["state"], job.get("error")) for job in json.loads(out)]


def test_json_rows_are_written_and_read_with_serializer_json(
    any_store: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    add_jobs(capsys, any_store, "--serializer", "json")
    stored = rows(any_store)
    assert sorted(stored) == ["a", "b"]
    assert all(json.loads(data)["format"] == "greensched-job" for data in stored.values())
    assert listed(capsys, any_store, "--serializer", "json") == [
        ("a", "scheduled", None),
        ("b", "scheduled", None),
    ]
    error = "the stored state is JSON: open the store with serializer='json'"
    assert listed(capsys, any_store) == [
        ("a", "not loadable", error),
        ("b", "not loadable", error),
    ]


def test_the_environment_gives_the_serializer_and_the_signing_key(
    sqlite: Store,
    berlin_clock: MockClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GREENSCHED_SERIALIZER", "json")
    monkeypatch.setenv("GREENSCHED_SIGNING_KEY", KEY)
    add_jobs(capsys, sqlite)
    for data in rows(sqlite).values():
        assert data.startswith(SIGNED_MARK)
        assert b'"format":"greensched-job"' in data
    assert [job[1] for job in listed(capsys, sqlite)] == ["scheduled", "scheduled"]
    error = "the stored state's signature does not match the store's signing_key: refused"
    [(_, state, reason), _] = listed(capsys, sqlite, "--signing-key", "another key")
    assert state == "not loadable"
    assert reason.startswith(error)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "GREENSCHED_SERIALIZER",
            "yaml",
            "greensched: error: GREENSCHED_SERIALIZER must be one of pickle, json, got: 'yaml'\n",
        ),
        (
            "GREENSCHED_SIGNING_KEY",
            "",
            (
                "greensched: error: the signing key (--signing-key or GREENSCHED_SIGNING_KEY) "
                "must not be empty\n"
            ),
        ),
    ],
    ids=["serializer", "empty-key"],
)
def test_a_bad_environment_value_is_a_usage_error(
    sqlite: Store,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert command(capsys, "jobs", "list", *sqlite.args()) == (2, "", message)


class Hostile:
    """Unpickling this makes the directory ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.path),)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            ["--signing-key", KEY],
            "the stored state is not signed, and the store has a signing_key",
        ),
        (["--serializer", "json"], "the stored state is not JSON"),
    ],
    ids=["signed", "json"],
)
def test_jobs_list_never_runs_a_hostile_row(
    any_store: Store,
    berlin_clock: MockClock,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    options: list[str],
    error: str,
) -> None:
    add_jobs(capsys, any_store, *options)
    marker = tmp_path / "ran"
    opened = store_from_url(any_store.url, name=any_store.table)
    assert isinstance(opened, SharedJobStore)
    state = {"version": 1, "id": "evil", "args": (Hostile(marker),)}
    opened._write_state("evil", pickle.dumps(state), None, new=True)
    opened.shutdown()
    found = listed(capsys, any_store, *options)
    assert not marker.exists()
    assert [job[:2] for job in found] == [
        ("a", "scheduled"),
        ("b", "scheduled"),
        ("evil", "not loadable"),
    ]
    assert found[2][2].startswith(error)
    assert rows(any_store)["evil"] == pickle.dumps(state)  # kept


def comparable(data: bytes) -> dict[str, Any]:
    """A pickled job state, its trigger as its repr (triggers compare by identity)."""
    state: dict[str, Any] = pickle.loads(data)
    return {**state, "trigger": repr(state["trigger"])}


def test_convert_rewrites_every_row_and_back(
    any_store: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    add_jobs(capsys, any_store)
    before = rows(any_store)
    code, out, err = command(
        capsys,
        "store",
        "convert",
        "--from",
        "pickle",
        "--to",
        "json",
        "--signing-key",
        KEY,
        *any_store.args(),
    )
    assert (code, out) == (0, "")
    assert err.startswith("Converted 2 jobs of ")
    assert err.endswith(" from pickle to json (signed)\n")
    assert all(data.startswith(SIGNED_MARK) for data in rows(any_store).values())
    options = ("--serializer", "json", "--signing-key", KEY)
    assert [job[1] for job in listed(capsys, any_store, *options)] == ["scheduled", "scheduled"]
    back = ("--from", "json", "--from-signing-key", KEY, "--to", "pickle")
    assert command(capsys, "store", "convert", *back, *any_store.args())[0] == 0
    assert {key: comparable(data) for key, data in rows(any_store).items()} == {
        key: comparable(data) for key, data in before.items()
    }


def test_convert_lists_the_jobs_json_cannot_express_and_writes_nothing(
    any_store: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    add_jobs(capsys, any_store)
    when = "args=[1979-05-27T07:32:00Z]"  # a TOML datetime: a datetime argument
    assert command(capsys, "jobs", "add", "c", FUNC, "date", when, *any_store.args())[0] == 0
    before = rows(any_store)
    code, out, err = command(
        capsys, "store", "convert", "--from", "pickle", "--to", "json", *any_store.args()
    )
    assert (code, out) == (1, "")
    assert err.startswith(
        "greensched: job 'c': cannot be written as json: args[0] is datetime.datetime(1979, 5, "
        "27, 7, 32, tzinfo=datetime.timezone.utc) (datetime): the json serializer holds JSON "
        "values only"
    )
    assert err.endswith(" cannot be converted to json: nothing was written\n")
    assert "1 job of " in err
    assert rows(any_store) == before
    assert (
        datetime(1979, 5, 27, 7, 32, tzinfo=timezone.utc) == pickle.loads(before["c"])["args"][0]
    )


def test_convert_writes_nothing_if_a_job_changes_meanwhile(
    any_store: Store,
    berlin_clock: MockClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_jobs(capsys, any_store)
    converted = convert.convert_rows

    def then_pause_a(*args: Any) -> Any:
        result = converted(*args)
        opened = store_from_url(any_store.url, name=any_store.table)
        assert isinstance(opened, SharedJobStore)
        opened._write_state("a", b"changed", None, new=False)
        opened.shutdown()
        return result

    monkeypatch.setattr(convert, "convert_rows", then_pause_a)
    code, out, err = command(
        capsys, "store", "convert", "--from", "pickle", "--to", "json", *any_store.args()
    )
    assert (code, out) == (1, "")
    assert err == (
        "greensched: error: job 'a' changed while the store was converted: nothing was "
        "written (stop the schedulers of the store, then try again)\n"
    )
    after = rows(any_store)
    assert after["a"] == b"changed"
    assert after["b"].startswith(b"\x80")  # still the pickle


def test_convert_keeps_the_references_of_what_cannot_be_imported_here() -> None:
    every = missing_global("greensched_gone_module", "Every")
    trigger = every.__new__(every)
    trigger.__setstate__({"version": 1, "minutes": 5})
    state = {
        "version": 1,
        "id": "gone",
        "func": "greensched_gone_module:work",
        "trigger": trigger,
        "executor": "default",
        "args": ("x",),
        "kwargs": {},
        "name": "work",
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": None,
    }
    pickled = dump_state(state, pickle.HIGHEST_PROTOCOL)
    as_pickle = make_serializer("pickle", signing_key=None, pickle_protocol=4)
    as_json = make_serializer("json", signing_key=None, pickle_protocol=4)
    [(_, _, written)], refused = convert.convert_rows([("gone", pickled)], as_pickle, as_json)
    assert refused == []
    assert json.loads(written)["job"]["trigger"] == {
        "$object": "greensched_gone_module:Every",
        "state": {"version": 1, "minutes": 5},
    }
    [(_, _, back)], _ = convert.convert_rows([("gone", written)], as_json, as_pickle)
    read, missing = read_state(back)
    assert sorted(missing) == ["greensched_gone_module:Every"]
    assert read["trigger"].reference() == "greensched_gone_module:Every"
    assert read["trigger"].built_state() == {"version": 1, "minutes": 5}
    assert read["args"] == ("x",)
