"""``greensched celery-beat`` as a command: what it refuses, before touching any store; SIGHUP
reads the app's schedule again."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.support.processes import greensched
from tests.support.queue_workers import WorkerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["-A", "tests.queues.beat_apps:custom_app"],
            "beat_schedule entry 'desk': its schedule <business_hours> has no greensched trigger",
        ),
        (["-A", "tests.queues.beat_apps:ping"], "must name a Celery app"),
    ],
)
def test_an_unusable_app_is_a_usage_error_naming_it(argv: list[str], message: str) -> None:
    result = greensched("celery-beat", *argv, "--store", "memory:")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("greensched: error: ")


def test_the_app_is_required() -> None:
    result = greensched("celery-beat", "--store", "memory:")
    assert result.returncode == 2
    assert "-A/--app" in result.stderr


def test_sighup_reads_the_schedule_again(tmp_path: Path) -> None:
    beat = WorkerProcess(
        ["greensched", "celery-beat", "-A", "tests.queues.celery_app:app", "--store", "memory:"],
        tmp_path / "beat.log",
        "Running the jobs of",
        {
            "GREENSCHED_TEST_BEAT": json.dumps({"daily": 86400}),
            "GREENSCHED_TEST_RECORDS": "unused",
        },
    ).wait_ready()
    try:
        beat.send(signal.SIGHUP)
        wait_until(lambda: "0 added, 0 updated, 1 unchanged" in beat.log(), what="the reload")
    finally:
        beat.stop()
    assert beat.process.returncode == 0, beat.log()
    assert "1 job: 1 added, 0 updated, 0 unchanged" in beat.log()
