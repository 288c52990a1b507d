"""What the command shows: relative and local times, tables, progress bars, JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from greensched.cli.output import (
    RUN_FIELDS,
    JsonFormatter,
    Progress,
    describe_next_run,
    format_time,
    job_state,
    relative_time,
    render_table,
)
from greensched.testing import MockClock

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 6, 3, 12, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "now"),
        (0.4, "now"),
        (-0.4, "now"),
        (1, "in 1 s"),
        (59.4, "in 59 s"),
        (59.6, "in 1 min"),
        (300, "in 5 min"),
        (359, "in 5 min"),
        (3600, "in 1 h"),
        (3900, "in 1 h 5 min"),
        (86399, "in 23 h 59 min"),
        (86400, "in 1 day"),
        (86400 * 2 + 3600 * 4, "in 2 days 4 h"),
        (-3, "3 s ago"),
        (-300, "5 min ago"),
        (-90000, "1 day 1 h ago"),
    ],
)
def test_relative_time(seconds: float, text: str) -> None:
    assert relative_time(NOW + timedelta(seconds=seconds), NOW) == text


def test_relative_time_compares_instants_across_zones() -> None:
    when = datetime(2024, 6, 3, 10, 5, tzinfo=timezone.utc)  # 12:05 in Berlin
    assert relative_time(when, NOW) == "in 5 min"


def test_relative_time_counts_real_seconds_over_a_dst_change() -> None:
    before = datetime(2024, 3, 31, 1, 30, tzinfo=BERLIN)  # CET; 02:00 becomes 03:00
    after = datetime(2024, 3, 31, 3, 30, tzinfo=BERLIN)  # CEST
    assert relative_time(after, before) == "in 1 h"


def test_format_time_shows_the_wall_time_of_the_zone() -> None:
    when = datetime(2024, 6, 3, 10, 5, tzinfo=timezone.utc)
    assert format_time(when, BERLIN) == "2024-06-03 12:05:00 CEST"
    assert format_time(when, BERLIN, weekday=True) == "Mon 2024-06-03 12:05:00 CEST"
    assert format_time(when, ZoneInfo("America/New_York")) == "2024-06-03 06:05:00 EDT"


def test_describe_next_run() -> None:
    when = datetime(2024, 6, 3, 10, 5, tzinfo=timezone.utc)
    assert describe_next_run(when, NOW, BERLIN) == "2024-06-03 12:05:00 CEST (in 5 min)"
    assert describe_next_run(None, NOW, BERLIN) == "-"


def test_job_state() -> None:
    assert job_state(None, NOW) == "paused"
    assert job_state(NOW, NOW) == "due"
    assert job_state(NOW - timedelta(seconds=1), NOW) == "due"
    assert job_state(NOW + timedelta(seconds=1), NOW) == "scheduled"


def test_render_table_aligns_columns() -> None:
    table = render_table(("ID", "STATE"), [("heartbeat", "paused"), ("a", "scheduled")])
    assert table == "ID         STATE\nheartbeat  paused\na          scheduled\n"


def test_render_table_with_no_rows_is_the_header() -> None:
    assert render_table(("ID", "NAME"), []) == "ID  NAME\n"


def test_progress_bar_draws_at_most_ten_times_a_second() -> None:
    stream = io.StringIO()
    clock = MockClock()
    progress = Progress("importing", 4, stream=stream, enabled=True, clock=clock)
    progress.advance()
    progress.advance()  # too soon: not drawn
    clock.jump(0.1)
    progress.advance()
    progress.advance(1)
    progress.finish()
    bar = "#" * 7 + "-" * 23
    assert stream.getvalue() == (
        f"\rimporting [{bar}] 1/4 jobs"
        f"\rimporting [{'#' * 22 + '-' * 8}] 3/4 jobs"
        f"\rimporting [{'#' * 30}] 4/4 jobs\n"
    )


def test_progress_without_a_total_counts() -> None:
    stream = io.StringIO()
    progress = Progress("exporting", None, stream=stream, enabled=True, clock=MockClock())
    progress.advance(3)
    progress.finish()
    assert stream.getvalue() == "\rexporting 3 jobs\rexporting 3 jobs\n"


def test_disabled_progress_draws_nothing_but_counts() -> None:
    stream = io.StringIO()
    progress = Progress("importing", 2, stream=stream, enabled=False, clock=MockClock())
    progress.advance(2)
    progress.finish()
    assert (stream.getvalue(), progress.done) == ("", 2)


def make_record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "greensched.run", logging.INFO, __file__, 1, "Job %r ran", ("a",), None
    )
    record.created = datetime(2024, 6, 3, 10, 0, 1, 250000, tzinfo=timezone.utc).timestamp()
    record.__dict__.update(extra)
    return record


def test_json_log_line_has_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(make_record())
    assert json.loads(line) == {
        "time": "2024-06-03T10:00:01.250+00:00",
        "level": "INFO",
        "logger": "greensched.run",
        "message": "Job 'a' ran",
    }


def test_json_log_line_of_a_run_carries_its_fields() -> None:
    fields = {"event": "run", "job_id": "a", "lateness": 0.002, "duration": None}
    document = json.loads(JsonFormatter().format(make_record(**{RUN_FIELDS: fields})))
    assert document["job_id"] == "a"
    assert (document["lateness"], document["duration"], document["event"]) == (0.002, None, "run")


def test_json_log_line_carries_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = make_record(exc_info=sys.exc_info())
    document = json.loads(JsonFormatter().format(record))
    assert document["exception"].startswith("Traceback (most recent call last):")
    assert document["exception"].endswith("ValueError: boom")
    assert "\n" not in JsonFormatter().format(record)
