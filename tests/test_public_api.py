"""The public surface: APScheduler 3.x's module paths, their ``__all__``, and its exceptions."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

#: The public modules (APScheduler 3.x's paths, plus greensched.testing and greensched.metrics)
PUBLIC_MODULES = [
    "greensched",
    "greensched.events",
    "greensched.job",
    "greensched.util",
    "greensched.testing",
    "greensched.metrics",
    "greensched.schedulers",
    "greensched.schedulers.base",
    "greensched.schedulers.blocking",
    "greensched.schedulers.background",
    "greensched.schedulers.gevent",
    "greensched.executors.base",
    "greensched.executors.gevent",
    "greensched.executors.pool",
    "greensched.executors.debug",
    "greensched.jobstores.base",
    "greensched.jobstores.memory",
    "greensched.jobstores.sqlalchemy",
    "greensched.jobstores.redis",
    "greensched.triggers.base",
    "greensched.triggers.date",
    "greensched.triggers.interval",
    "greensched.triggers.calendarinterval",
    "greensched.triggers.combining",
    "greensched.triggers.cron",
    "greensched.triggers.cron.fields",
    "greensched.triggers.cron.expressions",
]
#: The public modules APScheduler 3.x does not have
GREENSCHED_ONLY = {"greensched.testing", "greensched.metrics"}

ALL_MODULES = [pytest.param(name, id=name) for name in PUBLIC_MODULES]


def _apscheduler_counterpart(module_name: str) -> ModuleType:
    pytest.importorskip("apscheduler")
    return importlib.import_module("apscheduler" + module_name[len("greensched") :])


def _is_public_module(module_name: str) -> bool:
    parts = module_name.split(".")
    return parts[0] == "greensched" and not any(part.startswith("_") for part in parts)


def _resolve(module_name: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("module_name", ALL_MODULES)
def test_all_is_declared_without_duplicates(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} declares no __all__"
    names = list(module.__all__)
    assert all(isinstance(name, str) for name in names)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert duplicates == [], f"{module_name}.__all__ lists {duplicates} more than once"


@pytest.mark.parametrize("module_name", ALL_MODULES)
def test_every_name_in_all_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ lists missing names {missing}"


@pytest.mark.parametrize("module_name", ALL_MODULES)
def test_public_objects_report_their_public_module(module_name: str) -> None:
    """Classes and functions show (and pickle under) the public path that defines them; a
    re-export must come from another public module, under its own correct path."""
    module = importlib.import_module(module_name)
    wrong = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if obj.__module__ == module_name:
            continue
        is_public_reexport = _is_public_module(obj.__module__) and (
            _resolve(obj.__module__, obj.__qualname__) is obj
        )
        if not is_public_reexport:
            wrong.append(f"{name} ({obj.__module__})")
    assert wrong == [], f"{module_name} exports objects with a wrong __module__: {wrong}"


def test_apscheduler_all_names_exist() -> None:
    """Every name in the ``__all__`` of an APScheduler 3.x module (where it declares one)
    exists in the greensched module of the same path."""
    pytest.importorskip("apscheduler")
    missing = {}
    compared = []
    for module_name in PUBLIC_MODULES:
        if module_name in GREENSCHED_ONLY or importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        theirs = _apscheduler_counterpart(module_name)
        if hasattr(theirs, "__all__"):
            compared.append(module_name)
            absent = [name for name in theirs.__all__ if not hasattr(module, name)]
            if absent:
                missing[module_name] = absent
    assert {"greensched.util", "greensched.events"} <= set(compared)
    assert missing == {}


def test_util_exports_every_apscheduler_util_name() -> None:
    aps_util = pytest.importorskip("apscheduler.util")
    import greensched.util

    assert set(aps_util.__all__) <= set(greensched.util.__all__)


def test_version_attributes() -> None:
    import greensched

    assert isinstance(greensched.__version__, str)
    assert greensched.version == greensched.release == greensched.__version__
    assert isinstance(greensched.version_info, tuple)


# Exceptions keep APScheduler 3.x's names, bases and messages

EXCEPTIONS = [
    ("greensched.jobstores.base", "JobLookupError", KeyError),
    ("greensched.jobstores.base", "ConflictingIdError", KeyError),
    ("greensched.jobstores.base", "TransientJobError", ValueError),
    ("greensched.executors.base", "MaxInstancesReachedError", Exception),
    ("greensched.schedulers", "SchedulerAlreadyRunningError", Exception),
    ("greensched.schedulers", "SchedulerNotRunningError", Exception),
]
EXCEPTION_PARAMS = [pytest.param(*case, id=case[1]) for case in EXCEPTIONS]


def _make_exception(cls: type[BaseException]) -> BaseException:
    if cls.__name__ in ("SchedulerAlreadyRunningError", "SchedulerNotRunningError"):
        return cls()
    if cls.__name__ == "MaxInstancesReachedError":
        return cls(SimpleNamespace(id="job1", max_instances=3))
    return cls("job1")


@pytest.mark.parametrize(("module_name", "name", "base"), EXCEPTION_PARAMS)
def test_exception_base(module_name: str, name: str, base: type[Exception]) -> None:
    cls = getattr(importlib.import_module(module_name), name)
    assert issubclass(cls, base)


@pytest.mark.parametrize(("module_name", "name", "base"), EXCEPTION_PARAMS)
def test_exception_keeps_apscheduler_builtin_bases(
    module_name: str, name: str, base: type[Exception]
) -> None:
    ours = getattr(importlib.import_module(module_name), name)
    theirs = getattr(_apscheduler_counterpart(module_name), name)
    builtin_bases = {cls for cls in theirs.__mro__ if cls.__module__ == "builtins"}
    assert builtin_bases <= set(ours.__mro__)


@pytest.mark.parametrize(("module_name", "name", "base"), EXCEPTION_PARAMS)
def test_exception_message_matches_apscheduler(
    module_name: str, name: str, base: type[Exception]
) -> None:
    ours = getattr(importlib.import_module(module_name), name)
    theirs = getattr(_apscheduler_counterpart(module_name), name)
    assert str(_make_exception(ours)) == str(_make_exception(theirs))
