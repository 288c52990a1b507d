"""Property tests for greensched.triggers.cron: random valid crontab expressions in random zones
and at random instants (many of them near daylight saving changes), checked against an
independent matcher, croniter and APScheduler 3.11; random invalid text raises ValueError."""

from __future__ import annotations

import calendar
import pickle
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from greensched.triggers.cron import CronTrigger

UTC = timezone.utc
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
CRONTAB_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# --- a strategy for valid crontab expressions -----------------------------------------------


def steps(width: int, wide: bool) -> st.SearchStrategy[int]:
    """Steps through a range ``width`` wide: from 1 to ``width`` (APScheduler's limit), or, if
    ``wide``, any step of 1 or more, as cron takes (often wider than the range)."""
    if not wide:
        return st.integers(1, width)
    return st.one_of(st.integers(1, width + 3), st.integers(width + 1, 10**6))


@st.composite
def numeric_item(
    draw: st.DrawFn, low: int, high: int, star: bool = True, wide: bool = False
) -> str:
    """One item of a numeric field: ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n`` or ``a/n``; with
    ``wide`` (as cron reads a crontab), ranges of one value (``a-a``) and steps wider than
    their range, and no ``a/n`` (cron refuses a step after a single value)."""
    kinds = ["value", "range", "range-step", "every"] + ([] if wide else ["start-step"])
    if star:
        kinds.append("star")
    kind = draw(st.sampled_from(kinds))
    if kind == "star":
        return "*"
    if kind == "every":
        return f"*/{draw(steps(high - low, wide))}"
    first = draw(st.integers(low, high - 1))
    if kind == "value":
        return str(draw(st.integers(low, high)))
    if kind == "start-step":
        return f"{first}/{draw(steps(high - first, wide))}"
    last = draw(st.integers(first if wide else first + 1, high))
    if kind == "range":
        return f"{first}-{last}"
    return f"{first}-{last}/{draw(steps(last - first, wide))}"


