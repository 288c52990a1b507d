"""Writing the history never blocks nor loses a run: batched writes for a store that is not
local, a failing write logged, counted and retried, a bounded buffer, a flush on shutdown."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from gevent.event import Event

from greensched.history import OUTCOME_CLAIM_LOST, OUTCOME_EXECUTED, OUTCOME_RUNNING, _recorder
from greensched.testing import MockClock
from tests.history.conftest import T0, Ends
from tests.history.standins import SharedMemoryJobStore
from tests.support import hub_wait_until


def make(make_scheduler: Any) -> tuple[Any, SharedMemoryJobStore, Ends]:
    store = SharedMemoryJobStore()
    scheduler = make_scheduler(jobstores={"default": store})
    return scheduler, store, Ends(scheduler)


def test_records_for_a_store_that_is_not_local_are_written_in_batches(
    make_scheduler: Any, clock: MockClock
) -> None:
    scheduler, store, ends = make(make_scheduler)
    for number in range(3):
        scheduler.add_job(lambda: 1, id=f"job{number}")
    scheduler.start()
    ends.wait(3)
    assert store.remote.read() == []  # not written yet: the runs did not wait for it

    clock.jump(_recorder.FLUSH_INTERVAL)
    hub_wait_until(lambda: store.remote.batches, what="the flusher's write")
    [batch] = store.remote.batches
    assert len(batch) == 3  # each run's running record and its end: written once, as it ended
    assert [record.outcome for record in store.remote.read()] == [OUTCOME_EXECUTED] * 3


def test_get_runs_writes_the_waiting_records_first(make_scheduler: Any) -> None:
    scheduler, store, ends = make(make_scheduler)
    scheduler.add_job(lambda: 1, id="once")
    scheduler.start()
    ends.wait(1)

    [record] = scheduler.get_runs("once")
    assert record.outcome == OUTCOME_EXECUTED
    assert store.remote.read("once") == [record]


def test_a_failing_history_write_loses_no_run_is_logged_counted_and_recovers(
    make_scheduler: Any, clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler, store, ends = make(make_scheduler)
    store.remote.failing = True
    scheduler.add_job(lambda: "ran", "interval", seconds=1, next_run_time=T0, id="tick")
    scheduler.start()
    ends.wait(1)
    recorder = scheduler.run_history
    with caplog.at_level(logging.DEBUG, logger="greensched"):
        for seconds in range(3):
            clock.jump(1)
            ends.wait(seconds + 2)  # every run runs while the history fails
    assert recorder.failed_writes >= 2
    assert recorder.dropped_records == 0
    failures = [r for r in caplog.records if "history of job store 'default'" in r.message]
    assert [r.levelno for r in failures][:2] == [logging.WARNING, logging.DEBUG]
    assert "history server down" in failures[0].message

    store.remote.failing = False
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="greensched"):
        clock.jump(1)
        ends.wait(5)
    assert "is written again" in caplog.text
    runs = scheduler.get_runs("tick")  # (the last run ended after the flusher's write)
    assert len(runs) == 5  # none lost
    assert {record.outcome for record in runs} == {OUTCOME_EXECUTED}
    assert [record.scheduled for record in runs] == [
        T0 + timedelta(seconds=s) for s in range(4, -1, -1)
    ]


def test_a_full_buffer_drops_its_oldest_records_counted(
    make_scheduler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_recorder, "BUFFER_LIMIT", 3)
    scheduler, store, ends = make(make_scheduler)
    store.remote.failing = True
    for number in range(3):
        scheduler.add_job(lambda: None, id=f"job{number}")
    scheduler.start()
    ends.wait(3)
    recorder = scheduler.run_history
    assert recorder.dropped_records == 3  # 6 records (start and end of 3 runs), 3 kept

    store.remote.failing = False
    scheduler.shutdown()
    assert len(store.remote.read()) == 2  # the latest of those 3: two runs' ends and a start


def test_the_waiting_records_are_written_on_shutdown(make_scheduler: Any) -> None:
    scheduler, store, ends = make(make_scheduler)
    scheduler.add_job(lambda: None, id="once")
    scheduler.start()
    ends.wait(1)
    assert store.remote.batches == []

    scheduler.shutdown()
    [record] = store.remote.read()
    assert record.outcome == OUTCOME_EXECUTED
    assert record.owner == "standin-owner"  # a shared store's owner token


def test_a_lost_claim_is_recorded_for_each_run_time(make_scheduler: Any, clock: MockClock) -> None:
    scheduler, store, ends = make(make_scheduler)
    scheduler.add_job(lambda: None, "interval", seconds=1, next_run_time=T0, id="tick")
    store.lose.add("tick")
    scheduler.start()
    hub_wait_until(lambda: scheduler.run_history.claims_lost, what="the claim to be lost")
    clock.jump(1)  # the next run is not lost
    ends.wait(1)

    executed, lost = scheduler.get_runs("tick")
    assert (lost.outcome, lost.scheduled, lost.started) == (OUTCOME_CLAIM_LOST, T0, None)
    assert lost.lateness == 0.0
    assert executed.outcome == OUTCOME_EXECUTED
    assert scheduler.run_history.claims_lost == 1
    [process] = scheduler.get_processes()
    assert process.owner == "standin-owner"


def test_a_running_record_is_written_while_it_runs(make_scheduler: Any, clock: MockClock) -> None:
    scheduler, store, ends = make(make_scheduler)
    started, release = Event(), Event()

    def waits() -> None:
        started.set()
        release.wait()

    scheduler.add_job(waits, id="waits")
    scheduler.start()
    try:
        started.wait()
        clock.jump(_recorder.FLUSH_INTERVAL)
        hub_wait_until(lambda: store.remote.batches, what="the flusher's write")
        [record] = store.remote.read()
        assert record.outcome == OUTCOME_RUNNING
    finally:
        release.set()
    ends.wait(1)
    scheduler.shutdown()
    [record] = store.remote.read()
    assert record.outcome == OUTCOME_EXECUTED


def test_the_metrics_count_the_failed_writes(make_scheduler: Any) -> None:
    from prometheus_client import CollectorRegistry

    from greensched.metrics import SchedulerMetrics

    scheduler, store, ends = make(make_scheduler)
    registry = CollectorRegistry()
    SchedulerMetrics(scheduler, registry)
    store.remote.failing = True
    scheduler.add_job(lambda: None, id="once")
    scheduler.start()
    ends.wait(1)
    scheduler.get_runs()  # a flush, which fails

    failures = registry.get_sample_value("greensched_history_write_failures_total")
    assert failures == scheduler.run_history.failed_writes
    assert failures is not None
    assert failures >= 1
    assert registry.get_sample_value("greensched_history_records_dropped_total") == 0


def test_a_large_batch_is_written_in_chunks_and_a_failure_keeps_only_the_unwritten(
    make_scheduler: Any, clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flusher writes at most WRITE_CHUNK records in one call (yielding between two, so
    that a big batch does not hold the hub); a chunk that fails is written again later, the
    chunks written before it are not."""
    monkeypatch.setattr(_recorder, "WRITE_CHUNK", 2)
    scheduler, store, ends = make(make_scheduler)
    for number in range(5):
        scheduler.add_job(lambda: 1, id=f"job{number}")
    scheduler.start()
    ends.wait(5)

    remote = store.remote
    write = remote.write
    calls: list[int] = []

    def second_chunk_fails(records: Any) -> None:
        calls.append(len(records))
        if len(calls) == 2:
            raise OSError("history server down")
        write(records)

    monkeypatch.setattr(remote, "write", second_chunk_fails)
    clock.jump(_recorder.FLUSH_INTERVAL)
    hub_wait_until(lambda: len(calls) == 2, what="the flusher's first chunks")
    assert calls == [2, 2]  # the first chunk written, the second failed: the rest waits
    assert scheduler.run_history.failed_writes == 1
    assert len(remote.read()) == 2

    clock.jump(_recorder.FLUSH_INTERVAL)
    hub_wait_until(lambda: len(remote.read()) == 5, what="the unwritten records")
    assert calls == [2, 2, 2, 1]  # only what was not written, in chunks
    assert {record.outcome for record in remote.read()} == {OUTCOME_EXECUTED}
