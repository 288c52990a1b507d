"""Validators shared by jobs, triggers, stores and executors; one message format:
``"<field> must be <rule>, got: <value!r>"``."""

from __future__ import annotations

from typing import Any


class InvalidValueError(ValueError, TypeError):
    """A value of the right type that breaks a rule (a non-positive ``max_instances``).

    A ``ValueError``, as greensched documents, and a ``TypeError``, which is what APScheduler
    3.x raises for these values, so that code written against either catches it.
    """


def _reject(
    field: str, rule: str, value: Any, exc_type: type[Exception] = ValueError
) -> Exception:
    return exc_type(f"{field} must be {rule}, got: {value!r}")


def positive_int(field: str, value: Any) -> int:
    """Return ``value`` if it is an int greater than zero (bools excluded).

    :raises TypeError: if ``value`` is not an int
    :raises ValueError: if it is not positive
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise _reject(field, "a positive integer", value, TypeError)
    if value <= 0:
        raise _reject(field, "a positive integer", value, InvalidValueError)
    return value


def optional_positive_int(field: str, value: Any) -> int | None:
    """Like :func:`positive_int`, but ``None`` is allowed too."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _reject(field, "a positive integer or None", value, TypeError)
    if value <= 0:
        raise _reject(field, "a positive integer or None", value, InvalidValueError)
    return value


def non_negative_number(field: str, value: Any) -> float:
    """Return ``value`` as a float if it is an int or float that is zero or more."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _reject(field, "a number of seconds", value, TypeError)
    if value < 0:
        raise _reject(field, "zero or more seconds", value)
    return float(value)


def boolean(field: str, value: Any) -> bool:
    """Return ``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise _reject(field, "a bool", value, TypeError)
    return value


def string(field: str, value: Any) -> str:
    """Return ``value`` if it is a non-empty string."""
    if not isinstance(value, str):
        raise _reject(field, "a string", value, TypeError)
    if not value:
        raise _reject(field, "a non-empty string", value)
    return value
