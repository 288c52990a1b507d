"""Tests for greensched.util, compared with APScheduler 3.11's apscheduler.util where they agree."""

from __future__ import annotations

import copy
import inspect
import os.path
import pickle
import re
from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import partial
from types import FunctionType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from greensched import _dst
from greensched.util import (
    _instance_method_ref,
    asbool,
    asint,
    astimezone,
    check_callable_args,
    convert_to_datetime,
    datetime_ceil,
    datetime_repr,
    datetime_to_utc_timestamp,
    get_callable_name,
    localize,
    maybe_ref,
    normalize,
    obj_to_ref,
    ref_to_obj,
    timedelta_seconds,
    undefined,
    utc_timestamp_to_datetime,
)

BERLIN = ZoneInfo("Europe/Berlin")
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


@pytest.fixture
def aps_util() -> Any:
    """APScheduler 3.x's util module, to compare with (skipped where it is not installed)."""
    return pytest.importorskip("apscheduler.util")


# Module-level callables: obj_to_ref() can only reference what is importable by name


def module_function(a: int, b: int = 2) -> int:
    return a + b


class Owner:
    def method(self) -> None:
        pass

    @classmethod
    def class_method(cls) -> None:
        pass

    @staticmethod
    def static_method() -> None:
        pass

    class Inner:
        def method(self) -> None:
            pass

        @classmethod
        def class_method(cls) -> None:
            pass


class CallableClass:
    def __call__(self) -> None:
        pass


class NoSignature:
    """A callable whose signature inspect.signature() cannot determine (like some builtins)."""

    @property
    def __signature__(self) -> inspect.Signature:
        raise ValueError("no signature")

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        pass


def _copy_function(func: FunctionType, qualname: str) -> FunctionType:
    clone = FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__)
    clone.__qualname__ = qualname
    return clone


# asint


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3), (" 7 ", 7), ("-2", -2), (5, 5), (3.0, 3), (None, None)],
    ids=["string", "padded-string", "negative", "int", "whole-float", "none"],
)
def test_asint_converts(value: Any, expected: int | None, aps_util: Any) -> None:
    assert asint(value) == expected
    assert aps_util.asint(value) == expected


@pytest.mark.parametrize("value", ["x", "3.0", ""], ids=["word", "float-string", "empty"])
def test_asint_rejects_non_integer_strings(value: str, aps_util: Any) -> None:
    with pytest.raises(ValueError, match=rf"^expected an integer, got: {re.escape(repr(value))}$"):
        asint(value)
    with pytest.raises(ValueError, match=r"^invalid literal for int\(\) with base 10: "):
        aps_util.asint(value)


@pytest.mark.parametrize("value", [[1], object(), {}], ids=["list", "object", "dict"])
def test_asint_rejects_other_types_with_type_error(value: Any, aps_util: Any) -> None:
    with pytest.raises(TypeError, match=rf"^expected an integer, got: {re.escape(repr(value))}$"):
        asint(value)
    with pytest.raises(TypeError):
        aps_util.asint(value)


@pytest.mark.parametrize(
    "value", [True, False, 3.7, float("nan")], ids=["true", "false", "3.7", "nan"]
)
def test_asint_rejects_bools_and_fractions(value: Any) -> None:
    # Stricter than APScheduler 3.x, which silently truncates (int(3.7) == 3, int(True) == 1)
    with pytest.raises(ValueError, match=rf"^expected an integer, got: {re.escape(repr(value))}$"):
        asint(value)


# asbool


@pytest.mark.parametrize("value", ["true", "Yes", " on ", "Y", "t", "1", "TRUE"])
def test_asbool_true_strings(value: str, aps_util: Any) -> None:
    assert asbool(value) is True
    assert aps_util.asbool(value) is True


@pytest.mark.parametrize("value", ["false", "No", " off ", "N", "f", "0", "FALSE"])
def test_asbool_false_strings(value: str, aps_util: Any) -> None:
    assert asbool(value) is False
    assert aps_util.asbool(value) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (0, False), (2, True), (None, False), ([], False), ([0], True)],
)
def test_asbool_other_objects_go_through_bool(value: Any, expected: bool, aps_util: Any) -> None:
    assert asbool(value) is expected
    assert aps_util.asbool(value) is expected


@pytest.mark.parametrize("value", ["maybe", "", "2"])
def test_asbool_rejects_unknown_strings(value: str, aps_util: Any) -> None:
    with pytest.raises(ValueError, match=rf'^Unable to interpret value "{value}" as boolean$'):
        asbool(value)
    with pytest.raises(ValueError, match=rf'^Unable to interpret value "{value}" as boolean$'):
        aps_util.asbool(value)


# astimezone


def test_astimezone_zone_name(aps_util: Any) -> None:
    assert astimezone("Europe/Berlin") == BERLIN
    assert astimezone("Europe/Berlin") == aps_util.astimezone("Europe/Berlin")


def test_astimezone_utc_name(aps_util: Any) -> None:
    assert astimezone("UTC") is timezone.utc
    assert aps_util.astimezone("UTC") is timezone.utc


