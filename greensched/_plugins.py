"""Plugin lookup: trigger, executor and job store aliases resolved through entry points, with the
built-in aliases known even when greensched runs from a source checkout that was not installed."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from greensched.util import ref_to_obj

#: entry point group -> built-in alias -> 'module:Class'
BUILTIN_PLUGINS: dict[str, dict[str, str]] = {
    "greensched.triggers": {
        "date": "greensched.triggers.date:DateTrigger",
        "interval": "greensched.triggers.interval:IntervalTrigger",
        "cron": "greensched.triggers.cron:CronTrigger",
        "calendarinterval": "greensched.triggers.calendarinterval:CalendarIntervalTrigger",
        "and": "greensched.triggers.combining:AndTrigger",
        "or": "greensched.triggers.combining:OrTrigger",
    },
    "greensched.executors": {
        "gevent": "greensched.executors.gevent:GeventExecutor",
        "threadpool": "greensched.executors.pool:ThreadPoolExecutor",
        "processpool": "greensched.executors.pool:ProcessPoolExecutor",
        "debug": "greensched.executors.debug:DebugExecutor",
        "celery": "greensched.executors.celery:CeleryExecutor",
        "rq": "greensched.executors.rq:RQExecutor",
    },
    "greensched.jobstores": {
        "memory": "greensched.jobstores.memory:MemoryJobStore",
        "sqlalchemy": "greensched.jobstores.sqlalchemy:SQLAlchemyJobStore",
        "redis": "greensched.jobstores.redis:RedisJobStore",
    },
}


def _group_entry_points(group: str) -> list[Any]:
    """Return the installed entry points of one group (Python 3.9 has no ``group=`` filter)."""
    found = entry_points()
    if hasattr(found, "select"):
        return list(found.select(group=group))
    return list(found.get(group, ()))


class PluginRegistry:
    """Resolves the aliases of one plugin kind to classes, importing each class once.

    :param kind: what the plugins are, for error messages (``'trigger'``, ...)
    :param group: the entry point group
    :param base_class: the class every plugin must subclass
    """

    def __init__(self, kind: str, group: str, base_class: type) -> None:
        self.kind = kind
        self.group = group
        self.base_class = base_class
        self._classes: dict[str, type] = {}
        self._refs: dict[str, Any] | None = None

    def _known(self) -> dict[str, Any]:
        if self._refs is None:
            refs: dict[str, Any] = dict(BUILTIN_PLUGINS.get(self.group, {}))
            for ep in _group_entry_points(self.group):
                refs[ep.name] = ep
            self._refs = refs
        return self._refs

    def aliases(self) -> list[str]:
        """Return the sorted list of known aliases."""
        return sorted(self._known())

    def resolve(self, alias: str) -> type:
        """Return the class registered under ``alias``.

        :raises LookupError: if no plugin has that alias
        :raises TypeError: if the plugin is not a subclass of the expected base class
        """
        cls = self._classes.get(alias)
        if cls is not None:
            return cls
        ref = self._known().get(alias)
        if ref is None:
            raise LookupError(
                f'No {self.kind} by the name "{alias}" was found '
                f"(known: {', '.join(self.aliases())})"
            )
        loaded = ref_to_obj(ref) if isinstance(ref, str) else ref.load()
        if not isinstance(loaded, type) or not issubclass(loaded, self.base_class):
            raise TypeError(
                f'The {self.kind} plugin "{alias}" does not point to a '
                f"{self.base_class.__name__} subclass, got: {loaded!r}"
            )
        self._classes[alias] = loaded
        return loaded

    def instantiate(self, plugin: Any, options: dict[str, Any]) -> Any:
        """Return ``plugin`` if it is already an instance of the base class; create the plugin
        named ``plugin`` with ``options`` if it is a string.

        :raises TypeError: if ``plugin`` is neither
        :raises LookupError: if no plugin has that name
        """
        if isinstance(plugin, str):
            return self.resolve(plugin)(**options)
        if isinstance(plugin, self.base_class):
            return plugin
        article = "an" if self.kind[0] in "aeiou" else "a"
        raise TypeError(
            f"Expected {article} {self.kind} instance or a string, got "
            f"{plugin.__class__.__name__} instead"
        )
