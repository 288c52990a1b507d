"""A scheduler's executors, job stores and event listeners: adding, removing and finding
them, and dispatching events.

:class:`Components` is a base class of :class:`~greensched.schedulers.base.BaseScheduler`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from greensched._plugins import PluginRegistry
from greensched.events import (
    EVENT_ALL,
    EVENT_EXECUTOR_ADDED,
    EVENT_EXECUTOR_REMOVED,
    EVENT_JOBSTORE_ADDED,
    EVENT_JOBSTORE_REMOVED,
    SchedulerEvent,
)
from greensched.executors.base import BaseExecutor
from greensched.jobstores.base import BaseJobStore
from greensched.schedulers._loop import STATE_STOPPED

if TYPE_CHECKING:
    from greensched.schedulers.base import BaseScheduler

__all__ = ("Components", "UnknownAliasError")


class UnknownAliasError(KeyError, ValueError):
    """No executor or job store has the given alias (a ``KeyError`` as in APScheduler 3.x, and a
    ``ValueError`` like every other bad argument)."""

    def __init__(self, kind: str, alias: object, known: Iterable[str]) -> None:
        self.message = f"No such {kind}: {alias!r} (known: {', '.join(sorted(known)) or 'none'})"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class Components:
    """The executors, job stores and listeners of a scheduler (the attributes below are the
    scheduler's)."""

    state: int
    _logger: logging.Logger | logging.LoggerAdapter[Any]
    _executor_plugins: PluginRegistry
    _jobstore_plugins: PluginRegistry
    _executors: dict[str, BaseExecutor]
    _executors_lock: Any
    _jobstores: dict[str, BaseJobStore]
    _jobstores_lock: Any
    _listeners: list[tuple[Callable[[Any], Any], int]]
    _listeners_lock: Any
    _listener_mask: int

    if TYPE_CHECKING:

        def wakeup(self) -> None: ...

    @property
    def executors(self) -> Mapping[str, BaseExecutor]:
        """The executors, by alias: a read-only snapshot, safe to read from any thread (change
        them with :meth:`add_executor` and :meth:`remove_executor`).

        .. versionadded:: greensched 0.1
        """
        return MappingProxyType(dict(self._executors))

    @property
    def jobstores(self) -> Mapping[str, BaseJobStore]:
        """The job stores, by alias: a read-only snapshot, safe to read from any thread (change
        them with :meth:`add_jobstore` and :meth:`remove_jobstore`).

        .. versionadded:: greensched 0.1
        """
        return MappingProxyType(dict(self._jobstores))

    @property
    def listened_events(self) -> int:
        """The codes of the events some listener wants, as a mask (the union of the listeners'
        masks): an event outside it need not even be made.

        .. versionadded:: greensched 0.1
        """
        return self._listener_mask

    def add_executor(
        self, executor: BaseExecutor | str, alias: str = "default", **executor_opts: Any
    ) -> None:
        """Add an executor to this scheduler.

        Any extra keyword arguments will be passed to the executor plugin's constructor, assuming
        that the first argument is the name of an executor plugin.

        :param executor: either an executor instance or the name of an executor plugin
        :param alias: alias for the executor
        :raises ValueError: if there is already an executor by the given alias
        :raises TypeError: if ``executor`` is neither an executor nor a string
        :raises LookupError: if no executor plugin has that name
        """
        with self._executors_lock:
            if alias in self._executors:
                raise ValueError(
                    f'This scheduler already has an executor by the alias of "{alias}"'
                )
            instance: BaseExecutor = self._executor_plugins.instantiate(executor, executor_opts)
            if self.state != STATE_STOPPED:
                instance.start(cast("BaseScheduler", self), alias)
            self._executors[alias] = instance
        self._dispatch_event(SchedulerEvent(EVENT_EXECUTOR_ADDED, alias))

    def remove_executor(self, alias: str, shutdown: bool = True) -> None:
        """Remove the executor by the given alias from this scheduler.

        :param alias: alias of the executor
        :param shutdown: ``True`` to shut down the executor after removing it
        :raises KeyError: if there is no executor by that alias
        """
        with self._executors_lock:
            executor = self._lookup_executor(alias)
            del self._executors[alias]
        if shutdown:
            executor.shutdown()
        self._dispatch_event(SchedulerEvent(EVENT_EXECUTOR_REMOVED, alias))

    def add_jobstore(
        self, jobstore: BaseJobStore | str, alias: str = "default", **jobstore_opts: Any
    ) -> None:
        """Add a job store to this scheduler.

        Any extra keyword arguments will be passed to the job store plugin's constructor, assuming
        that the first argument is the name of a job store plugin.

        :param jobstore: job store to be added, or the name of a job store plugin
        :param alias: alias for the job store
        :raises ValueError: if there is already a job store by the given alias
        :raises TypeError: if ``jobstore`` is neither a job store nor a string
        :raises LookupError: if no job store plugin has that name
        """
        with self._jobstores_lock:
            if alias in self._jobstores:
                raise ValueError(
                    f'This scheduler already has a job store by the alias of "{alias}"'
                )
            store: BaseJobStore = self._jobstore_plugins.instantiate(jobstore, jobstore_opts)
            if self.state != STATE_STOPPED:
                store.start(cast("BaseScheduler", self), alias)
            self._jobstores[alias] = store

        self._dispatch_event(SchedulerEvent(EVENT_JOBSTORE_ADDED, alias))
        if self.state != STATE_STOPPED:
            self.wakeup()

    def remove_jobstore(self, alias: str, shutdown: bool = True) -> None:
        """Remove the job store by the given alias from this scheduler.

        :param alias: alias of the job store
        :param shutdown: ``True`` to shut down the job store after removing it
        :raises KeyError: if there is no job store by that alias
        """
        with self._jobstores_lock:
            jobstore = self._lookup_jobstore(alias)
            del self._jobstores[alias]
        if shutdown:
            jobstore.shutdown()
        self._dispatch_event(SchedulerEvent(EVENT_JOBSTORE_REMOVED, alias))

    def _lookup_executor(self, alias: str) -> BaseExecutor:
        """Return the executor by the given alias.

        :raises KeyError: if there is no executor by that alias
        """
        try:
            return self._executors[alias]
        except KeyError:
            raise UnknownAliasError("executor", alias, self._executors) from None

    def _lookup_jobstore(self, alias: str) -> BaseJobStore:
        """Return the job store by the given alias.

        :raises KeyError: if there is no job store by that alias
        """
        try:
            return self._jobstores[alias]
        except KeyError:
            raise UnknownAliasError("job store", alias, self._jobstores) from None

    def add_listener(self, callback: Callable[[Any], Any] | None, mask: int = EVENT_ALL) -> None:
        """Add a listener for scheduler events.

        When a matching event occurs, ``callback`` is executed with the event object as its sole
        argument. If the ``mask`` parameter is not provided, the callback will receive events of
        all types. A listener that raises is logged; it never stops the scheduler.

        :param callback: any callable that takes one argument; ``None`` is accepted, as
            APScheduler 3.x accepts it, with a warning: it is never called
        :param mask: bitmask that indicates which events should be listened to
        :raises TypeError: if ``callback`` is neither callable nor ``None``, or ``mask`` not an
            int
        """
        if callback is None:
            self._logger.warning("A listener that is None was added: it is never called")
            return
        if not callable(callback):
            raise TypeError(f"callback must be callable, got: {callback!r}")
        if not isinstance(mask, int) or isinstance(mask, bool):
            raise TypeError(f"mask must be an int, got: {mask!r}")
        with self._listeners_lock:
            self._listeners.append((callback, mask))
            self._listener_mask |= mask

    def remove_listener(self, callback: Callable[[Any], Any] | None) -> None:
        """Remove a previously added event listener."""
        with self._listeners_lock:
            self._listeners = [(cb, mask) for cb, mask in self._listeners if cb != callback]
            self._listener_mask = 0
            for _, mask in self._listeners:
                self._listener_mask |= mask

    def dispatch_event(self, event: SchedulerEvent) -> None:
        """Send ``event`` to the listeners whose mask includes its code; a listener that
        raises is logged and the others still get the event.

        .. versionadded:: greensched 0.1
        """
        self._dispatch_event(event)

    def _dispatch_event(self, event: SchedulerEvent) -> None:
        """Dispatch the given event to interested listeners; a listener that raises is logged.

        :param event: the event to send
        """
        if not event.code & self._listener_mask:
            return
        for callback, mask in tuple(self._listeners):
            if event.code & mask:
                try:
                    callback(event)
                except Exception:
                    self._logger.exception("Error notifying listener")
