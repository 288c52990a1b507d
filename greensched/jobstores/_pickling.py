"""Pickling job states that APScheduler 3.x reads too: a way back from greensched to it.

The SQLAlchemy and Redis stores pickle each job's state with :func:`dump_job_state`. An
object of a class both libraries have (:data:`APSCHEDULER_CLASSES`) is written under
APScheduler's class path (a :class:`~greensched.triggers.cron.CronTrigger` as
``apscheduler.triggers.cron:CronTrigger``), with a state that APScheduler 3.x's class accepts;
APScheduler 3.x (without greensched installed) then loads the job with plain
:func:`pickle.loads`. greensched loads those states as its own classes
(:func:`greensched.jobstores._states.load_state` maps ``apscheduler.*`` to ``greensched.*``, as
earlier releases do too), and keeps reading every state it read before.

=============================  ================================================================
greensched class               state written under APScheduler's class path
=============================  ================================================================
``DateTrigger``,               the trigger's own (version 1, 2 and 1): APScheduler's format,
``IntervalTrigger``,           key for key
``CalendarIntervalTrigger``
``AndTrigger``, ``OrTrigger``  version 1; each combined trigger as a ``(reference, state)``
                               pair written as this table says (``apscheduler.*``
                               references)
``CronTrigger``                version 2 (APScheduler's format, without greensched's
                               ``crontab`` key); for a trigger made by ``from_crontab``, the
                               keyword-form fields that match the same days and times, and
                               ``crontab``: the crontab text, from which greensched rebuilds
                               the trigger (APScheduler's ``__setstate__`` reads only the keys
                               it knows)
the cron fields                ``name``, ``is_default`` and ``expressions`` as a list of
                               expression objects (APScheduler's fields have no
                               ``__setstate__``: the state becomes their ``__dict__``), plus
                               ``version`` and, for a field read as crontab reads it,
                               ``crontab``: attributes APScheduler never looks at
the cron expressions           their attributes (``step``, ``first``, ``last``,
                               ``option_num``, ``weekday``), which are APScheduler's
=============================  ================================================================

A ``from_crontab`` trigger has no APScheduler equivalent when it uses ``LW`` or ``15W``, a
``5#3`` or ``5L`` day of week beside other days of week or a restricted day of month, or
restricts both day fields (cron then fires on a day matching *either*; APScheduler 3.x matches
both). Such a trigger is written with everything in it as before (greensched's paths and
states), as is a trigger of the application's own class (or of a subclass); a job with a
``timeout`` has job state version 2. APScheduler 3.x cannot load these jobs (it logs them as
unrestorable and deletes them); for all but the application's triggers a warning says so, once
per job and process. Time zones, dates and the job state itself are plain Python objects.

.. note:: APScheduler 3.x computes fire times by its own rules: they can differ from
   greensched's around daylight saving changes and after the first fire of an ``AndTrigger``
   (see the notes of each trigger), and it shows a step after month or weekday names
   (``'mon-fri/2'``, which it evaluates as greensched does) without the step.
"""

from __future__ import annotations

import copyreg
import io
import logging
import pickle
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Union

from greensched.triggers.base import BaseTrigger
from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import AndTrigger, BaseCombiningTrigger, OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.cron.expressions import (
    WEEKDAYS,
    AllExpression,
    CrontabLastDayOfMonthExpression,
    CrontabWeekdayPositionExpression,
    LastDayOfMonthExpression,
    MonthRangeExpression,
    RangeExpression,
    WeekdayPositionExpression,
    WeekdayRangeExpression,
)
from greensched.triggers.cron.fields import (
    BaseField,
    DayOfMonthField,
    DayOfWeekField,
    MonthField,
    WeekField,
)
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from greensched.util import obj_to_ref

__all__ = ("APSCHEDULER_CLASSES", "apscheduler_state", "dump_job_state")

logger = logging.getLogger(__name__)

_TRIGGER_CLASSES: tuple[type, ...] = (
    DateTrigger,
    IntervalTrigger,
    CronTrigger,
    CalendarIntervalTrigger,
    AndTrigger,
    OrTrigger,
)
_CLASSES: tuple[type, ...] = (
    *_TRIGGER_CLASSES,
    BaseField,
    MonthField,
    WeekField,
    DayOfMonthField,
    DayOfWeekField,
    AllExpression,
    RangeExpression,
    MonthRangeExpression,
    WeekdayRangeExpression,
    WeekdayPositionExpression,
    LastDayOfMonthExpression,
)

