"""Running code written for APScheduler 3.x, and libraries built on it, on greensched.

:func:`install_apscheduler_alias` makes ``import apscheduler`` and each ``apscheduler.<module>``
of APScheduler 3.x that greensched has give greensched's module: the very same module object,
so that ``apscheduler.schedulers.background.BackgroundScheduler`` *is*
``greensched.schedulers.background.BackgroundScheduler``, and patching an attribute through
one name patches it for both. Integrations such as Flask-APScheduler and django-apscheduler then
run on greensched without a change. Call it before anything imports ``apscheduler``::

    from greensched.compat import install_apscheduler_alias

    install_apscheduler_alias()

    from flask_apscheduler import APScheduler  # runs on greensched
"""

from __future__ import annotations

import importlib
import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING

from greensched import _logging

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

__all__ = ("ApschedulerAlreadyImportedError", "install_apscheduler_alias")

#: The modules of APScheduler 3.x that greensched has, by their name under ``apscheduler``
ALIASED_MODULES = frozenset(
    {
        "",
        "events",
        "job",
        "util",
        "executors",
        "executors.base",
        "executors.debug",
        "executors.gevent",
        "executors.pool",
        "jobstores",
        "jobstores.base",
        "jobstores.memory",
        "jobstores.redis",
        "jobstores.sqlalchemy",
        "schedulers",
        "schedulers.background",
        "schedulers.base",
        "schedulers.blocking",
        "schedulers.gevent",
        "triggers",
        "triggers.base",
        "triggers.calendarinterval",
        "triggers.combining",
        "triggers.cron",
        "triggers.cron.expressions",
        "triggers.cron.fields",
        "triggers.date",
        "triggers.interval",
    }
)

_GEVENT_INSTEAD = (
    "run the program on gevent (GeventScheduler, or BackgroundScheduler in a thread of its own)"
)

#: The modules of APScheduler 3.x that greensched does not have, and what to use instead
MISSING_MODULES = {
    "executors.asyncio": "use the 'gevent' (default) or 'threadpool' executor",
    "executors.tornado": "use the 'gevent' (default) or 'threadpool' executor",
    "executors.twisted": "use the 'gevent' (default) or 'threadpool' executor",
    "schedulers.asyncio": _GEVENT_INSTEAD,
    "schedulers.tornado": _GEVENT_INSTEAD,
    "schedulers.twisted": _GEVENT_INSTEAD,
    "schedulers.qt": "use BackgroundScheduler, which runs in a thread of its own",
    "jobstores.mongodb": "use SQLAlchemyJobStore (PostgreSQL, MySQL, SQLite) or RedisJobStore",
    "jobstores.rethinkdb": "use SQLAlchemyJobStore (PostgreSQL, MySQL, SQLite) or RedisJobStore",
    "jobstores.zookeeper": "use SQLAlchemyJobStore (PostgreSQL, MySQL, SQLite) or RedisJobStore",
    "jobstores.etcd": "use SQLAlchemyJobStore (PostgreSQL, MySQL, SQLite) or RedisJobStore",
}


class ApschedulerAlreadyImportedError(RuntimeError):
    """Raised by :func:`install_apscheduler_alias` when the real APScheduler was imported
    first: modules that imported it hold its classes, which an alias cannot replace."""

    def __init__(self, module: ModuleType) -> None:
        location = getattr(module, "__file__", None) or module
        super().__init__(
            f"the real APScheduler was imported before install_apscheduler_alias() "
            f"(from {location}): call install_apscheduler_alias() before anything imports "
            f"apscheduler, e.g. at the top of the program's entry point, or from a pytest "
            f"plugin given with -p"
        )


class _AliasLoader(Loader):
    """Puts greensched's module in ``sys.modules`` under the ``apscheduler`` name."""

    def __init__(self, target: str) -> None:
        self._target = target

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # a placeholder, replaced by greensched's module in exec_module

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns what sys.modules holds under the name after this, and
        # leaves that module's own attributes (__name__, __spec__) alone
        sys.modules[module.__name__] = importlib.import_module(self._target)


class _MissingModuleLoader(Loader):
    """Fails the import of an ``apscheduler`` module that greensched does not have."""

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        instead = MISSING_MODULES.get(name[len("apscheduler.") :])
        if instead is None:
            # Not an APScheduler 3.x module: never greensched's module of that name loaded a
            # second time under this one (its classes would be copies)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        raise ImportError(f"greensched has no module like {name}: {instead}", name=name)


class _ApschedulerAliasFinder(MetaPathFinder):
    """Finds ``apscheduler`` and its modules in greensched, ahead of any installed APScheduler."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname != "apscheduler" and not fullname.startswith("apscheduler."):
            return None
        if fullname[len("apscheduler.") :] not in ALIASED_MODULES:
            return ModuleSpec(fullname, _MissingModuleLoader())
        return ModuleSpec(fullname, _AliasLoader("greensched" + fullname[len("apscheduler") :]))


def install_apscheduler_alias() -> None:
    """Make ``apscheduler`` and its modules import as greensched's (the same module objects).

    From then on the scheduler, executors and job stores log under APScheduler's logger
    names (``apscheduler.scheduler``, ``apscheduler.executors.<alias>``,
    ``apscheduler.jobstores.<alias>``). The modules of APScheduler 3.x that greensched lacks
    (the asyncio, tornado, twisted and Qt schedulers and executors, the MongoDB, RethinkDB,
    ZooKeeper and etcd stores) raise :exc:`ImportError` naming what to use instead. Calling it
    again does nothing. It works whether or not APScheduler is installed, as long as it was
    not imported yet.

    :raises ApschedulerAlreadyImportedError: if the real ``apscheduler`` was imported first
    """
    imported = sys.modules.get("apscheduler")
    if imported is not None and imported is not sys.modules["greensched"]:
        raise ApschedulerAlreadyImportedError(imported)
    if not any(isinstance(finder, _ApschedulerAliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ApschedulerAliasFinder())
    _logging.use_apscheduler_names()
