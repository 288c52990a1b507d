"""Stand-ins for a store that several processes share: a run log that is not local (its
records are batched, and its writes can be made to fail), and a memory store whose claims can
be lost."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from greensched.history import RunRecord
from greensched.history.memory import MemoryRunLog
from greensched.job import Job
from greensched.jobstores.memory import MemoryJobStore


class RemoteRunLog(MemoryRunLog):
    """A memory run log that says it is not local, as a server's would; ``failing = True``
    makes its writes (and heartbeats) raise, as a server that does not answer."""

    local = False

    def __init__(self) -> None:
        super().__init__()
        self.failing = False
        #: the batches written, in order
        self.batches: list[list[str]] = []

    def write(self, records: Sequence[RunRecord]) -> None:
        if self.failing:
            raise ConnectionError("history server down")
        self.batches.append([record.run_id for record in records])
        # a server keeps copies, not the objects the scheduler goes on changing
        super().write([RunRecord.from_dict(record.to_dict()) for record in records])

    def heartbeat(self, process: object) -> None:
        if self.failing:
            raise ConnectionError("history server down")
        super().heartbeat(process)  # type: ignore[arg-type]


class SharedMemoryJobStore(MemoryJobStore):
    """A memory store with a remote-like run log, an owner token and a lease, like the stores
    several processes share; ``lose`` names the job ids whose next claim is lost."""

    lease_time = 30.0

    def __init__(self) -> None:
        super().__init__()
        self._runs = RemoteRunLog()
        self.owner = "standin-owner"
        self.lose: set[str] = set()

    @property
    def remote(self) -> RemoteRunLog:
        runs = self._runs
        assert isinstance(runs, RemoteRunLog)
        return runs

    def release_due_jobs(self, updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        super().release_due_jobs(updated, removed)
        lost, self.lose = self.lose, set()
        return lost
