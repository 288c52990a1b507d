"""What the job stores that several processes can share have in common.

* Job states are pickled dicts, as APScheduler 3.x stores them; states written by APScheduler
  are read too (its ``apscheduler.*`` classes load as the ``greensched.*`` classes of the same
  path).
* Due jobs are *claimed*: a store marks each job it hands to its scheduler with the scheduler's
  owner token and a lease (the store moves the job's indexed run time to the end of the lease,
  so other processes neither see it as due nor wake up for it until the lease expires, and the
  true next run time stays in the pickled state). The claim ends when the loop stores its
  results through :meth:`~greensched.jobstores.base.BaseJobStore.release_due_jobs`, which
  writes only the jobs whose claim this owner still holds. A process that dies holding claims
  leaves them to expire; whoever claims them next runs them then (late: ``misfire_grace_time``
  decides whether they still run or are reported missed).
* A stored job that cannot be restored (its function's module is gone) is logged with its id
  and left in the store untouched; this process skips it from then on.
* Other processes are told about changes through a notification channel where the store has
  one (a hint that wakes their schedulers early); ``poll_interval`` bounds the delay when a
  notification is lost, or when there is no channel.
"""

from __future__ import annotations

import io
import os
import pickle
import secrets
import socket
from typing import TYPE_CHECKING, Any

import gevent
from gevent import monkey
from gevent.event import Event

from greensched import _validators as validate
from greensched.job import Job
from greensched.jobstores.base import BaseJobStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from greensched.schedulers.base import BaseScheduler

__all__ = ("SharedJobStore", "load_state")

_APSCHEDULER = "apscheduler"

#: The most due jobs a store claims in one round, by default. A round's CPU work (restoring,
#: rescheduling and submitting its jobs) runs without yielding to other greenlets; about
#: 0.1 ms a job keeps a round of 100 under about 10 ms of hub time. A larger backlog is taken
#: in several rounds, one after the other.
DEFAULT_CLAIM_LIMIT = 100


class _Unpickler(pickle.Unpickler):
    """Loads ``apscheduler.*`` classes as the greensched classes of the same path."""

    def find_class(self, module: str, name: str) -> Any:
        if module == _APSCHEDULER or module.startswith(_APSCHEDULER + "."):
            module = "greensched" + module[len(_APSCHEDULER) :]
        return super().find_class(module, name)


def load_state(data: bytes) -> Any:
    """Unpickle a stored job state, written by greensched or by APScheduler 3.x.

    .. warning:: Unpickling runs code named in the data: open only stores you trust.
    """
    return _Unpickler(io.BytesIO(data)).load()


