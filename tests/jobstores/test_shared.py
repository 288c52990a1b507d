"""What the shared (persistent) stores have in common: options, pickled states (APScheduler 3.x's
too), jobs that cannot be stored or restored, owner tokens and the notification listener."""

from __future__ import annotations

import logging
import pickle
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import gevent
import gevent.event
import pytest
from apscheduler.triggers.cron import CronTrigger as APSCronTrigger
from apscheduler.triggers.interval import IntervalTrigger as APSIntervalTrigger
from gevent import monkey

from greensched.job import Job
from greensched.jobstores._shared import SharedJobStore, load_state
from greensched.testing import MockClock
from greensched.triggers.cron import CronTrigger
from greensched.triggers.interval import IntervalTrigger

from .conftest import StubScheduler

WHEN = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)


def takes_args(*args: Any) -> None:
    pass


class PickleStore(SharedJobStore):
    """The smallest shared store: pickled states in a dict (enough to test the base class)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.rows: dict[str, bytes] = {}

    def lookup_job(self, job_id: str) -> Job | None:
        data = self.rows.get(job_id)
        return None if data is None else self._load_job(job_id, data)

    def get_due_jobs(self, now: datetime) -> list[Job]:
        return []

    def get_next_run_time(self) -> datetime | None:
        return None

    def get_all_jobs(self) -> list[Job]:
        return []

    def add_job(self, job: Job) -> None:
        self.rows[job.id] = self._dump_job(job)

    def update_job(self, job: Job) -> None:
        self.add_job(job)

    def remove_job(self, job_id: str) -> None:
        del self.rows[job_id]

    def remove_all_jobs(self) -> None:
        self.rows.clear()


@pytest.fixture
def store() -> PickleStore:
    store = PickleStore()
    store.start(StubScheduler(), "shared")  # type: ignore[arg-type]
    return store


def test_a_stored_job_comes_back_equal(store: PickleStore, make_job: Callable[..., Job]) -> None:
    job = make_job(
        "j",
        WHEN,
        trigger=IntervalTrigger(minutes=5, timezone=timezone.utc),
        func=takes_args,
        args=(1,),
    )
    store.add_job(job)
    restored = store.lookup_job("j")
    assert restored is not None
    restored_state, state = restored.__getstate__(), job.__getstate__()
    assert restored_state.pop("trigger").__getstate__() == state.pop("trigger").__getstate__()
    assert restored_state == state
    assert restored._jobstore_alias == "shared"


def test_apscheduler_classes_load_as_greensched_classes() -> None:
    state = {
        "interval": APSIntervalTrigger(minutes=5, timezone="Europe/Berlin"),
        "cron": APSCronTrigger(hour="9-17", minute="*/15", timezone="Europe/Berlin"),
    }
    loaded = load_state(pickle.dumps(state))
    assert type(loaded["interval"]) is IntervalTrigger
    assert loaded["interval"].interval == timedelta(minutes=5)
    assert type(loaded["cron"]) is CronTrigger
    assert str(loaded["cron"]) == "cron[hour='9-17', minute='*/15']"
    assert loaded["cron"].get_next_fire_time(None, WHEN) == state["cron"].get_next_fire_time(
        None, WHEN
    )


def test_a_job_without_a_function_reference_is_refused_and_nothing_written(
    store: PickleStore, make_job: Callable[..., Job]
) -> None:
    job = make_job("nested", WHEN, func=lambda: None)
    with pytest.raises(ValueError, match=r"^Job 'nested' cannot be stored in a persistent job"):
        store.add_job(job)
    assert store.rows == {}


def test_a_job_with_unpicklable_args_is_refused_naming_the_job(
    store: PickleStore, make_job: Callable[..., Job]
) -> None:
    job = make_job("locked", WHEN, func=takes_args, args=(threading.Lock(),))
    with pytest.raises(
        ValueError,
        match=r"^Job 'locked' cannot be stored in a persistent job store: its state cannot be "
        r"pickled \(TypeError: cannot pickle '_thread.lock' object",
    ):
        store.add_job(job)
    assert store.rows == {}


def test_a_job_that_cannot_be_restored_is_logged_and_remembered(
    store: PickleStore, make_job: Callable[..., Job], caplog: pytest.LogCaptureFixture
) -> None:
    state = make_job("gone", WHEN).__getstate__()
    state["func"] = "module_that_does_not_exist:func"
    store.rows["gone"] = pickle.dumps(state)
    with caplog.at_level(logging.ERROR, "greensched.jobstores.shared"):
        assert store.lookup_job("gone") is None
    assert "Unable to restore job 'gone'" in caplog.text
    assert caplog.records[0].levelno == logging.ERROR
    assert store._unrestorable == {"gone"}
    store._forget_unrestorable("gone")
    assert store._unrestorable == set()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("lease_time", 0, "lease_time must be a positive finite number of seconds, got: 0"),
        ("poll_interval", "1", "poll_interval must be a positive finite number of seconds, got"),
        ("claim_limit", 0, "claim_limit must be a positive integer, got: 0"),
        ("notify", 1, "notify must be a bool, got: 1"),
        ("pickle_protocol", 99, "pickle_protocol must be an integer from 0 to"),
    ],
    ids=["lease_time", "poll_interval", "claim_limit", "notify", "pickle_protocol"],
)
def test_bad_options_are_refused(option: str, value: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match="^" + message):
        PickleStore(**{option: value})


def test_each_started_store_has_its_own_owner_token() -> None:
    first, second = PickleStore(), PickleStore()
    assert first.owner == ""  # made at start, so that forked workers don't share it
    for store in (first, second):
        store.start(StubScheduler(), "shared")  # type: ignore[arg-type]
    assert first.owner
    assert first.owner != second.owner


class ChannelStore(PickleStore):
    """A store with a notification channel that delivers the senders given to it."""

    def __init__(self, senders: list[str]) -> None:
        super().__init__()
        self.senders = senders
        self.woken = 0

    def _has_channel(self) -> bool:
        return True

    def _listen(self, notified: Callable[[str], None], subscribed: Callable[[], None]) -> None:
        subscribed()
        for sender in self.senders:
            notified(sender)
        gevent.sleep(60)  # the channel stays open


class WakeupCounter(StubScheduler):
    def __init__(self) -> None:
        self.wakeups = 0

    def wakeup(self) -> None:
        self.wakeups += 1


def test_the_listener_runs_only_on_patched_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    store = ChannelStore(["other"])
    monkeypatch.setattr(monkey, "is_module_patched", lambda name: False)
    store.start(WakeupCounter(), "shared")  # type: ignore[arg-type]
    assert store._listener is None


def test_notifications_from_others_wake_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monkey, "is_module_patched", lambda name: name == "socket")
    scheduler = WakeupCounter()
    store = ChannelStore(["other-process", "self"])
    store.start(scheduler, "shared")  # type: ignore[arg-type]
    store.senders[1] = store.owner  # its own notifications don't wake it
    gevent.idle()
    # once subscribed (for what changed before), then for the other process's notification
    assert scheduler.wakeups == 2
    assert store._listening.is_set()
    store.shutdown()
    assert store._listener is None
    assert not store._listening.is_set()


class FlakyChannelStore(ChannelStore):
    """A channel that fails once after subscribing, then stays open."""

    def __init__(self) -> None:
        super().__init__([])
        self.poll_interval = 0.01
        self.failed = False

    def _listen(self, notified: Callable[[str], None], subscribed: Callable[[], None]) -> None:
        subscribed()
        if not self.failed:
            self.failed = True
            raise ConnectionError("server closed the connection")
        gevent.sleep(60)


def test_a_lost_channel_is_logged_and_resubscribed_with_a_look_at_the_store(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(monkey, "is_module_patched", lambda name: name == "socket")
    scheduler = WakeupCounter()
    store = FlakyChannelStore()
    store.start(scheduler, "shared")  # type: ignore[arg-type]
    with gevent.Timeout(5):
        while scheduler.wakeups < 2:
            gevent.sleep(0.01)
    assert store._listening.is_set()
    assert (
        "Notification channel down (server closed the connection); polling every 0.01 s until "
        "it is back"
    ) in caplog.messages
    store.shutdown()


class OutageStore(ChannelStore):
    """A channel whose server is unreachable for ``outage`` attempts to connect, each failing
    with a message of several lines (as psycopg's do) one mock second after the last; then it
    stays open."""

    def __init__(self, clock: MockClock, outage: int) -> None:
        super().__init__([])
        self.poll_interval = 0.001
        self.clock = clock
        self.outage = outage
        self.attempts = 0
        self.back = gevent.event.Event()

    def _listen(self, notified: Callable[[str], None], subscribed: Callable[[], None]) -> None:
        self.attempts += 1
        if self.attempts <= self.outage:
            self.clock.jump(1)
            raise ConnectionError(
                'connection failed: connection to server at "127.0.0.1", port 1 failed: '
                "Connection refused\n\tIs the server running on that host and accepting "
                "TCP/IP connections?"
            )
        subscribed()
        self.back.set()
        gevent.sleep(60)


def test_a_channel_outage_is_logged_once_when_down_and_once_when_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Five failed attempts to reconnect: one warning when the channel goes down, on one line,
    one when it is back, with how long it was down (by the scheduler's clock); the attempts in
    between only at DEBUG."""
    monkeypatch.setattr(monkey, "is_module_patched", lambda name: name == "socket")
    scheduler = WakeupCounter()
    scheduler.clock = MockClock()  # type: ignore[attr-defined]
    store = OutageStore(scheduler.clock, outage=5)  # type: ignore[attr-defined]
    with caplog.at_level(logging.DEBUG, logger="greensched"):
        store.start(scheduler, "shared")  # type: ignore[arg-type]
        assert store.back.wait(5)
    store.shutdown()
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == [
        (
            'Notification channel down (connection failed: connection to server at "127.0.0.1", '
            "port 1 failed: Connection refused Is the server running on that host and "
            "accepting TCP/IP connections?); polling every 0.001 s until it is back"
        ),
        "Notification channel back after 4.0 s",  # from the first failure to the fifth
    ]
    debug = [record for record in caplog.records if record.levelname == "DEBUG"]
    assert len(debug) == 4
    assert all("\n" not in record.getMessage() for record in caplog.records)
