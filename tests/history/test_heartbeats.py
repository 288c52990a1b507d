"""Heartbeats: each started scheduler sends its own to each store's history, and closes the
records left running by the processes that stopped sending theirs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from greensched.history import OUTCOME_ERROR, OUTCOME_RUNNING, ProcessInfo, RunRecord
from greensched.history._recorder import HEARTBEAT_INTERVAL, dead_after
from greensched.history._records import PROCESS_DIED
from greensched.jobstores.memory import MemoryJobStore
from greensched.testing import MockClock
from tests.history.conftest import T0
from tests.history.standins import SharedMemoryJobStore
from tests.support import hub_wait_until


def left_running(owner: str, run_id: str) -> RunRecord:
    """A record another process wrote when its run started."""
    return RunRecord(
        run_id,
        "report",
        "report",
        T0 - timedelta(minutes=5),
        OUTCOME_RUNNING,
        started=T0 - timedelta(minutes=5),
        lateness=0.0,
        host="otherhost",
        pid=4242,
        owner=owner,
    )


def other_process(owner: str, heartbeat_age: float) -> ProcessInfo:
    return ProcessInfo(
        owner, "otherhost", 4242, T0 - timedelta(hours=1), T0 - timedelta(seconds=heartbeat_age)
    )


def test_a_process_is_dead_after_three_heartbeats_or_its_store_lease() -> None:
    assert dead_after(MemoryJobStore()) == 3 * HEARTBEAT_INTERVAL
    assert dead_after(SharedMemoryJobStore()) == 30.0  # its lease_time


def test_the_running_records_of_a_dead_process_are_closed_by_a_live_one(
    make_scheduler: Any, clock: MockClock
) -> None:
    store = SharedMemoryJobStore()
    history = store.remote
    history.write([left_running("dead-owner", "dead-1"), left_running("live-owner", "live-1")])
    history.heartbeat(other_process("dead-owner", 31))  # past the store's 30 s lease
    history.heartbeat(other_process("live-owner", 20))  # not yet
    scheduler = make_scheduler(jobstores={"default": store})
    scheduler.start()

    def outcome(run_id: str) -> str:
        [record] = [record for record in history.read() if record.run_id == run_id]
        return record.outcome

    hub_wait_until(lambda: outcome("dead-1") != OUTCOME_RUNNING, what="the dead run closed")
    [closed] = [record for record in history.read() if record.run_id == "dead-1"]
    assert closed.outcome == OUTCOME_ERROR
    assert closed.exc_type == PROCESS_DIED
    assert closed.ended == T0
    assert closed.exc_message is not None
    assert "dead-owner" in closed.exc_message  # the dead process
    assert "standin-owner" in closed.exc_message  # who closed it
    assert outcome("live-1") == OUTCOME_RUNNING

    clock.jump(HEARTBEAT_INTERVAL * 3)  # the live one's heartbeat is 35 s old now
    hub_wait_until(lambda: outcome("live-1") != OUTCOME_RUNNING, what="the second run closed")

    processes = scheduler.get_processes()
    assert [process.owner for process in processes] == [
        "standin-owner",
        "live-owner",
        "dead-owner",
    ]
    assert processes[0].heartbeat == clock.now()
    assert processes[0].pid == scheduler.run_history.pid


def test_a_scheduler_sends_heartbeats_to_a_memory_store_when_they_are_read(
    make_scheduler: Any, clock: MockClock
) -> None:
    scheduler = make_scheduler()
    scheduler.start()
    clock.jump(60)
    [process] = scheduler.get_processes()
    assert process.owner == scheduler.run_history.owner
    assert process.heartbeat == T0 + timedelta(seconds=60)
    assert process.started == T0
