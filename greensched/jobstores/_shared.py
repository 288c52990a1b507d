"""What the job stores that several processes can share have in common.

* Job states are pickled dicts by default, as APScheduler 3.x stores them; states written by
  APScheduler are read too (its ``apscheduler.*`` classes load as the ``greensched.*`` classes
  of the same path). ``serializer='json'`` stores them as JSON instead, and ``signing_key``
  signs them (:mod:`greensched.jobstores._serializers`).
* Due jobs are *claimed*: a store marks each job it hands to its scheduler with the scheduler's
  owner token and a lease (the store moves the job's indexed run time to the end of the lease,
  so other processes neither see it as due nor wake up for it until the lease expires, and the
  true next run time stays in the pickled state). The claim ends when the loop stores its
  results through :meth:`~greensched.jobstores.base.BaseJobStore.release_due_jobs`, which
  writes only the jobs whose claim this owner still holds. A process that dies holding claims
  leaves them to expire; whoever claims them next runs them then (late: ``misfire_grace_time``
  decides whether they still run or are reported missed).
* A stored job that cannot be restored (its function's module is gone) is logged with its id
  and left in the store untouched; this process skips it from then on. The admin commands
  still see it, as an :class:`~greensched.jobstores._states.UnloadableJob`, and change only
  its next run time (:meth:`SharedJobStore._iter_stored` and the methods after it).
* Other processes are told about changes through a notification channel where the store has
  one (a hint that wakes their schedulers early); ``poll_interval`` bounds the delay when a
  notification is lost, or when there is no channel.
"""

from __future__ import annotations

import os
import pickle
import secrets
import socket
from typing import TYPE_CHECKING, Any

import gevent
from gevent import monkey
from gevent.event import Event

from greensched import _validators as validate
from greensched._clock import Clock, current_clock
from greensched._logging import one_line
from greensched.job import Job
from greensched.jobstores._serializers import make_serializer
from greensched.jobstores._states import UnloadableJob, check_state, load_state
from greensched.jobstores.base import BaseJobStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from greensched.schedulers.base import BaseScheduler

__all__ = ("SharedJobStore", "load_state")

