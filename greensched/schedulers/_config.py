"""A scheduler's configuration: from ``configure()``'s arguments to checked options.

:func:`read_options` builds and checks every option before the scheduler changes anything, so
that a bad option leaves the scheduler as it was.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import tzinfo
from typing import Any, NamedTuple

from greensched import _validators as validate
from greensched._clock import SYSTEM_CLOCK, Clock
from greensched._logging import logger_name
from greensched._plugins import PluginRegistry
from greensched._validators import InvalidValueError
from greensched.executors.base import BaseExecutor
from greensched.history._log import DEFAULT_LIMIT
from greensched.job import Job
from greensched.jobstores.base import BaseJobStore
from greensched.util import asbool, asint, astimezone, maybe_ref, ref_to_obj

__all__ = ("CONFIG_PREFIXES", "SchedulerOptions", "nest_options", "read_options")

#: The default configuration key prefix, and the one read beside it (APScheduler 3.x's)
CONFIG_PREFIXES = ("greensched.", "apscheduler.")


class SchedulerOptions(NamedTuple):
    """A scheduler's checked options."""

    logger: logging.Logger | logging.LoggerAdapter[Any]
    timezone: tzinfo
    jobstore_retry_interval: float
    clock: Clock
    job_defaults: dict[str, Any]
    executors: dict[str, BaseExecutor]
    jobstores: dict[str, BaseJobStore]
    history: bool
    history_limit: int
    history_max_age: float | None