#: The greensched classes APScheduler 3.x has too, each with its ``(module, name)`` there: the
#: same path under ``apscheduler`` (exact classes: a subclass is written as itself)
APSCHEDULER_CLASSES: dict[type, tuple[str, str]] = {
    cls: ("apscheduler" + cls.__module__[len("greensched") :], cls.__qualname__)
    for cls in _CLASSES
}

#: Jobs already warned about (by id), so that a job stored on each run is reported once
_warned: set[str] = set()
_WARNED_LIMIT = 10_000

_State = dict[str, Any]


class _Context:
    """What converting states finds out besides the states."""

    __slots__ = ("own_form", "reasons")

    def __init__(self) -> None:
        #: why APScheduler 3.x cannot read (part of) what was converted
        self.reasons: list[str] = []
        #: the states (by id) of the combined triggers left in greensched's own form, with
        #: everything in them
        self.own_form: dict[int, _State] = {}


def _own_state(obj: Any, context: _Context) -> _State | None:
    """The object's own state is APScheduler's format."""
    state: _State = obj.__getstate__()
    return state


def _field_state(field: BaseField, context: _Context) -> _State | None:
    state = field.__getstate__()
    state["expressions"] = list(field.expressions)  # APScheduler's attribute, as it is
    return state


def _cron_state(trigger: CronTrigger, context: _Context) -> _State | None:
    state = trigger.__getstate__()
    if not trigger._crontab:
        del state["crontab"]
        return state
    fields = _keyword_fields(trigger, context.reasons)
    if fields is None:
        return None
    state["fields"] = fields
    state["crontab"] = trigger._crontab_text()
    return state


def _combining_state(trigger: BaseCombiningTrigger, context: _Context) -> _State | None:
    state = trigger.__getstate__()
    state["triggers"] = [_trigger_pair(item, context) for item in trigger.triggers]
    return state


_FIELD_CLASSES = (BaseField, MonthField, WeekField, DayOfMonthField, DayOfWeekField)

_STATES: dict[type, Callable[[Any, _Context], Union[_State, None]]] = {
    **dict.fromkeys(_CLASSES, _own_state),
    **dict.fromkeys(_FIELD_CLASSES, _field_state),
    CronTrigger: _cron_state,
    AndTrigger: _combining_state,
    OrTrigger: _combining_state,
}


def apscheduler_state(obj: Any, reasons: list[str] | None = None) -> dict[str, Any] | None:
    """Return the state APScheduler 3.x's class of the same path accepts for ``obj``, or
    ``None`` if ``obj``'s class is not in :data:`APSCHEDULER_CLASSES` or ``obj`` has no
    APScheduler equivalent (a ``from_crontab`` trigger using a crontab extension).

    :param reasons: a list to which the reasons APScheduler 3.x cannot read (part of) ``obj``
        are added
    """
    context = _Context()
    state = _convert(obj, context)
    if reasons is not None:
        reasons.extend(context.reasons)
    return state


def _convert(obj: Any, context: _Context) -> _State | None:
    convert = _STATES.get(type(obj))
    return None if convert is None else convert(obj, context)


def _trigger_pair(trigger: BaseTrigger, context: _Context) -> tuple[str, _State]:
    """A combined trigger's ``(class reference, state)``: APScheduler's where it has one,
    otherwise greensched's own (recorded in ``context.own_form``)."""
    cls = type(trigger)
    state = _convert(trigger, context)
    if state is None:
        own: _State = trigger.__getstate__()  # type: ignore[assignment]
        context.own_form[id(own)] = own
        return obj_to_ref(cls), own
    module, name = APSCHEDULER_CLASSES[cls]
    return f"{module}:{name}", state


