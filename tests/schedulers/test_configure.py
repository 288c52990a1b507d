"""Scheduler configuration: options, gconfig prefixes, executors and stores by alias or class."""

from __future__ import annotations

import logging
from datetime import timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from greensched.executors.debug import DebugExecutor
from greensched.executors.gevent import GeventExecutor
from greensched.jobstores.memory import MemoryJobStore
from greensched.schedulers import SchedulerAlreadyRunningError

from .conftest import RecordingScheduler


def test_defaults_match_apscheduler() -> None:
    scheduler = RecordingScheduler(timezone="UTC")
    assert scheduler._job_defaults == {
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "timeout": None,  # greensched's own option: no time limit, as in APScheduler
    }
    assert scheduler.jobstore_retry_interval == 10.0
    assert scheduler._logger.name == "greensched.scheduler"
    assert scheduler.timezone is dt_timezone.utc


def test_timezone_defaults_to_local_zone() -> None:
    from tzlocal import get_localzone

    assert RecordingScheduler().timezone == get_localzone()


def test_gconfig_with_prefix_builds_nested_options() -> None:
    gconfig = {
        "greensched.timezone": "Europe/Berlin",
        "greensched.job_defaults.coalesce": "false",
        "greensched.job_defaults.max_instances": "3",
        "greensched.job_defaults.misfire_grace_time": "30",
        "greensched.job_defaults.timeout": "2.5",
        "greensched.jobstore_retry_interval": "2.5",
        "greensched.executors.default.type": "debug",
        "greensched.executors.pool.class": "greensched.executors.gevent:GeventExecutor",
        "greensched.executors.pool.pool_size": 4,
        "greensched.jobstores.other.type": "memory",
        "other.timezone": "Asia/Tokyo",
    }
    scheduler = RecordingScheduler(gconfig)
    assert scheduler.timezone == ZoneInfo("Europe/Berlin")
    assert scheduler._job_defaults == {
        "misfire_grace_time": 30,
        "coalesce": False,
        "max_instances": 3,
        "timeout": 2.5,
    }
    assert scheduler.jobstore_retry_interval == 2.5
    assert isinstance(scheduler._executors["default"], DebugExecutor)
    assert isinstance(scheduler._executors["pool"], GeventExecutor)
    assert isinstance(scheduler._jobstores["other"], MemoryJobStore)


def test_apscheduler_prefixed_keys_are_read_as_greensched_ones() -> None:
    from greensched.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        {
            "apscheduler.timezone": "Europe/Berlin",
            "apscheduler.job_defaults.max_instances": "3",
            "greensched.job_defaults.coalesce": "false",
            "apscheduler.executors.default.type": "debug",
        }
    )
    assert scheduler.timezone == ZoneInfo("Europe/Berlin")
    assert (scheduler._job_defaults["max_instances"], scheduler._job_defaults["coalesce"]) == (
        3,
        False,
    )
    assert isinstance(scheduler._executors["default"], DebugExecutor)
    scheduler.configure({"apscheduler.timezone": "Asia/Tokyo"})
    assert scheduler.timezone == ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize("prefix", ["apscheduler.", "greensched."])
def test_unknown_prefixed_key_is_rejected(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"^Unknown scheduler options: timezon$"):
        RecordingScheduler({f"{prefix}timezon": "UTC"})


def test_one_option_under_both_prefixes() -> None:
    same = {"apscheduler.timezone": "UTC", "greensched.timezone": "UTC"}
    assert RecordingScheduler(same).timezone == dt_timezone.utc
    with pytest.raises(
        ValueError,
        match=r"^'greensched.timezone' and 'apscheduler.timezone' must not differ, "
        r"got: 'Asia/Tokyo' and 'UTC'$",
    ):
        RecordingScheduler({"apscheduler.timezone": "UTC", "greensched.timezone": "Asia/Tokyo"})


def test_a_custom_prefix_reads_only_its_own_keys() -> None:
    scheduler = RecordingScheduler(
        {"app.timezone": "Asia/Tokyo", "apscheduler.timezone": "Europe/Berlin"}, prefix="app."
    )
    assert scheduler.timezone == ZoneInfo("Asia/Tokyo")


def test_keyword_options_override_gconfig() -> None:
    scheduler = RecordingScheduler({"greensched.timezone": "Europe/Berlin"}, timezone="Asia/Tokyo")
    assert scheduler.timezone == ZoneInfo("Asia/Tokyo")


def test_empty_prefix_takes_every_key() -> None:
    scheduler = RecordingScheduler({"timezone": "Asia/Tokyo"}, prefix="")
    assert scheduler.timezone == ZoneInfo("Asia/Tokyo")


def test_instances_are_accepted_as_executors_and_stores() -> None:
    executor, store = DebugExecutor(), MemoryJobStore()
    scheduler = RecordingScheduler(executors={"x": executor}, jobstores={"y": store})
    assert scheduler._executors["x"] is executor
    assert scheduler._jobstores["y"] is store


def test_logger_by_name() -> None:
    assert RecordingScheduler(logger="my.logger")._logger is logging.getLogger("my.logger")


def test_logger_by_reference_or_object() -> None:
    assert RecordingScheduler(logger="logging:root")._logger is logging.root
    adapter = logging.LoggerAdapter(logging.getLogger("my.logger"))
    assert RecordingScheduler(logger=adapter)._logger is adapter


def test_configure_while_running_is_refused() -> None:
    scheduler = RecordingScheduler(timezone="UTC")
    scheduler.start()
    with pytest.raises(SchedulerAlreadyRunningError, match=r"^Scheduler is already running$"):
        scheduler.configure(timezone="Asia/Tokyo")
    assert scheduler.timezone is dt_timezone.utc


