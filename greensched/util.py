"""Helpers shared by the scheduler, jobs, triggers and stores (the names APScheduler 3.x exports)."""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import partial
from importlib import import_module
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greensched import _dst

__all__ = (
    "asbool",
    "asint",
    "astimezone",
    "check_callable_args",
    "convert_to_datetime",
    "datetime_ceil",
    "datetime_repr",
    "datetime_to_utc_timestamp",
    "get_callable_name",
    "localize",
    "maybe_ref",
    "normalize",
    "obj_to_ref",
    "ref_to_obj",
    "timedelta_seconds",
    "undefined",
    "utc_timestamp_to_datetime",
)


class _Undefined:
    """The type of :data:`undefined`: a value that was not given (``None`` may be meaningful)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<undefined>"

    def __reduce__(self) -> str:
        return "undefined"


#: Marks an argument that was not given, where ``None`` is a meaningful value.
undefined = _Undefined()


class UnknownTimeZoneError(ZoneInfoNotFoundError, ValueError):
    """A zone name that is not in the time zone database.

    A ``ValueError`` like every other bad argument, and a ``ZoneInfoNotFoundError`` (a
    ``KeyError``), which is what APScheduler 3.x lets through.

    :param name: the zone name
    :param message: the message, if not the usual one naming ``name``
    """

    def __init__(self, name: str, *, message: str | None = None) -> None:
        self.message = message or f"timezone must be a known IANA zone name, got: {name!r}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidReferenceError(ValueError, LookupError):
    """A reference whose form is bad in a way APScheduler 3.x only finds out when resolving it
    (a relative module name, an empty name after the colon).

    A ``ValueError`` like every other malformed reference, and a ``LookupError``, which is what
    APScheduler 3.x raises for these.
    """


_TRUE_STRINGS = frozenset(("true", "yes", "on", "y", "t", "1"))
_FALSE_STRINGS = frozenset(("false", "no", "off", "n", "f", "0"))


def asint(text: Any) -> int | None:
    """Convert to an integer, letting ``None`` through.

    :raises ValueError: if ``text`` is a string not holding an integer, a bool or a float with
        a fractional part
    :raises TypeError: if ``text`` is of a type that cannot be converted to an integer
    """
    if text is None:
        return None
    if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
        raise ValueError(f"expected an integer, got: {text!r}")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got: {text!r}") from None
    except TypeError:  # the type APScheduler 3.x raises for such objects
        raise TypeError(f"expected an integer, got: {text!r}") from None


def asbool(obj: Any) -> bool:
    """Interpret a string such as ``'yes'``, ``'off'`` or ``'1'`` as a boolean.

    Objects that are not strings are passed through :func:`bool`.

    :raises ValueError: if a string is not one of the known spellings
    """
    if isinstance(obj, str):
        lowered = obj.strip().lower()
        if lowered in _TRUE_STRINGS:
            return True
        if lowered in _FALSE_STRINGS:
            return False
        raise ValueError(f'Unable to interpret value "{obj}" as boolean')
    return bool(obj)


_LOCAL_TIMEZONE_MESSAGE = (
    "Unable to determine the name of the local timezone -- you must explicitly specify the name "
    "of the local timezone. Please refrain from using timezones like EST to prevent problems "
    "with daylight saving time. Instead, use a locale based timezone name (such as "
    "Europe/Helsinki)."
)


def astimezone(obj: str | tzinfo | None, *, field: str = "timezone") -> tzinfo | None:
    """Turn a zone name or a tzinfo into a tzinfo (``None`` stays ``None``).

    A pytz zone becomes the :class:`~zoneinfo.ZoneInfo` of the same name.

    :param field: the name of the option ``obj`` was given as, for the error messages

    :raises TypeError: if ``obj`` is neither a string nor a tzinfo (the message names
        ``field``)
    :raises ValueError: if the zone name is unknown or ``'local'`` (an
        :exc:`UnknownTimeZoneError`, also a :exc:`~zoneinfo.ZoneInfoNotFoundError`), or the
        tzinfo is named ``'local'``
    """
    if obj is None:
        return None
    last = _last_zone
    if obj is last[0]:
        return last[1]  # the scheduler's zone, given to each of its triggers
    if isinstance(obj, tzinfo):
        if obj.tzname(None) == "local":
            raise ValueError(_LOCAL_TIMEZONE_MESSAGE)
        zone = _from_pytz(obj)
        _remember_zone(obj, zone)
        return zone
    if isinstance(obj, str):
        if obj == "local":
            # APScheduler 3.x looks "local" up as a zone name: ZoneInfoNotFoundError
            raise UnknownTimeZoneError(obj, message=_LOCAL_TIMEZONE_MESSAGE)
        if obj.upper() == "UTC":
            return timezone.utc
        try:
            return ZoneInfo(obj)
        except (ZoneInfoNotFoundError, ValueError):
            raise UnknownTimeZoneError(obj) from None
    # APScheduler 3.x: "Expected tzinfo, got int instead" (the option is not named)
    raise TypeError(f"{field} must be a tzinfo or a zone name, got: {obj!r}")


#: the last tzinfo :func:`astimezone` was given, and its answer (a one-entry cache)
_last_zone: tuple[object, tzinfo | None] = (None, None)


def _remember_zone(given: tzinfo, zone: tzinfo) -> None:
    global _last_zone
    _last_zone = (given, zone)  # one assignment: a reader sees the old pair or the new one


def _from_pytz(zone: tzinfo) -> tzinfo:
    """Return the zoneinfo equivalent of a pytz zone (whose arithmetic needs ``localize`` and
    ``normalize`` calls); any other tzinfo is returned as it is."""
    name = getattr(zone, "zone", None)
    if isinstance(name, str) and hasattr(zone, "localize"):
        return ZoneInfo(name)
    return zone


def localize(dt: datetime, tzinfo: tzinfo) -> datetime:
    """Attach ``tzinfo`` to the naive ``dt``, moving a wall time that does not exist (inside a
    spring-forward gap) to the first instant after the gap (see :func:`greensched._dst.localize`)."""
    tzinfo = _from_pytz(tzinfo)
    localize_method = getattr(tzinfo, "localize", None)  # a pytz-like zone without a name
    if localize_method is not None:
        return localize_method(dt)  # type: ignore[no-any-return]
    return _dst.localize(dt, tzinfo)


def normalize(dt: datetime) -> datetime:
    """Return the real instant of an aware datetime in its own zone.

    A wall time inside a spring-forward gap comes back shifted by the gap's length, so that the
    result exists.
    """
    return datetime.fromtimestamp(dt.timestamp(), dt.tzinfo)


# What datetime.fromisoformat() rejects but APScheduler 3.x accepts: one-digit fields
# ("2009-8-1 3:04:05") and, on Python < 3.11, fractions of other than 3 or 6 digits.
_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<offset>[+-]\d{2}:\d{2})?)?$"
)


def _parse_datetime(text: str) -> datetime | None:
    """Parse the forms of :data:`_DATETIME_RE`; ``None`` if ``text`` is not one of them."""
    match = _DATETIME_RE.match(text)
    if match is None:
        return None
    fields = match.groupdict()
    offset = fields.pop("offset")
    fraction = fields.pop("fraction") or ""
    zone = None
    if offset:
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        return datetime(
            **{key: int(value or 0) for key, value in fields.items()},
            microsecond=int(fraction.ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError:  # a field out of range
        return None


def convert_to_datetime(
    input: datetime | date | str | None, tz: tzinfo | str | None, arg_name: str
) -> datetime | None:
    """Convert a datetime, a date or an ISO 8601 string to an aware datetime.

    A naive value takes the zone ``tz``. ``None`` stays ``None``.

    :param input: the value to convert
    :param tz: the zone for a naive value (a tzinfo or zone name)
    :param arg_name: the name of the argument, for error messages
    :raises ValueError: if a string is not ISO 8601, or a naive value has no ``tz``
    :raises TypeError: if ``input`` is of another type
    """
    if input is None:
        return None
    if isinstance(input, datetime):
        dt = input
    elif isinstance(input, date):
        dt = datetime.combine(input, time())
    elif isinstance(input, str):
        text = input.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            parsed = _parse_datetime(text)
            if parsed is None:
                raise ValueError(
                    f"{arg_name} must be an ISO 8601 date or datetime string, got: {input!r}"
                ) from None
            dt = parsed
    else:
        raise TypeError(
            f"Unsupported type for {arg_name}: {input.__class__.__name__} "
            "(expected a datetime, a date or a string)"
        )

    if dt.tzinfo is not None:
        return dt
    if tz is None:
        raise ValueError(
            f'The "tz" argument must be specified if {arg_name} has no timezone information'
        )
    zone = astimezone(tz)
    assert zone is not None
    return localize(dt, zone)


def datetime_to_utc_timestamp(timeval: datetime | None) -> float | None:
    """Return the POSIX timestamp of a datetime (naive: UTC; ``None`` stays ``None``)."""
    if timeval is None:
        return None
    if timeval.tzinfo is None:  # taken as UTC, as APScheduler 3.x does (not as local time)
        timeval = timeval.replace(tzinfo=timezone.utc)
    return timeval.timestamp()


def utc_timestamp_to_datetime(timestamp: float | None) -> datetime | None:
    """Return the UTC datetime of a POSIX timestamp (``None`` stays ``None``)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc)


