"""Tests for greensched._validators: each validator accepts, or rejects with an exact message."""

from __future__ import annotations

import re
from typing import Any

import pytest

from greensched import _validators as validate


def _message(field: str, rule: str, value: Any) -> str:
    return rf"^{re.escape(f'{field} must be {rule}, got: {value!r}')}$"


# positive_int


@pytest.mark.parametrize("value", [1, 2, 10**12])
def test_positive_int_accepts(value: int) -> None:
    assert validate.positive_int("max_instances", value) == value


@pytest.mark.parametrize("value", [0, -1])
def test_positive_int_rejects_non_positive(value: int) -> None:
    with pytest.raises(ValueError, match=_message("max_instances", "a positive integer", value)):
        validate.positive_int("max_instances", value)


@pytest.mark.parametrize(
    "value", [True, False, 1.0, "1", None], ids=["true", "false", "float", "string", "none"]
)
def test_positive_int_rejects_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match=_message("max_instances", "a positive integer", value)):
        validate.positive_int("max_instances", value)


# optional_positive_int


@pytest.mark.parametrize("value", [1, 30, None])
def test_optional_positive_int_accepts(value: int | None) -> None:
    assert validate.optional_positive_int("misfire_grace_time", value) == value


@pytest.mark.parametrize("value", [0, -5])
def test_optional_positive_int_rejects_non_positive(value: int) -> None:
    with pytest.raises(
        ValueError, match=_message("misfire_grace_time", "a positive integer or None", value)
    ):
        validate.optional_positive_int("misfire_grace_time", value)


@pytest.mark.parametrize("value", [True, 1.5, "1"], ids=["bool", "float", "string"])
def test_optional_positive_int_rejects_other_types(value: Any) -> None:
    with pytest.raises(
        TypeError, match=_message("misfire_grace_time", "a positive integer or None", value)
    ):
        validate.optional_positive_int("misfire_grace_time", value)


# non_negative_number


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 0.0), (5, 5.0), (0.25, 0.25)], ids=["zero", "int", "float"]
)
def test_non_negative_number_accepts_and_returns_a_float(value: float, expected: float) -> None:
    result = validate.non_negative_number("jitter", value)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize("value", [-1, -0.5])
def test_non_negative_number_rejects_negative(value: float) -> None:
    with pytest.raises(ValueError, match=_message("jitter", "zero or more seconds", value)):
        validate.non_negative_number("jitter", value)


@pytest.mark.parametrize("value", [True, "1", None], ids=["bool", "string", "none"])
def test_non_negative_number_rejects_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match=_message("jitter", "a number of seconds", value)):
        validate.non_negative_number("jitter", value)


# boolean


@pytest.mark.parametrize("value", [True, False])
def test_boolean_accepts(value: bool) -> None:
    assert validate.boolean("coalesce", value) is value


@pytest.mark.parametrize("value", [1, 0, "true", None], ids=["one", "zero", "string", "none"])
def test_boolean_rejects_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match=_message("coalesce", "a bool", value)):
        validate.boolean("coalesce", value)


# string


def test_string_accepts() -> None:
    assert validate.string("name", "job") == "job"


def test_string_rejects_empty() -> None:
    with pytest.raises(ValueError, match=_message("name", "a non-empty string", "")):
        validate.string("name", "")


@pytest.mark.parametrize("value", [1, None, b"job"], ids=["int", "none", "bytes"])
def test_string_rejects_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match=_message("name", "a string", value)):
        validate.string("name", value)


@pytest.mark.parametrize("validator", [validate.positive_int, validate.optional_positive_int])
def test_non_positive_value_is_both_value_and_type_error(validator: Any) -> None:
    """APScheduler 3.x raises TypeError for max_instances=0; greensched documents ValueError."""
    with pytest.raises(ValueError, match=r"^field must be a positive integer"):
        validator("field", 0)
    with pytest.raises(TypeError, match=r"^field must be a positive integer"):
        validator("field", -3)


