"""greensched.compat.install_apscheduler_alias: ``apscheduler`` imports as greensched.

The test process imports the real APScheduler (other tests compare with it), so each case
runs in a fresh interpreter.
"""

from __future__ import annotations

import textwrap

import pytest

from greensched.compat import ALIASED_MODULES, MISSING_MODULES
from tests.support.processes import run_python


def run_aliased(body: str) -> list[str]:
    """Run ``body`` after install_apscheduler_alias() in a fresh interpreter; its output lines."""
    result = run_python(
        "-c",
        "from greensched.compat import install_apscheduler_alias\n"
        "install_apscheduler_alias()\n" + textwrap.dedent(body),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.slow
def test_every_module_of_apscheduler_is_greenscheds_own_object() -> None:
    names = sorted(ALIASED_MODULES)
    lines = run_aliased(
        f"""
        import importlib, sys
        for name in {names!r}:
            alias = importlib.import_module(("apscheduler." + name).rstrip("."))
            own = importlib.import_module(("greensched." + name).rstrip("."))
            print(name, alias is own, own.__name__ == ("greensched." + name).rstrip("."))
        """
    )
    assert lines == [f"{name} True True" for name in names]


@pytest.mark.slow
def test_classes_are_shared_and_patching_one_name_patches_both() -> None:
    lines = run_aliased(
        """
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        import apscheduler.schedulers.base
        import greensched.schedulers.background, greensched.schedulers.base
        import greensched.triggers.cron
        print(BackgroundScheduler is greensched.schedulers.background.BackgroundScheduler)
        print(CronTrigger is greensched.triggers.cron.CronTrigger)
        apscheduler.schedulers.base.get_localzone = "patched"
        print(greensched.schedulers.base.get_localzone)
        """
    )
    assert lines == ["True", "True", "patched"]


@pytest.mark.slow
def test_calling_it_twice_is_harmless() -> None:
    lines = run_aliased(
        """
        import apscheduler, greensched
        from greensched.compat import install_apscheduler_alias
        install_apscheduler_alias()
        import sys
        print(apscheduler is greensched)
        print(sum(type(f).__name__ == "_ApschedulerAliasFinder" for f in sys.meta_path))
        """
    )
    assert lines == ["True", "1"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MISSING_MODULES))
def test_modules_greensched_lacks_say_what_to_use(name: str) -> None:
    lines = run_aliased(
        f"""
        try:
            import apscheduler.{name}
        except ImportError as exc:
            print(type(exc).__name__, exc.name)
            print(exc)
        """
    )
    assert lines == [
        f"ImportError apscheduler.{name}",
        f"greensched has no module like apscheduler.{name}: {MISSING_MODULES[name]}",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cli", "testing", "_clock", "no_such_module"])
def test_greensched_modules_apscheduler_lacks_are_not_aliased(name: str) -> None:
    lines = run_aliased(
        f"""
        import sys
        try:
            import apscheduler.{name}
        except ModuleNotFoundError as exc:
            print(exc)
        print("greensched.{name}" in sys.modules and "apscheduler.{name}" in sys.modules)
        """
    )
    assert lines == [f"No module named 'apscheduler.{name}'", "False"]


@pytest.mark.slow
def test_refused_after_the_real_apscheduler_was_imported() -> None:
    result = run_python(
        "-c",
        textwrap.dedent(
            """
        import apscheduler
        from greensched.compat import ApschedulerAlreadyImportedError, install_apscheduler_alias
        try:
            install_apscheduler_alias()
        except ApschedulerAlreadyImportedError as exc:
            print(isinstance(exc, RuntimeError))
            print(exc)
        import sys
        print(any(type(f).__name__ == "_ApschedulerAliasFinder" for f in sys.meta_path))
        """
        ),
    )
    assert result.returncode == 0, result.stderr
    refused, message, installed = result.stdout.splitlines()
    assert (refused, installed) == ("True", "False")
    assert message.startswith(
        "the real APScheduler was imported before install_apscheduler_alias()"
    )
    assert "call install_apscheduler_alias() before anything imports apscheduler" in message


@pytest.mark.slow
def test_loggers_take_apschedulers_names() -> None:
    lines = run_aliased(
        """
        import logging
        import gevent
        from apscheduler.schedulers.gevent import GeventScheduler
        from greensched.testing import MockClock

        records = []
        handler = logging.Handler()
        handler.emit = lambda record: records.append(record.name)
        logging.getLogger("apscheduler").addHandler(handler)
        logging.getLogger("apscheduler").setLevel(logging.INFO)
        scheduler = GeventScheduler(
            clock=MockClock(), timezone="UTC", executors={"inline": {"type": "debug"}}
        )
        scheduler.add_job(print, id="x", args=["ran"], executor="inline")
        scheduler.start()
        gevent.idle()
        print(scheduler._lookup_jobstore("default")._logger.name)
        scheduler.shutdown()
        print(sorted(set(records)))
        """
    )
    assert lines == [
        "ran",
        "apscheduler.jobstores.default",
        "['apscheduler.executors.inline', 'apscheduler.scheduler']",
    ]


def test_without_the_alias_loggers_are_greenscheds() -> None:
    from greensched.schedulers.gevent import GeventScheduler

    assert GeventScheduler(timezone="UTC")._logger.name == "greensched.scheduler"