def timedelta_seconds(delta: timedelta) -> float:
    """Return the length of a timedelta in seconds."""
    return delta.total_seconds()


def datetime_ceil(dateval: datetime) -> datetime:
    """Round a datetime up to the next whole second (unchanged if already whole)."""
    if dateval.microsecond > 0:
        delta = timedelta(seconds=1, microseconds=-dateval.microsecond)
        zone = dateval.tzinfo
        if zone is None:
            return dateval + delta
        # Add in UTC: wall-clock addition would land in a DST gap or skip an overlap
        return (dateval.astimezone(timezone.utc) + delta).astimezone(zone)
    return dateval


def datetime_repr(dateval: datetime | None) -> str:
    """Format a datetime as ``YYYY-mm-dd HH:MM:SS ZONE``, or ``'None'``."""
    return dateval.strftime("%Y-%m-%d %H:%M:%S %Z") if dateval is not None else "None"


def get_callable_name(func: Callable[..., Any]) -> str:
    """Return the best available display name of a callable.

    :raises TypeError: if ``func`` is not callable
    """
    if not callable(func):
        raise TypeError(f"Unable to determine a name for {func!r} -- maybe it is not a callable?")
    if isinstance(func, partial):
        return get_callable_name(func.func)
    if inspect.ismethod(func):
        owner = func.__self__
        owner_name = owner.__qualname__ if inspect.isclass(owner) else type(owner).__qualname__
        return f"{owner_name}.{func.__func__.__name__}"
    qualname = getattr(func, "__qualname__", None)
    if qualname is not None:
        return str(qualname)
    name = getattr(func, "__name__", None)
    if name is not None:
        return str(name)
    return type(func).__qualname__  # an instance of a class with __call__