def _keyword_fields(trigger: CronTrigger, reasons: list[str]) -> list[BaseField] | None:
    """Return the keyword-form fields that match the days and times a ``from_crontab``
    trigger matches, or ``None`` (with the reason added to ``reasons``) if there are none."""
    day, weekday = trigger._day_field, trigger._weekday_field
    why = None
    day_texts: list[str] = []
    weekdays: set[int] = set()
    if trigger._day_or:
        # a day matching either field: every day if one of them has every day
        if day._full or weekday._full:
            day_texts, weekdays = ["*"], set(range(7))
        else:
            why = (
                f"both day fields are restricted ('{day}' and '{weekday}'): cron fires on a day "
                "matching either, APScheduler 3.x only on a day matching both"
            )
    else:
        for expression in day.expressions:
            kind = type(expression)
            if kind is AllExpression or kind is RangeExpression:
                day_texts.append(str(expression))
            elif kind is CrontabLastDayOfMonthExpression:
                day_texts.append("last")
            else:
                why = f"its day of month '{expression}' has no APScheduler 3.x equivalent"
                break
        weekdays = _static_weekdays(weekday)
        positions = [
            expression
            for expression in weekday.expressions
            if isinstance(expression, CrontabWeekdayPositionExpression)
        ]
        if positions and why is None:
            if weekdays or not day._full:
                why = (
                    f"its day of week '{weekday}' has no APScheduler 3.x equivalent (an n-th "
                    "or last weekday has one alone, with every day of the month)"
                )
            else:
                # the weekday positions, in the day field as the keyword form has them
                day_texts = [
                    f"{expression.options[expression.option_num]} {WEEKDAYS[expression.weekday]}"
                    for expression in positions
                ]
                weekdays = set(range(7))
    if why is not None:
        reasons.append(f"{trigger}: {why}")
        return None
    fields: list[BaseField] = []
    for field in trigger.fields:
        if field.name == "day":
            field = DayOfMonthField("day", ",".join(day_texts), field.is_default, crontab=True)
        elif field.name == "day_of_week":
            field = DayOfWeekField("day_of_week", _weekday_text(weekdays), field.is_default)
        fields.append(field)
    return fields


def _static_weekdays(field: DayOfWeekField) -> set[int]:
    """The weekdays (``mon`` = 0) the field's static expressions allow."""
    table = field._table
    assert table is not None
    low = field._low
    return {
        field._weekday(value)
        for value in range(low, field._high + 1)
        if table[value - low] == value
    }


def _weekday_text(weekdays: set[int]) -> str:
    """A keyword-form day of week (``mon-fri,sun``) allowing ``weekdays`` (``mon`` = 0)."""
    if len(weekdays) == len(WEEKDAYS):
        return "*"
    runs = []
    first = 0
    while first < len(WEEKDAYS):
        if first not in weekdays:
            first += 1
            continue
        last = first
        while last + 1 in weekdays:
            last += 1
        runs.append(WEEKDAYS[first] if last == first else f"{WEEKDAYS[first]}-{WEEKDAYS[last]}")
        first = last + 1
    return ",".join(runs)


#: Types that are never (or never hold) triggers: pickled without looking further
_PLAIN_TYPES = frozenset(
    (
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        bytearray,
        datetime,
        date,
        time,
        timedelta,
        *_CLASSES[len(_TRIGGER_CLASSES) :],  # the fields and expressions
    )
)


