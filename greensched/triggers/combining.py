"""Triggers that combine other triggers: fire when all of them agree, or when any of them fires."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar

from greensched._serialization import trigger_class
from greensched._validators import jitter as validate_jitter
from greensched._validators import require_state_version
from greensched.triggers.base import BaseTrigger
from greensched.util import obj_to_ref

__all__ = ("MAX_ITERATIONS", "AndTrigger", "BaseCombiningTrigger", "OrTrigger")

logger = logging.getLogger(__name__)

#: How many rounds :class:`AndTrigger` searches for a time all its triggers agree on before it
#: gives up (logs a warning and returns ``None``: the schedule is finished). In each round the
#: triggers that are behind are asked for their first fire time at or after the latest one.
MAX_ITERATIONS = 10_000

_UTC = timezone.utc


def _utc(dt: datetime) -> datetime:
    # Compare instants in UTC: two datetimes sharing a tzinfo compare by wall time and ignore
    # ``fold``, so 02:30 CEST and 02:30 CET on a fall-back night would compare equal.
    return dt.astimezone(_UTC)


def _first_after(
    trigger: BaseTrigger, previous_fire_time: datetime, now: datetime
) -> datetime | None:
    """Return the first fire time of ``trigger`` strictly after ``previous_fire_time`` (the
    combined trigger's previous fire time, which need not be one of ``trigger``'s own), or
    ``None`` if it has none.

    A trigger is first asked as on a first call (no previous fire time) with
    ``previous_fire_time`` as "now": interval and cron triggers then answer from their own
    schedule, unaffected by the other triggers. A trigger whose answer does not go past
    ``previous_fire_time`` (a date trigger that has fired, or one that always answers its start
    date) is then asked as APScheduler 3.x asks it, with ``previous_fire_time``; an answer that
    still does not go past it means the trigger is finished.
    """
    previous = _utc(previous_fire_time)
    fire_time = trigger.get_next_fire_time(None, previous_fire_time)
    if fire_time is None or _utc(fire_time) > previous:
        return fire_time
    fire_time = trigger.get_next_fire_time(previous_fire_time, now)
    if fire_time is None or _utc(fire_time) > previous:
        return fire_time
    return None


def _first_from(trigger: BaseTrigger, start: datetime, own_previous: datetime) -> datetime | None:
    """Return the first fire time of ``trigger`` at or after ``start``, or ``None`` if it has
    none; a trigger that does not reach ``start`` moves one step along its own schedule.

    :param own_previous: the last fire time ``trigger`` itself returned (before ``start``)
    """
    fire_time = trigger.get_next_fire_time(None, start)
    if fire_time is None or _utc(fire_time) >= _utc(start):
        return fire_time
    # It ignores "now" when it has no previous fire time (a date trigger, a trigger that
    # always starts from its start date): step from its own last fire time instead.
    fire_time = trigger.get_next_fire_time(own_previous, start)
    if fire_time is None or _utc(fire_time) > _utc(own_previous):
        return fire_time
    return None  # it does not move forward: treat it as finished


class BaseCombiningTrigger(BaseTrigger):
    """Base class of the triggers that combine other triggers.

    :param triggers: the triggers to combine (a non-empty list or tuple of triggers)
    :param jitter: delay each combined fire time by a random number of seconds between 0 and
        ``jitter``; the combined triggers' own ``jitter`` applies to their own fire times
    :raises TypeError: if ``triggers`` is not a list or tuple of triggers, or ``jitter`` is not
        a number
    :raises ValueError: if ``triggers`` is empty, or ``jitter`` is negative or not finite

    Serializing (pickling, ``export_jobs``) needs every combined trigger to have an importable
    class and ``__getstate__`` / ``__setstate__``, as in APScheduler 3.x.

    .. note:: APScheduler 3.x accepts any value for ``triggers`` and ``jitter`` and fails later
       (an empty :class:`AndTrigger` raises on its first use); greensched checks them. It keeps
       a copy of ``triggers`` as a list.
    """

    __slots__ = ("jitter", "triggers")

    #: The name that starts ``str()`` of the trigger
    _str_name: ClassVar[str] = ""

    triggers: list[BaseTrigger]
    jitter: float | None

    def __init__(self, triggers: Sequence[BaseTrigger], jitter: float | None = None) -> None:
        self.triggers = _check_triggers(triggers)
        self.jitter = validate_jitter(jitter)

    def fill_defaults(self, now: datetime) -> None:
        """Fill in the time-dependent defaults of every combined trigger (see
        :meth:`BaseTrigger.fill_defaults`)."""
        for trigger in self.triggers:
            trigger.fill_defaults(now)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": 1,
            "triggers": [
                (obj_to_ref(type(trigger)), trigger.__getstate__()) for trigger in self.triggers
            ],
            "jitter": self.jitter,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        require_state_version(self, state, 1)
        self.triggers = [self._restore_trigger(item) for item in state["triggers"]]
        self.jitter = state.get("jitter")

    def _restore_trigger(self, item: Any) -> BaseTrigger:
        """Rebuild a combined trigger from its ``(class reference, state)`` pair (a list once it
        went through JSON); APScheduler 3.x's ``apscheduler.*`` references are read too."""
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(
                f"{type(self).__name__} state triggers must be (class reference, state) pairs, "
                f"got: {item!r}"
            )
        cls = trigger_class(item[0], f"{type(self).__name__} state trigger reference")
        trigger = cls.__new__(cls)
        trigger.__setstate__(item[1])  # type: ignore[attr-defined]
        return trigger

    def __str__(self) -> str:
        return f"{self._str_name}[{', '.join(str(trigger) for trigger in self.triggers)}]"

    def __repr__(self) -> str:
        jitter = f", jitter={self.jitter}" if self.jitter else ""
        return f"<{type(self).__name__}({self.triggers!r}{jitter})>"


