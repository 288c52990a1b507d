"""Tests for greensched.triggers.combining."""

from __future__ import annotations

import io
import json
import logging
import pickle
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest

from greensched._serialization import trigger_class
from greensched.schedulers.blocking import BlockingScheduler
from greensched.testing import MockClock
from greensched.triggers import combining
from greensched.triggers.base import BaseTrigger
from greensched.triggers.combining import (
    MAX_ITERATIONS,
    AndTrigger,
    BaseCombiningTrigger,
    OrTrigger,
)
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
S = datetime(2024, 6, 3, 12, 0, tzinfo=BERLIN)  # a Monday
DATA = Path(__file__).parent / "data"

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

COMBINING = [pytest.param(AndTrigger, id="and"), pytest.param(OrTrigger, id="or")]


def at(hours: float) -> datetime:
    """``S`` plus a number of hours."""
    return S + timedelta(hours=hours)


def every(hours: float, start: datetime = S, **options: Any) -> IntervalTrigger:
    return IntervalTrigger(hours=hours, start_date=start, **options)


def job_func() -> None:
    pass


# --- small triggers of our own ----------------------------------------------------------------


class StepTrigger(BaseTrigger):
    """Counts from its own previous fire time and ignores ``now`` (answers ``start`` on a first
    call), like a custom trigger written for APScheduler 3.x may do."""

    __slots__ = ("start", "step")

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.start = start
        self.step = step

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        return self.start if previous_fire_time is None else previous_fire_time + self.step

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "start": self.start, "step": self.step}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.start = state["start"]
        self.step = state["step"]

    def __str__(self) -> str:
        return f"step[{self.step}]"

    def __repr__(self) -> str:
        return f"<StepTrigger (start={self.start.isoformat()}, step={self.step})>"


class StuckTrigger(BaseTrigger):
    """A broken trigger: answers the same time whatever it is asked."""

    __slots__ = ("when",)

    def __init__(self, when: datetime) -> None:
        self.when = when

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        return self.when


class CountingTrigger(BaseTrigger):
    """Wraps another trigger and counts the calls to it."""

    __slots__ = ("calls", "wrapped")

    def __init__(self, wrapped: BaseTrigger) -> None:
        self.wrapped = wrapped
        self.calls = 0

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        self.calls += 1
        return self.wrapped.get_next_fire_time(previous_fire_time, now)


def fire_times(trigger: BaseTrigger, now: datetime, count: int) -> list[datetime | None]:
    """The first ``count`` fire times, asked as the scheduler asks after running each one on
    time (``now`` is the previous fire time); stops after a ``None``."""
    result: list[datetime | None] = []
    previous: datetime | None = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now if previous is None else previous)
        result.append(previous)
        if previous is None:
            break
    return result