def nest_options(
    gconfig: Mapping[str, Any], prefix: str | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The configuration that ``configure(gconfig, prefix, **options)`` describes: the keys of
    ``gconfig`` that start with ``prefix`` (all of them if ``prefix`` is empty or ``None``;
    with the default prefix, APScheduler's ``apscheduler.`` too) without it, dotted keys
    nested (``"a.b.c": d`` becomes ``{"a": {"b": {"c": d}}}``), then ``options`` over them.

    :raises ValueError: if one option is given under two prefixes with different values
    """
    if prefix:
        gconfig = _strip_prefixes(
            gconfig, CONFIG_PREFIXES if prefix == CONFIG_PREFIXES[0] else (prefix,)
        )
    config: dict[str, Any] = {}
    for key, value in gconfig.items():
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    config.update(options)
    return config


def _strip_prefixes(gconfig: Mapping[str, Any], prefixes: Sequence[str]) -> dict[str, Any]:
    """The keys of ``gconfig`` that start with one of ``prefixes``, without it.

    :raises ValueError: if one option is given under two prefixes with different values
    """
    options: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for key, value in gconfig.items():
        prefix = next((prefix for prefix in prefixes if key.startswith(prefix)), None)
        if prefix is None:
            continue
        option = key[len(prefix) :]
        if option in options and options[option] != value:
            raise ValueError(
                f"{key!r} and {given_as[option]!r} must not differ, got: {value!r} and "
                f"{options[option]!r}"
            )
        options[option] = value
        given_as[option] = key
    return options


def read_options(
    config: dict[str, Any],
    executor_plugins: PluginRegistry,
    jobstore_plugins: PluginRegistry,
    local_zone: Callable[[], tzinfo],
) -> SchedulerOptions:
    """Check a (nested) configuration and build its executors and job stores; the time zone
    defaults to ``local_zone()``.

    :raises ValueError: or :exc:`TypeError`, naming the option, if one is bad or unknown
    """
    config = dict(config)
    options = SchedulerOptions(
        logger=_logger(config.pop("logger", None)),
        timezone=astimezone(config.pop("timezone", None)) or local_zone(),
        jobstore_retry_interval=_retry_interval(config.pop("jobstore_retry_interval", 10)),
        clock=_clock(config.pop("clock", None)),
        job_defaults=_job_defaults(config.pop("job_defaults", None)),
        executors={
            alias: build_component("executor", alias, value, BaseExecutor, executor_plugins)
            for alias, value in dict(config.pop("executors", None) or {}).items()
        },
        jobstores={
            alias: build_component("job store", alias, value, BaseJobStore, jobstore_plugins)
            for alias, value in dict(config.pop("jobstores", None) or {}).items()
        },
        history=_history(config.pop("history", True)),
        history_limit=validate.positive_int_option(
            "history_limit", config.pop("history_limit", DEFAULT_LIMIT)
        ),
        history_max_age=_history_max_age(config.pop("history_max_age", None)),
    )
    if config:
        raise ValueError(f"Unknown scheduler options: {', '.join(sorted(config))}")
    return options


def _logger(given: Any) -> logging.Logger | logging.LoggerAdapter[Any]:
    logger = given or logger_name("scheduler")
    if isinstance(logger, str):
        # 'module:attribute' refers to a logger object (APScheduler 3.x); a plain name is the
        # logger's name
        logger = ref_to_obj(logger) if ":" in logger else logging.getLogger(logger)
    if not isinstance(logger, (logging.Logger, logging.LoggerAdapter)):
        # APScheduler 3.x takes it, and fails with AttributeError when it first logs
        raise TypeError(
            "logger must be a logging.Logger, a logger name or a 'module:attr' reference "
            f"to a logger, got: {given!r}"
        )
    return logger


def _retry_interval(given: Any) -> float:
    try:
        interval = float(given)
    except (TypeError, ValueError):
        # APScheduler 3.x: ValueError for a string that is no number, TypeError for others
        raise InvalidValueError(
            f"jobstore_retry_interval must be a number of seconds, got: {given!r}"
        ) from None
    if not (math.isfinite(interval) and interval > 0):
        raise ValueError(
            f"jobstore_retry_interval must be a positive finite number of seconds, got: {given!r}"
        )
    return interval


def _clock(given: Any) -> Clock:
    clock = given or SYSTEM_CLOCK
    if not isinstance(clock, Clock):
        raise TypeError(
            "clock must have now(), monotonic(), timer(), sleep(), timeout() and wait() "
            f"methods, got: {clock!r}"
        )
    return clock


def _history(given: Any) -> bool:
    """The ``history`` option: a bool, or a configuration file's text for one."""
    if isinstance(given, str):
        try:
            return asbool(given)
        except ValueError:
            raise InvalidValueError(
                f"history must be a bool (or its text: 'true', 'off', ...), got: {given!r}"
            ) from None
    return validate.boolean("history", given)


def _history_max_age(given: Any) -> float | None:
    """The ``history_max_age`` option: ``None``, or positive seconds (a configuration file may
    give them as text)."""
    if given is None:
        return None
    if isinstance(given, str):
        try:
            given = float(given)
        except ValueError:
            raise InvalidValueError(
                f"history_max_age must be a positive finite number of seconds or None, "
                f"got: {given!r}"
            ) from None
    return validate.positive_seconds(
        "history_max_age", given, "a positive finite number of seconds or None"
    )


def _job_defaults(given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The job defaults, checked by the rules of a job's own options."""
    job_defaults = dict(given or {})
    defaults = {
        "misfire_grace_time": _config_int(
            "misfire_grace_time", job_defaults.pop("misfire_grace_time", 1)
        ),
        "coalesce": asbool(job_defaults.pop("coalesce", True)),
        "max_instances": _config_int("max_instances", job_defaults.pop("max_instances", 1)),
        "timeout": _config_timeout(job_defaults.pop("timeout", None)),
    }
    if job_defaults:
        raise ValueError(
            f"job_defaults may only hold misfire_grace_time, coalesce, max_instances and "
            f"timeout, got: {sorted(job_defaults)!r}"
        )
    Job.__new__(Job)._modify(**defaults)  # raises for a bad value, naming the option
    return defaults


def _config_int(name: str, value: Any) -> int | None:
    """An integer job default as a configuration file may give it (a string holding one);
    ``None`` stays ``None``.

    :raises TypeError, ValueError: naming the option, if ``value`` holds no integer
    """
    try:
        return asint(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} must be an integer, got: {value!r}") from None


def _config_timeout(value: Any) -> Any:
    """A ``timeout`` job default as a configuration file gives it: a string holding a number
    becomes that number; anything else is left for the job's validation."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def build_component(
    kind: str, alias: str, value: Any, base_class: type, plugins: PluginRegistry
) -> Any:
    """Return the executor or job store that a configuration value describes: an instance,
    or a dict with ``type`` (a plugin name) or ``class`` (a class or its reference) and the
    constructor's options."""
    if isinstance(value, base_class):
        return value
    if isinstance(value, MutableMapping):
        options = dict(value)
        class_ref = options.pop("class", None)
        plugin = options.pop("type", None)
        if plugin:
            return plugins.instantiate(plugin, options)
        if class_ref:
            cls = maybe_ref(class_ref)
            if not (isinstance(cls, type) and issubclass(cls, base_class)):
                raise TypeError(
                    f"class of {kind} {alias!r} must be a {base_class.__name__} subclass, "
                    f"got: {class_ref!r}"
                )
            return cls(**options)
        raise ValueError(
            f'Cannot create {kind} "{alias}" -- either "type" or "class" must be defined'
        )
    raise TypeError(
        f"Expected {kind} instance or dict for {kind}s[{alias!r}], got "
        f"{value.__class__.__name__} instead"
    )