class AndTrigger(BaseCombiningTrigger):
    """Fires on the earliest time that every one of ``triggers`` fires on.

    The search starts from each trigger's next fire time; while they differ, the triggers that
    are behind are asked for their first fire time at or after the latest of them. Times are
    compared as instants (in UTC). The result is in the zone of the first trigger. When one of
    the triggers is finished (returns ``None``), so is this one.

    :param triggers: the triggers to combine (a non-empty list or tuple of triggers)
    :param jitter: delay each fire time by a random number of seconds between 0 and ``jitter``
    :raises TypeError: if ``triggers`` is not a list or tuple of triggers, or ``jitter`` is not
        a number
    :raises ValueError: if ``triggers`` is empty, or ``jitter`` is negative or not finite

    Jitter set on the triggers being combined makes their fire times random, so they rarely
    agree: set ``jitter`` on the :class:`AndTrigger` instead.

    .. note:: The search is bounded. APScheduler 3.x searches forever, so triggers that never
       agree (every 2 hours, and every 2 hours from an hour later) hang the scheduler. After
       :data:`MAX_ITERATIONS` rounds greensched logs a warning naming the triggers and returns
       ``None``: the schedule is finished. APScheduler 3.x also compares wall times, so in a
       fall-back overlap it takes 02:00 CEST and 02:00 CET for the same time; greensched
       compares instants.

    .. note:: After a first fire, the next fire time is the first time after the previous one
       that the triggers agree on. APScheduler 3.x asks every trigger for its fire time after
       the previous one and then never lets it move on, so two interval or cron triggers that
       differ at that point never agree and the scheduler hangs after the first run. greensched
       asks each trigger for its first fire time after the previous one (see
       :class:`OrTrigger` for how), then searches as on a first call.

    .. note:: Jitter does not accumulate: the next fire time is the first agreed time after the
       previous (delayed) fire time, which is the agreed time after the undelayed one as long
       as ``jitter`` is shorter than the gap between agreed times. With a longer jitter, agreed
       times that a delay passed are skipped; fire times still increase.
    """

    __slots__ = ()

    _str_name = "and"

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the earliest time all the triggers agree on after ``previous_fire_time``, or
        ``None`` if one of them is finished or they found no common time within
        :data:`MAX_ITERATIONS` rounds.

        :param previous_fire_time: the previous fire time this trigger returned, or ``None``
            on the first call
        :param now: current datetime
        """
        triggers = self.triggers
        fire_times: list[datetime | None]
        if previous_fire_time is None:
            fire_times = [trigger.get_next_fire_time(None, now) for trigger in triggers]
        else:
            fire_times = [_first_after(trigger, previous_fire_time, now) for trigger in triggers]
        latest_time: datetime | None = None
        for _ in range(MAX_ITERATIONS):
            known = [fire_time for fire_time in fire_times if fire_time is not None]
            if len(known) < len(fire_times):
                return None
            instants = [_utc(fire_time) for fire_time in known]
            latest = max(instants)
            if min(instants) == latest:
                return self._apply_jitter(known[0], self.jitter, now)
            latest_time = known[instants.index(latest)]
            fire_times = [
                _first_from(trigger, latest_time, fire_time) if instant < latest else fire_time
                for trigger, fire_time, instant in zip(triggers, known, instants)
            ]
        logger.warning(
            "%r: its triggers found no common fire time in %d rounds (the last one tried was "
            "%s); the schedule is treated as finished",
            self,
            MAX_ITERATIONS,
            latest_time,
        )
        return None


class OrTrigger(BaseCombiningTrigger):
    """Fires whenever any of ``triggers`` fires: on the earliest of their next fire times.

    A time that several triggers fire on is fired once. Times are compared as instants (in UTC);
    on a tie the fire time of the first trigger in the list is returned. When every trigger is
    finished (returns ``None``), so is this one.

    :param triggers: the triggers to combine (a non-empty list or tuple of triggers)
    :param jitter: delay each fire time by a random number of seconds between 0 and ``jitter``
    :raises TypeError: if ``triggers`` is not a list or tuple of triggers, or ``jitter`` is not
        a number
    :raises ValueError: if ``triggers`` is empty, or ``jitter`` is negative or not finite

    .. note:: After a first fire, each trigger gives its first fire time *after the previous
       one* from its own schedule. APScheduler 3.x passes the previous fire time to every
       trigger as if it were that trigger's own, so an interval trigger counts its interval
       from the other triggers' fire times and a date trigger counts as fired: every 2 hours
       or every 3 hours fires every 2 hours, and a date is lost once another trigger fired
       before it. greensched first asks each trigger as on a first call with the previous
       fire time as "now" (interval and cron triggers then answer from their own schedule);
       a trigger whose answer is not after the previous fire time (a date trigger that fired,
       a trigger that always answers its start date) is then asked as APScheduler 3.x asks
       it, and so, as there, counts from the previous fire time of whichever trigger fired. A
       first call (no previous fire time) gives what APScheduler 3.x gives, times being
       compared as instants.

    .. note:: Jitter does not accumulate: the next fire time is the first fire time after the
       previous (delayed) one, which is the one after the undelayed fire time as long as
       ``jitter`` is shorter than the gap between fire times. With a longer jitter, fire times
       that a delay passed are skipped; fire times still increase.
    """

    __slots__ = ()

    _str_name = "or"

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the earliest next fire time of the triggers, or ``None`` if they are all
        finished.

        :param previous_fire_time: the previous fire time this trigger returned, or ``None``
            on the first call
        :param now: current datetime
        """
        if previous_fire_time is None:
            candidates = [trigger.get_next_fire_time(None, now) for trigger in self.triggers]
        else:
            candidates = [
                _first_after(trigger, previous_fire_time, now) for trigger in self.triggers
            ]
        earliest: datetime | None = None
        earliest_instant: datetime | None = None
        for fire_time in candidates:
            if fire_time is None:
                continue
            instant = _utc(fire_time)
            if earliest_instant is None or instant < earliest_instant:
                earliest, earliest_instant = fire_time, instant
        return self._apply_jitter(earliest, self.jitter, now)


def _check_triggers(triggers: Any) -> list[BaseTrigger]:
    """Return ``triggers`` as a new list if it is a non-empty list or tuple of triggers.

    :raises TypeError: if ``triggers`` is not a sequence, or one of its items is not a trigger
    :raises ValueError: if it is empty
    """
    if not isinstance(triggers, Sequence) or isinstance(triggers, (str, bytes)):
        raise TypeError(f"triggers must be a non-empty sequence of triggers, got: {triggers!r}")
    if not triggers:
        raise ValueError(f"triggers must be a non-empty sequence of triggers, got: {triggers!r}")
    for index, trigger in enumerate(triggers):
        if not isinstance(trigger, BaseTrigger):
            raise TypeError(
                f"triggers[{index}] must be a trigger (a BaseTrigger instance), got: {trigger!r}"
            )
    return list(triggers)