@pytest.mark.parametrize(
    ("validator", "value", "rule"),
    [
        (validate.string, "", "a non-empty string"),
        (validate.positive_int_option, "x", "a positive integer"),
    ],
    ids=["empty-string", "option-word"],
)
def test_value_apscheduler_rejects_with_the_other_class_is_both(
    validator: Any, value: Any, rule: str
) -> None:
    """APScheduler 3.x raises TypeError for an empty job name and ValueError for
    ``max_workers='x'``; greensched raises InvalidValueError, which is both."""
    with pytest.raises(validate.InvalidValueError, match=_message("field", rule, value)):
        validator("field", value)


class _Thing:
    pass


@pytest.mark.parametrize(
    ("state", "expected"), [({"version": 2}, 2), ({}, 1), ({"version": 1, "x": 0}, 1)]
)
def test_require_state_version_accepts_known_versions(
    state: dict[str, Any], expected: int
) -> None:
    assert validate.require_state_version(_Thing(), state, 2) == expected


@pytest.mark.parametrize(
    ("state", "exc_type", "message"),
    [
        (
            {"version": 3},
            ValueError,
            (
                r"^Cannot restore _Thing from state version 3: this release of greensched reads "
                r"versions up to 2 \(the state was saved by a newer release\)$"
            ),
        ),
        (
            {"version": "2"},
            ValueError,
            r"^_Thing state version must be a positive integer, got: '2'$",
        ),
        ({"version": 0}, ValueError, r"^_Thing state version must be a positive integer, got: 0$"),
        ([1, 2], TypeError, r"^_Thing state must be a dict, got: \[1, 2\]$"),
    ],
)
def test_require_state_version_rejects(
    state: Any, exc_type: type[Exception], message: str
) -> None:
    with pytest.raises(exc_type, match=message):
        validate.require_state_version(_Thing(), state, 2)


@pytest.mark.parametrize("value", [None, 0, 5, 2.5])
def test_jitter_is_returned_as_given(value: Any) -> None:
    assert validate.jitter(value) is value


@pytest.mark.parametrize(
    ("value", "exc_type", "message"),
    [
        (-1, ValueError, r"^jitter must be zero or more seconds, got: -1$"),
        (float("nan"), ValueError, r"^jitter must be a finite number of seconds, got: nan$"),
        (float("inf"), ValueError, r"^jitter must be a finite number of seconds, got: inf$"),
        ("5", TypeError, r"^jitter must be a number of seconds, got: '5'$"),
        (True, TypeError, r"^jitter must be a number of seconds, got: True$"),
    ],
)
def test_jitter_rejects(value: Any, exc_type: type[Exception], message: str) -> None:
    with pytest.raises(exc_type, match=message):
        validate.jitter(value)


# positive_int_option (configuration values)


@pytest.mark.parametrize(("value", "expected"), [(3, 3), ("20", 20), (" 7 ", 7)])
def test_positive_int_option_accepts(value: Any, expected: int) -> None:
    assert validate.positive_int_option("max_workers", value) == expected


@pytest.mark.parametrize(
    ("value", "exc_type"),
    [(0, ValueError), ("0", ValueError), ("-3", ValueError), ("x", TypeError), (2.0, TypeError)],
    ids=["zero", "zero-string", "negative-string", "word", "float"],
)
def test_positive_int_option_rejects(value: Any, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type, match=_message("max_workers", "a positive integer", value)):
        validate.positive_int_option("max_workers", value)


# optional_timeout


@pytest.mark.parametrize("value", [None, 1, 0.001, 86400.5])
def test_optional_timeout_accepts(value: float | None) -> None:
    assert validate.optional_timeout("timeout", value) == value


TIMEOUT_RULE = "a positive finite number of seconds or None"


@pytest.mark.parametrize(
    "value", [0, -1, 0.0, float("inf"), float("-inf")], ids=["0", "-1", "0.0", "inf", "-inf"]
)
def test_optional_timeout_rejects_non_positive_or_infinite(value: float) -> None:
    with pytest.raises(ValueError, match=_message("timeout", TIMEOUT_RULE, value)):
        validate.optional_timeout("timeout", value)


def test_optional_timeout_rejects_nan() -> None:
    with pytest.raises(ValueError, match=r"^timeout must be .* got: nan$"):
        validate.optional_timeout("timeout", float("nan"))


@pytest.mark.parametrize("value", [True, "5", [1]], ids=["bool", "string", "list"])
def test_optional_timeout_rejects_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match=_message("timeout", TIMEOUT_RULE, value)):
        validate.optional_timeout("timeout", value)
