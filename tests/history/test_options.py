"""The history options, through the constructor and configure(), and the arguments of
get_runs()."""

from __future__ import annotations

from typing import Any

import pytest

from greensched.history import OUTCOMES
from greensched.schedulers._components import UnknownAliasError
from greensched.schedulers.gevent import GeventScheduler


def test_the_history_is_on_by_default_keeping_100_runs_per_job() -> None:
    scheduler = GeventScheduler()
    assert scheduler.history_enabled
    assert scheduler._history_options == (True, 100, None)


def test_configure_takes_the_options_with_either_prefix_and_as_text() -> None:
    scheduler = GeventScheduler()
    scheduler.configure(
        {
            "apscheduler.history": "false",
            "greensched.history_limit": "20",
            "greensched.history_max_age": "3600",
        }
    )
    assert not scheduler.history_enabled
    assert scheduler._history_options == (False, 20, 3600.0)


def test_the_limit_and_max_age_reach_the_store_history_when_it_starts(make_scheduler: Any) -> None:
    scheduler = make_scheduler(history_limit=7, history_max_age=60)
    scheduler.start()
    runs = scheduler.jobstores["default"].runs
    assert (runs.limit, runs.max_age) == (7, 60)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"history": "maybe"}, ValueError, "history must be a bool (or its text"),
        ({"history": 1}, TypeError, "history must be a bool, got: 1"),
        ({"history_limit": 0}, ValueError, "history_limit must be a positive integer, got: 0"),
        ({"history_limit": "many"}, ValueError, "history_limit must be a positive integer"),
        ({"history_limit": 2.5}, TypeError, "history_limit must be a positive integer"),
        ({"history_max_age": -1}, ValueError, "history_max_age must be a positive finite"),
        ({"history_max_age": "soon"}, ValueError, "history_max_age must be a positive finite"),
        ({"history_max_age": float("inf")}, ValueError, "history_max_age must be a positive"),
    ],
)
def test_bad_values_are_refused_naming_them_and_change_nothing(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    scheduler = GeventScheduler(history_limit=5)
    with pytest.raises(error, match=message.replace("(", r"\(")):
        scheduler.configure(**options)
    assert scheduler._history_options == (True, 5, None)


def test_get_runs_refuses_a_bad_outcome_naming_the_valid_ones() -> None:
    scheduler = GeventScheduler()
    with pytest.raises(ValueError, match="outcome must be one of running, executed") as info:
        scheduler.get_runs(outcome="failed")
    assert "'failed'" in str(info.value)
    assert all(name in str(info.value) for name in OUTCOMES)
    with pytest.raises(ValueError, match="got: 'nope'"):
        scheduler.get_runs(outcome=["error", "nope"])


def test_get_runs_refuses_a_bad_limit_before_or_store() -> None:
    scheduler = GeventScheduler()
    with pytest.raises(ValueError, match="limit must be a positive integer, got: 0"):
        scheduler.get_runs(limit=0)
    with pytest.raises(TypeError, match="before must be an aware datetime"):
        scheduler.get_runs(before="yesterday")  # type: ignore[arg-type]
    with pytest.raises(UnknownAliasError, match="No such job store: 'elsewhere'"):
        scheduler.get_runs(jobstore="elsewhere")
    with pytest.raises(ValueError, match="limit must be a positive integer, got: -1"):
        scheduler.get_runs_by_job(["job"], limit=-1)
    with pytest.raises(UnknownAliasError, match="No such job store: 'elsewhere'"):
        scheduler.get_runs_by_job(["job"], "elsewhere")
