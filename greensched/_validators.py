"""Validators shared by jobs, triggers, stores and executors; one message format:
``"<field> must be <rule>, got: <value!r>"``."""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def positive_int_option(field: str, value: Any) -> int:
    """Like :func:`positive_int`, but a string holding an integer (as configuration files give
    it, ``'20'``) is converted first.

    :raises TypeError: if ``value`` is neither an int nor a string
    :raises InvalidValueError: if it is a string not holding an integer (APScheduler 3.x's
        ``int(value)`` raises ValueError there), or it is not positive
    """
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise _reject(field, "a positive integer", value, InvalidValueError) from None
        if number <= 0:
            raise _reject(field, "a positive integer", value, InvalidValueError)
        return number
    return positive_int(field, value)


def optional_timeout(field: str, value: Any) -> float | int | None:
    """Return ``value`` as given if it is ``None`` or a positive, finite int or float (seconds).

    :raises TypeError: if ``value`` is not ``None``, an int or a float (bools excluded)
    :raises ValueError: if it is zero, negative, infinite or NaN
    """
    if value is None:
        return None
    return positive_seconds(field, value, "a positive finite number of seconds or None")


def positive_seconds(
    field: str, value: Any, rule: str = "a positive finite number of seconds"
) -> float | int:
    """Return ``value`` as given if it is a positive, finite int or float (seconds).

    :raises TypeError: if ``value`` is not an int or a float (bools excluded)
    :raises ValueError: if it is zero, negative, infinite or NaN
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _reject(field, rule, value, TypeError)
    if not (math.isfinite(value) and value > 0):
        raise _reject(field, rule, value)
    return value


def non_negative_number(field: str, value: Any) -> float:
    """Return ``value`` as a float if it is an int or float that is zero or more."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _reject(field, "a number of seconds", value, TypeError)
    if value < 0:
        raise _reject(field, "zero or more seconds", value)
    return float(value)


def jitter(value: Any) -> Any:
    """Return a trigger's ``jitter`` as given: ``None``, or a finite number of seconds, zero or
    more (an int stays an int, as APScheduler 3.x shows it in ``repr``).

    :raises TypeError: if ``value`` is not ``None``, an int or a float
    :raises ValueError: if it is negative, infinite or NaN
    """
    if value is None:
        return None
    non_negative_number("jitter", value)
    if not math.isfinite(value):
        raise _reject("jitter", "a finite number of seconds", value)
    return value


def boolean(field: str, value: Any) -> bool:
    """Return ``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise _reject(field, "a bool", value, TypeError)
    return value


def string(field: str, value: Any) -> str:
    """Return ``value`` if it is a non-empty string.

    :raises TypeError: if ``value`` is not a string
    :raises InvalidValueError: if it is empty (APScheduler 3.x raises TypeError for an empty
        job name)
    """
    if not isinstance(value, str):
        raise _reject(field, "a string", value, TypeError)
    if not value:
        raise _reject(field, "a non-empty string", value, InvalidValueError)
    return value


def require_state_version(obj: object, state: Mapping[str, Any], max_version: int) -> int:
    """Check the ``version`` of a pickled state before ``obj.__setstate__`` restores it.

    A state without a ``version`` key is version 1.

    :param obj: the object being restored (named in the error message)
    :param state: the state dict given to ``__setstate__``
    :param max_version: the newest state version this release can read
    :return: the state's version
    :raises TypeError: if ``state`` is not a mapping
    :raises ValueError: if the version is not a positive integer, or is newer than
        ``max_version`` (the state was saved by a newer release of greensched)
    """
    class_name = type(obj).__name__
    if not isinstance(state, Mapping):
        raise TypeError(f"{class_name} state must be a dict, got: {state!r}")
    version = state.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(
            f"{class_name} state version must be a positive integer, got: {version!r}"
        )
    if version > max_version:
        raise ValueError(
            f"Cannot restore {class_name} from state version {version}: this release of "
            f"greensched reads versions up to {max_version} (the state was saved by a newer "
            "release)"
        )
    return version