class _StatePickler(pickle._Pickler):
    """The pure-Python pickler (the C one cannot name a class under a module that is not
    importable), writing the classes of :data:`APSCHEDULER_CLASSES` under APScheduler's path
    with their :func:`apscheduler_state`.

    A trigger without an APScheduler equivalent (a ``from_crontab`` trigger using a crontab
    extension, a combined trigger of the application's class) is written with everything in it
    as before (greensched's paths and states), so that APScheduler 3.x with greensched installed
    finds greensched's classes there, never a mix of both libraries' classes.
    """

    def __init__(self, file: io.BytesIO, protocol: int) -> None:
        super().__init__(file, protocol)
        self.dispatch_table = {
            **copyreg.dispatch_table,
            **dict.fromkeys(APSCHEDULER_CLASSES, self._reduce),
        }
        self.context = _Context()
        #: the states of the triggers being written under APScheduler's path (by id)
        self._states: dict[int, _State] = {}
        #: how deep in objects written in greensched's own form the pickler is
        self._own_form_depth = 0
        self._memo: dict[int, Any] = self.memo  # type: ignore[attr-defined]

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        own_form = False
        if not self._own_form_depth and type(obj) not in _PLAIN_TYPES:
            if id(obj) in self.context.own_form:
                own_form = True
            elif isinstance(obj, BaseTrigger) and id(obj) not in self._memo:
                state = _convert(obj, self.context)
                if state is None:
                    own_form = True
                else:
                    self._states[id(obj)] = state
        if not own_form:
            super().save(obj, save_persistent_id)  # type: ignore[misc]
            return
        self._own_form_depth += 1
        try:
            super().save(obj, save_persistent_id)  # type: ignore[misc]
        finally:
            self._own_form_depth -= 1

    def _reduce(self, obj: Any) -> tuple[Any, ...]:
        cls = type(obj)
        if self._own_form_depth:
            state = obj.__getstate__()
        else:
            state = self._states.pop(id(obj), None)
            if state is None:
                state = _convert(obj, self.context)
        return copyreg.__newobj__, (cls,), state  # type: ignore[attr-defined]

    def save_global(self, obj: Any, name: str | None = None) -> None:
        path = APSCHEDULER_CLASSES.get(obj) if name is None and isinstance(obj, type) else None
        if path is None:
            super().save_global(obj, name)  # type: ignore[misc]
            return
        if self._own_form_depth:
            path = (obj.__module__, obj.__qualname__)
        # Not memoized: one pickle can name the same class by both paths.
        module, qualname = path
        write: Callable[[bytes], Any] = self.write  # type: ignore[attr-defined]
        if self.proto >= 4:  # type: ignore[attr-defined]
            self.save(module)
            self.save(qualname)
            write(pickle.STACK_GLOBAL)
        else:  # (the names are ASCII: protocols 0 to 2 take them too)
            write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode())


def dump_job_state(state: dict[str, Any], protocol: int) -> bytes:
    """Pickle a job state (:meth:`greensched.job.Job.__getstate__`) so that APScheduler 3.x
    can load it too, where it has every class the state needs (see the module docstring);
    where it has not, a warning names the job and the reason, once per job and process.

    The state without its trigger is pickled by the C pickler (the arguments can be large); a
    trigger of greensched's is written by :class:`_StatePickler` into a piece of pickle that
    uses no memo (so that it fits anywhere), kept for the next trigger with the same state,
    and added to the dict as its last item.

    :param state: the job state
    :param protocol: the pickle protocol
    :raises Exception: whatever pickling the state raises (its arguments cannot be pickled)
    """
    trigger = state.get("trigger")
    if type(trigger) not in _TRIGGER_CLASSES:
        # a trigger class of the application's (or a subclass): APScheduler 3.x has none of
        # them, and its state is written as before, with everything in it
        data: bytes | None = pickle.dumps(state, protocol)
        reasons = []
    else:
        head = pickle.dumps({key: state[key] for key in state if key != "trigger"}, protocol)
        item = _trigger_item(trigger, protocol)
        data = None if item is None else _append_item(head, item[0], protocol)
        reasons = [] if item is None else list(item[1])
    if data is None:  # an unusual pickle: all of it by the pure-Python pickler
        buffer = io.BytesIO()
        pickler = _StatePickler(buffer, protocol)
        pickler.dump(state)
        data = buffer.getvalue()
        reasons = pickler.context.reasons
    if state.get("version", 1) > 1:
        reasons.append(
            f"its timeout ({state.get('timeout')} s) needs job state version "
            f"{state['version']}; APScheduler 3.x reads version 1"
        )
    if reasons:
        _warn(state.get("id"), reasons)
    return data


#: The pickled ``"trigger"`` key and trigger written for APScheduler, and why it cannot read
#: them, by protocol and greensched's own pickle of the trigger (which has the whole state)
_items: dict[tuple[int, bytes], tuple[bytes, tuple[str, ...]]] = {}
_ITEMS_LIMIT = 512


#: The triggers whose APScheduler state is their own and holds plain values only (no trigger,
#: field or expression): their item is pickled by the C pickler (:func:`_flat_item`)
_FLAT_TRIGGERS = frozenset((DateTrigger, IntervalTrigger, CalendarIntervalTrigger))
#: What comes before the state in a flat trigger's item, by class and protocol: the
#: ``"trigger"`` key, APScheduler's class, an empty tuple and ``NEWOBJ``
_flat_heads: dict[tuple[type, int], bytes] = {}