def numeric_field(low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(numeric_item(low, high, wide=True), min_size=1, max_size=3).map(",".join)


@st.composite
def month_item(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(numeric_item(1, 12, wide=True))
    first = draw(st.integers(1, 12))
    name = MONTHS[first - 1]
    if draw(st.booleans()):
        last = draw(st.integers(first, 12))
        name += "-" + MONTHS[last - 1]
        if draw(st.booleans()):
            name += f"/{draw(steps(last - first, wide=True))}"
    return draw(st.sampled_from([name, name.upper(), name.title()]))


@st.composite
def weekday_item(draw: st.DrawFn, extensions: bool) -> str:
    kinds = ["numeric", "name", "name-range"]
    if extensions:
        kinds += ["last", "nth"]
    kind = draw(st.sampled_from(kinds))
    if kind == "numeric":
        return draw(numeric_item(0, 7, wide=True))
    day = draw(st.integers(0, 7))
    label = str(day) if draw(st.booleans()) else CRONTAB_WEEKDAYS[day % 7]
    if kind == "last":
        return f"{label}L"
    if kind == "nth":
        return f"{label}#{draw(st.integers(1, 5))}"
    first = draw(st.integers(0, 6))
    if kind == "name":
        return CRONTAB_WEEKDAYS[first]
    last = draw(st.integers(first + 1, 7))  # 7: 'sun' ending a range
    name = f"{CRONTAB_WEEKDAYS[first]}-{CRONTAB_WEEKDAYS[last % 7]}"
    if draw(st.booleans()):
        name += f"/{draw(steps(last - first, wide=True))}"
    return name


@st.composite
def day_item(draw: st.DrawFn, extensions: bool) -> str:
    kinds = ["numeric"] * 3
    if extensions:
        kinds += ["L", "LW", "W"]
    kind = draw(st.sampled_from(kinds))
    if kind == "numeric":
        return draw(numeric_item(1, 31, star=False, wide=True))
    if kind == "W":
        return f"{draw(st.integers(1, 31))}W"
    return kind


@st.composite
def crontab_expressions(draw: st.DrawFn, extensions: bool = True) -> str:
    """A valid crontab expression (five fields, or six with a leading second)."""

    def day_field(item: st.SearchStrategy[str]) -> str:
        kind = draw(st.sampled_from(["star", "question", "list", "list"]))
        if kind == "star":
            return "*"
        if kind == "question" and extensions:
            return "?"
        return ",".join(draw(st.lists(item, min_size=1, max_size=3)))

    fields = [
        draw(numeric_field(0, 59)),
        draw(numeric_field(0, 23)),
        day_field(day_item(extensions)),
        ",".join(draw(st.lists(month_item(), min_size=1, max_size=2))),
        day_field(weekday_item(extensions)),
    ]
    if draw(st.booleans()):
        fields.insert(0, draw(numeric_field(0, 59)))
    return " ".join(fields)


# --- an independent matcher -------------------------------------------------------------------


def _number(token: str, names: list[str] | None, offset: int) -> int:
    if token.isdigit():
        return int(token)
    assert names is not None
    return names.index(token.lower()) + offset


def expand(
    text: str, low: int, high: int, names: list[str] | None = None, offset: int = 0
) -> set[int]:
    """The values a comma-separated list of ``*``, ``a``, ``a-b`` with optional steps allows."""
    values: set[int] = set()
    for item in text.split(","):
        body, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            first, last = low, high
        elif "-" in body:
            first_text, last_text = body.split("-")
            first = _number(first_text, names, offset)
            last = _number(last_text, names, offset)
            if names is CRONTAB_WEEKDAYS and last == 0 and first > 0:
                last = 7  # 'sun' ending a range
        else:
            first = _number(body, names, offset)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return values


@dataclass
class Reference:
    """Matches naive wall times against a crontab expression, written independently of
    greensched's field classes."""

    text: str
    seconds: set[int] = field(init=False)
    minutes: set[int] = field(init=False)
    hours: set[int] = field(init=False)
    months: set[int] = field(init=False)
    day_text: str = field(init=False)
    weekday_text: str = field(init=False)
    day_or: bool = field(init=False)

    def __post_init__(self) -> None:
        parts = self.text.lower().split()
        if len(parts) == 5:
            parts.insert(0, "0")
        second, minute, hour, day, month, weekday = parts
        self.seconds = expand(second, 0, 59)
        self.minutes = expand(minute, 0, 59)
        self.hours = expand(hour, 0, 23)
        self.months = expand(month, 1, 12, MONTHS, 1)
        self.day_text = day
        self.weekday_text = weekday
        # cron: a day field that starts with '*' ('*/2' too) or '?' takes no part in the
        # either-day rule
        self.day_or = not day.startswith(("*", "?")) and not weekday.startswith(("*", "?"))

    @property
    def every_hour(self) -> bool:
        return len(self.hours) == 24

    def days(self, year: int, month: int) -> set[int]:
        """The days of a month the day and weekday fields select together."""
        return _days(self.day_text, self.weekday_text, self.day_or, year, month)

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and wall.day in self.days(wall.year, wall.month)
        )


@lru_cache(maxsize=4096)
def _days(day_text: str, weekday_text: str, day_or: bool, year: int, month: int) -> set[int]:
    last_day = calendar.monthrange(year, month)[1]

    def weekday(day: int) -> int:  # crontab numbering, Sunday = 0
        return (calendar.weekday(year, month, day) + 1) % 7

    by_day: set[int] = set()
    for item in day_text.split(","):
        if item == "l":
            by_day.add(last_day)
        elif item == "lw":
            day = last_day
            while weekday(day) in (0, 6):
                day -= 1
            by_day.add(day)
        elif item.endswith("w"):
            target = min(int(item[:-1]), last_day)
            if weekday(target) == 6:
                target = target - 1 if target > 1 else target + 2
            elif weekday(target) == 0:
                target = target + 1 if target < last_day else target - 2
            by_day.add(target)
        else:
            by_day |= expand(item, 1, 31) & set(range(1, last_day + 1))

    by_weekday: set[int] = set()
    for item in weekday_text.split(","):
        if item.endswith("l") or "#" in item:
            label = item[:-1] if item.endswith("l") else item.split("#")[0]
            wanted = _number(label, CRONTAB_WEEKDAYS, 0) % 7
            matching = [day for day in range(1, last_day + 1) if weekday(day) == wanted]
            if item.endswith("l"):
                by_weekday.add(matching[-1])
            elif int(item.split("#")[1]) <= len(matching):
                by_weekday.add(matching[int(item.split("#")[1]) - 1])
        else:
            allowed = {value % 7 for value in expand(item, 0, 7, CRONTAB_WEEKDAYS, 0)}
            by_weekday |= {day for day in range(1, last_day + 1) if weekday(day) in allowed}

    return by_day | by_weekday if day_or else by_day & by_weekday


# --- zones and instants -----------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/Helsinki",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Asia/Kolkata",
]
# UTC instants of changes: spring forward and fall back in several zones, Apia's lost day
TRANSITIONS = [
    datetime(2024, 3, 31, 1, tzinfo=UTC),
    datetime(2024, 10, 27, 1, tzinfo=UTC),
    datetime(2024, 3, 10, 7, tzinfo=UTC),
    datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2024, 4, 6, 15, tzinfo=UTC),
    datetime(2024, 10, 5, 15, 30, tzinfo=UTC),
    datetime(2024, 4, 7, 3, tzinfo=UTC),
    datetime(2024, 9, 8, 4, tzinfo=UTC),
    datetime(2011, 12, 30, 10, tzinfo=UTC),
    datetime(2024, 4, 6, 14, tzinfo=UTC),
    datetime(2024, 9, 28, 14, tzinfo=UTC),
]

