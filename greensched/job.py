"""The Job: a callable, its arguments, its trigger and its run options."""

from __future__ import annotations

import inspect
import os
import pickle
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from itertools import count
from typing import TYPE_CHECKING, Any, NoReturn

from greensched import _validators as validate
from greensched.triggers.base import BaseTrigger
from greensched.util import (
    _instance_method_ref,
    check_callable_args,
    convert_to_datetime,
    datetime_repr,
    get_callable_name,
    obj_to_ref,
    ref_to_obj,
)

if TYPE_CHECKING:
    from greensched.schedulers.base import BaseScheduler

__all__ = ("Job",)

#: The newest version of the state dict that :meth:`Job.__getstate__` writes and
#: :meth:`Job.__setstate__` reads. Version 2 adds ``timeout``; a job without a timeout is still
#: written as version 1, the format of APScheduler 3.x and of earlier greensched releases, so
#: that they can read it.
JOB_STATE_VERSION = 2

_MODIFIABLE = frozenset(
    (
        "id",
        "func",
        "args",
        "kwargs",
        "name",
        "trigger",
        "executor",
        "misfire_grace_time",
        "coalesce",
        "max_instances",
        "next_run_time",
        "timeout",
    )
)


# Generated job ids


def _id_parts() -> tuple[int, str]:
    """A random start for the id counter and the random rest of every id of this process."""
    bits = int.from_bytes(os.urandom(16), "big")
    start = bits >> 81  # 47 bits: 2**47 ids before the counter needs a 13th digit
    rest = bits & ((1 << 74) - 1)
    # the uuid4 layout: version nibble 4 first, then the variant bits 10 on the 5th nibble
    middle = (rest >> 62) & 0xFFF
    low = rest & ((1 << 62) - 1)
    return start, f"4{middle:03x}{0x8 | (low >> 60):x}{low & ((1 << 60) - 1):015x}"


_id_start, _id_rest = _id_parts()
_id_counter = count(_id_start)


def _new_id() -> str:
    """Return a new job id: 32 hex digits that form a valid uuid4 (version and variant bits as
    :func:`uuid.uuid4` sets them). The first 12 digits count up from a random start and the
    other 20 are random once per process, so the ids one process generates sort in the order
    they were made (a burst of jobs added without ids is stored in order, as cheaply as with
    ids), and processes do not share ids.
    """
    return f"{next(_id_counter):012x}{_id_rest}"


def _reseed_ids() -> None:
    """Give a forked child its own ids (it would otherwise go on with its parent's)."""
    global _id_start, _id_rest, _id_counter
    _id_start, _id_rest = _id_parts()
    _id_counter = count(_id_start)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_ids)


# One shared empty kwargs dict


class _NoKwargs(dict[str, Any]):
    """The ``kwargs`` of every job that has no keyword arguments: one empty dict shared by all
    of them (a dict per job would cost 64 bytes each). It refuses to be filled in place, which
    would give the arguments to every such job: ``modify_job(job_id, kwargs={...})`` gives a
    job its own. It pickles, copies and serializes as a plain empty dict."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "the kwargs of a job without keyword arguments are shared by every such job and "
            "cannot be changed in place: give the job its own with modify_job(job_id, "
            "kwargs={...})"
        )

    __setitem__ = _refuse
    setdefault = _refuse
    __ior__ = _refuse

    def update(self, *args: Any, **kwargs: Any) -> None:
        if dict(*args, **kwargs):
            self._refuse()

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[()]]:
        return dict, ()

    def __copy__(self) -> dict[str, Any]:
        return {}

    def __deepcopy__(self, memo: Any) -> dict[str, Any]:
        return {}


#: the kwargs of every job that has none
NO_KWARGS: dict[str, Any] = _NoKwargs()


def _own_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A job's own copy of ``kwargs`` (the shared :data:`NO_KWARGS` if empty)."""
    return dict(kwargs) if kwargs else NO_KWARGS


