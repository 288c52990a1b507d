"""The persistent stores' ``serializer='json'`` and ``signing_key`` (issue 19): job states as
JSON (nothing unpickled, unexpressible jobs refused at ``add_job``) and signed rows (a row
without a valid signature is logged and kept, never unpickled), on SQLite, PostgreSQL, MariaDB
and Redis, with hostile rows that must not run."""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest

from greensched.job import Job
from greensched.jobstores._jsonstate import decode_job_state, encode_job_state
from greensched.jobstores._serializers import (
    SIGNED_MARK,
    JsonSerializer,
    SignedSerializer,
    UnsignedStateError,
    make_serializer,
)
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import UnloadableJob
from greensched.jobstores.redis import RedisJobStore
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from greensched.triggers.base import BaseTrigger
from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import AndTrigger, OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
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
BERLIN = ZoneInfo("Europe/Berlin")
KEY = "a signing key"


def takes_anything(*args: Any, **kwargs: Any) -> None:
    """The function of the tests' jobs."""


class Hostile:
    """Unpickling this makes the directory ``path``: what a row written by an attacker runs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.path),)


def hostile_row(make_job: MakeJob, marker: Path, job_id: str = "evil") -> bytes:
    """A pickled job state whose argument makes ``marker`` when unpickled."""
    state = make_job(job_id, WHEN, func=takes_anything).__getstate__()
    state["args"] = (Hostile(marker),)
    return pickle.dumps(state)


def test_the_hostile_row_does_run_code_when_unpickled(make_job: MakeJob, tmp_path: Path) -> None:
    # the threat the other tests guard against: plain pickle runs it
    marker = tmp_path / "ran"
    pickle.loads(hostile_row(make_job, marker))
    assert marker.exists()


TRIGGERS = [
    pytest.param(DateTrigger(datetime(2026, 10, 25, 2, 30, fold=1), BERLIN), id="date-fold"),
    pytest.param(
        IntervalTrigger(hours=2, start_date=WHEN, end_date=WHEN + timedelta(days=9), jitter=3),
        id="interval",
    ),
    pytest.param(CronTrigger(day="last", hour="9-17/2", timezone=BERLIN), id="cron"),
    pytest.param(CronTrigger.from_crontab("0 9 * * mon-fri", timezone=BERLIN), id="crontab"),
    pytest.param(
        CalendarIntervalTrigger(months=1, hour=3, start_date="2026-01-31", timezone=BERLIN),
        id="calendarinterval",
    ),
    pytest.param(
        OrTrigger(
            [
                AndTrigger([CronTrigger(minute="*/5"), IntervalTrigger(minutes=3)]),
                DateTrigger(WHEN.astimezone(timezone(timedelta(hours=-3)))),
            ]
        ),
        id="combining",
    ),
]


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_json_state_round_trips_every_trigger(make_job: MakeJob, trigger: BaseTrigger) -> None:
    job = make_job("j", WHEN, func=takes_anything, trigger=trigger, timeout=5.0)
    data = encode_job_state(job.__getstate__())
    read, missing = decode_job_state(data)
    restored = Job.__new__(Job)
    restored.__setstate__(read)
    assert missing == {}
    restored_state, job_state = restored.__getstate__(), job.__getstate__()
    assert restored_state.pop("trigger") is not job_state.pop("trigger")
    assert restored_state == job_state
    assert repr(restored.trigger) == repr(trigger)
    now = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)
    expected = trigger.get_next_fire_time(None, now)
    assert restored.trigger.get_next_fire_time(None, now) == expected
    assert restored.next_run_time == WHEN
    assert b"pickle" not in data


def test_json_args_come_back_as_json_values_args_a_tuple(make_job: MakeJob) -> None:
    args = (1, 2.5, "x", None, True, (1, 2), [3, {"k": (4,)}])
    kwargs = {"nested": {"$looks_like_a_tag": [1]}, "t": ("a",)}
    trigger = IntervalTrigger(minutes=5)
    job = make_job("j", WHEN, func=takes_anything, trigger=trigger, args=args, kwargs=kwargs)
    read, _ = decode_job_state(encode_job_state(job.__getstate__()))
    assert read["args"] == (1, 2.5, "x", None, True, [1, 2], [3, {"k": [4]}])
    assert read["kwargs"] == {"nested": {"$looks_like_a_tag": [1]}, "t": ["a"]}


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (({1, 2},), {}, r"args\[0\] is \{1, 2\} \(set\): the json serializer holds JSON values"),
        ((b"raw",), {}, r"args\[0\] is b'raw' \(bytes\)"),
        ((), {"when": WHEN}, r"kwargs\['when'\] is datetime.datetime\(.*\) \(datetime\)"),
        (([1, float("nan")],), {}, r"args\[0\]\[1\] is nan \(float\): .* finite numbers only"),
        ((), {"d": {1: "one"}}, r"a key of kwargs\['d'\] is 1 \(int\): .* str keys only"),
    ],
    ids=["set", "bytes", "datetime-argument", "nan", "int-key"],
)
def test_json_refuses_arguments_that_are_not_json_values(
    make_job: MakeJob, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    job = make_job("j", WHEN, func=takes_anything, args=args, kwargs=kwargs)
    with pytest.raises(ValueError, match=f"^{message}"):
        encode_job_state(job.__getstate__())


def json_row(**changes: Any) -> bytes:
    """A JSON row of a job, with ``changes`` made to its ``job`` object."""
    state = {
        "version": 1,
        "id": "j",
        "func": f"{__name__}:takes_anything",
        "trigger": {
            "$object": "greensched.triggers.date:DateTrigger",
            "state": {
                "version": 1,
                "run_date": {"$datetime": "2024-06-03T10:00:00", "tz": {"$offset": 0}},
            },
        },
        "executor": "default",
        "args": [],
        "kwargs": {},
        "name": "j",
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": None,
    }
    state.update(changes)
    return json.dumps({"format": "greensched-job", "format_version": 1, "job": state}).encode()


def test_json_reads_a_row_of_its_format() -> None:
    read, _ = decode_job_state(json_row())
    assert read["trigger"].run_date == WHEN
    assert read["args"] == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pickle.dumps({"id": "j"}), r"the stored state is not JSON \(it starts with b'\\x80"),
        (b"{not json", r"the stored state is not valid JSON"),
        (b'{"format": "other"}', r"the stored state is not a JSON job state"),
        (json_row().replace(b'"format_version": 1', b'"format_version": 2'), r".*got: 2$"),
        (
            json_row(next_run_time={"__greensched_pickle__": "gAWVAAAA"}),
            r"next_run_time is a pickled value \(__greensched_pickle__\): .* never unpickles$",
        ),
        (
            json_row(next_run_time={"$pickle": "x"}),
            r"next_run_time has unknown tags \['\$pickle'\]",
        ),
        (
            json_row(trigger={"$object": "os:system", "state": "touch /tmp/x"}),
            r"trigger.\$object must name a trigger class, got: 'os:system'",
        ),
        (json_row(args={"a": 1}), r"the stored state's args must be a list and kwargs an object"),
    ],
    ids=[
        "pickle",
        "not-json",
        "other-format",
        "newer-format",
        "pickled-value",
        "unknown-tag",
        "not-a-trigger-class",
        "args-not-a-list",
    ],
)
def test_json_refuses_rows_that_are_not_its_json_never_unpickling(
    data: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        decode_job_state(data)


def test_signed_rows_are_read_only_with_a_valid_signature(make_job: MakeJob) -> None:
    signed = make_serializer("pickle", signing_key=KEY, pickle_protocol=4)
    state = make_job("j", WHEN, func=takes_anything).__getstate__()
    data = signed.dumps(state)
    assert data.startswith(SIGNED_MARK)
    assert signed.loads(data)["id"] == "j"
    tampered = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
    other_key = make_serializer("pickle", signing_key=b"another key", pickle_protocol=4)
    for refused, message in (
        (pickle.dumps(state), r"^the stored state is not signed, and the store has a signing_key"),
        (tampered, r"^the stored state's signature does not match the store's signing_key"),
    ):
        with pytest.raises(UnsignedStateError, match=message):
            signed.loads(refused)
    with pytest.raises(UnsignedStateError, match=r"signature does not match"):
        other_key.loads(data)
    with pytest.raises(ValueError, match=r"^the stored state is signed: give the store its"):
        make_serializer("pickle", signing_key=None, pickle_protocol=4).loads(data)


def test_a_signed_json_row_is_json_after_its_signature(make_job: MakeJob) -> None:
    signed = SignedSerializer(JsonSerializer(), b"k")
    data = signed.dumps(make_job("j", WHEN, func=takes_anything).__getstate__())
    assert json.loads(signed.verify(data))["format"] == "greensched-job"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"serializer": "yaml"},
            ValueError,
            r"^serializer must be 'pickle' or 'json', got: 'yaml'$",
        ),
        ({"signing_key": ""}, ValueError, r"^signing_key must not be empty$"),
        ({"signing_key": 1234}, TypeError, r"^signing_key must be a str or bytes, got a int$"),
    ],
    ids=["serializer", "empty-key", "key-type"],
)
def test_store_options_are_checked(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SQLAlchemyJobStore(url="sqlite://", **options)


# On the four stores


@pytest.fixture(params=backends("sqlite", "postgresql", "mariadb", "redis"))
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., SharedJobStore]]:
    """``make_store(**options)``: a started store of the test's own (the same rows each time)."""
    made: list[SharedJobStore] = []
    name = unique_name("serial")
    url = f"sqlite:///{tmp_path}/jobs.sqlite"
    if request.param != "sqlite":
        servers = {"postgresql": POSTGRESQL_URL, "mariadb": MARIADB_URL, "redis": REDIS_URL}
        url = require(servers[request.param])

    def make(**options: Any) -> SharedJobStore:
        job_store: SharedJobStore
        if request.param == "redis":
            job_store = RedisJobStore(
                url=url, jobs_key=f"{name}.jobs", run_times_key=f"{name}.run_times", **options
            )
        else:
            job_store = SQLAlchemyJobStore(url=url, tablename=name, **options)
        job_store.start(StubScheduler(), "default")  # type: ignore[arg-type]
        made.append(job_store)
        return job_store

    yield make
    for job_store in made:
        job_store.shutdown()
    if request.param != "sqlite":
        drop_store(url, name)