def new_owner_token() -> str:
    """Return a token naming this process (host and pid, for the logs) uniquely."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class SharedJobStore(BaseJobStore):
    """Base class of the job stores several schedulers (in several processes) can share.

    :param pickle_protocol: pickle protocol level to use (for serialization), defaults to the
        highest available
    :param lease_time: seconds a claim on a due job lasts; a claim left by a process that died
        is taken over when it expires
    :param poll_interval: seconds after which the scheduler looks at the store again even if no
        notification came
    :param claim_limit: the most due jobs claimed at once (more are claimed in the next round,
        which follows at once); bounds how long a round holds the hub
    :param notify: use the store's notification channel, where it has one, to wake the other
        processes' schedulers when a job changes (only when sockets are gevent-patched: a
        listener on a blocking socket would stall the hub)
    """

    def __init__(
        self,
        *,
        pickle_protocol: int = pickle.HIGHEST_PROTOCOL,
        lease_time: float = 30,
        poll_interval: float = 1,
        claim_limit: int = DEFAULT_CLAIM_LIMIT,
        notify: bool = True,
    ) -> None:
        super().__init__()
        if (
            not isinstance(pickle_protocol, int)
            or isinstance(pickle_protocol, bool)
            or not 0 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL
        ):
            raise ValueError(
                f"pickle_protocol must be an integer from 0 to {pickle.HIGHEST_PROTOCOL}, "
                f"got: {pickle_protocol!r}"
            )
        self.pickle_protocol = pickle_protocol
        self.lease_time = validate.positive_seconds("lease_time", lease_time)
        self.poll_interval = validate.positive_seconds("poll_interval", poll_interval)
        self.claim_limit = validate.positive_int("claim_limit", claim_limit)
        self.notify = validate.boolean("notify", notify)
        #: names this process's claims; set when the store starts (after a fork, so each
        #: gunicorn worker has its own)
        self.owner = ""
        self._unrestorable: set[str] = set()
        self._listener: gevent.Greenlet | None = None
        #: set while the store listens on its notification channel (for the tests of
        #: processes sharing a store: a change made elsewhere wakes this one from then on)
        self._listening = Event()

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
        super().start(scheduler, alias)
        self.owner = new_owner_token()
        self._unrestorable.clear()
        if self.notify and self._has_channel() and monkey.is_module_patched("socket"):
            self._listener = gevent.spawn(self._listen_forever)

    def shutdown(self) -> None:
        if self._listener is not None:
            self._listener.kill(block=True)
            self._listener = None
        self._listening.clear()
        super().shutdown()

    def _dump_job(self, job: Job) -> bytes:
        """Pickle a job's state.

        :raises ValueError: naming the job, if it has no importable function reference or
            its state cannot be pickled (nothing has been written then)
        """
        try:
            state = job.__getstate__()
        except ValueError as exc:
            raise ValueError(
                f"Job {job.id!r} cannot be stored in a persistent job store: {exc}"
            ) from exc
        try:
            return pickle.dumps(state, self.pickle_protocol)
        except Exception as exc:
            raise ValueError(
                f"Job {job.id!r} cannot be stored in a persistent job store: its state cannot "
                f"be pickled ({type(exc).__name__}: {exc}); give it picklable args and kwargs"
            ) from exc

    def _load_job(self, job_id: str, data: bytes) -> Job | None:
        """Restore a stored job; a job that cannot be restored is logged, skipped from now on
        by this process, and left in the store untouched (``None`` is returned)."""
        try:
            state = load_state(data)
            job = Job.__new__(Job)
            job.__setstate__(state)
        except Exception:
            self._unrestorable.add(job_id)
            self._logger.exception(
                "Unable to restore job %r: it is left in the store untouched and skipped by "
                "this process until the job is replaced or removed",
                job_id,
            )
            return None
        return self._restore_context(job)

    def _forget_unrestorable(self, job_id: str) -> None:
        """A job was replaced or removed: restore it again if it comes back."""
        self._unrestorable.discard(job_id)

    def _listen_forever(self) -> None:
        """Run the store's notification listener, reconnecting after a failure."""
        while True:
            try:
                self._listen(self._on_notification, self._on_subscribed)
            except Exception as exc:  # noqa: BLE001 (any channel failure: poll, then reconnect)
                self._listening.clear()
                self._logger.warning(
                    "Notification channel lost (%s); polling every %s s until it is back",
                    exc,
                    self.poll_interval,
                )
            gevent.sleep(self.poll_interval)

    def _has_channel(self) -> bool:
        """Whether this store has a notification channel (:meth:`_listen` works)."""
        return False

    def _listen(self, notified: Callable[[str], None], subscribed: Callable[[], None]) -> None:
        """Block on the store's notification channel, calling ``subscribed()`` once the
        channel delivers every notification sent from then on, and ``notified(sender)`` with
        the sender's owner token for each notification (the stores that have a channel
        override this and :meth:`_has_channel`)."""
        raise NotImplementedError

    def _on_subscribed(self) -> None:
        """The channel is listened to: look at the store once, for the changes made while it
        was not (before the store started listening, or while it reconnected)."""
        self._listening.set()
        if self._scheduler is not None:
            self._scheduler.wakeup()

    def _on_notification(self, sender: str) -> None:
        if sender != self.owner and self._scheduler is not None:
            self._scheduler.wakeup()
