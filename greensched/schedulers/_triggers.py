"""A job's trigger from ``add_job``'s and ``reschedule_job``'s arguments."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import cache
from typing import Any

from greensched._plugins import PluginRegistry
from greensched.triggers.base import BaseTrigger

__all__ = ("create_trigger",)


def create_trigger(
    plugins: PluginRegistry,
    trigger: BaseTrigger | str | None,
    trigger_args: dict[str, Any],
    timezone: tzinfo,
    now: Callable[[], datetime],
) -> BaseTrigger:
    """Return ``trigger`` if it is a trigger, else a new trigger of the plugin it names
    (``None``: a ``date`` trigger firing at ``now()``), built with ``trigger_args`` and, unless
    they give one, the scheduler's ``timezone``; its defaults that depend on the current time
    (a start date left out) are filled in from ``now()``.

    :raises TypeError: if ``trigger`` is neither a trigger, a plugin name nor ``None``, or
        trigger arguments are given beside a trigger instance
    """
    if type(trigger) is not str and isinstance(trigger, BaseTrigger):
        if trigger_args:
            # APScheduler 3.x ignores them silently
            raise TypeError(
                "trigger arguments must not be given beside a trigger instance (they would "
                f"be ignored), got: {', '.join(sorted(trigger_args))}"
            )
        trigger.fill_defaults(now())  # "now" defaults come from the scheduler's clock
        return trigger
    if trigger is None:
        trigger = "date"
        trigger_args.setdefault("run_date", now())
    elif not isinstance(trigger, str):
        raise TypeError(
            f"Expected a trigger instance or string, got {trigger.__class__.__name__} instead"
        )
    trigger_class = plugins.resolve(trigger)
    if _takes_timezone(trigger_class):
        trigger_args.setdefault("timezone", timezone)
    instance: BaseTrigger = trigger_class(**trigger_args)
    instance.fill_defaults(now())  # "now" defaults come from the scheduler's clock
    return instance


@cache
def _takes_timezone(trigger_class: type) -> bool:
    """``True`` if the trigger's constructor has a ``timezone`` parameter (combining triggers
    have none: their triggers carry their own zones).

    .. note:: APScheduler 3.x passes ``timezone`` to every trigger created by alias, so
       ``add_job(func, 'or', triggers=[...])`` fails there with a TypeError.
    """
    try:
        parameters = inspect.signature(trigger_class).parameters
    except (TypeError, ValueError):
        return True
    return "timezone" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()
    )