@pytest.fixture
def fixed_jitter(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Make every jitter delay ``fraction * jitter`` (0: none, 1: the largest)."""

    def set_fraction(fraction: float) -> None:
        monkeypatch.setattr(random, "uniform", lambda low, high: low + (high - low) * fraction)

    return set_fraction


def exists(dt: datetime) -> bool:
    """Whether the aware ``dt`` is a wall time that happens in its zone."""
    assert dt.tzinfo is not None
    round_trip = dt.astimezone(UTC).astimezone(dt.tzinfo)
    return (round_trip.replace(tzinfo=None), round_trip.fold) == (
        dt.replace(tzinfo=None),
        dt.fold,
    )


# --- OrTrigger ----------------------------------------------------------------------------------

OR_SEQUENCES = [
    pytest.param(
        lambda: OrTrigger([every(2), every(3)]),
        at(-1),
        [at(0), at(2), at(3), at(4), at(6), at(8), at(9), at(10), at(12)],
        id="intervals-2h-3h-union",
    ),
    pytest.param(
        lambda: OrTrigger([every(3), every(2)]),
        at(-1),
        [at(0), at(2), at(3), at(4), at(6), at(8), at(9)],
        id="order-does-not-matter",
    ),
    pytest.param(
        lambda: OrTrigger([every(1), every(0.5)]),
        at(-1),
        [at(0), at(0.5), at(1), at(1.5), at(2), at(2.5)],
        id="ties-fire-once",
    ),
    pytest.param(
        lambda: OrTrigger([every(1), every(1)]),
        at(0.5),
        [at(1), at(2), at(3)],
        id="identical-triggers-fire-once",
    ),
    pytest.param(
        lambda: OrTrigger([DateTrigger(at(1.5)), every(1)]),
        at(-1),
        [at(0), at(1), at(1.5), at(2), at(3)],
        id="date-between-interval-fires",
    ),
    pytest.param(
        lambda: OrTrigger([DateTrigger(at(2)), every(1)]),
        at(-1),
        [at(0), at(1), at(2), at(3)],
        id="date-on-an-interval-fire",
    ),
    pytest.param(
        lambda: OrTrigger([DateTrigger(at(0.5)), DateTrigger(at(1))]),
        at(0),
        [at(0.5), at(1), None],
        id="all-finished",
    ),
    pytest.param(
        lambda: OrTrigger([every(1, end_date=at(2)), DateTrigger(at(3.5))]),
        at(-1),
        [at(0), at(1), at(2), at(3.5), None],
        id="interval-with-end-date",
    ),
    pytest.param(
        # a trigger that answers its start date when asked with (None, now) is then asked with
        # the previous fire time, as APScheduler 3.x asks it: it counts from the other
        # triggers' fire times too (3 -> 5, where its own schedule has 4)
        lambda: OrTrigger([StepTrigger(S, 2 * HOUR), every(3)]),
        at(-1),
        [at(0), at(2), at(3), at(5), at(6), at(8), at(9)],
        id="trigger-that-ignores-now-counts-as-in-apscheduler",
    ),
    pytest.param(
        lambda: OrTrigger([StuckTrigger(at(1)), every(2)]),
        at(-1),
        [at(0), at(1), at(2), at(4)],
        id="stuck-trigger-fires-once",
    ),
    pytest.param(
        lambda: OrTrigger([OrTrigger([every(2), every(3)]), AndTrigger([every(1), every(5)])]),
        at(-1),
        [at(0), at(2), at(3), at(4), at(5), at(6), at(8), at(9), at(10)],
        id="nested",
    ),
]


@pytest.mark.parametrize(("make", "now", "expected"), OR_SEQUENCES)
def test_or_fire_times(
    make: Callable[[], OrTrigger], now: datetime, expected: list[datetime | None]
) -> None:
    assert fire_times(make(), now, len(expected)) == expected


def test_or_catch_up_gives_the_next_fire_time_after_the_previous_one() -> None:
    # the scheduler enumerates missed fire times: the answer is after previous_fire_time, even
    # if it is before now
    trigger = OrTrigger([every(2), every(3)])
    assert trigger.get_next_fire_time(at(3), at(10)) == at(4)


def test_or_first_call_returns_a_past_date_as_apscheduler_does() -> None:
    # on a first call the triggers are asked with (None, now) and nothing is filtered: the
    # scheduler decides whether a past run time is a misfire
    trigger = OrTrigger([DateTrigger(at(-5)), every(1)])
    assert trigger.get_next_fire_time(None, at(0.5)) == at(-5)
    assert trigger.get_next_fire_time(at(-5), at(0.5)) == at(0)


def test_or_tie_between_zones_returns_the_first_triggers_time_once() -> None:
    in_utc = S.astimezone(UTC)
    trigger = OrTrigger([DateTrigger(in_utc), DateTrigger(S)])
    first = trigger.get_next_fire_time(None, at(-1))
    assert first == S
    assert first is not None
    assert first.tzinfo is UTC
    assert trigger.get_next_fire_time(first, first) is None


def test_or_compares_instants_not_wall_times() -> None:
    # 2024-10-27 in Berlin: 02:30 CEST (fold=0) is an hour before 02:15 CET (fold=1)
    cest = datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)
    cet = datetime(2024, 10, 27, 2, 15, fold=1, tzinfo=BERLIN)
    trigger = OrTrigger([DateTrigger(cet), DateTrigger(cest)])
    assert fire_times(trigger, datetime(2024, 10, 27, tzinfo=BERLIN), 3) == [cest, cet, None]


# --- AndTrigger ---------------------------------------------------------------------------------

AND_SEQUENCES = [
    pytest.param(
        lambda: AndTrigger([every(2), every(3)]),
        at(-1),
        [at(0), at(6), at(12), at(18)],
        id="intervals-2h-3h-meet-every-6h",
    ),
    pytest.param(
        lambda: AndTrigger([every(2), every(3)]),
        at(1),
        [at(6), at(12), at(18)],
        id="first-call-after-start",
    ),
    pytest.param(
        lambda: AndTrigger([every(3), every(2), every(4)]),
        at(-1),
        [at(0), at(12), at(24)],
        id="three-intervals",
    ),
    pytest.param(
        lambda: AndTrigger([every(2), every(3, start=at(1))]),
        at(-1),
        [at(4), at(10), at(16)],
        id="intervals-with-offset-meet",
    ),
    pytest.param(
        lambda: AndTrigger([every(1), DateTrigger(at(5))]),
        at(0.5),
        [at(5), None],
        id="date-on-the-grid",
    ),
    pytest.param(
        lambda: AndTrigger([DateTrigger(at(5)), every(1)]),
        at(0.5),
        [at(5), None],
        id="date-first",
    ),
    pytest.param(
        lambda: AndTrigger([every(1), DateTrigger(at(1.5))]),
        at(0.5),
        [None],
        id="date-off-the-grid-never-agrees",
    ),
    pytest.param(
        lambda: AndTrigger([every(1), DateTrigger(at(-5))]),
        at(0.5),
        [None],
        id="past-date",
    ),
    pytest.param(
        lambda: AndTrigger([every(2, end_date=at(8)), every(3)]),
        at(-1),
        [at(0), at(6), None],
        id="interval-with-end-date",
    ),
    pytest.param(
        lambda: AndTrigger([StepTrigger(S, 2 * HOUR), every(3)]),
        at(-1),
        [at(0), at(6), at(12)],
        id="trigger-that-ignores-now",
    ),
    pytest.param(
        lambda: AndTrigger([every(3), StepTrigger(at(-10), 2 * HOUR)]),
        at(1),
        [at(6), at(12)],
        id="trigger-that-ignores-now-steps-to-the-candidate",
    ),
    pytest.param(
        lambda: AndTrigger([OrTrigger([every(2), every(3)]), every(4)]),
        at(-1),
        [at(0), at(4), at(8), at(12), at(16)],
        id="nested",
    ),
    pytest.param(
        lambda: AndTrigger([every(1)]),
        at(0.5),
        [at(1), at(2)],
        id="single-trigger",
    ),
]


@pytest.mark.parametrize(("make", "now", "expected"), AND_SEQUENCES)
def test_and_fire_times(
    make: Callable[[], AndTrigger], now: datetime, expected: list[datetime | None]
) -> None:
    assert fire_times(make(), now, len(expected)) == expected


def test_and_catch_up_gives_the_next_agreed_time_after_the_previous_one() -> None:
    trigger = AndTrigger([every(2), every(3)])
    assert trigger.get_next_fire_time(at(0), at(20)) == at(6)


def test_and_result_is_in_the_zone_of_the_first_trigger() -> None:
    trigger = AndTrigger([every(1, timezone=UTC), every(2)])
    result = trigger.get_next_fire_time(None, at(-1))
    assert result == S
    assert result is not None
    assert result.tzinfo is UTC


def test_and_bound_is_a_module_constant() -> None:
    assert MAX_ITERATIONS == 10_000


def test_and_that_never_agrees_gives_none_and_a_warning_within_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # every 2 hours, and every 2 hours from an hour later: APScheduler 3.11 searches forever
    # after the first fire, and on a first call stops on 2024-10-27 02:00, taking 02:00 CEST
    # and 02:00 CET (an hour apart) for the same time
    even = CountingTrigger(every(2))
    odd = CountingTrigger(every(2, start=at(1)))
    trigger = AndTrigger([even, odd])
    with caplog.at_level(logging.WARNING, logger="greensched.triggers.combining"):
        assert trigger.get_next_fire_time(None, S) is None
    assert even.calls + odd.calls <= 2 * (MAX_ITERATIONS + 1)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith(f"{trigger!r}: its triggers found no common fire time in 10000 ")
    assert message.endswith("the schedule is treated as finished")


def test_and_that_never_agrees_after_a_fire_gives_none(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(combining, "MAX_ITERATIONS", 20)
    trigger = AndTrigger([StepTrigger(S, 2 * HOUR), every(2, start=at(1))])
    with caplog.at_level(logging.WARNING, logger="greensched.triggers.combining"):
        assert trigger.get_next_fire_time(at(0), at(0)) is None
    assert "no common fire time in 20 rounds" in caplog.text


def test_and_search_is_cut_by_the_bound(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # every 59 and every 61 minutes meet after 59 * 61 minutes, 59 rounds from the start
    def make() -> AndTrigger:
        return AndTrigger(
            [IntervalTrigger(minutes=59, start_date=S), IntervalTrigger(minutes=61, start_date=S)]
        )

    assert make().get_next_fire_time(at(0), at(0)) == S + 59 * 61 * MINUTE
    monkeypatch.setattr(combining, "MAX_ITERATIONS", 10)
    with caplog.at_level(logging.WARNING, logger="greensched.triggers.combining"):
        assert make().get_next_fire_time(at(0), at(0)) is None
    assert len(caplog.records) == 1


def test_and_with_a_stuck_trigger_ends() -> None:
    trigger = AndTrigger([StuckTrigger(at(2)), every(1)])
    assert fire_times(trigger, at(-1), 3) == [at(2), None]


def test_and_compares_instants_not_wall_times() -> None:
    # 02:00 CEST and 02:00 CET are an hour apart; APScheduler 3.11 takes them for one time
    cest = datetime(2024, 10, 27, 2, 0, tzinfo=BERLIN)
    cet = datetime(2024, 10, 27, 2, 0, fold=1, tzinfo=BERLIN)
    assert AndTrigger([DateTrigger(cest), DateTrigger(cet)]).get_next_fire_time(None, S) is None
    assert AndTrigger([DateTrigger(cet), every(1)]).get_next_fire_time(None, S) == cet


# --- the answers are strictly after the previous fire time ------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: OrTrigger([every(2), every(3), DateTrigger(at(5.5))]), id="or"),
        pytest.param(lambda: AndTrigger([every(2), every(3)]), id="and"),
        pytest.param(lambda: OrTrigger([StuckTrigger(at(1)), every(1)]), id="or-stuck"),
    ],
)
@pytest.mark.parametrize("previous", [at(0), at(1), at(2), at(5.5), at(6), at(6.25)])
def test_next_fire_time_is_after_the_previous_one(
    make: Callable[[], BaseCombiningTrigger], previous: datetime
) -> None:
    # the scheduler loops while fire times are due: an answer not after the previous fire time
    # would make it loop forever
    result = make().get_next_fire_time(previous, previous)
    assert result is not None
    assert result > previous


# --- jitter -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", COMBINING)
@pytest.mark.parametrize("fraction", [0, 0.5, 1], ids=["none", "half", "full"])
def test_jitter_delays_each_fire_time_without_drift(
    cls: type[BaseCombiningTrigger], fraction: float, fixed_jitter: Callable[[float], None]
) -> None:
    fixed_jitter(fraction)
    trigger = cls([every(1), every(2)], jitter=600)
    delay = timedelta(seconds=600 * fraction)
    step = 1 if cls is OrTrigger else 2
    expected = [at(step * k) + delay for k in range(6)]
    assert fire_times(trigger, at(-1), 6) == expected


@pytest.mark.parametrize("cls", COMBINING)
def test_jitter_stays_in_bounds(
    cls: type[BaseCombiningTrigger], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", random.Random(2024).uniform)
    trigger = cls([every(1)], jitter=90)
    previous: datetime | None = None
    for k in range(50):
        previous = trigger.get_next_fire_time(previous, at(-1) if previous is None else previous)
        assert previous is not None
        assert at(k) <= previous <= at(k) + timedelta(seconds=90)
        assert exists(previous)


def test_jitter_passes_a_finished_schedule_through() -> None:
    assert OrTrigger([DateTrigger(S)], jitter=5).get_next_fire_time(S, S) is None
    assert AndTrigger([DateTrigger(S)], jitter=5).get_next_fire_time(S, S) is None


def test_jitter_is_applied_in_utc(fixed_jitter: Callable[[float], None]) -> None:
    # half an hour of jitter from 01:45 CET on the spring-forward night lands on 03:15 CEST
    fixed_jitter(1)
    start = datetime(2024, 3, 31, 1, 45, tzinfo=BERLIN)
    trigger = OrTrigger([DateTrigger(start)], jitter=1800)
    result = trigger.get_next_fire_time(None, start)
    assert result == datetime(2024, 3, 31, 3, 15, tzinfo=BERLIN)
    assert result is not None
    assert exists(result)


# --- daylight saving time (Europe/Berlin) -----------------------------------------------------


def test_and_across_fall_back_fires_every_real_hour() -> None:
    start = datetime(2024, 10, 26, 23, 0, tzinfo=BERLIN)
    trigger = AndTrigger([every(1, start=start), every(0.5, start=start)])
    result = fire_times(trigger, start - HOUR, 6)
    assert all(t is not None and exists(t) for t in result)
    instants = [t.astimezone(UTC) for t in result if t is not None]
    assert [b - a for a, b in zip(instants, instants[1:])] == [HOUR] * 5
    assert [(t.hour, t.fold) for t in result if t is not None] == [
        (23, 0),
        (0, 0),
        (1, 0),
        (2, 0),
        (2, 1),
        (3, 0),
    ]


def test_or_across_spring_forward_gives_times_that_exist() -> None:
    start = datetime(2024, 3, 31, 0, 0, tzinfo=BERLIN)
    gap_date = DateTrigger(datetime(2024, 3, 31, 2, 30), timezone=BERLIN)  # moved to 03:00
    trigger = OrTrigger([every(1, start=start), gap_date, every(24, start=start)])
    result = fire_times(trigger, start - HOUR, 5)
    assert all(t is not None and exists(t) for t in result)
    assert [t.strftime("%H:%M %Z") for t in result if t is not None] == [
        "00:00 CET",
        "01:00 CET",
        "03:00 CEST",
        "04:00 CEST",
        "05:00 CEST",
    ]


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", COMBINING)
@pytest.mark.parametrize(
    "triggers",
    [None, "interval", DateTrigger(S), {DateTrigger(S)}, iter([DateTrigger(S)])],
    ids=["none", "str", "single-trigger", "set", "iterator"],
)
def test_triggers_that_are_not_a_sequence_are_rejected(
    cls: type[BaseCombiningTrigger], triggers: Any
) -> None:
    message = f"triggers must be a non-empty sequence of triggers, got: {triggers!r}"
    with pytest.raises(TypeError, match=rf"^{re.escape(message)}$"):
        cls(triggers)


@pytest.mark.parametrize("cls", COMBINING)
@pytest.mark.parametrize(
    ("triggers", "shown"), [([], r"\[\]"), ((), r"\(\)")], ids=["list", "tuple"]
)
def test_no_triggers_is_rejected(
    cls: type[BaseCombiningTrigger], triggers: Any, shown: str
) -> None:
    with pytest.raises(
        ValueError, match=rf"^triggers must be a non-empty sequence of triggers, got: {shown}$"
    ):
        cls(triggers)


@pytest.mark.parametrize("cls", COMBINING)
def test_an_item_that_is_not_a_trigger_is_rejected(cls: type[BaseCombiningTrigger]) -> None:
    with pytest.raises(
        TypeError, match=r"^triggers\[1\] must be a trigger \(a BaseTrigger instance\), got: 'x'$"
    ):
        cls([DateTrigger(S), "x"])  # type: ignore[list-item]


@pytest.mark.parametrize("cls", COMBINING)
@pytest.mark.parametrize(
    ("jitter", "error", "message"),
    [
        (-1, ValueError, r"^jitter must be zero or more seconds, got: -1$"),
        (float("inf"), ValueError, r"^jitter must be a finite number of seconds, got: inf$"),
        (float("nan"), ValueError, r"^jitter must be a finite number of seconds, got: nan$"),
        ("5", TypeError, r"^jitter must be a number of seconds, got: '5'$"),
        (True, TypeError, r"^jitter must be a number of seconds, got: True$"),
    ],
    ids=["negative", "inf", "nan", "str", "bool"],
)
def test_bad_jitter_is_rejected(
    cls: type[BaseCombiningTrigger], jitter: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        cls([DateTrigger(S)], jitter=jitter)


@pytest.mark.parametrize("cls", COMBINING)
@pytest.mark.parametrize("jitter", [None, 0, 5, 2.5], ids=["none", "zero", "int", "float"])
def test_jitter_is_kept_as_given(cls: type[BaseCombiningTrigger], jitter: float | None) -> None:
    trigger = cls([DateTrigger(S)], jitter=jitter)
    assert trigger.jitter == jitter
    assert type(trigger.jitter) is type(jitter)


@pytest.mark.parametrize("cls", COMBINING)
def test_triggers_are_kept_as_a_copied_list(cls: type[BaseCombiningTrigger]) -> None:
    given = [every(1), every(2)]
    trigger = cls(tuple(given))
    assert trigger.triggers == given
    given.append(every(3))
    assert len(trigger.triggers) == 2


def test_base_class_is_abstract() -> None:
    with pytest.raises(TypeError):
        BaseCombiningTrigger([DateTrigger(S)])  # type: ignore[abstract]


@pytest.mark.parametrize("cls", COMBINING)
def test_instances_have_no_dict(cls: type[BaseCombiningTrigger]) -> None:
    assert not hasattr(cls([DateTrigger(S)]), "__dict__")


# --- str and repr (as APScheduler 3.11) -------------------------------------------------------

INTERVAL_REPR = (
    "<IntervalTrigger (interval=datetime.timedelta(seconds=7200), "
    "start_date='2024-06-03 12:00:00 CEST', timezone='Europe/Berlin')>"
)
DATE_REPR = "<DateTrigger (run_date='2024-06-03 13:30:00 CEST')>"


@pytest.mark.parametrize(
    ("cls", "jitter", "expected_str", "expected_repr"),
    [
        (
            AndTrigger,
            None,
            "and[interval[2:00:00], date[2024-06-03 13:30:00 CEST]]",
            f"<AndTrigger([{INTERVAL_REPR}, {DATE_REPR}])>",
        ),
        (
            OrTrigger,
            5,
            "or[interval[2:00:00], date[2024-06-03 13:30:00 CEST]]",
            f"<OrTrigger([{INTERVAL_REPR}, {DATE_REPR}], jitter=5)>",
        ),
        (
            OrTrigger,
            2.5,
            "or[interval[2:00:00], date[2024-06-03 13:30:00 CEST]]",
            f"<OrTrigger([{INTERVAL_REPR}, {DATE_REPR}], jitter=2.5)>",
        ),
        (
            AndTrigger,
            0,
            "and[interval[2:00:00], date[2024-06-03 13:30:00 CEST]]",
            f"<AndTrigger([{INTERVAL_REPR}, {DATE_REPR}])>",
        ),
    ],
    ids=["and", "or-jitter", "or-float-jitter", "and-zero-jitter"],
)
def test_str_and_repr(
    cls: type[BaseCombiningTrigger], jitter: float | None, expected_str: str, expected_repr: str
) -> None:
    trigger = cls([every(2), DateTrigger(at(1.5))], jitter=jitter)
    assert str(trigger) == expected_str
    assert repr(trigger) == expected_repr


def test_nested_str() -> None:
    trigger = OrTrigger([AndTrigger([every(2), every(3)]), DateTrigger(at(1.5))])
    assert str(trigger) == (
        "or[and[interval[2:00:00], interval[3:00:00]], date[2024-06-03 13:30:00 CEST]]"
    )


# --- state, pickle and export -------------------------------------------------------------------


def test_state_holds_class_references_and_states() -> None:
    interval, date = every(2), DateTrigger(at(1.5))
    assert OrTrigger([interval, date], jitter=5).__getstate__() == {
        "version": 1,
        "triggers": [
            ("greensched.triggers.interval:IntervalTrigger", interval.__getstate__()),
            ("greensched.triggers.date:DateTrigger", date.__getstate__()),
        ],
        "jitter": 5,
    }


@pytest.mark.parametrize("cls", COMBINING)
def test_state_round_trip(cls: type[BaseCombiningTrigger]) -> None:
    trigger = cls([every(2), StepTrigger(S, HOUR)], jitter=3)
    restored = cls.__new__(cls)
    restored.__setstate__(trigger.__getstate__())
    assert repr(restored) == repr(trigger)
    assert isinstance(restored.triggers[1], StepTrigger)
    assert restored.jitter == 3


def test_state_with_a_newer_version_is_refused() -> None:
    trigger = OrTrigger.__new__(OrTrigger)
    with pytest.raises(ValueError, match=r"^Cannot restore OrTrigger from state version 2: "):
        trigger.__setstate__({"version": 2, "triggers": [], "jitter": None})


def test_state_with_a_bad_trigger_entry_is_refused() -> None:
    trigger = AndTrigger.__new__(AndTrigger)
    with pytest.raises(
        ValueError,
        match=r"^AndTrigger state triggers must be \(class reference, state\) pairs, got: 5$",
    ):
        trigger.__setstate__({"version": 1, "triggers": [5], "jitter": None})


def test_state_naming_a_class_that_is_not_a_trigger_is_refused() -> None:
    trigger = OrTrigger.__new__(OrTrigger)
    with pytest.raises(
        ValueError,
        match=r"^OrTrigger state trigger reference must name a trigger class, got: 'builtins:dict'$",
    ):
        trigger.__setstate__({"version": 1, "triggers": [["builtins:dict", {}]], "jitter": None})


def test_trigger_class_maps_apscheduler_references() -> None:
    assert trigger_class("apscheduler.triggers.combining:OrTrigger", "ref") is OrTrigger
    assert trigger_class("greensched.triggers.combining:AndTrigger", "ref") is AndTrigger
    with pytest.raises(
        ValueError, match=r"^ref must name a trigger class, got: 'builtins:print'$"
    ):
        trigger_class("builtins:print", "ref")


@pytest.mark.parametrize("cls", COMBINING)
def test_pickle_round_trip(cls: type[BaseCombiningTrigger]) -> None:
    trigger = cls([every(2), OrTrigger([every(3), DateTrigger(at(1.5))])], jitter=4)
    restored = pickle.loads(pickle.dumps(trigger))
    assert type(restored) is cls
    assert repr(restored) == repr(trigger)
    assert restored.jitter == 4
    plain = cls(restored.triggers)
    assert fire_times(plain, at(-1), 5) == fire_times(cls(trigger.triggers), at(-1), 5)


def test_export_import_round_trip() -> None:
    clock = MockClock(S - HOUR)
    trigger = OrTrigger([every(2), every(3)], jitter=30)
    source = BlockingScheduler(clock=clock, timezone=BERLIN)
    source.add_job(job_func, trigger, id="or-job")
    source.add_job(
        job_func, AndTrigger([OrTrigger([every(2), every(3)]), every(4)]), id="nested-job"
    )
    out = io.StringIO()
    source.export_jobs(out)
    document = json.loads(out.getvalue())
    assert [job["trigger"]["__greensched_class__"] for job in document["jobs"]] == [
        "greensched.triggers.combining:OrTrigger",
        "greensched.triggers.combining:AndTrigger",
    ]

    target = BlockingScheduler(clock=clock, timezone=BERLIN)
    target.import_jobs(io.StringIO(out.getvalue()))
    jobs = {job.id: job for job in target.get_jobs()}
    imported = jobs["or-job"].trigger
    assert isinstance(imported, OrTrigger)
    assert repr(imported) == repr(trigger)
    assert all(isinstance(sub, IntervalTrigger) for sub in imported.triggers)
    nested = jobs["nested-job"].trigger
    assert str(nested) == "and[or[interval[2:00:00], interval[3:00:00]], interval[4:00:00]]"
    assert fire_times(nested, at(-1), 4) == [at(0), at(4), at(8), at(12)]


def test_imports_an_apscheduler_3_11_export() -> None:
    """The fixture was written by APScheduler 3.11.3's export_jobs()."""
    start = datetime(2030, 6, 3, 12, 0, tzinfo=BERLIN)
    scheduler = BlockingScheduler(clock=MockClock(start - HOUR), timezone=BERLIN)
    scheduler.import_jobs(str(DATA / "apscheduler-3.11-combining-export.json"))
    jobs = {job.id: job for job in scheduler.get_jobs()}

    or_trigger = jobs["or-job"].trigger
    assert isinstance(or_trigger, OrTrigger)
    assert or_trigger.jitter == 30
    assert [type(sub) for sub in or_trigger.triggers] == [IntervalTrigger, IntervalTrigger]
    assert str(or_trigger) == "or[interval[2:00:00], interval[3:00:00]]"

    nested = jobs["nested-job"].trigger
    assert str(nested) == (
        "or[and[interval[2:00:00], interval[3:00:00]], date[2030-06-03 13:30:00 CEST]]"
    )
    assert isinstance(nested.triggers[0], AndTrigger)
    assert fire_times(nested, start - HOUR, 4) == [
        start,
        start + 1.5 * HOUR,
        start + 6 * HOUR,
        start + 12 * HOUR,
    ]


# --- against APScheduler 3.11 itself ------------------------------------------------------------


def _library(name: str) -> SimpleNamespace:
    if name == "greensched":
        return SimpleNamespace(
            And=AndTrigger, Or=OrTrigger, Interval=IntervalTrigger, Date=DateTrigger
        )
    combining_3x = pytest.importorskip("apscheduler.triggers.combining")
    interval_3x = pytest.importorskip("apscheduler.triggers.interval")
    date_3x = pytest.importorskip("apscheduler.triggers.date")
    return SimpleNamespace(
        And=combining_3x.AndTrigger,
        Or=combining_3x.OrTrigger,
        Interval=interval_3x.IntervalTrigger,
        Date=date_3x.DateTrigger,
    )


# first calls (no previous fire time) that APScheduler 3.11 answers: greensched answers the same
FIRST_CALLS = [
    pytest.param(
        lambda m: m.Or([m.Interval(hours=2, start_date=S), m.Interval(hours=3, start_date=at(1))]),
        at(1.5),
        id="or-intervals",
    ),
    pytest.param(
        lambda m: m.Or([m.Date(at(-2)), m.Interval(hours=1, start_date=S)]), at(0.5), id="or-past"
    ),
    pytest.param(lambda m: m.Or([m.Date(S), m.Date(S.astimezone(UTC))]), at(-1), id="or-tie"),
    pytest.param(
        lambda m: m.And([m.Interval(hours=2, start_date=S), m.Interval(hours=3, start_date=S)]),
        at(1),
        id="and-intervals",
    ),
    pytest.param(
        lambda m: m.And([m.Interval(hours=1, start_date=S), m.Date(at(5))]),
        at(0),
        id="and-date",
    ),
    pytest.param(
        lambda m: m.And(
            [m.Interval(hours=1, start_date=S, timezone=UTC), m.Interval(hours=4, start_date=S)]
        ),
        at(0.5),
        id="and-zones",
    ),
]


@pytest.mark.parametrize(("make", "now"), FIRST_CALLS)
def test_first_call_matches_apscheduler(
    make: Callable[[SimpleNamespace], Any], now: datetime
) -> None:
    theirs = make(_library("apscheduler")).get_next_fire_time(None, now)
    ours = make(_library("greensched")).get_next_fire_time(None, now)
    assert ours == theirs
    assert ours.tzinfo == theirs.tzinfo


@pytest.mark.parametrize("kind", ["And", "Or"])
@pytest.mark.parametrize("jitter", [None, 0, 5, 2.5], ids=["none", "zero", "int", "float"])
def test_str_and_repr_match_apscheduler(kind: str, jitter: float | None) -> None:
    def make(m: SimpleNamespace) -> Any:
        inner = m.Or([m.Interval(minutes=5, start_date=S), m.Date(at(1.5))])
        return getattr(m, kind)([m.Interval(hours=2, start_date=S), inner], jitter=jitter)

    theirs, ours = make(_library("apscheduler")), make(_library("greensched"))
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)


def test_reads_an_apscheduler_state() -> None:
    theirs = _library("apscheduler")
    state = theirs.Or(
        [theirs.Interval(hours=2, start_date=S), theirs.Date(at(1.5))], jitter=7
    ).__getstate__()
    assert set(state) == {"version", "triggers", "jitter"}
    ours = OrTrigger.__new__(OrTrigger)
    ours.__setstate__(state)
    assert [type(sub) for sub in ours.triggers] == [IntervalTrigger, DateTrigger]
    assert ours.jitter == 7
    assert fire_times(OrTrigger(ours.triggers), at(-1), 3) == [at(0), at(1.5), at(2)]
