"""Job states as JSON, for the persistent stores' ``serializer='json'``: nothing is unpickled.

A stored row is one JSON object::

    {"format": "greensched-job", "format_version": 1, "job": {...the job state...}}

* ``func`` is the function's ``'module:qualname'`` reference (as in every job state);
* ``args`` and ``kwargs`` hold JSON values only: ``str``, ``int``, finite ``float``, ``bool``,
  ``None``, lists (tuples are written as lists, and come back as lists, except ``args``
  itself, which comes back as a tuple) and dicts with ``str`` keys. Anything else is refused
  when the job is stored, with the value's place (``args[1]``, ``kwargs['when']``) and type;
* the trigger is its class reference and its ``__getstate__()``, the values JSON has no type
  for written as tagged objects: ``{"$datetime": "2026-03-29T02:30:00", "tz": {"$zone":
  "Europe/Berlin"}, "fold": 1}``, ``{"$date": ...}``, ``{"$time": ...}``, ``{"$timedelta":
  [days, seconds, microseconds]}``, ``{"$zone": "Europe/Berlin"}`` (an IANA zone),
  ``{"$offset": seconds}`` (a fixed offset), ``{"$object": "module:Class", "state": ...}``
  (a trigger, or a cron field), and ``{"$dict": {...}}`` (a dict that has keys starting with
  ``$``). ``next_run_time`` is such a datetime.

Reading refuses anything else: a row that is not such a JSON object (a pickle, say), an
unknown tag, a value pickled by ``export_jobs`` (``__greensched_pickle__``), an ``$object`` that
is not a trigger or cron field class. Nothing is ever unpickled; the modules that the function
and trigger references name are imported, as restoring any job imports them.
"""

from __future__ import annotations

import json
import math
import reprlib
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Callable
from zoneinfo import ZoneInfo

from greensched._serialization import _PICKLE_KEYS, trigger_class
from greensched.jobstores._states import MissingGlobal, missing_global
from greensched.triggers.base import BaseTrigger
from greensched.triggers.cron.fields import BaseField
from greensched.util import InvalidReferenceError, obj_to_ref, ref_to_obj

__all__ = ("FORMAT", "FORMAT_VERSION", "decode_job_state", "encode_job_state")

#: The ``format`` of a stored JSON row
FORMAT = "greensched-job"
#: The ``format_version`` this release writes and reads
FORMAT_VERSION = 1

#: The keys holding the application's values: JSON values only, never tagged
_PLAIN_KEYS = ("args", "kwargs")

_JSON_TYPES = "str, int, float, bool, None, lists and dicts with str keys"

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80


class _Refused(ValueError):
    """A value the JSON format cannot hold (writing) or a row it does not accept (reading)."""


def encode_job_state(state: dict[str, Any]) -> bytes:
    """Return a job state as a JSON row (see the module docstring).

    :raises ValueError: naming the value (``args[0]``, ``trigger.state['start_date']``) that
        JSON cannot hold, and its type
    """
    job: dict[str, Any] = {}
    for key, value in state.items():
        if key in _PLAIN_KEYS:
            job[key] = _plain(value, key)
        else:
            job[key] = _tagged(value, key)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "job": job}
    return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()


def _refuse(value: Any, where: str, what: str) -> _Refused:
    return _Refused(
        f"{where} is {_short.repr(value)} ({type(value).__name__}): the json serializer {what}"
    )