#: The most due jobs a store claims in one round, by default. A round's CPU work (restoring,
#: rescheduling and submitting its jobs) runs without yielding to other greenlets; about
#: 0.1 ms a job keeps a round of 100 under about 10 ms of hub time. A larger backlog is taken
#: in several rounds, one after the other.
DEFAULT_CLAIM_LIMIT = 100


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
    :param serializer: how job states are stored: ``'pickle'`` (APScheduler 3.x's format;
        reading a row unpickles it) or ``'json'`` (nothing is unpickled; a job whose
        arguments are not JSON values is refused when added); see
        :mod:`greensched.jobstores._serializers`
    :param signing_key: a secret (str or bytes): rows are written signed (HMAC-SHA256), and a
        row without a valid signature is logged and kept, never unpickled
    """

    def __init__(
        self,
        *,
        pickle_protocol: int = pickle.HIGHEST_PROTOCOL,
        lease_time: float = 30,
        poll_interval: float = 1,
        claim_limit: int = DEFAULT_CLAIM_LIMIT,
        notify: bool = True,
        serializer: str = "pickle",
        signing_key: str | bytes | None = None,
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
        #: turns job states into stored bytes and back
        self.serializer = make_serializer(
            serializer, signing_key=signing_key, pickle_protocol=pickle_protocol
        )
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
        #: when the notification channel went down (:meth:`_monotonic`), if it is down
        self._channel_down_since: float | None = None

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
        """Serialize a job's state.

        :raises ValueError: naming the job, if it has no importable function reference or
            its state cannot be serialized (nothing has been written then)
        """
        try:
            state = job.__getstate__()
        except ValueError as exc:
            raise ValueError(
                f"Job {job.id!r} cannot be stored in a persistent job store: {exc}"
            ) from exc
        try:
            return self.serializer.dumps(state)
        except ValueError as exc:
            raise ValueError(
                f"Job {job.id!r} cannot be stored in a persistent job store: {exc}"
            ) from exc

    def _restore_job(self, data: bytes) -> Job:
        """Restore a stored job (not bound to a scheduler yet).

        :raises Exception: if it cannot be restored (a row the serializer refuses: unsigned,
            or not of its format)
        """
        job = Job.__new__(Job)
        job.__setstate__(self.serializer.loads(data))
        return job

    def _load_job(self, job_id: str, data: bytes) -> Job | None:
        """Restore a stored job; a job that cannot be restored is logged, skipped from now on
        by this process, and left in the store untouched (``None`` is returned)."""
        try:
            job = self._restore_job(data)
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

    # The stored states, as the stores keep them (each store implements these three)

    def _read_states(self) -> Iterator[tuple[str, bytes]]:
        """Yield the id and stored state of every job, in the order of ``iter_jobs``."""
        raise NotImplementedError

    def _read_state(self, job_id: str) -> bytes | None:
        """Return the stored state of a job, or ``None`` if there is no such job."""
        raise NotImplementedError

    def _write_state(
        self, job_id: str, data: bytes, next_run_time: datetime | None, *, new: bool
    ) -> None:
        """Store a job's state and next run time (``None``: paused), ending any claim on it
        and telling the other processes; a job that this process could not restore is
        restored again from then on.

        :param new: add the job (else replace it)
        :raises ConflictingIdError: if ``new`` and the id is taken
        :raises JobLookupError: if not ``new`` and there is no such job
        """
        raise NotImplementedError

    def _iter_restored(self) -> Iterator[Job]:
        """Yield the jobs of :meth:`_read_states` that this process can restore (the others
        are logged once and skipped)."""
        for job_id, data in self._read_states():
            if job_id not in self._unrestorable:
                job = self._load_job(job_id, data)
                if job is not None:
                    yield job

    # The jobs as the admin commands see them: those that cannot be restored too

    def _stored_job(self, job_id: str, data: bytes) -> Job | UnloadableJob:
        try:
            job = self._restore_job(data)
        except Exception as exc:  # noqa: BLE001 (whatever restoring raised says why)
            return UnloadableJob.read(job_id, data, exc, reader=self.serializer.read)
        return self._restore_context(job)

    def _iter_stored(self) -> Iterator[Job | UnloadableJob]:
        """Yield every stored job, in the order of ``iter_jobs``: a job that cannot be restored
        here (its function or trigger class cannot be imported) comes as an
        :class:`~greensched.jobstores._states.UnloadableJob`, without being logged or skipped
        from then on.

        .. versionadded:: greensched 0.1
        """
        for job_id, data in self._read_states():
            yield self._stored_job(job_id, data)

    def _lookup_stored(self, job_id: str) -> Job | UnloadableJob | None:
        """Return a job as :meth:`_iter_stored` does, or ``None`` if there is no such job.

        .. versionadded:: greensched 0.1
        """
        data = self._read_state(job_id)
        return None if data is None else self._stored_job(job_id, data)

    def _rewrite_next_run_time(
        self, job: UnloadableJob, next_run_time: datetime | None
    ) -> UnloadableJob:
        """Give a job that cannot be restored here a new next run time (``None``: pause it),
        changing nothing else: its state is written back with the same references to what
        cannot be imported, and the job loads with the new next run time where they can be.
        Any claim on it ends, as after ``update_job``.

        :raises ValueError: if its state cannot be read or written back (nothing is written)
        :raises JobLookupError: if the job is gone

        .. versionadded:: greensched 0.1
        """
        state = job.writable_state()
        state["next_run_time"] = next_run_time
        try:
            data = self._dump_state(state)
        except Exception as exc:
            raise ValueError(
                f"its state cannot be written back ({type(exc).__name__}: {exc})"
            ) from exc
        self._write_state(job.id, data, next_run_time, new=False)
        return UnloadableJob(job.id, data, error=job.error, state=state, missing=job.missing)

    def _add_state(self, state: dict[str, Any]) -> bytes:
        """Add a job from its state (read from an export with stand-ins for what cannot be
        imported here) without restoring it; return the state as stored.

        :raises ValueError: if ``state`` is not a whole job state, or cannot be pickled
        :raises ConflictingIdError: if the id is taken

        .. versionadded:: greensched 0.1
        """
        state = check_state(state)
        try:
            data = self._dump_state(state)
        except Exception as exc:
            raise ValueError(
                f"job {state['id']!r}: its state cannot be stored ({type(exc).__name__}: {exc})"
            ) from exc
        self._write_state(state["id"], data, state["next_run_time"], new=True)
        return data

    def _dump_state(self, state: dict[str, Any]) -> bytes:
        """Serialize a job state read with stand-ins for what cannot be imported: as
        :meth:`_dump_job` does a job's state, with each stand-in written as the global it
        stands for."""
        return self.serializer.dumps_read(state)

    def _monotonic(self) -> float:
        """Return a monotonic reading of the scheduler's clock (a test's mock clock)."""
        clock = getattr(self._scheduler, "_clock", None)
        return (clock if isinstance(clock, Clock) else current_clock()).monotonic()

    def _listen_forever(self) -> None:
        """Run the store's notification listener, reconnecting after a failure (every
        ``poll_interval``). An outage is logged twice, at ``WARNING``: when the channel goes
        down and when it is back (with how long it was down); the failed attempts to reconnect
        in between only at ``DEBUG``."""
        self._channel_down_since = None
        while True:
            try:
                self._listen(self._on_notification, self._on_subscribed)
            except Exception as exc:  # noqa: BLE001 (any channel failure: poll, then reconnect)
                self._listening.clear()
                if self._channel_down_since is None:
                    self._channel_down_since = self._monotonic()
                    self._logger.warning(
                        "Notification channel down (%s); polling every %s s until it is back",
                        one_line(exc),
                        self.poll_interval,
                    )
                else:
                    self._logger.debug("Notification channel still down (%s)", one_line(exc))
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
        if self._channel_down_since is not None:
            self._logger.warning(
                "Notification channel back after %.1f s",
                self._monotonic() - self._channel_down_since,
            )
            self._channel_down_since = None
        self._listening.set()
        if self._scheduler is not None:
            self._scheduler.wakeup()

    def _on_notification(self, sender: str) -> None:
        if sender != self.owner and self._scheduler is not None:
            self._scheduler.wakeup()