@pytest.mark.parametrize("zone", [BERLIN, timezone.utc, CEST], ids=["zoneinfo", "utc", "offset"])
def test_astimezone_passes_tzinfo_through(zone: tzinfo, aps_util: Any) -> None:
    assert astimezone(zone) is zone
    assert aps_util.astimezone(zone) is zone


def test_astimezone_none() -> None:
    assert astimezone(None) is None


@pytest.mark.parametrize(
    "name", ["Nope/Nowhere", "../etc/passwd", ""], ids=["unknown", "path", "empty"]
)
def test_astimezone_unknown_zone(name: str) -> None:
    with pytest.raises(
        ValueError,
        match=rf"^timezone must be a known IANA zone name, got: {re.escape(repr(name))}$",
    ):
        astimezone(name)


@pytest.mark.parametrize("value", [5, 1.5, b"UTC"], ids=["int", "float", "bytes"])
def test_astimezone_wrong_type(value: Any, aps_util: Any) -> None:
    # APScheduler 3.x does not name the option
    with pytest.raises(
        TypeError,
        match=rf"^timezone must be a tzinfo or a zone name, got: {re.escape(repr(value))}$",
    ):
        astimezone(value)
    with pytest.raises(TypeError, match=rf"^Expected tzinfo, got {type(value).__name__} instead$"):
        aps_util.astimezone(value)


def test_astimezone_names_the_option_it_was_given_as() -> None:
    with pytest.raises(TypeError, match=r"^tz must be a tzinfo or a zone name, got: 123$"):
        astimezone(123, field="tz")  # type: ignore[arg-type]


