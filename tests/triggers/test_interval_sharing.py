"""IntervalTrigger keeps less per trigger: equal intervals share one timedelta, and the length
in seconds is computed."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import pytest

from greensched.triggers import interval as interval_module
from greensched.triggers.interval import IntervalTrigger

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_equal_intervals_share_one_timedelta() -> None:
    first = IntervalTrigger(minutes=90, start_date=START)
    second = IntervalTrigger(hours=1, minutes=30, start_date=START)
    assert first.interval is second.interval
    restored = pickle.loads(pickle.dumps(first))
    assert restored.interval is first.interval


def test_interval_length_follows_the_interval() -> None:
    trigger = IntervalTrigger(seconds=1.5, start_date=START)
    assert trigger.interval_length == 1.5
    assert "interval_length" not in IntervalTrigger.__slots__


def test_sharing_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interval_module, "_shared_intervals", {})
    monkeypatch.setattr(interval_module, "_MAX_SHARED_INTERVALS", 1)
    kept = IntervalTrigger(seconds=7, start_date=START)
    first = IntervalTrigger(seconds=8, start_date=START)
    second = IntervalTrigger(seconds=8, start_date=START)
    assert IntervalTrigger(seconds=7, start_date=START).interval is kept.interval
    assert first.interval == second.interval == timedelta(seconds=8)
    assert first.interval is not second.interval