def obj_to_ref(obj: Any) -> str:
    """Return the ``'package.module:qualname'`` reference that :func:`ref_to_obj` resolves back
    to ``obj``.

    :raises TypeError: if ``obj`` is not callable
    :raises ValueError: if ``obj`` has no such reference (a lambda, a nested function, a
        partial, a bound method of an instance, ...)

    .. note:: APScheduler 3.x gives a bound method of an instance the reference of its class's
       function (``module:Class.method``), which does not resolve back to the bound method;
       greensched refuses it here. A :class:`~greensched.job.Job` gives such a method that
       reference and stores the instance with the job's arguments, as APScheduler 3.x does.
    """
    if not callable(obj):
        raise TypeError(f"Cannot create a reference to {obj!r}: it is not callable")
    if isinstance(obj, partial):
        # ValueError, not TypeError: what APScheduler 3.x raises for a partial
        raise ValueError(f"Cannot create a reference to a partial(): {obj!r}")  # noqa: TRY004
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if inspect.ismethod(obj):
        owner = obj.__self__
        if not inspect.isclass(owner):
            raise ValueError(
                f"Cannot create a reference to a bound method of an instance: {obj!r}"
            )
        module, qualname = owner.__module__, f"{owner.__qualname__}.{obj.__func__.__name__}"
    return _checked_ref(obj, module, qualname, obj)


def _instance_method_ref(method: Any) -> str | None:
    """Return the reference APScheduler 3.x gives a bound method of an instance: that of the
    method's function, looked up on the instance's class (``'package.module:Class.method'``).

    ``None`` if ``method`` is not a bound method of an instance.

    :raises ValueError: if the reference does not resolve to the method's function (a class
        defined inside a function, a method the class does not have under its function's name)
    """
    if not inspect.ismethod(method) or inspect.isclass(method.__self__):
        return None
    cls = type(method.__self__)
    qualname = f"{cls.__qualname__}.{method.__func__.__name__}"
    return _checked_ref(method, cls.__module__, qualname, method.__func__)


def _checked_ref(obj: Any, module: str | None, qualname: str | None, target: Any) -> str:
    """Return the reference ``module:qualname`` of ``obj`` if it resolves to ``target``.

    :raises ValueError: naming ``obj``, if it does not
    """
    if not module or not qualname:
        raise ValueError(f"Cannot create a reference to {obj!r}: it has no module or qualname")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError(f"Cannot create a reference to a nested function or lambda: {obj!r}")
    if module == "__main__":
        main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if main_spec is not None:
            module = main_spec.name
    ref = f"{module}:{qualname}"
    try:
        resolved = ref_to_obj(ref)
    except Exception:  # noqa: BLE001 - whatever stops the reference from resolving
        raise ValueError(
            f"Cannot create a reference to {obj!r}: {ref!r} does not resolve"
        ) from None
    if resolved != target:
        raise ValueError(
            f"Cannot create a reference to {obj!r}: {ref!r} resolves to another object"
        )
    return ref