class Job:
    """Contains the options given when scheduling callables and its current schedule and other
    state. This class should never be instantiated by the user.

    :var str id: the unique identifier of this job
    :var str name: the description of this job
    :var func: the callable to execute
    :var str|None func_ref: the ``module:qualname`` reference of ``func``, if it has one (for a
        bound method of an instance: ``module:Class.method``, the reference of its function)
    :var tuple|list args: positional arguments to the callable
    :var dict kwargs: keyword arguments to the callable
    :var bool coalesce: whether to only run the job once when several run times are due
    :var trigger: the trigger object that controls the schedule of this job
    :var str executor: the name of the executor that will run this job
    :var int|None misfire_grace_time: the time (in seconds) how much this job's execution is
        allowed to be late (``None`` means "allow the job to run no matter how late it is")
    :var int max_instances: the maximum number of concurrently executing instances allowed for
        this job
    :var datetime.datetime|None next_run_time: the next scheduled run time of this job
        (``None``: the job is paused)
    :var int|float|None timeout: the most seconds one run of this job may take (``None``: no
        limit); what happens to a run that overruns depends on the executor

    .. note:: Attributes that were not given and have not yet been filled in from the
       scheduler's job defaults (a pending job) are absent, as in APScheduler 3.x.

    .. note:: ``timeout`` is new in greensched (APScheduler 3.x jobs have no time limit). A job
       with a timeout is saved as state version 2, which APScheduler 3.x cannot read; a job
       without one is saved in APScheduler 3.x's format (version 1).

    .. note:: A bound method of an instance (``obj.method``) is saved as APScheduler 3.x saves
       it: the reference of its function (``module:Class.method``) and the instance as the
       first positional argument, so ``obj`` is pickled with the job. A job loaded from a
       persistent store has the plain function as ``func`` and the instance as ``args[0]``.

    .. versionadded:: greensched 0.1 the ``timeout`` attribute

    .. versionchanged:: greensched 0.1 a bound method of an instance can be the callable of a
       job in a persistent store
    """

    __slots__ = (
        "__weakref__",
        "_jobstore_alias",
        "_scheduler",
        "args",
        "coalesce",
        "executor",
        "func",
        "func_ref",
        "id",
        "kwargs",
        "max_instances",
        "misfire_grace_time",
        "name",
        "next_run_time",
        "timeout",
        "trigger",
    )

    def __init__(self, scheduler: BaseScheduler, id: str | None = None, **kwargs: Any) -> None:
        super().__init__()
        self._scheduler = scheduler
        self._jobstore_alias: str | None = None
        self._modify(id=id or _new_id(), **kwargs)

    # Public API: each call goes through the scheduler, like APScheduler 3.x

    def modify(self, **changes: Any) -> Job:
        """Make the given changes to this job and save it in the associated job store.

        Accepted keyword arguments are the same as the variables on this class.

        .. seealso:: :meth:`~greensched.schedulers.base.BaseScheduler.modify_job`

        :return: this job instance
        """
        self._scheduler.modify_job(self.id, self._jobstore_alias, **changes)
        return self

    def reschedule(self, trigger: Any, **trigger_args: Any) -> Job:
        """Shortcut for switching the trigger on this job.

        .. seealso:: :meth:`~greensched.schedulers.base.BaseScheduler.reschedule_job`

        :return: this job instance
        """
        self._scheduler.reschedule_job(self.id, self._jobstore_alias, trigger, **trigger_args)
        return self

    def pause(self) -> Job:
        """Temporarily suspend the execution of this job.

        :return: this job instance
        """
        self._scheduler.pause_job(self.id, self._jobstore_alias)
        return self

    def resume(self) -> Job:
        """Resume the schedule of this job if previously paused (the job is removed if its
        schedule has finished).

        :return: this job instance
        """
        self._scheduler.resume_job(self.id, self._jobstore_alias)
        return self

    def remove(self) -> None:
        """Unschedule this job and remove it from its associated job store."""
        self._scheduler.remove_job(self.id, self._jobstore_alias)

    @property
    def pending(self) -> bool:
        """``True`` if the job has not yet been added to a job store (scheduler not started)."""
        return self._jobstore_alias is None

    # Private API

    def _get_run_times(self, now: datetime) -> list[datetime]:
        """Return every scheduled run time of this job, from ``next_run_time`` up to ``now``."""
        return self._get_due_run_times(now)[0]

    def _get_due_run_times(self, now: datetime) -> tuple[list[datetime], datetime | None]:
        """Return every scheduled run time of this job, from ``next_run_time`` up to ``now``,
        and the trigger's fire time after them: the job's next run time once they have run
        (``None``: there is none). With no run time due, that is ``next_run_time`` itself.

        The processing loop uses both, so the trigger is asked once for each fire time.
        """
        run_times = []
        next_run_time = self.next_run_time
        trigger = self.trigger
        # Compare in UTC: datetimes sharing a tzinfo compare by wall time, ignoring ``fold``
        now_utc = now.astimezone(timezone.utc)
        while next_run_time is not None and next_run_time.astimezone(timezone.utc) <= now_utc:
            run_times.append(next_run_time)
            next_run_time = trigger.get_next_fire_time(next_run_time, now)
        return run_times, next_run_time

    def _modify(self, **changes: Any) -> None:
        """Validate ``changes`` and apply them all, or none of them.

        :raises AttributeError: on a name that is not a modifiable attribute
        :raises TypeError, ValueError: on a bad value, naming it
        """
        unknown = set(changes) - _MODIFIABLE
        if unknown:
            raise AttributeError(
                "The following are not modifiable attributes of Job: " + ", ".join(sorted(unknown))
            )
        approved: dict[str, Any] = {}

        if "id" in changes:
            value = changes["id"]
            if hasattr(self, "id"):
                if value != self.id:
                    # APScheduler 3.x: TypeError if the value is not a string, else ValueError
                    raise validate.InvalidValueError(
                        f"The job ID may not be changed (job {self.id!r}, got: {value!r})"
                    )
            else:
                approved["id"] = validate.string("id", value)

        if "func" in changes or "args" in changes or "kwargs" in changes:
            func = changes.get("func", getattr(self, "func", None))
            args = changes.get("args", getattr(self, "args", ()))
            kwargs = changes.get("kwargs", getattr(self, "kwargs", NO_KWARGS))
            if isinstance(func, str):
                func_ref: str | None = func
                func = ref_to_obj(func)
            elif "func" not in changes and hasattr(self, "func_ref"):
                # Kept: a textual reference to a bound method ("module:obj.method") would
                # otherwise become the reference of the method's class
                func_ref = self.func_ref
            elif callable(func):
                try:
                    # One string for every job of the function, not one per job
                    func_ref = sys.intern(_instance_method_ref(func) or obj_to_ref(func))
                except ValueError:
                    func_ref = None
            else:
                raise TypeError(
                    f"func must be a callable or a 'module:name' reference, got: {func!r}"
                )
            if not callable(func):
                raise TypeError(
                    f"func reference {func_ref!r} does not point to a callable, got: {func!r}"
                )
            if args is None:
                args = ()
            elif isinstance(args, (str, bytes)):
                # APScheduler 3.x: add_job() makes a tuple of the characters (a ValueError if
                # they do not fit the signature), modify_job() raises TypeError
                raise validate.InvalidValueError(
                    f"args must be a non-string iterable, got: {args!r}"
                )
            elif not isinstance(args, Iterable):
                raise TypeError(f"args must be a non-string iterable, got: {args!r}")
            else:
                args = tuple(args)
            if kwargs is None:
                kwargs = NO_KWARGS
            elif isinstance(kwargs, Mapping):
                kwargs = _own_kwargs(kwargs)
            else:
                # APScheduler 3.x: add_job() calls dict(kwargs) (TypeError or ValueError,
                # depending on the value), modify_job() raises TypeError
                raise validate.InvalidValueError(
                    f"kwargs must be a dict-like object, got: {kwargs!r}"
                )
            check_callable_args(func, args, kwargs)
            approved.update(func=func, func_ref=func_ref, args=args, kwargs=kwargs)
            # name=None (add_job's default) also means: name the job after its callable
            if changes.get("name") is None and not hasattr(self, "name"):
                approved["name"] = get_callable_name(func)

        if "name" in changes and "name" not in approved:
            approved["name"] = validate.string("name", changes["name"])
        if "misfire_grace_time" in changes:
            approved["misfire_grace_time"] = validate.optional_positive_int(
                "misfire_grace_time", changes["misfire_grace_time"]
            )
        if "coalesce" in changes:
            approved["coalesce"] = validate.boolean("coalesce", changes["coalesce"])
        if "max_instances" in changes:
            approved["max_instances"] = validate.positive_int(
                "max_instances", changes["max_instances"]
            )
        if "timeout" in changes:
            approved["timeout"] = validate.optional_timeout("timeout", changes["timeout"])
        if "trigger" in changes:
            trigger = changes["trigger"]
            if not isinstance(trigger, BaseTrigger):
                raise TypeError(f"trigger must be a BaseTrigger instance, got: {trigger!r}")
            approved["trigger"] = trigger
        if "executor" in changes:
            approved["executor"] = validate.string("executor", changes["executor"])
        if "next_run_time" in changes:
            approved["next_run_time"] = convert_to_datetime(
                changes["next_run_time"], self._scheduler.timezone, "next_run_time"
            )

        for key, value in approved.items():
            setattr(self, key, value)

    def _attributes(self) -> dict[str, Any]:
        """Return the attributes that are set, for :meth:`_set_attributes` to restore."""
        return {
            name: getattr(self, name)
            for name in Job.__slots__
            if not name.startswith("__") and hasattr(self, name)
        }

    def _set_attributes(self, attributes: dict[str, Any]) -> None:
        """Set attributes taken by :meth:`_attributes` (no validation: they were valid)."""
        for name, value in attributes.items():
            setattr(self, name, value)

    def __getstate__(self) -> dict[str, Any]:
        if not self.func_ref:
            raise ValueError(
                f"This Job cannot be serialized since the reference to its callable "
                f"({self.func!r}) could not be determined. Consider giving a textual reference "
                f"(module:function name) instead."
            )
        state: dict[str, Any] = {
            "version": 1,
            "id": self.id,
            "func": self.func_ref,
            "trigger": self.trigger,
            "executor": self.executor,
            "args": self._stored_args(),
            "kwargs": self.kwargs or {},  # a plain dict, not the shared NO_KWARGS
            "name": self.name,
            "misfire_grace_time": self.misfire_grace_time,
            "coalesce": self.coalesce,
            "max_instances": self.max_instances,
            "next_run_time": self.next_run_time,
        }
        timeout = getattr(self, "timeout", None)
        if timeout is not None:
            # Only a time limit needs the newer format: a reader that does not know it must
            # refuse the job rather than run it without its limit
            state["version"] = 2
            state["timeout"] = timeout
        return state

    def _stored_args(self) -> tuple[Any, ...]:
        """Return the positional arguments to save: for a bound method of an instance whose
        reference is that of its class's function, the instance comes first (as APScheduler
        3.x saves it).

        :raises ValueError: naming the method, if its instance cannot be pickled
        """
        func = self.func
        if not inspect.ismethod(func) or inspect.isclass(func.__self__):
            return self.args
        if ref_to_obj(self.func_ref) == func:
            return self.args  # a textual reference to the bound method itself ("module:obj.m")
        instance = func.__self__
        try:
            pickle.dumps(instance, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise ValueError(
                f"This Job cannot be serialized since the instance its callable ({func!r}) is "
                f"bound to cannot be pickled ({type(exc).__name__}: {exc})"
            ) from exc
        return (instance, *self.args)

    def __setstate__(self, state: dict[str, Any]) -> None:
        version = validate.require_state_version(self, state, JOB_STATE_VERSION)
        self.id = state["id"]
        self.func_ref = state["func"]
        self.func = ref_to_obj(self.func_ref)
        self.trigger = state["trigger"]
        self.executor = state["executor"]
        self.args = tuple(state["args"])
        self.kwargs = _own_kwargs(state["kwargs"])
        self.name = state["name"]
        self.misfire_grace_time = state["misfire_grace_time"]
        self.coalesce = state["coalesce"]
        self.max_instances = state["max_instances"]
        self.next_run_time = state["next_run_time"]
        self.timeout = state["timeout"] if version >= 2 else None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Job):
            return bool(self.id == other.id)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<Job (id={self.id} name={self.name})>"

    def __str__(self) -> str:
        if hasattr(self, "next_run_time"):
            status = (
                "next run at: " + datetime_repr(self.next_run_time)
                if self.next_run_time is not None
                else "paused"
            )
        else:
            status = "pending"
        return f"{self.name} (trigger: {self.trigger}, {status})"
