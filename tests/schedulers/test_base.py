"""BaseScheduler: states, executors and stores, listeners and the job API, on a mock clock."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest

from greensched.events import (
    EVENT_ALL_JOBS_REMOVED,
    EVENT_EXECUTOR_ADDED,
    EVENT_EXECUTOR_REMOVED,
    EVENT_JOB_ADDED,
    EVENT_JOB_MODIFIED,
    EVENT_JOB_REMOVED,
    EVENT_JOBSTORE_ADDED,
    EVENT_JOBSTORE_REMOVED,
    EVENT_SCHEDULER_PAUSED,
    EVENT_SCHEDULER_RESUMED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
    SchedulerEvent,
)
from greensched.executors.debug import DebugExecutor
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.jobstores.memory import MemoryJobStore
from greensched.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from greensched.schedulers.base import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED
from greensched.testing import MockClock
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger

from .conftest import RecordingExecutor, RecordingScheduler


def job_func(a: Any = None, b: Any = None) -> Any:
    return a


def codes(events: list[SchedulerEvent]) -> list[int]:
    return [event.code for event in events]


class TestStates:
    def test_start_pause_resume_shutdown(
        self,
        scheduler: RecordingScheduler,
        events: list[SchedulerEvent],
        executor: RecordingExecutor,
    ) -> None:
        assert not scheduler.running
        scheduler.start()
        assert scheduler.state == STATE_RUNNING
        assert scheduler.running
        scheduler.pause()
        assert scheduler.state == STATE_PAUSED
        assert scheduler.running
        assert scheduler._process_jobs() is None
        scheduler.resume()
        assert scheduler.state == STATE_RUNNING
        scheduler.shutdown()
        assert scheduler.state == STATE_STOPPED
        assert executor.shut_down == [True]
        assert codes(events) == [
            EVENT_JOBSTORE_ADDED,  # the default store, added at start
            EVENT_SCHEDULER_STARTED,
            EVENT_SCHEDULER_PAUSED,
            EVENT_SCHEDULER_RESUMED,
            EVENT_SCHEDULER_SHUTDOWN,
        ]

    def test_start_creates_default_executor_and_store(self) -> None:
        scheduler = RecordingScheduler(timezone="UTC")
        scheduler.start()
        assert type(scheduler._executors["default"]).__name__ == "GeventExecutor"
        assert isinstance(scheduler._jobstores["default"], MemoryJobStore)
        scheduler.shutdown()

    def test_start_paused(self, scheduler: RecordingScheduler) -> None:
        scheduler.start(paused=True)
        assert scheduler.state == STATE_PAUSED
        assert scheduler.wakeups == 0

    def test_start_twice_is_refused(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        with pytest.raises(SchedulerAlreadyRunningError, match=r"^Scheduler is already running$"):
            scheduler.start()

    @pytest.mark.parametrize("method", ["shutdown", "pause", "resume"])
    def test_needs_a_running_scheduler(self, scheduler: RecordingScheduler, method: str) -> None:
        with pytest.raises(SchedulerNotRunningError, match=r"^Scheduler is not running$"):
            getattr(scheduler, method)()

    def test_can_restart_after_shutdown(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        scheduler.shutdown()
        scheduler.start()
        assert scheduler.running


class TestExecutorsAndStores:
    def test_add_and_remove_executor(
        self, scheduler: RecordingScheduler, events: list[SchedulerEvent]
    ) -> None:
        extra = RecordingExecutor()
        scheduler.add_executor(extra, "extra")
        scheduler.start()
        assert extra._scheduler is scheduler  # started with the scheduler
        scheduler.remove_executor("extra")
        assert extra.shut_down == [True]
        assert EVENT_EXECUTOR_ADDED in codes(events)
        assert EVENT_EXECUTOR_REMOVED in codes(events)

    def test_executor_added_while_running_is_started(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        extra = RecordingExecutor()
        scheduler.add_executor(extra, "extra")
        assert extra._scheduler is scheduler

    def test_executor_by_plugin_name(self, scheduler: RecordingScheduler) -> None:
        scheduler.add_executor("gevent", "green", pool_size=3)
        assert scheduler._executors["green"].__class__.__name__ == "GeventExecutor"

    def test_duplicate_executor_alias(self, scheduler: RecordingScheduler) -> None:
        with pytest.raises(
            ValueError, match=r'^This scheduler already has an executor by the alias of "default"$'
        ):
            scheduler.add_executor(DebugExecutor())

    def test_executor_of_wrong_type(self, scheduler: RecordingScheduler) -> None:
        with pytest.raises(
            TypeError, match=r"^Expected an executor instance or a string, got int instead$"
        ):
            scheduler.add_executor(5, "five")  # type: ignore[arg-type]

    def test_unknown_executor_plugin(self, scheduler: RecordingScheduler) -> None:
        with pytest.raises(LookupError, match=r'^No executor by the name "turbo" was found'):
            scheduler.add_executor("turbo", "t")
        assert "t" not in scheduler._executors

    def test_remove_unknown_executor(self, scheduler: RecordingScheduler) -> None:
        with pytest.raises(KeyError, match=r"No such executor: 'nope' \(known: default\)"):
            scheduler.remove_executor("nope")

    def test_add_and_remove_jobstore(
        self, scheduler: RecordingScheduler, events: list[SchedulerEvent]
    ) -> None:
        scheduler.start()
        wakeups = scheduler.wakeups
        scheduler.add_jobstore("memory", "other")
        assert scheduler.wakeups == wakeups + 1
        scheduler.remove_jobstore("other")
        assert EVENT_JOBSTORE_ADDED in codes(events)
        assert EVENT_JOBSTORE_REMOVED in codes(events)
        with pytest.raises(KeyError, match=r"No such job store: 'other'"):
            scheduler.remove_jobstore("other")

    def test_duplicate_jobstore_alias(self, scheduler: RecordingScheduler) -> None:
        scheduler.add_jobstore(MemoryJobStore(), "x")
        with pytest.raises(
            ValueError, match=r'^This scheduler already has a job store by the alias of "x"$'
        ):
            scheduler.add_jobstore(MemoryJobStore(), "x")

    def test_jobstore_of_wrong_type(self, scheduler: RecordingScheduler) -> None:
        with pytest.raises(
            TypeError, match=r"^Expected a job store instance or a string, got list instead$"
        ):
            scheduler.add_jobstore([], "x")  # type: ignore[arg-type]


class TestListeners:
    def test_mask_filters_events(self, scheduler: RecordingScheduler) -> None:
        seen: list[int] = []
        scheduler.add_listener(lambda event: seen.append(event.code), EVENT_JOB_ADDED)
        scheduler.start()
        scheduler.add_job(job_func, "interval", seconds=5, id="j")
        scheduler.remove_job("j")
        assert seen == [EVENT_JOB_ADDED]

    def test_removed_listener_gets_nothing(self, scheduler: RecordingScheduler) -> None:
        seen: list[SchedulerEvent] = []
        scheduler.add_listener(seen.append)
        scheduler.remove_listener(seen.append)
        scheduler.start()
        assert seen == []

    def test_raising_listener_is_logged_and_others_still_run(
        self, scheduler: RecordingScheduler, caplog: pytest.LogCaptureFixture
    ) -> None:
        def broken(event: SchedulerEvent) -> None:
            raise RuntimeError("listener bug")

        seen: list[SchedulerEvent] = []
        scheduler.add_listener(broken)
        scheduler.add_listener(seen.append)
        with caplog.at_level(logging.ERROR):
            scheduler.start()
        assert [event.code for event in seen] == [EVENT_JOBSTORE_ADDED, EVENT_SCHEDULER_STARTED]
        assert "Error notifying listener" in caplog.text
        assert "listener bug" in caplog.text

    def test_bad_listener_arguments(self, scheduler: RecordingScheduler) -> None:
        with pytest.raises(TypeError, match=r"^callback must be callable, got: 3$"):
            scheduler.add_listener(3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^mask must be an int, got: 'all'$"):
            scheduler.add_listener(print, "all")  # type: ignore[arg-type]


class TestPendingJobs:
    def test_jobs_added_before_start_are_pending(
        self, scheduler: RecordingScheduler, mock_clock: MockClock
    ) -> None:
        job = scheduler.add_job(job_func, "interval", minutes=10, id="p")
        assert job.pending
        assert not hasattr(job, "next_run_time")
        assert "pending" in str(job)
        assert scheduler.get_jobs() == [job]
        assert scheduler.get_job("p") is job
        scheduler.start()
        assert not job.pending
        assert job.next_run_time == mock_clock.now() + timedelta(minutes=10)
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.misfire_grace_time == 1
        assert scheduler.get_jobs() == [job]

    def test_pending_job_can_be_modified_and_removed(self, scheduler: RecordingScheduler) -> None:
        scheduler.add_job(job_func, "interval", minutes=10, id="p")
        scheduler.modify_job("p", max_instances=3)
        assert scheduler.get_job("p").max_instances == 3
        scheduler.remove_job("p")
        assert scheduler.get_jobs() == []

    def test_duplicate_pending_id(self, scheduler: RecordingScheduler) -> None:
        first = scheduler.add_job(job_func, "interval", minutes=10, id="p")
        with pytest.raises(ConflictingIdError, match=r"Job identifier \(p\) conflicts"):
            scheduler.add_job(job_func, "interval", minutes=5, id="p")
        assert scheduler.get_jobs() == [first]
        second = scheduler.add_job(job_func, "interval", minutes=5, id="p", replace_existing=True)
        assert scheduler.get_jobs() == [second]
        assert second is not first

    def test_pending_jobs_keep_the_order_they_were_added_in(
        self, scheduler: RecordingScheduler
    ) -> None:
        for job_id in ("c", "a", "b"):
            scheduler.add_job(job_func, "interval", minutes=10, id=job_id)
        replaced = scheduler.add_job(job_func, "interval", hours=1, id="a", replace_existing=True)
        assert [job.id for job in scheduler.get_jobs()] == ["c", "a", "b"]
        assert scheduler.get_jobs()[1] is replaced

    def test_one_pending_id_in_two_stores(self, scheduler: RecordingScheduler) -> None:
        first = scheduler.add_job(job_func, "interval", minutes=10, id="p")
        other = scheduler.add_job(job_func, "interval", minutes=5, id="p", jobstore="other")
        assert scheduler.get_job("p") is first  # no store given: the first one added
        assert scheduler.get_job("p", "other") is other
        scheduler.remove_job("p", "other")
        assert scheduler.get_jobs() == [first]
        scheduler.add_job(job_func, "interval", minutes=5, id="p", jobstore="other")
        scheduler.remove_job("p")
        assert [(job.id, job is first) for job in scheduler.get_jobs()] == [("p", False)]
        assert scheduler.get_jobs("other")[0].id == "p"

    def test_unknown_store_of_pending_job_fails_start_cleanly(
        self, scheduler: RecordingScheduler, executor: RecordingExecutor
    ) -> None:
        scheduler.add_job(job_func, "interval", minutes=10, jobstore="nowhere")
        with pytest.raises(KeyError, match=r"No such job store: 'nowhere'"):
            scheduler.start()
        assert scheduler.state == STATE_STOPPED
        assert executor._scheduler is None  # nothing was started
        assert len(scheduler.get_jobs()) == 1

    def test_unknown_executor_of_pending_job_fails_start(
        self, scheduler: RecordingScheduler
    ) -> None:
        scheduler.add_job(job_func, "interval", minutes=10, executor="nowhere")
        with pytest.raises(ValueError, match=r"No such executor: 'nowhere' \(known: default\)"):
            scheduler.start()
        assert scheduler.state == STATE_STOPPED

    def test_remove_all_pending_jobs_of_one_store(self, scheduler: RecordingScheduler) -> None:
        scheduler.add_job(job_func, "interval", minutes=10, id="a")
        scheduler.add_job(job_func, "interval", minutes=10, id="b", jobstore="other")
        scheduler.remove_all_jobs("other")
        assert [job.id for job in scheduler.get_jobs()] == ["a"]

    def test_print_pending_jobs(self, scheduler: RecordingScheduler) -> None:
        out = io.StringIO()
        scheduler.print_jobs(out=out)
        assert out.getvalue() == "Pending jobs:\n    No pending jobs\n"
        scheduler.add_job(job_func, "interval", minutes=10, id="a", name="tick")
        out = io.StringIO()
        scheduler.print_jobs(out=out)
        assert out.getvalue() == "Pending jobs:\n    tick (trigger: interval[0:10:00], pending)\n"


class TestJobApi:
    def test_add_job_when_running(
        self, scheduler: RecordingScheduler, events: list[SchedulerEvent], mock_clock: MockClock
    ) -> None:
        scheduler.start()
        wakeups = scheduler.wakeups
        job = scheduler.add_job(
            job_func, "interval", seconds=30, args=[1], kwargs={"b": 2}, id="j"
        )
        assert not job.pending
        assert job.next_run_time == mock_clock.now() + timedelta(seconds=30)
        assert scheduler.wakeups == wakeups + 1
        assert events[-1].code == EVENT_JOB_ADDED
        assert events[-1].job_id == "j"
        assert events[-1].jobstore == "default"

    def test_add_job_by_reference(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        job = scheduler.add_job(f"{__name__}:job_func", "interval", seconds=30)
        assert job.func is job_func
        assert job.name == "job_func"

    def test_default_trigger_is_date_now(
        self, scheduler: RecordingScheduler, mock_clock: MockClock
    ) -> None:
        scheduler.start()
        job = scheduler.add_job(job_func)
        assert isinstance(job.trigger, DateTrigger)
        assert job.next_run_time == mock_clock.now()

    def test_trigger_gets_scheduler_timezone(
        self, scheduler: RecordingScheduler, timezone: Any
    ) -> None:
        scheduler.start()
        job = scheduler.add_job(job_func, "interval", hours=1)
        assert job.trigger.timezone == timezone

    def test_next_run_time_none_adds_paused_job(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        job = scheduler.add_job(job_func, "interval", hours=1, next_run_time=None)
        assert job.next_run_time is None
        assert "paused" in str(job)

    @pytest.mark.parametrize(
        ("kwargs", "exc_type", "message"),
        [
            pytest.param({"func": 42}, TypeError, r"^func must be a callable", id="func"),
            pytest.param(
                {"func": "nomodule_xyz:f"}, LookupError, r"could not import module", id="ref"
            ),
            pytest.param(
                {"args": [1, 2, 3]},
                ValueError,
                r"^The list of positional arguments is longer than the target callable can handle",
                id="args",
            ),
            pytest.param(
                {"kwargs": {"c": 1}},
                ValueError,
                r"^The target callable does not accept the following keyword arguments: c$",
                id="kwargs",
            ),
            pytest.param(
                {"max_instances": 0},
                ValueError,
                r"^max_instances must be a positive integer, got: 0$",
                id="max_instances",
            ),
            pytest.param(
                {"misfire_grace_time": "soon"},
                TypeError,
                r"^misfire_grace_time must be a positive integer or None, got: 'soon'$",
                id="misfire",
            ),
            pytest.param(
                {"trigger": "sometimes"},
                LookupError,
                r'^No trigger by the name "sometimes"',
                id="trigger",
            ),
            pytest.param(
                {"trigger": 5},
                TypeError,
                r"^Expected a trigger instance or string, got int",
                id="trigger-type",
            ),
            pytest.param(
                {"jobstore": "nowhere"}, KeyError, r"No such job store: 'nowhere'", id="store"
            ),
            pytest.param(
                {"executor": "nowhere"}, ValueError, r"No such executor: 'nowhere'", id="executor"
            ),
            pytest.param(
                {"next_run_time": "tomorrow"},
                ValueError,
                r"next_run_time must be an ISO 8601",
                id="nrt",
            ),
            pytest.param(
                {"id": "taken"}, ConflictingIdError, r"conflicts with an existing job", id="id"
            ),
        ],
    )
    def test_bad_add_job_changes_nothing(
        self,
        scheduler: RecordingScheduler,
        events: list[SchedulerEvent],
        kwargs: dict[str, Any],
        exc_type: type[Exception],
        message: str,
    ) -> None:
        scheduler.start()
        existing = scheduler.add_job(job_func, "interval", hours=1, id="taken")
        before = len(events)
        arguments: dict[str, Any] = {"func": job_func, "trigger": "interval", "seconds": 5}
        arguments.update(kwargs)
        if isinstance(arguments["trigger"], int) or arguments["trigger"] == "sometimes":
            arguments.pop("seconds")
        with pytest.raises(exc_type, match=message):
            scheduler.add_job(**arguments)
        assert scheduler.get_jobs() == [existing]
        assert len(events) == before

    def test_replace_existing_job(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        scheduler.add_job(job_func, "interval", hours=1, id="j")
        job = scheduler.add_job(job_func, "interval", hours=2, id="j", replace_existing=True)
        assert scheduler.get_jobs() == [job]
        assert scheduler.get_job("j").trigger.interval == timedelta(hours=2)

    def test_scheduled_job_decorator(self, scheduler: RecordingScheduler) -> None:
        @scheduler.scheduled_job("interval", minutes=3, id="deco")
        def decorated() -> None:
            pass

        assert callable(decorated)
        scheduler.scheduled_job("interval", minutes=4, id="deco")(decorated)  # replaces
        scheduler.start()
        assert scheduler.get_job("deco").trigger.interval == timedelta(minutes=4)

    def test_modify_job(self, scheduler: RecordingScheduler, events: list[SchedulerEvent]) -> None:
        scheduler.start()
        scheduler.add_job(job_func, "interval", hours=1, id="j")
        job = scheduler.modify_job("j", name="renamed", max_instances=4)
        assert (job.name, job.max_instances) == ("renamed", 4)
        assert events[-1].code == EVENT_JOB_MODIFIED
        assert events[-1].job_id == "j"

    def test_bad_modify_changes_nothing(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        job = scheduler.add_job(job_func, "interval", hours=1, id="j", name="before")
        with pytest.raises(
            ValueError, match=r"^max_instances must be a positive integer, got: -1$"
        ):
            scheduler.modify_job("j", name="after", max_instances=-1)
        assert job.name == "before"
        assert job.max_instances == 1

    def test_modify_next_run_time_reorders_store(
        self, scheduler: RecordingScheduler, mock_clock: MockClock
    ) -> None:
        scheduler.start()
        scheduler.add_job(job_func, "interval", hours=1, id="late")
        scheduler.add_job(job_func, "interval", hours=2, id="later")
        scheduler.modify_job("later", next_run_time=mock_clock.now() + timedelta(minutes=1))
        assert [job.id for job in scheduler.get_jobs()] == ["later", "late"]

    def test_modify_unknown_job(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        with pytest.raises(JobLookupError, match=r"No job by the id of ghost was found"):
            scheduler.modify_job("ghost", name="x")

    def test_job_id_cannot_change(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        scheduler.add_job(job_func, "interval", hours=1, id="j")
        with pytest.raises(ValueError, match=r"^The job ID may not be changed"):
            scheduler.modify_job("j", id="k")

    def test_reschedule_job(self, scheduler: RecordingScheduler, mock_clock: MockClock) -> None:
        scheduler.start()
        scheduler.add_job(job_func, "interval", hours=1, id="j")
        job = scheduler.reschedule_job("j", trigger="interval", minutes=5)
        assert job.next_run_time == mock_clock.now() + timedelta(minutes=5)

    def test_pause_and_resume_job(
        self, scheduler: RecordingScheduler, mock_clock: MockClock
    ) -> None:
        scheduler.start()
        job = scheduler.add_job(job_func, "interval", hours=1, id="j")
        scheduler.add_job(job_func, "interval", hours=2, id="k")
        scheduler.pause_job("j")
        assert job.next_run_time is None
        assert [j.id for j in scheduler.get_jobs()] == ["k", "j"]  # paused last
        mock_clock.jump(60)
        scheduler.resume_job("j")
        assert job.next_run_time == mock_clock.now() + timedelta(hours=1) - timedelta(seconds=60)
        assert [j.id for j in scheduler.get_jobs()] == ["j", "k"]

    def test_resume_finished_job_removes_it(
        self, scheduler: RecordingScheduler, mock_clock: MockClock, events: list[SchedulerEvent]
    ) -> None:
        scheduler.start()
        scheduler.add_job(
            job_func, "date", run_date=mock_clock.now() + timedelta(seconds=1), id="d"
        )
        scheduler.pause_job("d")
        assert scheduler.resume_job("d") is not None  # the date is still ahead
        scheduler.pause_job("d")
        # DateTrigger fires once: once its run date passed with the job paused... it still returns
        # the run date; a trigger that is finished returns None
        scheduler.reschedule_job("d", trigger=_FinishedTrigger())
        scheduler.pause_job("d")
        assert scheduler.resume_job("d") is None
        assert scheduler.get_job("d") is None
        assert events[-1].code == EVENT_JOB_REMOVED

    def test_remove_job(self, scheduler: RecordingScheduler, events: list[SchedulerEvent]) -> None:
        scheduler.start()
        scheduler.add_job(job_func, "interval", hours=1, id="j")
        scheduler.remove_job("j")
        assert scheduler.get_job("j") is None
        assert events[-1].code == EVENT_JOB_REMOVED
        assert events[-1].jobstore == "default"
        with pytest.raises(JobLookupError):
            scheduler.remove_job("j")

    def test_job_methods_go_through_the_scheduler(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        job = scheduler.add_job(job_func, "interval", hours=1, id="j")
        job.modify(name="via job")
        assert scheduler.get_job("j").name == "via job"
        job.pause()
        assert scheduler.get_job("j").next_run_time is None
        job.resume()
        assert scheduler.get_job("j").next_run_time is not None
        job.reschedule("interval", minutes=1)
        assert scheduler.get_job("j").trigger.interval == timedelta(minutes=1)
        job.remove()
        assert scheduler.get_job("j") is None

    def test_remove_all_jobs(
        self, scheduler: RecordingScheduler, events: list[SchedulerEvent]
    ) -> None:
        scheduler.start()
        scheduler.add_jobstore(MemoryJobStore(), "other")
        scheduler.add_job(job_func, "interval", hours=1, id="a")
        scheduler.add_job(job_func, "interval", hours=1, id="b", jobstore="other")
        scheduler.remove_all_jobs("other")
        assert [job.id for job in scheduler.get_jobs()] == ["a"]
        scheduler.remove_all_jobs()
        assert scheduler.get_jobs() == []
        assert events[-1].code == EVENT_ALL_JOBS_REMOVED

    def test_get_jobs_of_one_store(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        scheduler.add_jobstore(MemoryJobStore(), "other")
        scheduler.add_job(job_func, "interval", hours=1, id="a")
        scheduler.add_job(job_func, "interval", hours=1, id="b", jobstore="other")
        assert [job.id for job in scheduler.get_jobs("other")] == ["b"]
        assert scheduler.get_job("a", "other") is None

    def test_print_jobs(self, scheduler: RecordingScheduler) -> None:
        scheduler.start()
        scheduler.add_jobstore(MemoryJobStore(), "other")
        scheduler.add_job(job_func, "interval", hours=1, id="a", name="hourly")
        out = io.StringIO()
        scheduler.print_jobs(out=out)
        assert out.getvalue() == (
            "Jobstore default:\n"
            "    hourly (trigger: interval[1:00:00], next run at: 2024-06-03 13:00:00 CEST)\n"
            "Jobstore other:\n"
            "    No scheduled jobs\n"
        )


class _FinishedTrigger(DateTrigger):
    """A trigger whose schedule is over."""

    def __init__(self) -> None:
        super().__init__(datetime(2000, 1, 1), timezone="UTC")

    def get_next_fire_time(self, previous_fire_time: Any, now: datetime) -> None:
        return None


def test_interval_trigger_instance_is_used_as_is(scheduler: RecordingScheduler) -> None:
    trigger = IntervalTrigger(minutes=7, timezone="UTC")
    scheduler.start()
    assert scheduler.add_job(job_func, trigger).trigger is trigger


def test_failed_start_keeps_the_pending_jobs(scheduler: RecordingScheduler) -> None:
    class RefusingStore(MemoryJobStore):
        def add_job(self, job: Any) -> None:
            if job.id == "second":
                raise OSError("disk full")
            super().add_job(job)

    scheduler.configure(
        clock=scheduler._clock,
        executors={"default": RecordingExecutor()},
        jobstores={"default": RefusingStore()},
    )
    scheduler.add_job(job_func, "interval", minutes=1, id="first")
    scheduler.add_job(job_func, "interval", minutes=1, id="second")
    with pytest.raises(OSError, match=r"^disk full$"):
        scheduler.start()
    assert scheduler.state == STATE_STOPPED
    assert [job.id for job in scheduler.get_jobs()] == ["first", "second"]
    assert all(job.pending for job in scheduler.get_jobs())
    scheduler.remove_job("second")
    scheduler.start()  # the memory store was emptied by its shutdown: no conflict
    assert [job.id for job in scheduler.get_jobs()] == ["first"]


@pytest.mark.parametrize(
    ("trigger", "options", "first_run"),
    [
        ("cron", {"hour": 14}, datetime(2024, 6, 3, 14, 0)),
        ("cron", {"day_of_week": "tue", "hour": 8}, datetime(2024, 6, 4, 8, 0)),
        ("calendarinterval", {"months": 1, "hour": 9}, datetime(2024, 7, 3, 9, 0)),
        ("interval", {"minutes": 30}, datetime(2024, 6, 3, 12, 30)),
        ("date", {"run_date": "2024-06-05 07:00"}, datetime(2024, 6, 5, 7, 0)),
    ],
)
def test_trigger_aliases_take_the_scheduler_zone_and_clock(
    scheduler: RecordingScheduler,
    timezone: Any,
    trigger: str,
    options: dict[str, Any],
    first_run: datetime,
) -> None:
    """The mock clock stands at 2024-06-03 12:00 Europe/Berlin (a Monday)."""
    scheduler.start()
    job = scheduler.add_job(job_func, trigger, **options)
    assert job.next_run_time == first_run.replace(tzinfo=timezone)


def test_combining_trigger_by_alias(scheduler: RecordingScheduler, timezone: Any) -> None:
    """Combining triggers take no timezone: the scheduler does not pass its own to them."""
    scheduler.start()
    triggers = [
        IntervalTrigger(hours=2, start_date=datetime(2024, 6, 3, 13, 0, tzinfo=timezone)),
        IntervalTrigger(hours=3, start_date=datetime(2024, 6, 3, 12, 30, tzinfo=timezone)),
    ]
    job = scheduler.add_job(job_func, "or", triggers=triggers)
    assert job.next_run_time == datetime(2024, 6, 3, 12, 30, tzinfo=timezone)


def test_job_an_executor_cannot_run_is_refused_before_it_is_stored(
    scheduler: RecordingScheduler,
) -> None:
    from greensched.executors.pool import ProcessPoolExecutor

    scheduler.add_executor(ProcessPoolExecutor(max_workers=1), "processes")
    scheduler.start()
    with pytest.raises(ValueError, match=r'^Job "lambda" cannot be sent to a worker process'):
        scheduler.add_job(lambda: None, "interval", minutes=1, id="lambda", executor="processes")
    assert scheduler.get_jobs() == []
    job = scheduler.add_job(lambda: None, "interval", minutes=1, id="inline")
    with pytest.raises(ValueError, match=r'^Job "inline" cannot be sent to a worker process'):
        scheduler.modify_job("inline", executor="processes")
    assert scheduler.get_job("inline").executor == "default"
    assert job.executor == "default"
    scheduler.shutdown()


class TestAddJobRejectsBadInput:
    """Input APScheduler 3.x takes silently (issue 19): refused at add_job, nothing added."""

    @pytest.mark.parametrize("value", ["no", 1, None], ids=["str", "int", "none"])
    def test_replace_existing_must_be_a_bool(
        self, scheduler: RecordingScheduler, value: Any
    ) -> None:
        with pytest.raises(TypeError, match=rf"^replace_existing must be a bool, got: {value!r}$"):
            scheduler.add_job(job_func, "interval", hours=1, replace_existing=value)
        assert scheduler.get_jobs() == []

    def test_trigger_arguments_beside_a_trigger_instance_are_refused(
        self, scheduler: RecordingScheduler
    ) -> None:
        trigger = IntervalTrigger(seconds=5, timezone="UTC")
        with pytest.raises(
            TypeError,
            match=r"^trigger arguments must not be given beside a trigger instance \(they would "
            r"be ignored\), got: jitter, minutes$",
        ):
            scheduler.add_job(job_func, trigger, minutes=3, jitter=1)
        assert scheduler.get_jobs() == []
        scheduler.add_job(job_func, "interval", id="j", hours=1)
        with pytest.raises(TypeError, match=r"^trigger arguments must not .*, got: minutes$"):
            scheduler.reschedule_job("j", trigger=trigger, minutes=3)
        assert str(scheduler.get_job("j").trigger) == "interval[1:00:00]"

    @pytest.mark.parametrize(
        ("trigger_args", "reason"),
        [
            pytest.param(
                {
                    "trigger": "interval",
                    "seconds": 5,
                    "start_date": "2031-01-01",
                    "end_date": "2030-01-01",
                },
                "its end_date 2030-01-01 00:00:00+00:00 is before its start_date "
                "2031-01-01 00:00:00+00:00",
                id="end-before-start",
            ),
            pytest.param(
                {"trigger": "cron", "hour": 3, "end_date": "2020-01-01"},
                "its end_date 2020-01-01 00:00:00+00:00 has passed",
                id="end-passed",
            ),
            pytest.param(
                {"trigger": "cron", "month": 2, "day": 31},
                "no time from now on matches it",
                id="february-31",
            ),
        ],
    )
    @pytest.mark.parametrize("started", [False, True], ids=["pending", "started"])
    def test_a_trigger_that_never_fires_adds_the_job_paused_with_a_warning(
        self,
        scheduler: RecordingScheduler,
        caplog: pytest.LogCaptureFixture,
        trigger_args: dict[str, Any],
        reason: str,
        started: bool,
    ) -> None:
        """As APScheduler 3.x adds it (Flask-APScheduler's own tests rely on that), but said."""
        if started:
            scheduler.start()
        with caplog.at_level(logging.WARNING):
            job = scheduler.add_job(job_func, id="never", timezone="UTC", **trigger_args)
            if not started:
                scheduler.start(paused=True)  # the pending job is added to its store
        assert scheduler.get_job("never").next_run_time is None
        (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert message == (
            f"Job 'never' (\"job_func\") will never run: its trigger {job.trigger} has no fire "
            f"time ({reason}); it is added paused"
        )

    def test_a_date_in_the_past_still_runs_once_as_in_apscheduler(
        self, scheduler: RecordingScheduler
    ) -> None:
        job = scheduler.add_job(job_func, "date", run_date="2020-01-01")
        scheduler.start()
        assert job.next_run_time == datetime.fromisoformat("2020-01-01T00:00:00+01:00")

    def test_a_trigger_without_fire_times_is_taken_with_an_explicit_next_run_time(
        self, scheduler: RecordingScheduler
    ) -> None:
        scheduler.start()
        job = scheduler.add_job(job_func, _FinishedTrigger(), next_run_time=None)
        assert job.next_run_time is None
