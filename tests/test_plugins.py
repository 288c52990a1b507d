"""Plugin aliases: entry points, the built-in table for source checkouts, and errors."""

from __future__ import annotations

from typing import Any

import pytest

from greensched import _plugins
from greensched._plugins import PluginRegistry
from greensched.executors.base import BaseExecutor
from greensched.executors.debug import DebugExecutor
from greensched.jobstores.base import BaseJobStore
from greensched.jobstores.memory import MemoryJobStore
from greensched.triggers.base import BaseTrigger
from greensched.triggers.interval import IntervalTrigger


class FakeEntryPoint:
    def __init__(self, name: str, target: Any) -> None:
        self.name = name
        self.target = target

    def load(self) -> Any:
        return self.target


class ThirdPartyExecutor(DebugExecutor):
    pass


def registry(monkeypatch: pytest.MonkeyPatch, *entry_points: FakeEntryPoint) -> PluginRegistry:
    monkeypatch.setattr(_plugins, "_group_entry_points", lambda group: list(entry_points))
    return PluginRegistry("executor", "greensched.executors", BaseExecutor)


def test_built_in_aliases_resolve_without_installed_entry_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source checkout that was never pip-installed has no entry points."""
    plugins = registry(monkeypatch)
    assert plugins.resolve("debug") is DebugExecutor
    assert plugins.aliases() == ["celery", "debug", "gevent", "processpool", "rq", "threadpool"]


def test_installed_entry_points_resolve() -> None:
    triggers = PluginRegistry("trigger", "greensched.triggers", BaseTrigger)
    assert triggers.resolve("interval") is IntervalTrigger


def test_third_party_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = registry(monkeypatch, FakeEntryPoint("mine", ThirdPartyExecutor))
    assert plugins.resolve("mine") is ThirdPartyExecutor
    assert isinstance(plugins.instantiate("mine", {}), ThirdPartyExecutor)


def test_unknown_alias_names_it_and_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = registry(monkeypatch, FakeEntryPoint("mine", ThirdPartyExecutor))
    with pytest.raises(
        LookupError,
        match=r'^No executor by the name "turbo" was found '
        r"\(known: celery, debug, gevent, mine, processpool, rq, threadpool\)$",
    ):
        plugins.resolve("turbo")


def test_entry_point_of_the_wrong_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = registry(monkeypatch, FakeEntryPoint("store", MemoryJobStore))
    with pytest.raises(
        TypeError,
        match=r'^The executor plugin "store" does not point to a BaseExecutor subclass, got: ',
    ):
        plugins.resolve("store")


def test_instantiate_passes_instances_through_and_rejects_other_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugins = registry(monkeypatch)
    executor = DebugExecutor()
    assert plugins.instantiate(executor, {}) is executor
    with pytest.raises(
        TypeError, match=r"^Expected an executor instance or a string, got MemoryJobStore instead$"
    ):
        plugins.instantiate(MemoryJobStore(), {})
    stores = PluginRegistry("job store", "greensched.jobstores", BaseJobStore)
    with pytest.raises(TypeError, match=r"^Expected a job store instance or a string, got int"):
        stores.instantiate(3, {})


@pytest.mark.parametrize(
    ("alias", "class_name"),
    [
        ("date", "DateTrigger"),
        ("interval", "IntervalTrigger"),
        ("cron", "CronTrigger"),
        ("calendarinterval", "CalendarIntervalTrigger"),
        ("and", "AndTrigger"),
        ("or", "OrTrigger"),
    ],
)
def test_every_trigger_alias_resolves_installed_or_not(
    monkeypatch: pytest.MonkeyPatch, alias: str, class_name: str
) -> None:
    installed = PluginRegistry("trigger", "greensched.triggers", BaseTrigger)
    assert installed.resolve(alias).__name__ == class_name
    monkeypatch.setattr(_plugins, "_group_entry_points", lambda group: [])
    checkout = PluginRegistry("trigger", "greensched.triggers", BaseTrigger)
    assert checkout.resolve(alias) is installed.resolve(alias)