zones = st.one_of(
    st.sampled_from(ZONES).map(ZoneInfo),
    st.integers(-14 * 4, 14 * 4).map(lambda quarters: timezone(timedelta(minutes=15 * quarters))),
)
near_transitions = st.tuples(
    st.sampled_from(TRANSITIONS), st.integers(-36 * 3600, 6 * 3600), st.integers(0, 999_999)
).map(lambda args: args[0] + timedelta(seconds=args[1], microseconds=args[2]))
anywhere = st.datetimes(
    min_value=datetime(1995, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
instants = st.one_of(near_transitions, anywhere)


def exists(dt: datetime) -> bool:
    back = dt.astimezone(UTC).astimezone(dt.tzinfo)
    return back.replace(tzinfo=None) == dt.replace(tzinfo=None) and (
        back.utcoffset() == dt.utcoffset()
    )


def after_a_gap(dt: datetime) -> bool:
    """Whether ``dt`` is the first instant after a spring-forward gap."""
    before = (dt.astimezone(UTC) - timedelta(microseconds=1)).astimezone(dt.tzinfo)
    offset_before, offset = before.utcoffset(), dt.utcoffset()
    assert offset_before is not None
    assert offset is not None
    return offset_before < offset


def fire_times(trigger: CronTrigger, now: datetime, count: int) -> list[datetime]:
    result: list[datetime] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        if previous is None:
            break
        result.append(previous)
    return result


# --- properties -------------------------------------------------------------------------------


@pytest.mark.slow  # seconds of examples
@SETTINGS
@given(crontab_expressions(), zones, instants)
def test_fire_times_increase_exist_and_match(expr: str, zone: tzinfo, now: datetime) -> None:
    trigger = CronTrigger.from_crontab(expr, zone)
    reference = Reference(expr)
    times = fire_times(trigger, now, 4)
    previous = now.astimezone(UTC) - timedelta(microseconds=1)
    for fire_time in times:
        assert fire_time.tzinfo is zone
        assert fire_time.astimezone(UTC) > previous
        assert exists(fire_time), fire_time
        wall = fire_time.replace(tzinfo=None)
        assert reference.matches(wall) or after_a_gap(fire_time), fire_time
        if not reference.every_hour and fire_time.fold:
            # the second round of an overlap fires only when every hour is allowed
            assert after_a_gap(fire_time), fire_time
        previous = fire_time.astimezone(UTC)


@pytest.mark.slow  # seconds of examples
@SETTINGS
@given(crontab_expressions(), zones, instants)
def test_no_match_is_skipped(expr: str, zone: tzinfo, now: datetime) -> None:
    """Every whole minute in the six hours before a fire time (and after ``now``) that matches
    in local wall time is a fire time, except in the second round of an overlap for a job with
    restricted hours."""
    reference = Reference(expr)
    assume(reference.seconds == {0})
    trigger = CronTrigger.from_crontab(expr, zone)
    times = fire_times(trigger, now, 2)
    assume(times)
    fired = {t.astimezone(UTC) for t in times}
    start = now.astimezone(UTC)
    for fire_time in times:
        end = fire_time.astimezone(UTC)
        instant = max(start, end - timedelta(hours=6))
        instant = instant.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while instant < end:
            local = instant.astimezone(zone)
            if reference.matches(local.replace(tzinfo=None)):
                assert local.fold, f"{local} was skipped"
                assert not reference.every_hour, f"{local} was skipped"
            instant += timedelta(minutes=1)
        start = end + timedelta(microseconds=1)
    assert len(fired) == len(times)


def _has_one_value_range(
    text: str, low: int, high: int, names: list[str] | None = None, offset: int = 0
) -> bool:
    """Whether a field holds a range of one value, such as ``5-5``, ``5-5/2`` or ``jan-jan``."""
    for item in text.split(","):
        body = item.partition("/")[0]
        if "-" in body and len(expand(body, low, high, names, offset)) == 1:
            return True
    return False


def _croniter_shares_the_reading(expr: str) -> bool:
    """Leave out what croniter reads differently (see test_crontab.py): a day field other than
    '*' that allows every day (croniter then sometimes ANDs the day fields, as for '1,*'), '#'
    with other items or with a restricted day of month, 'W' with a restricted day of week,
    'a/n' in the day of week (which croniter ends at 6, not 7), 'a-a' ranges in any field
    (croniter reads them as '*') and a '*/n' day field beside a restricted one (cron ANDs the
    two fields then, croniter ORs them)."""
    parts = expr.lower().split()
    bounds: list[tuple[int, int, list[str] | None, int]] = [
        (0, 59, None, 0),
        (0, 23, None, 0),
        (1, 31, None, 0),
        (1, 12, MONTHS, 1),
        (0, 7, CRONTAB_WEEKDAYS, 0),
    ]
    if len(parts) == 6:
        bounds.insert(0, (0, 59, None, 0))
    if any(_has_one_value_range(text, *limits) for text, limits in zip(parts, bounds)):
        return False
    day, weekday = parts[-3], parts[-1]
    if "*" not in (day, weekday) and "*/" in (day[:2], weekday[:2]):
        return False  # croniter ORs the day fields where cron ANDs them (a '*/n' day field)
    plain_day = "l" not in day and "w" not in day
    if day != "*" and plain_day and expand(day, 1, 31) == set(range(1, 32)):
        return False
    plain_weekday = "#" not in weekday and "l" not in weekday
    every_weekday = plain_weekday and (
        {value % 7 for value in expand(weekday, 0, 7, CRONTAB_WEEKDAYS, 0)} == set(range(7))
    )
    if weekday != "*" and every_weekday:
        return False
    if "#" in weekday and (len(weekday.split(",")) > 1 or day != "*"):
        return False
    if "w" in day and weekday != "*":  # croniter ignores the day of week then
        return False
    for item in weekday.split(","):
        body, _, step = item.partition("/")
        if step and body != "*" and "-" not in body:  # croniter stops 'a/n' at 6, not 7
            return False
    return True


croniter_zones = st.one_of(
    st.sampled_from(["UTC", "Asia/Kolkata"]).map(ZoneInfo),
    st.integers(-12, 14).map(lambda hours: timezone(timedelta(hours=hours))),
)


@pytest.mark.slow  # seconds of examples
@SETTINGS
@given(
    crontab_expressions(extensions=False),
    st.sampled_from(["", "", "L", "15W", "31W", "1W"]),
    st.sampled_from(["", "", "5#3", "0#1", "7#5"]),
    croniter_zones,
    anywhere,
)
def test_agrees_with_croniter_where_the_reading_is_the_same(
    expr: str, day_override: str, weekday_override: str, zone: tzinfo, now: datetime
) -> None:
    croniter = pytest.importorskip("croniter").croniter
    parts = expr.split()
    if day_override:
        parts[-3] = day_override
    if weekday_override:
        parts[-1] = weekday_override
    expr = " ".join(parts)
    assume(_croniter_shares_the_reading(expr))
    trigger = CronTrigger.from_crontab(expr, zone)
    ours = fire_times(trigger, now.astimezone(zone), 5)
    assume(ours)
    iterator = croniter(expr, ours[0], second_at_beginning=len(parts) == 6)
    theirs = [ours[0]] + [iterator.get_next(datetime) for _ in ours[1:]]
    assert ours == theirs


@st.composite
def keyword_fields(draw: st.DrawFn) -> dict[str, str]:
    """Keyword-form fields in the syntax APScheduler 3.11 parses the same way."""
    fields = {}
    bounds = {
        "year": (2024, 2032),
        "month": (1, 12),
        "day": (1, 31),
        "week": (1, 53),
        "day_of_week": (0, 6),
        "hour": (0, 23),
        "minute": (0, 59),
        "second": (0, 59),
    }
    for name, (low, high) in bounds.items():
        if draw(st.integers(0, 2)) == 0:
            items = numeric_item(low, high)
            if name == "year":
                # with no last year ('*', '*/n', 'a/n'), APScheduler searches up to 9999
                # where nothing matches: seconds for one example
                items = items.filter(lambda item: item.isdigit() or "-" in item)
            fields[name] = ",".join(draw(st.lists(items, min_size=1, max_size=2)))
    if draw(st.integers(0, 4)) == 0:
        position = draw(st.sampled_from(["1st", "2nd", "3rd", "4th", "5th", "last"]))
        fields["day"] = draw(
            st.sampled_from(["last", f"{position} {draw(st.sampled_from(['mon', 'fri', 'sun']))}"])
        )
    if draw(st.integers(0, 4)) == 0:
        fields["day_of_week"] = draw(st.sampled_from(["mon-fri", "sat,sun", "wed"]))
    return fields


@pytest.mark.slow  # seconds of examples
@settings(SETTINGS, max_examples=100)
@given(
    keyword_fields(),
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
)
def test_keyword_form_agrees_with_apscheduler_in_utc(
    fields: dict[str, str], now: datetime
) -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    # APScheduler 3.11 reads a range with a step and equal ends ('5-5/1') as '5/1'
    assume(not any(re.search(r"\b(\d+)-\1/", text) for text in fields.values()))
    # a bounded year keeps APScheduler's day-by-day search short when nothing matches
    fields.setdefault("year", f"{now.year}-{now.year + 2}")
    ours = CronTrigger(timezone=UTC, **fields)
    theirs = apscheduler_cron.CronTrigger(timezone=UTC, **fields)
    expected = []
    previous = None
    for _ in range(4):
        previous = theirs.get_next_fire_time(previous, previous or now)
        expected.append(previous)
        if previous is None:
            break
    assert (
        fire_times(ours, now, 4) + [None] * (len(expected) - len(fire_times(ours, now, 4)))
        == expected
    )
    assert str(ours) == str(theirs)


@pytest.mark.slow  # seconds of examples
@SETTINGS
@given(crontab_expressions(), zones)
def test_crontab_text_round_trips(expr: str, zone: tzinfo) -> None:
    trigger = CronTrigger.from_crontab(expr, zone)
    match = re.fullmatch(r"cron\[crontab='(.*)'\]", str(trigger))
    assert match is not None
    again = CronTrigger.from_crontab(match.group(1), zone)
    assert again.__getstate__() == trigger.__getstate__()
    assert str(again) == str(trigger)
    copy = pickle.loads(pickle.dumps(trigger))
    assert copy.__getstate__() == trigger.__getstate__()
    now = datetime(2024, 10, 26, tzinfo=UTC)
    assert fire_times(copy, now, 3) == fire_times(trigger, now, 3)


@pytest.mark.slow  # seconds of examples
@SETTINGS
@given(keyword_fields())
def test_keyword_text_round_trips(fields: dict[str, str]) -> None:
    trigger = CronTrigger(timezone=UTC, **fields)
    shown = dict(re.findall(r"(\w+)='([^']*)'", str(trigger)))
    again = CronTrigger(timezone=UTC, **shown)
    assert again.__getstate__() == trigger.__getstate__()


# the bounds of the keyword form's fields (the year's cut short)
KEYWORD_BOUNDS = {
    "year": (1970, 2100),
    "month": (1, 12),
    "day": (1, 31),
    "week": (1, 53),
    "day_of_week": (0, 6),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}


@st.composite
def keyword_stepped_item(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(KEYWORD_BOUNDS)))
    low, high = KEYWORD_BOUNDS[name]
    return name, draw(numeric_item(low, high, wide=True))


@SETTINGS
@given(keyword_stepped_item())
def test_keyword_form_limits_steps_as_apscheduler_does(field_item: tuple[str, str]) -> None:
    """Only from_crontab reads steps as cron does: the keyword form accepts a stepped item
    exactly when APScheduler 3.11 does, and reads it the same way."""
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    name, item = field_item
    # APScheduler 3.11 reads '0-0/n' as '0/n' (from 0 to the maximum); greensched rejects it
    assume(re.fullmatch(r"0-0/\d+", item) is None)
    try:
        theirs = apscheduler_cron.CronTrigger(timezone=UTC, **{name: item})
    except ValueError:
        with pytest.raises(ValueError, match=rf"^{name}: "):
            CronTrigger(timezone=UTC, **{name: item})
        return
    ours = CronTrigger(timezone=UTC, **{name: item})
    assert str(ours) == str(theirs)


# --- invalid text -----------------------------------------------------------------------------

# with a non-ASCII digit, a long s and a dotted capital I (both fold to ASCII letters)
_ALPHABET = st.sampled_from(
    [*"0123456789*/-,#?LWlw @ abcdefghijklmnopqrstuvwxyz\t", "\u0663", "\u017f", "\u0130"]
)
junk = st.one_of(st.text(max_size=30), st.text(_ALPHABET, max_size=30))


@st.composite
def mutated_crontab(draw: st.DrawFn) -> str:
    """A valid expression with one character inserted, replaced or deleted."""
    expr = draw(crontab_expressions())
    position = draw(st.integers(0, len(expr)))
    character = draw(_ALPHABET)
    how = draw(st.sampled_from(["insert", "replace", "delete"]))
    if how == "insert":
        return expr[:position] + character + expr[position:]
    if how == "replace":
        return expr[:position] + character + expr[position + 1 :]
    return expr[:position] + expr[position + 1 :]


def _parses_or_raises_value_error(make: Any) -> None:
    try:
        make()
    except ValueError:
        pass


@pytest.mark.slow  # seconds of examples
@SETTINGS
@given(st.one_of(junk, mutated_crontab()), st.booleans())
def test_invalid_crontab_raises_value_error_only(expr: str, legacy: bool) -> None:
    _parses_or_raises_value_error(lambda: CronTrigger.from_crontab(expr, UTC, legacy=legacy))


@SETTINGS
@given(st.sampled_from(list(CronTrigger.FIELD_NAMES)), junk)
def test_invalid_field_raises_value_error_only(name: str, text: str) -> None:
    _parses_or_raises_value_error(lambda: CronTrigger(timezone=UTC, **{name: text}))


@pytest.mark.slow  # seconds of examples
@SETTINGS
@given(mutated_crontab(), zones, instants)
def test_whatever_parses_computes(expr: str, zone: tzinfo, now: datetime) -> None:
    try:
        trigger = CronTrigger.from_crontab(expr, zone)
    except ValueError:
        return
    previous = now.astimezone(UTC) - timedelta(microseconds=1)
    for fire_time in fire_times(trigger, now, 3):
        assert fire_time.astimezone(UTC) > previous
        assert exists(fire_time)
        previous = fire_time.astimezone(UTC)