def _plain(value: Any, where: str) -> Any:
    """Check an application value: JSON values only."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _refuse(value, where, "holds finite numbers only")
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise _refuse(key, f"a key of {where}", "holds dicts with str keys only")
        return {key: _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    raise _refuse(value, where, f"holds JSON values only ({_JSON_TYPES})")


def _zone(zone: tzinfo, where: str) -> dict[str, Any]:
    key = getattr(zone, "key", None) or getattr(zone, "zone", None)  # zoneinfo, pytz
    if isinstance(key, str):
        return {"$zone": key}
    if isinstance(zone, timezone):
        offset = zone.utcoffset(None)
        return {"$offset": offset.total_seconds()}
    raise _refuse(zone, where, "holds IANA time zones (with a key) and fixed offsets only")


def _tagged(value: Any, where: str) -> Any:
    """Encode a value of the job's own: JSON values, and the tagged objects of the module
    docstring."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return _plain(value, where)
    if isinstance(value, (list, tuple)):
        return [_tagged(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        encoded = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _refuse(key, f"a key of {where}", "holds dicts with str keys only")
            encoded[key] = _tagged(item, f"{where}[{key!r}]")
        return {"$dict": encoded} if any(key.startswith("$") for key in encoded) else encoded
    if isinstance(value, datetime):
        tagged: dict[str, Any] = {"$datetime": value.replace(tzinfo=None).isoformat()}
        if value.tzinfo is not None:
            tagged["tz"] = _zone(value.tzinfo, f"{where}.tzinfo")
        if value.fold:
            tagged["fold"] = value.fold
        return tagged
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise _refuse(value, where, "holds times of day without a zone only")
        return {"$time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, tzinfo):
        return _zone(value, where)
    if isinstance(value, (BaseTrigger, BaseField)):
        return {"$object": obj_to_ref(type(value)), "state": _tagged(value.__getstate__(), where)}
    if isinstance(value, MissingGlobal):  # a trigger read from a row, its class not importable
        state = value.built_state()
        if isinstance(state, dict):
            return {"$object": value.reference(), "state": _tagged(state, where)}
    raise _refuse(value, where, "cannot hold it")


def decode_job_state(
    data: bytes, *, tolerant: bool = False
) -> tuple[dict[str, Any], dict[str, BaseException]]:
    """Read a JSON row: the job state, without unpickling or running anything but the imports
    of the trigger classes it names.

    :param tolerant: put a :class:`~greensched.jobstores._states.MissingGlobal` stand-in for a
        trigger whose class cannot be imported (for the admin commands), instead of failing
    :return: the state, and the references of the trigger classes replaced by stand-ins with
        why each could not be imported
    :raises ValueError: if the row is not a JSON job state of this format (nothing of it was
        unpickled)
    :raises Exception: what importing a trigger class raised (unless ``tolerant``)
    """
    if not data.lstrip().startswith(b"{"):
        raise _Refused(
            f"the stored state is not JSON (it starts with {data[:8]!r}: a pickle?); the json "
            "serializer refuses it and never unpickles anything"
        )
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise _Refused(f"the stored state is not valid JSON ({exc})") from None
    if not (isinstance(document, dict) and document.get("format") == FORMAT):
        raise _Refused(f"the stored state is not a JSON job state (format {FORMAT!r})")
    version = document.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise _Refused(
            f"the stored state's format_version must be at most {FORMAT_VERSION} (written by a "
            f"newer greensched?), got: {version!r}"
        )
    job = document.get("job")
    if not isinstance(job, dict):
        raise _Refused("the stored state has no 'job' object")
    reader = _Reader(tolerant)
    state = {
        key: value if key in _PLAIN_KEYS else reader.value(value, key)
        for key, value in job.items()
    }
    if not isinstance(state.get("args"), list) or not isinstance(state.get("kwargs"), dict):
        raise _Refused("the stored state's args must be a list and kwargs an object")
    state["args"] = tuple(state["args"])
    return state, reader.missing


def _zone_of(tagged: Any, where: str) -> tzinfo:
    if isinstance(tagged, dict) and isinstance(tagged.get("$zone"), str):
        return ZoneInfo(tagged["$zone"])
    if isinstance(tagged, dict) and isinstance(tagged.get("$offset"), (int, float)):
        offset = timedelta(seconds=tagged["$offset"])
        return timezone.utc if not offset else timezone(offset)
    raise _Refused(f"{where} must be a $zone or $offset object, got: {_short.repr(tagged)}")


class _Reader:
    """Undoes :func:`_tagged` for one row."""

    def __init__(self, tolerant: bool) -> None:
        self.tolerant = tolerant
        self.missing: dict[str, BaseException] = {}
        self._stand_ins: dict[str, type[MissingGlobal]] = {}

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.value(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        for key in _PICKLE_KEYS:
            if key in value:
                raise _Refused(
                    f"{where} is a pickled value ({key}): the json serializer never unpickles"
                )
        tags = [key for key in value if key.startswith("$")]
        if not tags:
            return {key: self.value(item, f"{where}[{key!r}]") for key, item in value.items()}
        decode = _TAGS.get(tags[0]) if len(tags) == 1 else None
        if decode is None:
            raise _Refused(f"{where} has unknown tags {tags!r}")
        try:
            return decode(self, value, where)
        except (TypeError, KeyError, ValueError) as exc:
            if isinstance(exc, _Refused):
                raise
            raise _Refused(f"{where}: a bad {tags[0]} object ({exc})") from None

    def _dict(self, value: dict[str, Any], where: str) -> Any:
        inner = value["$dict"]
        if not isinstance(inner, dict):
            raise _Refused(f"{where}: $dict must hold an object")
        return {key: self.value(item, f"{where}[{key!r}]") for key, item in inner.items()}

    def _datetime(self, value: dict[str, Any], where: str) -> datetime:
        when = datetime.fromisoformat(value["$datetime"])
        if when.tzinfo is not None:
            raise _Refused(f"{where}: $datetime must be a wall time, with its zone in 'tz'")
        zone = _zone_of(value["tz"], f"{where}.tz") if "tz" in value else None
        return when.replace(tzinfo=zone, fold=int(value.get("fold", 0)))

    def _object(self, value: dict[str, Any], where: str) -> Any:
        reference = value["$object"]
        if not isinstance(reference, str):
            raise _Refused(f"{where}: $object must be a 'module:Class' reference")
        state = self.value(value["state"], f"{where}.state")
        try:
            cls: Any = _object_class(reference, where)
        except LookupError as exc:
            if not self.tolerant or isinstance(exc, InvalidReferenceError):
                raise
            cls = self._stand_in(reference)
            self.missing.setdefault(reference, exc)
        instance = cls.__new__(cls)
        instance.__setstate__(state)
        return instance

    def _stand_in(self, reference: str) -> type[MissingGlobal]:
        stand_in = self._stand_ins.get(reference)
        if stand_in is None:
            module, _, qualname = reference.partition(":")
            stand_in = self._stand_ins[reference] = missing_global(module, qualname)
        return stand_in


def _object_class(reference: str, where: str) -> type[Any]:
    """The trigger or cron field class ``reference`` names (nothing else is instantiated)."""
    try:
        return trigger_class(reference, f"{where}.$object")
    except ValueError:
        cls = ref_to_obj(reference)  # imported already: the module of a cron field?
        if isinstance(cls, type) and issubclass(cls, BaseField):
            return cls
        raise


_TAGS: dict[str, Callable[[_Reader, dict[str, Any], str], Any]] = {
    "$dict": _Reader._dict,
    "$datetime": _Reader._datetime,
    "$date": lambda reader, value, where: date.fromisoformat(value["$date"]),
    "$time": lambda reader, value, where: time.fromisoformat(value["$time"]),
    "$timedelta": lambda reader, value, where: timedelta(*value["$timedelta"]),
    "$zone": lambda reader, value, where: _zone_of(value, where),
    "$offset": lambda reader, value, where: _zone_of(value, where),
    "$object": _Reader._object,
}