STORE_FORMATS = [
    pytest.param({"serializer": "json"}, id="json"),
    pytest.param({"serializer": "json", "signing_key": KEY}, id="signed-json"),
    pytest.param({"signing_key": KEY}, id="signed-pickle"),
]


@pytest.mark.parametrize("options", STORE_FORMATS)
def test_jobs_round_trip_through_the_store(
    make_store: Callable[..., SharedJobStore], make_job: MakeJob, options: dict[str, Any]
) -> None:
    store = make_store(**options)
    trigger = CronTrigger(hour=9, timezone=BERLIN)
    job = make_job("j", WHEN, func=takes_anything, trigger=trigger, args=("a", [1]))
    store.add_job(job)
    job.next_run_time = WHEN + timedelta(hours=1)
    store.update_job(job)
    [due] = store.get_due_jobs(WHEN + timedelta(hours=2))
    assert (due.id, due.args, due.next_run_time) == ("j", ("a", [1]), WHEN + timedelta(hours=1))
    assert repr(due.trigger) == repr(trigger)
    data = store._read_state("j")
    assert data is not None
    assert data.startswith(SIGNED_MARK) == ("signing_key" in options)


@pytest.mark.parametrize("options", STORE_FORMATS)
def test_a_hostile_row_is_logged_and_kept_never_run(
    make_store: Callable[..., SharedJobStore],
    make_job: MakeJob,
    options: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    marker = tmp_path / "ran"
    data = hostile_row(make_job, marker)
    store = make_store(**options)
    store._write_state("evil", data, WHEN, new=True)
    with caplog.at_level(logging.ERROR, logger="greensched.jobstores"):
        assert store.get_due_jobs(WHEN) == []
        assert store.lookup_job("evil") is None
        assert store.get_all_jobs() == []
    [stored] = store._iter_stored()  # what the admin commands see (jobs list)
    assert not marker.exists()
    assert store._read_state("evil") == data  # kept as it was
    assert isinstance(stored, UnloadableJob)
    assert stored.state is None
    reason = "not signed" if "signing_key" in options else "not JSON"
    assert reason in stored.reason
    assert caplog.records  # (Redis's lookup_job logs it again)
    for record in caplog.records:
        assert record.getMessage().startswith("Unable to restore job 'evil'")
        assert record.exc_info is not None
        assert reason in str(record.exc_info[1])


def test_a_json_store_refuses_a_job_it_cannot_express_writing_nothing(
    make_store: Callable[..., SharedJobStore], make_job: MakeJob
) -> None:
    store = make_store(serializer="json")
    job = make_job("sets", WHEN, func=takes_anything, kwargs={"tags": {"a"}})
    with pytest.raises(
        ValueError,
        match=r"^Job 'sets' cannot be stored in a persistent job store: kwargs\['tags'\] is "
        r"\{'a'\} \(set\): the json serializer holds JSON values only",
    ):
        store.add_job(job)
    assert store._read_state("sets") is None


def test_a_json_job_whose_trigger_class_is_gone_is_rewritten_as_json(
    make_store: Callable[..., SharedJobStore],
) -> None:
    store = make_store(serializer="json")
    gone = {"$object": "greensched_gone_module:Every", "state": {"version": 1, "n": 5}}
    data = json_row(trigger=gone)
    store._write_state("j", data, None, new=True)
    [stored] = store._iter_stored()
    assert isinstance(stored, UnloadableJob)
    assert stored.reason == "No module named 'greensched_gone_module'"
    assert list(stored.missing) == ["greensched_gone_module:Every"]
    store._rewrite_next_run_time(stored, WHEN)
    written = store._read_state("j")
    assert written is not None
    document = json.loads(written)
    assert document["job"]["trigger"] == gone
    assert document["job"]["next_run_time"] == {
        "$datetime": "2024-06-03T10:00:00",
        "tz": {"$offset": 0.0},
    }
