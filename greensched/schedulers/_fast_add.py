"""The fast path of :meth:`~greensched.schedulers.base.BaseScheduler.add_job`: a job made from
the usual arguments (a function or bound method whose facts are known, ``args`` a tuple or
list, ``kwargs`` a dict, string ids, names and executor aliases) without checking each value
again, and its run options set as given or left for the scheduler's job defaults. Any other
value goes the general way (:class:`~greensched.job.Job`'s constructor), which raises the right
error for a bad value.
"""

from __future__ import annotations

import sys
import weakref
from datetime import datetime
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any

from greensched.job import NO_KWARGS, Job, _new_id, _own_kwargs
from greensched.util import (
    _instance_method_ref,
    check_callable_args,
    get_callable_name,
    obj_to_ref,
    undefined,
)

if TYPE_CHECKING:
    from greensched.schedulers.base import BaseScheduler
    from greensched.triggers.base import BaseTrigger

__all__ = ("fast_job", "set_run_options")

#: the job options the scheduler's job defaults give a job added without them, and its first
#: run time (see :meth:`~greensched.schedulers._places.StoredJobs.add`)
_ABSENT_RUN_OPTIONS = ("misfire_grace_time", "coalesce", "max_instances", "timeout")
_ABSENT_OPTIONS = (*_ABSENT_RUN_OPTIONS, "next_run_time")

#: the most callables whose facts are kept (the cache is emptied when it is full)
_MAX_FACTS = 4096


class _Facts:
    """What a job needs to know about its callable: its reference, its display name and the
    argument shapes its signature was found to accept (``len(args)``, or ``(len(args),
    *kwargs)`` with keyword arguments). Kept per callable (per function and owner class for
    a bound method) while the callable lives (a weak reference)."""

    __slots__ = ("func_ref", "name", "owner", "shapes", "target")

    def __init__(
        self, target: weakref.ref[Any], owner: object, func_ref: str | None, name: str
    ) -> None:
        self.target = target
        self.owner = owner
        self.func_ref = func_ref
        self.name = name
        self.shapes: set[Any] = set()


_facts: dict[int, _Facts] = {}


def _facts_of(func: Any) -> _Facts | None:
    """Return the facts of a plain function or of a bound method (``func_ref`` ``None`` if it
    has no reference that resolves back to it: a lambda, a nested function), ``None`` for any
    other callable (its facts are worked out for each job)."""
    kind = type(func)
    if kind is FunctionType:
        target, owner = func, None
    elif kind is MethodType:
        target = func.__func__
        if type(target) is not FunctionType:
            return None
        owner = func.__self__
        if not isinstance(owner, type):
            owner = (type(owner),)  # bound to an instance: facts per class, not per instance
    else:
        return None
    facts = _facts.get(id(target))
    if facts is not None and facts.target() is target and facts.owner == owner:
        return facts
    try:
        func_ref: str | None = sys.intern(_instance_method_ref(func) or obj_to_ref(func))
    except ValueError:
        func_ref = None
    if len(_facts) >= _MAX_FACTS:
        _facts.clear()
    facts = _Facts(weakref.ref(target), owner, func_ref, get_callable_name(func))
    _facts[id(target)] = facts
    return facts


def fast_job(
    scheduler: BaseScheduler,
    trigger: BaseTrigger,
    func: Any,
    args: Any,
    kwargs: Any,
    job_id: Any,
    name: Any,
    executor: Any,
) -> Job | None:
    """A new pending job from :meth:`~greensched.schedulers.base.BaseScheduler.add_job`'s
    arguments, its run options left out (the caller sets those given): the job
    ``Job(scheduler, ...)`` makes, without its checks of each value, for the usual values (a
    function or bound method whose facts are known, ``args`` a tuple or list, ``kwargs`` a
    dict, ``id``, ``name`` and ``executor`` strings or ``None``). ``None`` for any other value:
    the caller makes the job the slow way, which raises the right error for a bad value.
    """
    facts = _facts_of(func)
    if facts is None:
        return None
    if args is None:
        args = ()
    elif type(args) is list:
        args = tuple(args)
    elif type(args) is not tuple:
        return None
    if kwargs is None:
        kwargs = NO_KWARGS
    elif type(kwargs) is dict:
        kwargs = _own_kwargs(kwargs)
    else:
        return None
    shape = (len(args), *kwargs) if kwargs else len(args)
    if shape not in facts.shapes:
        try:
            check_callable_args(func, args, kwargs)
        except ValueError:
            return None
        if len(facts.shapes) < 64:
            facts.shapes.add(shape)
    if not job_id:
        job_id = _new_id()
    elif type(job_id) is not str:
        return None
    if name is None:
        name = facts.name
    elif type(name) is not str or not name:
        return None
    if type(executor) is not str or not executor:
        return None
    job = Job.__new__(Job)
    job._scheduler = scheduler
    job._jobstore_alias = None
    job.id = job_id
    job.func = func
    job.func_ref = facts.func_ref
    job.args = args
    job.kwargs = kwargs
    job.name = name
    job.trigger = trigger
    job.executor = executor
    return job


def set_run_options(
    job: Job,
    next_run_time: Any,
    misfire_grace_time: Any,
    coalesce: Any,
    max_instances: Any,
    timeout: Any,
) -> tuple[str, ...]:
    """Set the run options given to ``add_job`` (not :data:`~greensched.util.undefined`) on
    ``job``, checking each; return the names of those left out, which the scheduler's job
    defaults (checked when it was configured) and the trigger's first fire time fill in when
    the job reaches its store."""
    if (
        misfire_grace_time is undefined
        and coalesce is undefined
        and max_instances is undefined
        and timeout is undefined
    ):
        if next_run_time is undefined:
            return _ABSENT_OPTIONS
        if next_run_time is None or (
            type(next_run_time) is datetime and next_run_time.tzinfo is not None
        ):
            job.next_run_time = next_run_time
        else:
            job._modify(next_run_time=next_run_time)
        return _ABSENT_RUN_OPTIONS
    given = {
        "misfire_grace_time": misfire_grace_time,
        "coalesce": coalesce,
        "max_instances": max_instances,
        "timeout": timeout,
        "next_run_time": next_run_time,
    }
    job._modify(**{key: value for key, value in given.items() if value is not undefined})
    return tuple(key for key, value in given.items() if value is undefined)
