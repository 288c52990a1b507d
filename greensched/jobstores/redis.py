"""A job store that keeps the jobs in Redis, shared by any number of schedulers."""

from __future__ import annotations

import pickle
import secrets
from typing import TYPE_CHECKING, Any, cast

from greensched import _validators as validate
from greensched.history.redis import RedisRunLog
from greensched.jobstores._shared import (
    DEFAULT_CLAIM_LIMIT,
    Claimed,
    Released,
    SharedJobStore,
    run_order,
)
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

try:
    import redis
except ImportError as exc:  # pragma: no cover (the test extra installs redis)
    raise ImportError(
        "RedisJobStore requires redis installed (pip install 'greensched[redis]')"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from datetime import datetime

    from greensched.job import Job

__all__ = ("RedisJobStore",)

#: How many jobs :meth:`RedisJobStore.iter_jobs` fetches per round trip.
CHUNK_SIZE = 500

# Every script takes KEYS = jobs hash, run times sorted set, claims hash. A Redis script runs
# atomically: nothing else touches the keys while it runs.

# ARGV: job id, pickled state, run time ('' if paused), channel ('' for none), owner.
# Returns 1, or 0 if the id is taken (nothing written).
_ADD = """
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[1], id) == 1 then return 0 end
redis.call('HSET', KEYS[1], id, ARGV[2])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[2], ARGV[3], id) end
redis.call('HDEL', KEYS[3], id)
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1
"""

# ARGV: as _ADD. Returns 1, or 0 if there is no such job (nothing written). Ends any claim.
_UPDATE = """
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[1], id) == 0 then return 0 end
redis.call('HSET', KEYS[1], id, ARGV[2])
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], id)
else
  redis.call('ZREM', KEYS[2], id)
end
redis.call('HDEL', KEYS[3], id)
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1
"""

# ARGV: job id, channel, owner. Returns 1, or 0 if there is no such job.
_REMOVE = """
local id = ARGV[1]
if redis.call('HDEL', KEYS[1], id) == 0 then return 0 end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
"""

# ARGV: channel, owner.
_REMOVE_ALL = """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return 1
"""

# ARGV: now, lease end, claim limit, owner, then the excluded ids (jobs this process cannot
# restore).
# Claims up to <limit> jobs: first those the owner still holds, by run time, then the due ones,
# earliest first. It always takes back what the owner holds (a release that failed, or a claim
# whose answer was lost), even after a clean round: redis-py may send the script again after a
# broken connection, and that second run must return what the first claimed; moves each one's run time to the lease end and marks it with the
# owner. A run time without a job (no writer leaves one) is dropped. Returns id, state, run
# time (before the claim) of each.
_CLAIM = """
local limit = tonumber(ARGV[3])
local lease_end, owner = ARGV[2], ARGV[4]
local excluded = {}
for i = 5, #ARGV do excluded[ARGV[i]] = true end
local held, seen = {}, {}
local claims = redis.call('HGETALL', KEYS[3])
for i = 1, #claims, 2 do
  local id = claims[i]
  if claims[i + 1] == owner and not excluded[id] then
    local score = redis.call('ZSCORE', KEYS[2], id)
    if score then held[#held + 1] = {id, tonumber(score), score} end
  end
end
table.sort(held, function(a, b)
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[1] < b[1]
end)
local picked, scores = {}, {}
local function pick(id, score)
  if #picked < limit and not seen[id] and not excluded[id] then
    picked[#picked + 1] = id
    scores[#scores + 1] = score
    seen[id] = true
  end
end
for _, entry in ipairs(held) do pick(entry[1], entry[3]) end
if #picked < limit then
  local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES',
                         'LIMIT', 0, limit + #ARGV - 4)
  for i = 1, #due, 2 do pick(due[i], due[i + 1]) end
end
local result = {}
for i, id in ipairs(picked) do
  local state = redis.call('HGET', KEYS[1], id)
  if state then
    redis.call('ZADD', KEYS[2], lease_end, id)
    redis.call('HSET', KEYS[3], id, owner)
    result[#result + 1] = id
    result[#result + 1] = state
    result[#result + 1] = scores[i]
  else
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return result
"""

# KEYS[4]: the owner's last release. ARGV: a token naming this release, owner, number of
# updated jobs, then per updated job: id, state ('' to keep the stored one), run time ('' if it
# has none), then the removed ids.
# Writes only the jobs still claimed by the owner and ends their claims; returns the other ids.
# The same release sent again (redis-py resends a command whose connection broke before the
# answer came) returns the first answer and changes nothing.
_RELEASE = """
local token, owner = ARGV[1], ARGV[2]
local previous = redis.call('GET', KEYS[4])
if previous and string.sub(previous, 1, #token + 1) == token .. '|' then
  return cjson.decode(string.sub(previous, #token + 2))
end
local lost = {}
local last = 3 + 3 * tonumber(ARGV[3])
for i = 4, last, 3 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[3], id) == owner then
    if ARGV[i + 1] ~= '' then redis.call('HSET', KEYS[1], id, ARGV[i + 1]) end
    if ARGV[i + 2] ~= '' then
      redis.call('ZADD', KEYS[2], ARGV[i + 2], id)
    else
      redis.call('ZREM', KEYS[2], id)
    end
    redis.call('HDEL', KEYS[3], id)
  else
    lost[#lost + 1] = id
  end
end
for i = last + 1, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[3], id) == owner then
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  else
    lost[#lost + 1] = id
  end
end
local answer = '[]'
if #lost > 0 then answer = cjson.encode(lost) end
redis.call('SET', KEYS[4], token .. '|' .. answer, 'EX', 86400)
return lost
"""

# ARGV: HSCAN cursor, count. Returns the next cursor, then id and state of each job of this
# page that has no run time (paused).
_PAUSED_PAGE = """
local page = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local result = {page[1]}
local entries = page[2]
for i = 1, #entries, 2 do
  if not redis.call('ZSCORE', KEYS[2], entries[i]) then
    result[#result + 1] = entries[i]
    result[#result + 1] = entries[i + 1]
  end
end
return result
"""


def _score(timestamp: float | None) -> str:
    """The sorted-set score of a job's next run time: its timestamp ('' if it is paused)."""
    return "" if timestamp is None else repr(timestamp)


def _key(field: str, value: Any) -> str:
    """Return the Redis key option ``value`` if it is a non-empty string.

    :raises InvalidValueError: if it is not (APScheduler 3.x raises ValueError for an empty key
        or ``None``, greensched's :func:`~greensched._validators.string` TypeError for a key
        that is not a string: this is both)
    """
    if not isinstance(value, str):
        raise validate.InvalidValueError(f"{field} must be a string, got: {value!r}")
    return validate.string(field, value)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisJobStore(SharedJobStore):
    """Stores jobs in a Redis database, where several schedulers (in several processes, on
    several hosts) can share them. Any leftover keyword arguments are passed to
    :class:`redis.Redis` (``host``, ``port``, ``password``, ``client_name``, ...).

    Plugin alias: ``redis``

    The data is laid out as APScheduler 3.x lays it out: the hash ``jobs_key`` maps each job id
    to its pickled state, and the sorted set ``run_times_key`` holds each scheduled job's id
    with its next run time (a POSIX timestamp) as score; paused jobs are not in it. greensched
    adds the hash ``claims_key``, which maps each claimed job's id to its claimer. Keys written
    by APScheduler 3.11's ``RedisJobStore`` open as they are, with no upgrade step (the claims
    hash is created when the first job is claimed), and their ``apscheduler.*`` triggers load
    as the ``greensched.*`` triggers.

    **Claims** follow the protocol of :mod:`greensched.jobstores._shared` (leases, owners,
    take-over, at most once for started runs): a claim, a release and a give-back are each one
    Lua script, atomic on the server. A claimed job's score is the end of its lease and its
    claimer is in the claims hash. Each release carries a token, and the owner's last answer
    is kept for a day (``claims_key + '.released.' + owner``): a release redis-py sends again
    after a broken connection gives the first answer and writes nothing.

    **Run history** (:attr:`runs`, a :class:`~greensched.history.redis.RedisRunLog`) lives
    under keys that start with ``jobs_key + '.runs'``: the hash ``jobs_key + '.runs'`` (run
    id -> record), a sorted set of run ids per job (``jobs_key + '.runs.job.' + job id``,
    capped at the history's limit), one for all jobs (``jobs_key + '.runs.all'``), a set of
    running run ids per process (``jobs_key + '.runs.running.' + owner``), the closings of
    records left running by dead processes (``jobs_key + '.runs.closed'``) and the processes'
    heartbeats (``jobs_key + '.runs.processes'``). It uses the store's client; nothing needs
    creating. :meth:`remove_job` and :meth:`remove_all_jobs` leave it alone: a removed job's
    runs stay for the history's retention.

    **Notifications.** Every change made through :meth:`add_job`, :meth:`update_job`,
    :meth:`remove_job` or :meth:`remove_all_jobs` is announced on the pub/sub channel
    ``jobs_key + '.wakeup'``; the other schedulers that listen there wake up at once (a hint:
    they also look every ``poll_interval`` seconds).

    **Connections.** The store uses redis-py's default connection pool, which opens a
    connection per concurrent caller when needed; redis-py is cooperative under gevent once
    sockets are patched. The listener has a connection of its own. A command whose connection
    broke is sent again as the client's ``retry`` option says (redis-py's default depends on
    its version, and redis-py 8 retries for ``Redis(host=...)`` but not for
    ``Redis.from_url(...)``, which ``url`` uses: pass a :class:`redis.retry.Retry` to choose);
    if it still fails, the call raises, and the scheduler's loop tries again later. The loop's
    claims and releases may be sent again safely (a claim takes back the jobs its owner holds;
    a release sent again gives the first answer and writes nothing); an :meth:`add_job` or
    :meth:`remove_job` sent again after it succeeded reports the id taken, or unknown.

    :param db: the database number to store jobs in
    :param jobs_key: key of the hash that holds the jobs' states
    :param run_times_key: key of the sorted set that holds the jobs' run times
    :param pickle_protocol: pickle protocol level to use (for serialization), defaults to the
        highest available
    :param claims_key: key of the hash that holds the claims (default:
        ``jobs_key + '.claims'``)
    :param lease_time: seconds a claim on a due job lasts
    :param poll_interval: seconds after which the scheduler looks at the store again even if
        no notification came
    :param claim_limit: the most due jobs one scheduler claims at once
    :param notify: announce changes on the channel, and listen to it (the listener runs only
        where sockets are gevent-patched)
    :param url: a Redis URL (``redis://[[username]:[password]]@host:6379/0``) to connect to,
        through :meth:`redis.Redis.from_url`; a database number in the URL wins over ``db``
    :param serializer: ``'pickle'`` (default: APScheduler 3.x's format; reading a row
        unpickles it) or ``'json'`` (nothing is ever unpickled; a job whose arguments are not
        JSON values is refused by ``add_job``, naming the value)
    :param signing_key: a secret (str or bytes): rows are written signed (HMAC-SHA256); a row
        without a valid signature is logged and kept, never unpickled
    :raises ValueError: if a key is empty or two keys are the same, if ``db`` is not a
        database number, or if ``decode_responses=True`` is given (states are binary); a key
        that is not a string, or a ``db`` that is neither an int nor a string, raises
        :exc:`~greensched._validators.InvalidValueError`, also a ``TypeError``

    .. versionadded:: greensched 0.1
       The ``claims_key``, ``lease_time``, ``poll_interval``, ``claim_limit``, ``notify`` and
       ``url`` options, :meth:`iter_jobs`.

    .. note:: APScheduler 3.x deletes a job it cannot restore; greensched logs it and leaves
       it in the store (a process whose code is older or newer may still run it).
    """

    def __init__(
        self,
        db: int | str = 0,
        jobs_key: str = "apscheduler.jobs",
        run_times_key: str = "apscheduler.run_times",
        pickle_protocol: int = pickle.HIGHEST_PROTOCOL,
        *,
        claims_key: str | None = None,
        lease_time: float = 30,
        poll_interval: float = 1,
        claim_limit: int = DEFAULT_CLAIM_LIMIT,
        notify: bool = True,
        serializer: str = "pickle",
        signing_key: str | bytes | None = None,
        url: str | None = None,
        **connect_args: Any,
    ) -> None:
        super().__init__(
            pickle_protocol=pickle_protocol,
            lease_time=lease_time,
            poll_interval=poll_interval,
            claim_limit=claim_limit,
            notify=notify,
            serializer=serializer,
            signing_key=signing_key,
        )
        self.jobs_key = _key("jobs_key", jobs_key)
        self.run_times_key = _key("run_times_key", run_times_key)
        if claims_key is None:
            claims_key = jobs_key + ".claims"
        self.claims_key = _key("claims_key", claims_key)
        if run_times_key == jobs_key:
            raise ValueError(f"run_times_key must differ from jobs_key, got: {run_times_key!r}")
        if claims_key in (jobs_key, run_times_key):
            raise ValueError(
                f"claims_key must differ from jobs_key and run_times_key, got: {claims_key!r}"
            )
        #: the pub/sub channel that announces changes
        self.channel = jobs_key + ".wakeup"
        if isinstance(db, bool) or not isinstance(db, (int, str)):
            # APScheduler 3.x: ValueError for None, TypeError from int() for most others
            raise validate.InvalidValueError(f"db must be a database number, got: {db!r}")
        try:
            db_number = int(db)
        except ValueError:
            raise ValueError(f"db must be a database number, got: {db!r}") from None
        if db_number < 0:
            raise ValueError(f"db must be a database number, got: {db!r}")
        if connect_args.get("decode_responses"):
            raise ValueError(
                "decode_responses must be False (job states are binary), got: "
                f"{connect_args['decode_responses']!r}"
            )
        if url is None:
            self.redis = redis.Redis(db=db_number, **connect_args)
        else:
            self.redis = redis.Redis.from_url(url, db=db_number, **connect_args)
        self._keys = (self.jobs_key, self.run_times_key, self.claims_key)
        self._add = self.redis.register_script(_ADD)
        self._update = self.redis.register_script(_UPDATE)
        self._remove = self.redis.register_script(_REMOVE)
        self._remove_all = self.redis.register_script(_REMOVE_ALL)
        self._claim_script = self.redis.register_script(_CLAIM)
        self._release_script = self.redis.register_script(_RELEASE)
        self._paused_page = self.redis.register_script(_PAUSED_PAGE)
        self._runs = RedisRunLog(self.redis, jobs_key + ".runs")

    def shutdown(self) -> None:
        """Stop listening to the channel and close the connections."""
        super().shutdown()
        self.redis.connection_pool.disconnect()

    def _channel_args(self) -> tuple[str, str]:
        return (self.channel if self.notify else "", self.owner)

    def _with_states(self, raw_ids: list[bytes]) -> Iterable[tuple[bytes, bytes | None]]:
        """Pair each id with its stored state (``None`` if the job is gone), in one round trip."""
        if not raw_ids:
            return ()
        return zip(raw_ids, cast("list[bytes | None]", self.redis.hmget(self.jobs_key, raw_ids)))

    def _read_state(self, job_id: str) -> bytes | None:
        return cast("bytes | None", self.redis.hget(self.jobs_key, job_id))

    def get_due_jobs(self, now: datetime) -> list[Job]:
        """Return the jobs whose run time is ``now`` or earlier, by next run time (ascending),
        without claiming them. A job claimed by a scheduler is due again only when its lease
        ends; jobs this process cannot restore are left out.

        :param now: the current time (an aware datetime)
        """
        raw_ids = cast(
            "list[bytes]", self.redis.zrangebyscore(self.run_times_key, "-inf", now.timestamp())
        )
        excluded = self._unrestorable
        raw_ids = [raw_id for raw_id in raw_ids if _text(raw_id) not in excluded]
        return sorted(
            self._restored(self._unseen(set(), self._with_states(raw_ids))), key=run_order
        )

    def _claim(
        self, now: float, lease_end: float, limit: int, excluded: Sequence[str], *, take_back: bool
    ) -> list[Claimed]:
        # take_back is ignored: the script always takes back (see _CLAIM)
        result = self._claim_script(
            keys=self._keys, args=[repr(now), repr(lease_end), limit, self.owner, *excluded]
        )
        return [
            (_text(result[index]), result[index + 1], float(result[index + 2]))
            for index in range(0, len(result), 3)
        ]

    def _release(self, entries: Sequence[Released], removed: Sequence[str]) -> set[str]:
        return self._call_release(
            [(job_id, data, _score(timestamp)) for job_id, data, timestamp in entries], removed
        )

    def _give_back(self, jobs: Sequence[tuple[str, float]]) -> None:
        self._call_release([(job_id, "", _score(timestamp)) for job_id, timestamp in jobs], ())

    def _call_release(
        self, updated: Sequence[tuple[str, bytes | str, str]], removed: Iterable[str]
    ) -> set[str]:
        """Run the release script: write ``(id, state ('' to keep it), score)`` entries and
        delete ``removed`` where this owner's claim holds; return the other ids."""
        args: list[bytes | str | int] = [secrets.token_hex(8), self.owner, len(updated)]
        for entry in updated:
            args.extend(entry)
        args.extend(removed)
        keys = [*self._keys, f"{self.claims_key}.released.{self.owner}"]
        return {_text(job_id) for job_id in self._release_script(keys=keys, args=args)}

    def get_next_run_time(self) -> datetime | None:
        """Return the earliest run time in the store: a job's next run time, or the end of
        the lease of a claimed job (when another scheduler may take it over); ``None`` if
        there is none. Jobs this process cannot restore are left out.

        :return: an aware datetime in UTC
        """
        excluded = self._unrestorable
        entries = cast(
            "list[tuple[bytes, float]]",
            self.redis.zrange(self.run_times_key, 0, len(excluded), withscores=True),
        )
        for raw_id, score in entries:
            if _text(raw_id) not in excluded:
                return utc_timestamp_to_datetime(score)
        return None

    def count_jobs(self) -> int:
        """Return how many jobs the jobs hash holds (``HLEN``), including any this process
        cannot restore."""
        return cast("int", self.redis.hlen(self.jobs_key))

    def get_all_jobs(self) -> list[Job]:
        """Return every job, by next run time (ascending), paused jobs last (by id)."""
        return sorted(self.iter_jobs(), key=run_order)

    def iter_jobs(self) -> Iterator[Job]:
        """Yield every job, fetching a few hundred per round trip: first the scheduled jobs by
        run time (a job claimed at the moment comes at the end of its lease), then the paused
        jobs, in no particular order. Jobs that change meanwhile may be missed or seen late;
        none is yielded twice.

        .. versionadded:: greensched 0.1
        """
        return self._iter_restored()

    def _read_states(self) -> Iterator[tuple[str, bytes]]:
        seen: set[str] = set()
        start = 0
        while True:
            raw_ids = cast(
                "list[bytes]",
                self.redis.zrange(self.run_times_key, start, start + CHUNK_SIZE - 1),
            )
            if not raw_ids:
                break
            start += len(raw_ids)
            yield from self._unseen(seen, self._with_states(raw_ids))
        cursor: bytes | int = 0
        while True:
            page = self._paused_page(keys=self._keys[:2], args=[cursor, CHUNK_SIZE])
            cursor = page[0]
            yield from self._unseen(seen, zip(page[1::2], page[2::2]))
            if int(cursor) == 0:
                break

    @staticmethod
    def _unseen(
        seen: set[str], entries: Iterable[tuple[bytes, bytes | None]]
    ) -> Iterator[tuple[str, bytes]]:
        """Yield the id and state of each entry whose job is there and not seen yet."""
        for raw_id, state in entries:
            job_id = _text(raw_id)
            if state is not None and job_id not in seen:
                seen.add(job_id)
                yield job_id, state

    def add_job(self, job: Job) -> None:
        """Add a job, scheduled at its ``next_run_time`` (paused if that is ``None``).

        :param job: the job to add
        :raises ConflictingIdError: if the store already has a job with the same id
        :raises ValueError: if the job's state cannot be pickled (nothing is written)
        """
        self._write_state(job.id, self._dump_job(job), job.next_run_time, new=True)

    def update_job(self, job: Job) -> None:
        """Replace the stored job that has the same id, move it to its ``next_run_time``
        (pause it if that is ``None``) and end any claim on it.

        :param job: the new version of the job
        :raises JobLookupError: if the store has no job with that id
        :raises ValueError: if the job's state cannot be pickled (nothing is written)
        """
        self._write_state(job.id, self._dump_job(job), job.next_run_time, new=False)

    def _write_state(
        self, job_id: str, data: bytes, next_run_time: datetime | None, *, new: bool
    ) -> None:
        script = self._add if new else self._update
        args: list[bytes | str] = [
            job_id,
            data,
            _score(datetime_to_utc_timestamp(next_run_time)),
            *self._channel_args(),
        ]
        if not script(keys=self._keys, args=args):
            raise ConflictingIdError(job_id) if new else JobLookupError(job_id)
        self._forget_unrestorable(job_id)

    def remove_job(self, job_id: str) -> None:
        """Remove a job (and any claim on it).

        :param job_id: the identifier of the job
        :raises JobLookupError: if the store has no job with that id
        """
        if not self._remove(keys=self._keys, args=[job_id, *self._channel_args()]):
            raise JobLookupError(job_id)
        self._forget_unrestorable(job_id)

    def remove_all_jobs(self) -> None:
        """Remove every job (and every claim)."""
        self._remove_all(keys=self._keys, args=self._channel_args())
        self._unrestorable.clear()

    def _has_channel(self) -> bool:
        return True

    def _listen(self, notified: Callable[[str], None], subscribed: Callable[[], None]) -> None:
        """Subscribe to the channel on a connection of its own, call ``subscribed()`` when
        Redis confirms the subscription and ``notified(sender)`` for each message, until the
        connection fails or the greenlet is killed."""
        pubsub = self.redis.pubsub()
        try:
            pubsub.subscribe(self.channel)
            for message in pubsub.listen():
                if message["type"] == "message":
                    notified(_text(message["data"]))
                elif message["type"] == "subscribe":
                    subscribed()
        finally:
            pubsub.close()