class _LocalZone(tzinfo):
    """What old tzlocal versions returned when the local zone's name was unknown."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "local"


@pytest.mark.parametrize("value", ["local", _LocalZone()], ids=["name", "tzinfo"])
def test_astimezone_rejects_local(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^Unable to determine the name of the local timezone"):
        astimezone(value)


def test_astimezone_rejects_local_tzinfo_like_apscheduler(aps_util: Any) -> None:
    with pytest.raises(ValueError, match=r"^Unable to determine the name of the local timezone"):
        aps_util.astimezone(_LocalZone())


# convert_to_datetime


def test_convert_to_datetime_none() -> None:
    assert convert_to_datetime(None, BERLIN, "run_date") is None


def test_convert_to_datetime_aware_datetime_unchanged() -> None:
    value = datetime(2024, 7, 1, 12, 0, tzinfo=CET)
    assert convert_to_datetime(value, BERLIN, "run_date") is value


@pytest.mark.parametrize("tz", [BERLIN, "Europe/Berlin"], ids=["tzinfo", "name"])
def test_convert_to_datetime_naive_datetime_takes_tz(tz: Any, aps_util: Any) -> None:
    result = convert_to_datetime(datetime(2024, 7, 1, 12, 30), tz, "run_date")
    assert result == datetime(2024, 7, 1, 12, 30, tzinfo=BERLIN)
    assert result.tzinfo is BERLIN
    assert result.utcoffset() == timedelta(hours=2)
    assert aps_util.convert_to_datetime(datetime(2024, 7, 1, 12, 30), tz, "run_date") == result


def test_convert_to_datetime_date_is_midnight(aps_util: Any) -> None:
    result = convert_to_datetime(date(2024, 1, 15), BERLIN, "run_date")
    assert result == datetime(2024, 1, 15, tzinfo=BERLIN)
    assert aps_util.convert_to_datetime(date(2024, 1, 15), BERLIN, "run_date") == result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2009-08-01T03:04:05+02:00", datetime(2009, 8, 1, 3, 4, 5, tzinfo=CEST)),
        (
            "2009-08-01 03:04:05-05:30",
            datetime(2009, 8, 1, 3, 4, 5, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        ("2009-08-01T03:04:05Z", datetime(2009, 8, 1, 3, 4, 5, tzinfo=timezone.utc)),
        ("2009-08-01 03:04:05", datetime(2009, 8, 1, 3, 4, 5, tzinfo=BERLIN)),
        ("2009-08-01 03:04:05.123456", datetime(2009, 8, 1, 3, 4, 5, 123456, tzinfo=BERLIN)),
        ("2009-08-01", datetime(2009, 8, 1, tzinfo=BERLIN)),
        ("2009-8-1", datetime(2009, 8, 1, tzinfo=BERLIN)),
        ("2009-8-1 3:04:05", datetime(2009, 8, 1, 3, 4, 5, tzinfo=BERLIN)),
        ("2009-8-1 3:04:05Z", datetime(2009, 8, 1, 3, 4, 5, tzinfo=timezone.utc)),
    ],
    ids=[
        "offset",
        "negative-offset",
        "z",
        "naive",
        "microseconds",
        "date-only",
        "short-date",
        "short-datetime",
        "short-datetime-z",
    ],
)
def test_convert_to_datetime_strings(text: str, expected: datetime, aps_util: Any) -> None:
    result = convert_to_datetime(text, BERLIN, "run_date")
    assert result == expected
    assert result.utcoffset() == expected.utcoffset()
    aps_result = aps_util.convert_to_datetime(text, BERLIN, "run_date")
    assert aps_result == expected
    assert aps_result.utcoffset() == expected.utcoffset()


def test_convert_to_datetime_string_with_offset_needs_no_tz() -> None:
    result = convert_to_datetime("2009-08-01T03:04:05Z", None, "run_date")
    assert result == datetime(2009, 8, 1, 3, 4, 5, tzinfo=timezone.utc)


def test_convert_to_datetime_short_fraction_is_a_fraction() -> None:
    # APScheduler 3.x reads ".5" as 5 microseconds; ISO 8601 (and greensched) as half a second
    result = convert_to_datetime("2009-8-1 03:04:05.5", BERLIN, "run_date")
    assert result == datetime(2009, 8, 1, 3, 4, 5, 500000, tzinfo=BERLIN)


def test_convert_to_datetime_time_in_dst_gap_moves_past_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2024-03-31 (02:00 CET -> 03:00 CEST); the result is
    # the first instant after the gap (APScheduler 3.x shifts it by the gap's length: 03:30)
    result = convert_to_datetime(datetime(2024, 3, 31, 2, 30), BERLIN, "run_date")
    assert result == datetime(2024, 3, 31, 3, 0, tzinfo=BERLIN)
    assert result.utcoffset() == timedelta(hours=2)
    assert result.astimezone(timezone.utc).astimezone(BERLIN).replace(tzinfo=None) == (
        result.replace(tzinfo=None)
    )
    from_string = convert_to_datetime("2024-03-31 02:30:00", BERLIN, "run_date")
    assert from_string == result


def test_convert_to_datetime_ambiguous_time_takes_first_occurrence(aps_util: Any) -> None:
    result = convert_to_datetime(datetime(2024, 10, 27, 2, 30), BERLIN, "run_date")
    assert result.utcoffset() == timedelta(hours=2)
    assert result.astimezone(timezone.utc) == datetime(2024, 10, 27, 0, 30, tzinfo=timezone.utc)
    assert aps_util.convert_to_datetime(datetime(2024, 10, 27, 2, 30), BERLIN, "x") == result


@pytest.mark.parametrize(
    "value",
    [datetime(2024, 1, 1), "2024-01-01 10:00:00", date(2024, 1, 1)],
    ids=["datetime", "string", "date"],
)
def test_convert_to_datetime_naive_without_tz(value: Any, aps_util: Any) -> None:
    message = r'^The "tz" argument must be specified if run_date has no timezone information$'
    with pytest.raises(ValueError, match=message):
        convert_to_datetime(value, None, "run_date")
    with pytest.raises(ValueError, match=message):
        aps_util.convert_to_datetime(value, None, "run_date")


@pytest.mark.parametrize(
    "text",
    ["garbage", "", "2024-13-01", "2024-02-30 10:00:00", "2024-01-01 25:00:00", "01/02/2024"],
    ids=["word", "empty", "month-13", "feb-30", "hour-25", "us-format"],
)
def test_convert_to_datetime_bad_string(text: str, aps_util: Any) -> None:
    message = (
        rf"^run_date must be an ISO 8601 date or datetime string, got: {re.escape(repr(text))}$"
    )
    with pytest.raises(ValueError, match=message):
        convert_to_datetime(text, BERLIN, "run_date")
    aps_messages = (
        r"^(Invalid date string|\w+ must be in \d+\.\.\d+|day is out of range for month)$"
    )
    with pytest.raises(ValueError, match=aps_messages):
        aps_util.convert_to_datetime(text, BERLIN, "run_date")


@pytest.mark.parametrize("value", [1, 1.5, [2024, 1, 1]], ids=["int", "float", "list"])
def test_convert_to_datetime_bad_type(value: Any, aps_util: Any) -> None:
    name = type(value).__name__
    with pytest.raises(
        TypeError,
        match=rf"^Unsupported type for run_date: {name} \(expected a datetime, a date or a string\)$",
    ):
        convert_to_datetime(value, BERLIN, "run_date")
    with pytest.raises(TypeError):
        aps_util.convert_to_datetime(value, BERLIN, "run_date")


# datetime_ceil


def test_datetime_ceil_rounds_up_to_the_next_second(aps_util: Any) -> None:
    value = datetime(2024, 7, 1, 12, 0, 59, 1, tzinfo=BERLIN)
    assert datetime_ceil(value) == datetime(2024, 7, 1, 12, 1, 0, tzinfo=BERLIN)
    assert aps_util.datetime_ceil(value) == datetime_ceil(value)


def test_datetime_ceil_whole_second_unchanged() -> None:
    value = datetime(2024, 7, 1, 12, 0, 59, tzinfo=BERLIN)
    assert datetime_ceil(value) is value


def test_datetime_ceil_naive() -> None:
    assert datetime_ceil(datetime(2024, 12, 31, 23, 59, 59, 999999)) == datetime(2025, 1, 1)


def test_datetime_ceil_across_spring_forward_gives_an_existing_time(aps_util: Any) -> None:
    # 01:59:59.5 CET + 0.5 s is 03:00:00 CEST (02:00 does not exist that day)
    value = datetime(2024, 3, 31, 1, 59, 59, 500000, tzinfo=BERLIN)
    result = datetime_ceil(value)
    assert result.replace(tzinfo=None) == datetime(2024, 3, 31, 3, 0)
    assert result.utcoffset() == timedelta(hours=2)
    assert result.timestamp() - value.timestamp() == 0.5
    assert aps_util.datetime_ceil(value).replace(tzinfo=None) == result.replace(tzinfo=None)


def test_datetime_ceil_across_fall_back_does_not_skip_an_hour(aps_util: Any) -> None:
    # 02:59:59.5 CEST + 0.5 s is 02:00:00 CET (the second 02:00 of the day), not 03:00 CET
    value = datetime(2024, 10, 27, 2, 59, 59, 500000, tzinfo=BERLIN)
    result = datetime_ceil(value)
    assert (result.replace(tzinfo=None), result.fold) == (datetime(2024, 10, 27, 2, 0), 1)
    assert result.utcoffset() == timedelta(hours=1)
    assert result.timestamp() - value.timestamp() == 0.5
    aps_result = aps_util.datetime_ceil(value)
    assert (aps_result.replace(tzinfo=None), aps_result.fold) == (datetime(2024, 10, 27, 2, 0), 1)


# datetime_repr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 7, 1, 12, 5, 9, 123, tzinfo=BERLIN), "2024-07-01 12:05:09 CEST"),
        (datetime(2024, 1, 1, 0, 0, tzinfo=BERLIN), "2024-01-01 00:00:00 CET"),
        (datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc), "2024-01-01 00:00:00 UTC"),
        (None, "None"),
    ],
    ids=["summer", "winter", "utc", "none"],
)
def test_datetime_repr(value: datetime | None, expected: str, aps_util: Any) -> None:
    assert datetime_repr(value) == expected
    assert aps_util.datetime_repr(value) == expected


# datetime_to_utc_timestamp / utc_timestamp_to_datetime


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(1970, 1, 1, tzinfo=timezone.utc), 0.0),
        (datetime(2020, 1, 1, 1, 0, tzinfo=BERLIN), 1577836800.0),
        (datetime(2020, 1, 1, 0, 0, 0, 250000, tzinfo=timezone.utc), 1577836800.25),
        (datetime(2020, 1, 1), 1577836800.0),
        (None, None),
    ],
    ids=["epoch", "berlin", "fraction", "naive-is-utc", "none"],
)
def test_datetime_to_utc_timestamp(
    value: datetime | None, expected: float | None, aps_util: Any
) -> None:
    assert datetime_to_utc_timestamp(value) == expected
    assert aps_util.datetime_to_utc_timestamp(value) == expected


def test_utc_timestamp_to_datetime(aps_util: Any) -> None:
    result = utc_timestamp_to_datetime(1577836800.25)
    assert result == datetime(2020, 1, 1, 0, 0, 0, 250000, tzinfo=timezone.utc)
    assert result.tzinfo is timezone.utc
    assert aps_util.utc_timestamp_to_datetime(1577836800.25) == result
    assert utc_timestamp_to_datetime(None) is None


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 31, 3, 0, 0, 1, tzinfo=BERLIN),
        datetime(2024, 10, 27, 2, 30, 0, 999999, fold=1, tzinfo=BERLIN),
        datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),
        datetime(2100, 6, 15, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-7))),
    ],
    ids=["after-gap", "second-of-overlap", "utc", "far-future"],
)
def test_timestamp_round_trip_keeps_the_instant(value: datetime) -> None:
    result = utc_timestamp_to_datetime(datetime_to_utc_timestamp(value))
    # compare in UTC: an ambiguous wall time never equals a datetime of another zone (PEP 495)
    assert result == value.astimezone(timezone.utc)
    assert result.tzinfo is timezone.utc


def test_timedelta_seconds() -> None:
    assert timedelta_seconds(timedelta(days=1, seconds=2, microseconds=500000)) == 86402.5


# get_callable_name


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (module_function, "module_function"),
        (Owner().method, "Owner.method"),
        (Owner.method, "Owner.method"),
        (Owner.class_method, "Owner.class_method"),
        (Owner.static_method, "Owner.static_method"),
        (Owner.Inner().method, "Owner.Inner.method"),
        (Owner.Inner.class_method, "Owner.Inner.class_method"),
        (Owner, "Owner"),
        (CallableClass(), "CallableClass"),
        (len, "len"),
        ([].append, "list.append"),
        (datetime.now, "datetime.now"),
    ],
    ids=[
        "function",
        "bound-method",
        "unbound-method",
        "classmethod",
        "staticmethod",
        "nested-class-method",
        "nested-classmethod",
        "class",
        "callable-instance",
        "builtin",
        "builtin-method",
        "builtin-classmethod",
    ],
)
def test_get_callable_name(func: Any, expected: str, aps_util: Any) -> None:
    assert get_callable_name(func) == expected
    assert aps_util.get_callable_name(func) == expected


def test_get_callable_name_partial_names_the_wrapped_callable() -> None:
    # APScheduler 3.x names every partial "partial"
    assert get_callable_name(partial(module_function, 1)) == "module_function"
    assert get_callable_name(partial(partial(Owner().method))) == "Owner.method"


@pytest.mark.parametrize("value", [object(), 1, os.path], ids=["object", "int", "module"])
def test_get_callable_name_not_callable(value: Any, aps_util: Any) -> None:
    message = rf"^Unable to determine a name for {re.escape(repr(value))} -- maybe it is not a callable\?$"
    with pytest.raises(TypeError, match=message):
        get_callable_name(value)
    with pytest.raises(TypeError, match=message):
        aps_util.get_callable_name(value)


# obj_to_ref / ref_to_obj / maybe_ref


@pytest.mark.parametrize(
    ("obj", "qualname"),
    [
        (module_function, "module_function"),
        (Owner, "Owner"),
        (Owner.method, "Owner.method"),
        (Owner.class_method, "Owner.class_method"),
        (Owner.static_method, "Owner.static_method"),
        (Owner.Inner, "Owner.Inner"),
        (Owner.Inner.method, "Owner.Inner.method"),
        (Owner.Inner.class_method, "Owner.Inner.class_method"),
    ],
    ids=[
        "function",
        "class",
        "unbound-method",
        "classmethod",
        "staticmethod",
        "nested-class",
        "nested-class-method",
        "nested-classmethod",
    ],
)
def test_obj_to_ref_round_trip(obj: Any, qualname: str, aps_util: Any) -> None:
    ref = obj_to_ref(obj)
    assert ref == f"{__name__}:{qualname}"
    assert ref_to_obj(ref) == obj
    assert aps_util.obj_to_ref(obj) == ref


@pytest.mark.parametrize(
    ("obj", "ref"),
    [
        (len, "builtins:len"),
        (os.path.join, f"{os.path.join.__module__}:join"),
        (OrderedDict, "collections:OrderedDict"),
    ],
    ids=["builtin", "stdlib-function", "stdlib-class"],
)
def test_obj_to_ref_library_objects(obj: Any, ref: str) -> None:
    assert obj_to_ref(obj) == ref
    assert ref_to_obj(ref) is obj


def test_obj_to_ref_lambda() -> None:
    func = lambda: None
    with pytest.raises(
        ValueError,
        match=rf"^Cannot create a reference to a nested function or lambda: {re.escape(repr(func))}$",
    ):
        obj_to_ref(func)


def test_obj_to_ref_nested_function() -> None:
    def nested() -> None:
        pass

    with pytest.raises(
        ValueError,
        match=rf"^Cannot create a reference to a nested function or lambda: {re.escape(repr(nested))}$",
    ):
        obj_to_ref(nested)


def test_obj_to_ref_bound_instance_method() -> None:
    # APScheduler 3.x returns "module:Owner.method", which resolves to the unbound function
    method = Owner().method
    with pytest.raises(
        ValueError,
        match=rf"^Cannot create a reference to a bound method of an instance: {re.escape(repr(method))}$",
    ):
        obj_to_ref(method)


def test_instance_method_ref_is_apscheduler_s_reference(aps_util: Any) -> None:
    # what a Job stores for a bound method of an instance (with the instance in its args)
    method = Owner().method
    assert _instance_method_ref(method) == f"{__name__}:Owner.method"
    assert _instance_method_ref(method) == aps_util.obj_to_ref(method)


@pytest.mark.parametrize(
    "obj",
    [module_function, Owner.method, Owner.class_method, Owner.static_method, CallableClass()],
    ids=["function", "function-of-a-class", "class-method", "static-method", "callable-instance"],
)
def test_instance_method_ref_of_other_callables_is_none(obj: Any) -> None:
    assert _instance_method_ref(obj) is None


def test_instance_method_ref_of_a_nested_class() -> None:
    method = Owner.Inner().method  # nested in a class, not a function: it has a reference
    assert _instance_method_ref(method) == f"{__name__}:Owner.Inner.method"


def test_instance_method_ref_of_a_local_class() -> None:
    class Local:
        def method(self) -> None:
            pass

    method = Local().method
    with pytest.raises(
        ValueError,
        match=rf"^Cannot create a reference to a nested function or lambda: {re.escape(repr(method))}$",
    ):
        _instance_method_ref(method)


def test_instance_method_ref_that_does_not_resolve_to_the_function() -> None:
    instance = Owner()
    impostor = FunctionType(module_function.__code__, module_function.__globals__, "method")
    method = impostor.__get__(instance)
    ref = f"{__name__}:Owner.method"
    with pytest.raises(
        ValueError,
        match=(
            rf"^Cannot create a reference to {re.escape(repr(method))}: "
            rf"{re.escape(repr(ref))} resolves to another object$"
        ),
    ):
        _instance_method_ref(method)


def test_obj_to_ref_partial() -> None:
    func = partial(module_function, 1)
    with pytest.raises(
        ValueError, match=rf"^Cannot create a reference to a partial\(\): {re.escape(repr(func))}$"
    ):
        obj_to_ref(func)


def test_obj_to_ref_callable_instance_has_no_reference() -> None:
    instance = CallableClass()
    with pytest.raises(
        ValueError,
        match=rf"^Cannot create a reference to {re.escape(repr(instance))}: it has no module or qualname$",
    ):
        obj_to_ref(instance)


def test_obj_to_ref_qualname_that_does_not_resolve() -> None:
    func = _copy_function(module_function, "no_such_function")
    ref = f"{__name__}:no_such_function"
    with pytest.raises(
        ValueError,
        match=rf"^Cannot create a reference to {re.escape(repr(func))}: {re.escape(repr(ref))} does not resolve$",
    ):
        obj_to_ref(func)


def test_obj_to_ref_qualname_that_resolves_to_another_object() -> None:
    impostor = _copy_function(module_function, "module_function")
    ref = f"{__name__}:module_function"
    with pytest.raises(
        ValueError,
        match=(
            rf"^Cannot create a reference to {re.escape(repr(impostor))}: "
            rf"{re.escape(repr(ref))} resolves to another object$"
        ),
    ):
        obj_to_ref(impostor)


@pytest.mark.parametrize("value", [1, "text", None], ids=["int", "str", "none"])
def test_obj_to_ref_not_callable(value: Any, aps_util: Any) -> None:
    with pytest.raises(
        TypeError,
        match=rf"^Cannot create a reference to {re.escape(repr(value))}: it is not callable$",
    ):
        obj_to_ref(value)
    with pytest.raises(TypeError):
        aps_util.obj_to_ref(value)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("os.path:join", os.path.join),
        ("datetime:datetime.now", datetime.now),
        (f"{__name__}:Owner.Inner.method", Owner.Inner.method),
    ],
    ids=["module-function", "class-attribute", "nested"],
)
def test_ref_to_obj(ref: str, expected: Any, aps_util: Any) -> None:
    assert ref_to_obj(ref) == expected
    assert aps_util.ref_to_obj(ref) == expected


def test_ref_to_obj_not_a_string(aps_util: Any) -> None:
    with pytest.raises(TypeError, match=r"^References must be strings, got: 1$"):
        ref_to_obj(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aps_util.ref_to_obj(1)


@pytest.mark.parametrize(
    "ref",
    ["os", "os:", ":join", ".path:join", ""],
    ids=["no-colon", "no-name", "no-module", "relative", "empty"],
)
def test_ref_to_obj_invalid_reference(ref: str) -> None:
    with pytest.raises(
        ValueError,
        match=rf"^Invalid reference {re.escape(repr(ref))}: expected 'package\.module:qualname'$",
    ):
        ref_to_obj(ref)


def test_ref_to_obj_invalid_reference_like_apscheduler(aps_util: Any) -> None:
    with pytest.raises(ValueError, match=r"^Invalid reference$"):
        aps_util.ref_to_obj("os")


def test_ref_to_obj_missing_module(aps_util: Any) -> None:
    ref = "greensched_no_such_module:func"
    with pytest.raises(
        LookupError, match=rf"^Error resolving reference {ref}: could not import module$"
    ):
        ref_to_obj(ref)
    with pytest.raises(
        LookupError, match=rf"^Error resolving reference {ref}: could not import module$"
    ):
        aps_util.ref_to_obj(ref)


@pytest.mark.parametrize(
    "ref", ["os:no_such_name", "os.path:join.no_such_attribute"], ids=["top", "nested"]
)
def test_ref_to_obj_missing_attribute(ref: str, aps_util: Any) -> None:
    message = rf"^Error resolving reference {re.escape(ref)}: error looking up object$"
    with pytest.raises(LookupError, match=message):
        ref_to_obj(ref)
    with pytest.raises(LookupError, match=message):
        aps_util.ref_to_obj(ref)


def test_maybe_ref_resolves_strings() -> None:
    assert maybe_ref("os.path:join") is os.path.join


@pytest.mark.parametrize(
    "value", [module_function, None, 5, Owner], ids=["function", "none", "int", "class"]
)
def test_maybe_ref_returns_other_objects_as_is(value: Any) -> None:
    assert maybe_ref(value) is value


def test_maybe_ref_bad_reference() -> None:
    with pytest.raises(ValueError, match=r"^Invalid reference 'os'"):
        maybe_ref("os")


# check_callable_args


def three_args(a: int, b: int, c: int = 3) -> None:
    pass


def positional_only(a: int, /, b: int) -> None:
    pass


def keyword_only(a: int, *, b: int, c: int = 3) -> None:
    pass


def var_args(a: int, *args: int, **kwargs: int) -> None:
    pass


def only_var_kwargs(**kwargs: int) -> None:
    pass


class WithInit:
    def __init__(self, x: int) -> None:
        pass

    def method(self, y: int) -> None:
        pass


_ACCEPTED_CALLS = [
    (three_args, (1, 2), {}),
    (three_args, (1, 2, 3), {}),
    (three_args, (1,), {"b": 2}),
    (three_args, (), {"a": 1, "b": 2, "c": 3}),
    (positional_only, (1, 2), {}),
    (positional_only, (1,), {"b": 2}),
    (keyword_only, (1,), {"b": 2}),
    (keyword_only, (), {"a": 1, "b": 2, "c": 4}),
    (var_args, (1, 2, 3, 4), {"x": 1, "y": 2}),
    (var_args, (), {"a": 1, "z": 2}),
    (only_var_kwargs, (), {"anything": 1}),
    (WithInit, (1,), {}),
    (WithInit(1).method, (), {"y": 1}),
    (partial(three_args, 1), (2,), {}),
    (NoSignature(), (1, 2, 3), {"whatever": 1}),
]
_ACCEPTED_IDS = [
    "positional",
    "all-positional",
    "mixed",
    "all-keyword",
    "positional-only",
    "positional-only-then-keyword",
    "keyword-only",
    "keyword-only-all",
    "varargs",
    "varargs-keywords",
    "var-kwargs",
    "class",
    "bound-method",
    "partial",
    "no-signature",
]


@pytest.mark.parametrize(("func", "args", "kwargs"), _ACCEPTED_CALLS, ids=_ACCEPTED_IDS)
def test_check_callable_args_accepts(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], aps_util: Any
) -> None:
    check_callable_args(func, args, kwargs)
    aps_util.check_callable_args(func, args, kwargs)


def _has_signature(func: Any) -> bool:
    try:
        inspect.signature(func)
    except ValueError:
        return False
    return True


@pytest.mark.skipif(_has_signature(max), reason="this Python knows the signature of max()")
def test_check_callable_args_builtin_without_signature_is_accepted() -> None:
    check_callable_args(max, (1, 2, 3), {"key": None})


@pytest.mark.parametrize(
    ("func", "args", "kwargs", "message"),
    [
        (three_args, (), {}, "The following arguments have not been supplied: a, b"),
        (three_args, (1,), {"c": 3}, "The following arguments have not been supplied: b"),
        (
            three_args,
            (1, 2, 3, 4),
            {},
            (
                "The list of positional arguments is longer than the target callable can handle "
                "(allowed: 3, given in args: 4)"
            ),
        ),
        (
            keyword_only,
            (1, 2),
            {"b": 2},
            (
                "The list of positional arguments is longer than the target callable can handle "
                "(allowed: 1, given in args: 2)"
            ),
        ),
        (
            three_args,
            (1, 2),
            {"d": 4, "e": 5},
            "The target callable does not accept the following keyword arguments: d, e",
        ),
        (
            three_args,
            (1, 2),
            {"a": 1},
            "The following arguments are supplied in both args and kwargs: a",
        ),
        (
            positional_only,
            (),
            {"a": 1, "b": 2},
            "The following arguments cannot be given as keyword arguments: a",
        ),
        (
            keyword_only,
            (1,),
            {},
            "The following keyword-only arguments have not been supplied in kwargs: b",
        ),
        (
            WithInit,
            (),
            {},
            "The following arguments have not been supplied: x",
        ),
        (
            WithInit(1).method,
            (1, 2),
            {},
            (
                "The list of positional arguments is longer than the target callable can handle "
                "(allowed: 1, given in args: 2)"
            ),
        ),
    ],
    ids=[
        "missing-args",
        "missing-one-arg",
        "too-many-positional",
        "too-many-positional-keyword-only",
        "unknown-kwargs",
        "positional-and-keyword",
        "positional-only-as-keyword",
        "missing-keyword-only",
        "class-missing-arg",
        "bound-method-self-not-counted",
    ],
)
def test_check_callable_args_rejects(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], message: str, aps_util: Any
) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        check_callable_args(func, args, kwargs)
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        aps_util.check_callable_args(func, args, kwargs)


# undefined


def test_undefined_is_falsy() -> None:
    assert not undefined
    assert bool(undefined) is False
    assert undefined is not None


def test_undefined_repr() -> None:
    assert repr(undefined) == "<undefined>"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_undefined_pickles_to_the_same_singleton(protocol: int) -> None:
    assert pickle.loads(pickle.dumps(undefined, protocol)) is undefined


def test_undefined_copies_to_the_same_singleton() -> None:
    assert copy.copy(undefined) is undefined
    assert copy.deepcopy(undefined) is undefined


# localize / normalize


def test_localize_existing_wall_time(aps_util: Any) -> None:
    result = localize(datetime(2024, 7, 1, 12, 0), BERLIN)
    assert result.replace(tzinfo=None) == datetime(2024, 7, 1, 12, 0)
    assert result.tzinfo is BERLIN
    assert result.utcoffset() == timedelta(hours=2)
    assert aps_util.localize(datetime(2024, 7, 1, 12, 0), BERLIN) == result


def test_localize_time_in_dst_gap_gives_first_instant_after_it() -> None:
    result = localize(datetime(2024, 3, 31, 2, 30), BERLIN)
    assert result.replace(tzinfo=None) == datetime(2024, 3, 31, 3, 0)
    assert result.utcoffset() == timedelta(hours=2)
    assert result == datetime(2024, 3, 31, 1, 0, tzinfo=timezone.utc)


def test_localize_ambiguous_time_is_first_occurrence(aps_util: Any) -> None:
    result = localize(datetime(2024, 10, 27, 2, 30), BERLIN)
    assert result.replace(tzinfo=None) == datetime(2024, 10, 27, 2, 30)
    assert result.utcoffset() == timedelta(hours=2)
    aps_result = aps_util.localize(datetime(2024, 10, 27, 2, 30), BERLIN)
    assert aps_result.utcoffset() == result.utcoffset()


def test_localize_uses_the_zone_localize_method() -> None:
    calls: list[datetime] = []

    class PytzLikeZone(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta:
            return timedelta(hours=5)

        def localize(self, dt: datetime) -> datetime:
            calls.append(dt)
            return dt.replace(tzinfo=self)

    zone = PytzLikeZone()
    result = localize(datetime(2024, 1, 1), zone)
    assert calls == [datetime(2024, 1, 1)]
    assert result.tzinfo is zone


def test_normalize_existing_time_unchanged(aps_util: Any) -> None:
    value = datetime(2024, 7, 1, 12, 0, tzinfo=BERLIN)
    result = normalize(value)
    assert (result.replace(tzinfo=None), result.utcoffset()) == (
        datetime(2024, 7, 1, 12, 0),
        timedelta(hours=2),
    )
    assert result.tzinfo is BERLIN
    assert aps_util.normalize(value) == result


def test_normalize_time_in_gap_shifts_by_gap_length(aps_util: Any) -> None:
    value = datetime(2024, 3, 31, 2, 30, tzinfo=BERLIN)
    result = normalize(value)
    assert result.replace(tzinfo=None) == datetime(2024, 3, 31, 3, 30)
    assert result.utcoffset() == timedelta(hours=2)
    aps_result = aps_util.normalize(value)
    assert aps_result.replace(tzinfo=None) == result.replace(tzinfo=None)


def test_normalize_second_occurrence_keeps_fold() -> None:
    value = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)
    result = normalize(value)
    assert (result.replace(tzinfo=None), result.fold) == (datetime(2024, 10, 27, 2, 30), 1)
    assert result.utcoffset() == timedelta(hours=1)


def test_unknown_zone_is_both_value_error_and_apscheduler_key_error() -> None:
    from zoneinfo import ZoneInfoNotFoundError

    with pytest.raises(
        ValueError, match=r"^timezone must be a known IANA zone name, got: 'Mars/X'$"
    ):
        astimezone("Mars/X")
    with pytest.raises(ZoneInfoNotFoundError, match=r"^timezone must be a known IANA zone name"):
        astimezone("Mars/X")


def test_pytz_zones_become_zoneinfo() -> None:
    pytz = pytest.importorskip("pytz")
    from zoneinfo import ZoneInfo

    assert astimezone(pytz.timezone("Europe/Berlin")) == ZoneInfo("Europe/Berlin")
    assert astimezone(pytz.utc) == ZoneInfo("UTC")  # as APScheduler 3.11
    berlin = pytz.timezone("Europe/Berlin")
    # a wall time in the spring-forward gap moves past the gap; one in the overlap is its first
    assert localize(datetime(2024, 3, 31, 2, 30), berlin) == datetime(
        2024, 3, 31, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )
    overlap = localize(datetime(2024, 10, 27, 2, 30), berlin)
    assert overlap.utcoffset() == timedelta(hours=2)


# greensched._dst: the one daylight saving module behind localize() and every trigger


class HalfSecondGapZone(tzinfo):
    """A zone that moves from UTC+1 to UTC+2 at 2024-03-31 01:00:00.5 UTC: a transition off
    whole seconds, which only a search on microseconds finds exactly."""

    TRANSITION = datetime(2024, 3, 31, 1, 0, 0, 500000)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        assert dt is not None
        naive = dt.replace(tzinfo=None)
        one, two = timedelta(hours=1), timedelta(hours=2)
        if naive - one < self.TRANSITION:
            return one  # a wall time before the gap
        if naive - two >= self.TRANSITION:
            return two  # after it
        return two if dt.fold else one  # inside it: fold=0 reads it with the offset before

    def fromutc(self, dt: datetime) -> datetime:
        naive = dt.replace(tzinfo=None)
        offset = timedelta(hours=2 if naive >= self.TRANSITION else 1)
        return (naive + offset).replace(tzinfo=self)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)


def test_dst_gap_search_finds_a_transition_to_the_microsecond() -> None:
    zone = HalfSecondGapZone()
    result = _dst.localize(datetime(2024, 3, 31, 2, 30), zone)
    assert result.astimezone(timezone.utc).replace(tzinfo=None) == HalfSecondGapZone.TRANSITION


def test_dst_skip_gap_keeps_an_existing_wall_time_and_its_fold() -> None:
    second = datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN, fold=1)
    assert _dst.skip_gap(second) is second


def test_dst_skip_gap_rejects_a_naive_datetime() -> None:
    with pytest.raises(
        ValueError,
        match=r"^dt must be an aware datetime, got: datetime\.datetime\(2024, 1, 1, 0, 0\)$",
    ):
        _dst.skip_gap(datetime(2024, 1, 1))


def test_dst_overlap_gives_the_repeated_wall_times() -> None:
    start, end = _dst.overlap(datetime(2024, 10, 27, 2, 30), BERLIN)
    assert (start, end) == (datetime(2024, 10, 27, 2, 0), datetime(2024, 10, 27, 3, 0))


def test_dst_overlap_rejects_a_wall_time_that_occurs_once() -> None:
    with pytest.raises(
        ValueError,
        match=r"^wall must be a wall time that occurs twice in Europe/Berlin, "
        r"got: 2024-06-03 12:00:00$",
    ):
        _dst.overlap(datetime(2024, 6, 3, 12), BERLIN)