@pytest.mark.parametrize(
    ("options", "exc_type", "message"),
    [
        pytest.param(
            {"timezone": "Mars/Olympus"},
            ValueError,
            r"^timezone must be a known IANA zone name, got: 'Mars/Olympus'$",
            id="unknown-zone",
        ),
        pytest.param(
            {"timezone": 5},
            TypeError,
            r"^timezone must be a tzinfo or a zone name, got: 5$",
            id="zone-type",
        ),
        pytest.param(
            {"logger": 5},
            TypeError,
            r"^logger must be a logging.Logger, a logger name or a 'module:attr' reference to "
            r"a logger, got: 5$",
            id="logger-type",
        ),
        pytest.param(
            {"logger": "logging:INFO"},
            TypeError,
            r"^logger must be a logging.Logger, a logger name or a 'module:attr' reference to "
            r"a logger, got: 'logging:INFO'$",
            id="logger-reference-to-no-logger",
        ),
        pytest.param(
            {"job_defaults": {"max_instances": 0}},
            ValueError,
            r"^max_instances must be a positive integer, got: 0$",
            id="max-instances",
        ),
        pytest.param(
            {"job_defaults": {"misfire_grace_time": -1}},
            ValueError,
            r"^misfire_grace_time must be a positive integer or None, got: -1$",
            id="grace-time",
        ),
        pytest.param(
            {"job_defaults": {"coalesce": "maybe"}},
            ValueError,
            r'^Unable to interpret value "maybe" as boolean$',
            id="coalesce",
        ),
        pytest.param(
            {"job_defaults": {"coalesc": True}},
            ValueError,
            r"^job_defaults may only hold misfire_grace_time, coalesce, max_instances and "
            r"timeout, got: \['coalesc'\]$",
            id="default-typo",
        ),
        pytest.param(
            {"job_defaults": {"timeout": 0}},
            ValueError,
            r"^timeout must be a positive finite number of seconds or None, got: 0$",
            id="timeout-zero",
        ),
        pytest.param(
            {"job_defaults": {"misfire_grace_time": float("nan")}},
            ValueError,
            r"^misfire_grace_time must be an integer, got: nan$",
            id="misfire-nan",
        ),
        pytest.param(
            {"job_defaults": {"max_instances": "many"}},
            ValueError,
            r"^max_instances must be an integer, got: 'many'$",
            id="max-instances-text",
        ),
        pytest.param(
            {"job_defaults": {"timeout": "soon"}},
            TypeError,
            r"^timeout must be a positive finite number of seconds or None, got: 'soon'$",
            id="timeout-type",
        ),
        pytest.param(
            {"jobstore_retry_interval": "soon"},
            TypeError,
            r"^jobstore_retry_interval must be a number of seconds, got: 'soon'$",
            id="retry-interval",
        ),
        *(
            pytest.param(
                {"jobstore_retry_interval": value},
                ValueError,
                rf"^jobstore_retry_interval must be a positive finite number of seconds, "
                rf"got: {shown}$",
                id=f"retry-interval-{shown.strip(chr(39))}",
            )
            for value, shown in [
                (float("nan"), "nan"),
                (float("inf"), "inf"),
                ("nan", "'nan'"),
                (0, "0"),
                (-1.5, "-1.5"),
            ]
        ),
        pytest.param(
            {"executors": {"default": {"type": "nope"}}},
            LookupError,
            r'^No executor by the name "nope" was found \(known: celery, debug, gevent.*\)$',
            id="executor-plugin",
        ),
        pytest.param(
            {"jobstores": {"default": {"type": "nope"}}},
            LookupError,
            r'^No job store by the name "nope" was found \(known: memory.*\)$',
            id="jobstore-plugin",
        ),
        pytest.param(
            {"executors": {"default": {"pool_size": 3}}},
            ValueError,
            r'^Cannot create executor "default" -- either "type" or "class" must be defined$',
            id="no-type",
        ),
        pytest.param(
            {"executors": {"default": {"class": "greensched.jobstores.memory:MemoryJobStore"}}},
            TypeError,
            r"^class of executor 'default' must be a BaseExecutor subclass, "
            r"got: 'greensched.jobstores.memory:MemoryJobStore'$",
            id="wrong-class",
        ),
        pytest.param(
            {"jobstores": {"default": 42}},
            TypeError,
            r"^Expected job store instance or dict for job stores\['default'\], got int instead$",
            id="store-type",
        ),
        pytest.param(
            {"timezon": "UTC"}, ValueError, r"^Unknown scheduler options: timezon$", id="typo"
        ),
    ],
)
def test_bad_option_is_rejected_and_changes_nothing(
    options: dict[str, Any], exc_type: type[Exception], message: str
) -> None:
    executor = DebugExecutor()
    scheduler = RecordingScheduler(timezone="UTC", executors={"default": executor})
    with pytest.raises(exc_type, match=message):
        scheduler.configure(**options)
    assert scheduler.timezone is dt_timezone.utc
    assert scheduler._executors == {"default": executor}
    assert scheduler._job_defaults == {
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "timeout": None,
    }


def test_configure_replaces_executors_and_stores() -> None:
    scheduler = RecordingScheduler(
        executors={"a": DebugExecutor()}, jobstores={"b": MemoryJobStore()}
    )
    scheduler.configure(executors={"c": DebugExecutor()})
    assert list(scheduler._executors) == ["c"]
    assert scheduler._jobstores == {}


def test_misfire_grace_time_none_is_allowed() -> None:
    scheduler = RecordingScheduler(job_defaults={"misfire_grace_time": None})
    assert scheduler._job_defaults["misfire_grace_time"] is None
