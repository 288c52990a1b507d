"""A scheduler and an executor that record what the processing loop does, on a mock clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from greensched.events import EVENT_ALL, SchedulerEvent
from greensched.executors.base import BaseExecutor
from greensched.job import Job
from greensched.schedulers.base import BaseScheduler
from greensched.testing import MockClock


class RecordingScheduler(BaseScheduler):
    """A scheduler whose loop the test drives by calling ``_process_jobs()``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.wakeups = 0
        super().__init__(*args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        self.wakeups += 1


class RecordingExecutor(BaseExecutor):
    """Keeps submitted runs without running them; ``finish(job_id)`` ends one."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[tuple[str, list[datetime]]] = []
        self.shut_down: list[bool] = []

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        self.submitted.append((job.id, list(run_times)))

    def finish(self, job_id: str) -> None:
        self._run_job_success(job_id, [])

    def shutdown(self, wait: bool = True) -> None:
        self.shut_down.append(wait)


@pytest.fixture
def executor() -> RecordingExecutor:
    return RecordingExecutor()


@pytest.fixture
def events() -> list[SchedulerEvent]:
    return []


@pytest.fixture
def scheduler(
    mock_clock: MockClock, timezone: Any, executor: RecordingExecutor, events: list[SchedulerEvent]
) -> RecordingScheduler:
    scheduler = RecordingScheduler(
        clock=mock_clock, timezone=timezone, executors={"default": executor}
    )
    scheduler.add_listener(events.append, EVENT_ALL)
    return scheduler