def _opcodes(obj: Any, protocol: int) -> bytes | None:
    """Return ``obj`` pickled by the C pickler without memo and without the ``PROTO``,
    ``FRAME`` and ``STOP`` opcodes around it (so it fits after any pickle's opcodes), or
    ``None`` if it does not come out as one frame (a large object)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol)
    pickler.fast = True  # no memo (and cyclic objects refused)
    pickler.dump(obj)
    data = buffer.getvalue()
    if data[2:3] == pickle.FRAME:  # protocol 4 or later (2 and 3: PROTO, opcodes, STOP)
        if int.from_bytes(data[3:11], "little") != len(data) - 11:
            return None
        return data[11:-1]
    return data[2:-1]


def _flat_item(trigger: Any, protocol: int) -> bytes | None:
    """Return the ``"trigger"`` key and a trigger of :data:`_FLAT_TRIGGERS` pickled as
    :class:`_StatePickler` writes them in :func:`_trigger_item` (APScheduler's class path,
    ``copyreg.__newobj__``, its state, no memo), by the C pickler: a few microseconds instead
    of a few hundred. ``None`` if that cannot be done (the slow path then does it)."""
    cls = type(trigger)
    head = _flat_heads.get((cls, protocol))
    if head is None:
        buffer = io.BytesIO()
        pickler = _StatePickler(buffer, protocol)
        pickler.fast = True
        pickler.save("trigger")
        pickler.save_global(cls)
        head = buffer.getvalue() + pickle.EMPTY_TUPLE + pickle.NEWOBJ
        _flat_heads[cls, protocol] = head
    try:
        state = _opcodes(trigger.__getstate__(), protocol)
    except Exception:  # noqa: BLE001 (whatever it is, the slow path raises it or copes)
        return None
    return None if state is None else head + state + pickle.BUILD


def _trigger_item(trigger: Any, protocol: int) -> tuple[bytes, tuple[str, ...]] | None:
    """Return the ``"trigger"`` key and ``trigger``, pickled without memo (they then fit after
    any pickle's opcodes), and why APScheduler 3.x cannot read them; ``None`` if that cannot
    be done (the trigger holds a reference to itself)."""
    if protocol >= 2 and type(trigger) in _FLAT_TRIGGERS:
        flat = _flat_item(trigger, protocol)
        if flat is not None:
            return flat, ()
    key = (protocol, pickle.dumps(trigger, pickle.HIGHEST_PROTOCOL))
    item = _items.get(key)
    if item is not None:
        return item
    buffer = io.BytesIO()
    pickler = _StatePickler(buffer, protocol)
    pickler.fast = True  # no memo: a pickle of its own would number its entries from 0
    try:
        pickler.save("trigger")
        pickler.save(trigger)
    except RecursionError:
        return None
    item = buffer.getvalue(), tuple(pickler.context.reasons)
    if len(_items) >= _ITEMS_LIMIT:
        _items.clear()
    _items[key] = item
    return item


def _append_item(head: bytes, item: bytes, protocol: int) -> bytes | None:
    """Return the pickle ``head`` of a dict with the pickled key and value ``item`` set in the
    dict, or ``None`` if ``head`` is not laid out as expected (more than one frame)."""
    if not head.endswith(pickle.STOP):
        return None
    if protocol >= 4:
        # PROTO n, then one FRAME holding the rest, up to and with STOP: shorten it by STOP
        size = len(head) - 11
        if head[2:3] != pickle.FRAME or int.from_bytes(head[3:11], "little") != size:
            return None
        head = head[:3] + (size - 1).to_bytes(8, "little") + head[11:]
    # the dict is on top of the stack after the last SETITEMS; STOP returns it
    return head[:-1] + item + pickle.SETITEM + pickle.STOP


def _warn(job_id: Any, reasons: list[str]) -> None:
    key = repr(job_id)
    if key in _warned:
        return
    if len(_warned) >= _WARNED_LIMIT:
        _warned.clear()
    _warned.add(key)
    logger.warning(
        "Job %r is stored in a form APScheduler 3.x cannot load (it would log the job as "
        "unrestorable and delete it from the store): %s",
        job_id,
        "; ".join(reasons),
    )
