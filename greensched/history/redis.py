"""The run history of :class:`~greensched.jobstores.redis.RedisJobStore`: :class:`RedisRunLog`,
a capped sorted set of runs per job and the records in a hash, changed by Lua scripts (each
atomic on the server)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, cast

from greensched.history._log import DEFAULT_LIMIT, RunLog
from greensched.history._records import OUTCOME_ERROR, OUTCOME_RUNNING, ProcessInfo, RunRecord

if TYPE_CHECKING:
    import redis

__all__ = ("RedisRunLog",)

#: records fetched per round trip when :meth:`RedisRunLog.read` filters by outcome, and
#: records dropped per script run by :meth:`RedisRunLog.prune`
PAGE_SIZE = 500

# KEYS: records hash, closings hash, all-runs sorted set. ARGV: the most records kept per job,
# the prefix of the jobs' sorted sets, the prefix of the owners' running sets, then the records
# as one JSON array of [run id, sort time (the score, as a string: a Lua number would lose
# digits), 1 if it is running (0 if not), job id, owner, its JSON].
# Stores each record (dropping any closing of it), then trims each job written to the newest
# <limit> runs (by score, then run id), dropping the trimmed records.
_WRITE = """
local limit = tonumber(ARGV[1])
local seen, job_keys = {}, {}
-- (closings and running sets are rare: no HDEL or SREM where there is none)
local closings = redis.call('EXISTS', KEYS[2]) == 1
local running = {}
for _, item in ipairs(cjson.decode(ARGV[4])) do
  local id, score = item[1], item[2]
  local job_key, running_key = ARGV[2] .. item[4], ARGV[3] .. item[5]
  redis.call('HSET', KEYS[1], id, item[6])
  if closings then redis.call('HDEL', KEYS[2], id) end
  redis.call('ZADD', KEYS[3], score, id)
  redis.call('ZADD', job_key, score, id)
  if item[3] == 1 then
    redis.call('SADD', running_key, id)
    running[running_key] = true
  else
    if running[running_key] == nil then
      running[running_key] = redis.call('EXISTS', running_key) == 1
    end
    if running[running_key] then redis.call('SREM', running_key, id) end
  end
  if not seen[job_key] then
    seen[job_key] = true
    job_keys[#job_keys + 1] = job_key
  end
end
for _, job_key in ipairs(job_keys) do
  local extra = redis.call('ZCARD', job_key) - limit
  if extra > 0 then
    local trimmed = redis.call('ZRANGE', job_key, 0, extra - 1)
    redis.call('ZREMRANGEBYRANK', job_key, 0, extra - 1)
    for first = 1, #trimmed, 500 do
      local chunk = {unpack(trimmed, first, math.min(first + 499, #trimmed))}
      redis.call('HDEL', KEYS[1], unpack(chunk))
      redis.call('HDEL', KEYS[2], unpack(chunk))
      redis.call('ZREM', KEYS[3], unpack(chunk))
    end
  end
end
return 1
"""

# KEYS: a sorted set of runs, records hash, closings hash. ARGV: the highest score ('+inf', or
# '(<time>' for earlier than), offset, count.
# Returns each record's JSON and its closing's JSON ('' where there is none), newest first.
_READ = """
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', ARGV[2], ARGV[3])
local result = {}
for _, id in ipairs(ids) do
  result[#result + 1] = redis.call('HGET', KEYS[2], id) or ''
  result[#result + 1] = redis.call('HGET', KEYS[3], id) or ''
end
return result
"""

# KEYS: records hash, closings hash, then the running sets of the owners. ARGV: the closing's
# JSON. Closes each stored record in those sets not closed yet, and deletes the sets; returns
# how many it closed.
_CLOSE = """
local closed = 0
for i = 3, #KEYS do
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    if redis.call('HEXISTS', KEYS[1], id) == 1
        and redis.call('HSETNX', KEYS[2], id, ARGV[1]) == 1 then
      closed = closed + 1
    end
  end
  redis.call('DEL', KEYS[i])
end
return closed
"""

# KEYS: records hash, closings hash, all-runs sorted set. ARGV: the oldest sort time kept, the
# prefix of the jobs' sorted sets, the most records to drop. Drops the oldest records sorted
# before that time; returns how many.
_PRUNE = """
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(old) do
  local record = redis.call('HGET', KEYS[1], id)
  if record then redis.call('ZREM', ARGV[2] .. cjson.decode(record).job_id, id) end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
return #old
"""

#: JSON without spaces (an encoder made once: ``json.dumps`` with options makes one per call)
_encode = json.JSONEncoder(separators=(",", ":")).encode


def _utc_iso(when: datetime) -> str:
    if when.tzinfo is not timezone.utc:
        when = when.astimezone(timezone.utc)
    return when.isoformat()


def _dump(record: RunRecord) -> str:
    """The record's JSON (:meth:`RunRecord.to_dict`'s keys, in its order), times in UTC."""
    scheduled, started, ended = record.scheduled, record.started, record.ended
    return _encode(
        {
            "run_id": record.run_id,
            "job_id": record.job_id,
            "job_name": record.job_name,
            "scheduled": None if scheduled is None else _utc_iso(scheduled),
            "started": None if started is None else _utc_iso(started),
            "ended": None if ended is None else _utc_iso(ended),
            "outcome": record.outcome,
            "lateness": record.lateness,
            "duration": record.duration,
            "exc_type": record.exc_type,
            "exc_message": record.exc_message,
            "traceback": record.traceback,
            "retval": record.retval,
            "host": record.host,
            "pid": record.pid,
            "owner": record.owner,
        }
    )


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis ``SCAN MATCH`` pattern."""
    for special in "\\*?[]":
        text = text.replace(special, "\\" + special)
    return text


class RedisRunLog(RunLog):
    """Run history in Redis, next to a :class:`~greensched.jobstores.redis.RedisJobStore`'s
    keys, through its client (and connection pool). With ``prefix`` the store's
    ``jobs_key + '.runs'``, the keys are:

    - ``prefix``: a hash, run id -> the record as JSON (:meth:`RunRecord.to_dict`, times in
      UTC);
    - ``prefix + '.job.' + job id``: a sorted set per job of its run ids by sort time
      (a POSIX timestamp), capped at the newest ``limit``;
    - ``prefix + '.all'``: the same for every job's runs (reading across jobs, pruning by age);
    - ``prefix + '.running.' + owner``: a set per process of the run ids it wrote as running
      and has not written again since;
    - ``prefix + '.closed'``: a hash, run id -> how :meth:`close_running` closed that running
      record (outcome, end, exception), laid over the record when it is read, dropped when its
      process writes the record again;
    - ``prefix + '.processes'``: a hash, owner -> the process's last heartbeat as JSON.

    :meth:`write` (records and their jobs' trimming), :meth:`close_running` and each step of
    :meth:`prune` are each one Lua script, atomic on the server. A removed job's keys stay
    until its runs age out (:meth:`prune`) or :meth:`clear`. The script of
    :meth:`close_running` names every key it touches; those of :meth:`write` and :meth:`prune`
    derive the jobs' sorted sets and the owners' running sets from the records (as the store's
    keys, these must all live on one Redis server).

    :param client: the store's Redis client
    :param prefix: the first part of every key
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        limit: int = DEFAULT_LIMIT,
        max_age: float | None = None,
    ) -> None:
        super().__init__(limit=limit, max_age=max_age)
        self.redis = client
        self.prefix = prefix
        self.records_key = prefix
        self.closed_key = prefix + ".closed"
        self.all_key = prefix + ".all"
        self.processes_key = prefix + ".processes"
        self._write = client.register_script(_WRITE)
        self._read = client.register_script(_READ)
        self._close = client.register_script(_CLOSE)
        self._prune = client.register_script(_PRUNE)

    def job_key(self, job_id: str) -> str:
        """The key of the sorted set of ``job_id``'s runs."""
        return f"{self.prefix}.job.{job_id}"

    def running_key(self, owner: str) -> str:
        """The key of the set of ``owner``'s running records."""
        return f"{self.prefix}.running.{owner}"

    def write(self, records: Sequence[RunRecord]) -> None:
        if not records:
            return
        # the records in one argument (a few arguments for each one cost redis-py more than
        # encoding the records)
        items = [
            (
                record.run_id,
                repr(record.sort_time.timestamp()),
                1 if record.outcome == OUTCOME_RUNNING else 0,
                record.job_id,
                record.owner,
                _dump(record),
            )
            for record in records
        ]
        self._write(
            keys=[self.records_key, self.closed_key, self.all_key],
            args=[
                self.limit,
                self.job_key(""),
                self.running_key(""),
                _encode(items),
            ],
        )

    def read(
        self,
        job_id: str | None = None,
        *,
        outcome: str | Collection[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        before: datetime | None = None,
    ) -> list[RunRecord]:
        if limit <= 0:
            return []
        outcomes = {outcome} if isinstance(outcome, str) else outcome
        keys = [
            self.all_key if job_id is None else self.job_key(job_id),
            self.records_key,
            self.closed_key,
        ]
        highest = "+inf" if before is None else f"({before.timestamp()!r}"
        page = limit if outcomes is None else max(limit, PAGE_SIZE)
        found: list[RunRecord] = []
        seen: set[str] = set()
        offset = 0
        while len(found) < limit:
            # a page of records; one that was trimmed meanwhile comes as ''
            entries = cast("list[bytes]", self._read(keys=keys, args=[highest, offset, page]))
            for raw, closing in zip(entries[::2], entries[1::2]):
                if not raw:
                    continue
                data = json.loads(raw)
                if closing:
                    data.update(json.loads(closing))
                if data["run_id"] in seen or (
                    outcomes is not None and data["outcome"] not in outcomes
                ):
                    continue
                seen.add(data["run_id"])
                found.append(RunRecord.from_dict(data))
            if len(entries) < 2 * page:
                break
            offset += page
        return found[:limit]

    def close_running(
        self, owners: Collection[str], ended: datetime, exc_type: str, message: str
    ) -> int:
        if not owners:
            return 0
        closing = {
            "outcome": OUTCOME_ERROR,
            "ended": _utc_iso(ended),
            "exc_type": exc_type,
            "exc_message": message,
        }
        keys = [self.records_key, self.closed_key]
        keys.extend(self.running_key(owner) for owner in sorted(owners))
        return int(self._close(keys=keys, args=[json.dumps(closing)]))

    def prune(self, now: datetime) -> int:
        if self.max_age is None:
            return 0
        oldest = now - timedelta(seconds=self.max_age)
        keys = [self.records_key, self.closed_key, self.all_key]
        args: list[str | int] = [repr(oldest.timestamp()), self.prefix + ".job.", PAGE_SIZE]
        dropped = 0
        while True:
            count = int(self._prune(keys=keys, args=args))
            dropped += count
            if count < PAGE_SIZE:
                break
        silent = [process.owner for process in self.processes() if process.heartbeat < oldest]
        if silent:
            self.redis.hdel(self.processes_key, *silent)
        return dropped

    def heartbeat(self, process: ProcessInfo) -> None:
        data = process.to_dict()
        data["started"] = _utc_iso(process.started)
        data["heartbeat"] = _utc_iso(process.heartbeat)
        self.redis.hset(self.processes_key, process.owner, json.dumps(data))

    def processes(self) -> list[ProcessInfo]:
        entries = cast("dict[bytes, bytes]", self.redis.hgetall(self.processes_key))
        found = [ProcessInfo.from_dict(json.loads(raw)) for raw in entries.values()]
        return sorted(found, key=lambda process: process.heartbeat, reverse=True)

    def clear(self) -> None:
        pattern = _glob_escape(self.prefix)
        keys: list[str | bytes] = [
            self.records_key,
            self.closed_key,
            self.all_key,
            self.processes_key,
        ]
        for kind in (".job.*", ".running.*"):
            keys.extend(self.redis.scan_iter(match=pattern + kind))
        self.redis.delete(*keys)