def ref_to_obj(ref: str) -> Any:
    """Return the object a ``'package.module:qualname'`` reference points to.

    :raises TypeError: if ``ref`` is not a string
    :raises ValueError: if ``ref`` is not of the ``module:qualname`` form (an
        :exc:`InvalidReferenceError`, also a ``LookupError``, for a relative module name or an
        empty name after the colon)
    :raises LookupError: if the module cannot be imported or has no such attribute
    """
    if not isinstance(ref, str):
        raise TypeError(f"References must be strings, got: {ref!r}")
    modulename, sep, rest = ref.partition(":")
    message = f"Invalid reference {ref!r}: expected 'package.module:qualname'"
    if not sep or not modulename:
        raise ValueError(message)
    # a relative module name would make import_module() raise TypeError
    if not rest or modulename.startswith("."):
        raise InvalidReferenceError(message)
    try:
        obj: Any = import_module(modulename)
    except ImportError as exc:
        raise LookupError(f"Error resolving reference {ref}: could not import module") from exc
    try:
        for name in rest.split("."):
            obj = getattr(obj, name)
    except AttributeError:
        raise LookupError(f"Error resolving reference {ref}: error looking up object") from None
    return obj


def maybe_ref(ref: Any) -> Any:
    """Resolve ``ref`` with :func:`ref_to_obj` if it is a string; return anything else as is."""
    if not isinstance(ref, str):
        return ref
    return ref_to_obj(ref)


def check_callable_args(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """Check that ``func`` can be called with ``args`` and ``kwargs``.

    Callables whose signature cannot be read (some builtins) are accepted.

    :raises ValueError: naming the arguments that do not fit the signature
    """
    try:
        signature = inspect.signature(func, follow_wrapped=False)
    except ValueError:
        return  # no signature available: nothing to check
    pos_kw_conflicts: list[str] = []
    positional_only_kwargs: list[str] = []
    unsatisfied_args: list[str] = []
    unsatisfied_kwargs: list[str] = []
    unmatched_args = list(args)
    unmatched_kwargs = list(kwargs)
    has_varargs = has_var_kwargs = False

    for param in signature.parameters.values():
        kind = param.kind
        if kind == param.POSITIONAL_OR_KEYWORD:
            if param.name in unmatched_kwargs and unmatched_args:
                pos_kw_conflicts.append(param.name)
            elif unmatched_args:
                del unmatched_args[0]
            elif param.name in unmatched_kwargs:
                unmatched_kwargs.remove(param.name)
            elif param.default is param.empty:
                unsatisfied_args.append(param.name)
        elif kind == param.POSITIONAL_ONLY:
            if unmatched_args:
                del unmatched_args[0]
            elif param.name in unmatched_kwargs:
                positional_only_kwargs.append(param.name)
            elif param.default is param.empty:
                unsatisfied_args.append(param.name)
        elif kind == param.KEYWORD_ONLY:
            if param.name in unmatched_kwargs:
                unmatched_kwargs.remove(param.name)
            elif param.default is param.empty:
                unsatisfied_kwargs.append(param.name)
        elif kind == param.VAR_POSITIONAL:
            has_varargs = True
        elif kind == param.VAR_KEYWORD:
            has_var_kwargs = True

    if pos_kw_conflicts:
        raise ValueError(
            "The following arguments are supplied in both args and kwargs: "
            + ", ".join(pos_kw_conflicts)
        )
    if positional_only_kwargs:
        raise ValueError(
            "The following arguments cannot be given as keyword arguments: "
            + ", ".join(positional_only_kwargs)
        )
    if unsatisfied_args:
        raise ValueError(
            "The following arguments have not been supplied: " + ", ".join(unsatisfied_args)
        )
    if unsatisfied_kwargs:
        raise ValueError(
            "The following keyword-only arguments have not been supplied in kwargs: "
            + ", ".join(unsatisfied_kwargs)
        )
    if not has_varargs and unmatched_args:
        raise ValueError(
            f"The list of positional arguments is longer than the target callable can handle "
            f"(allowed: {len(args) - len(unmatched_args)}, given in args: {len(args)})"
        )
    if not has_var_kwargs and unmatched_kwargs:
        raise ValueError(
            "The target callable does not accept the following keyword arguments: "
            + ", ".join(unmatched_kwargs)
        )
