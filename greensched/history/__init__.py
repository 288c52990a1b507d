"""Run history: a record of every run of every job, kept where the job lives.

Public API: :class:`RunRecord` (one run), :class:`ProcessInfo` (one process sharing a store),
the outcome names (``OUTCOME_*``) and :class:`RunLog`, the interface every job store's history
implements (``jobstore.runs``). Schedulers read it with
:meth:`~greensched.schedulers.base.BaseScheduler.get_runs`; the command line with
``greensched runs``.
"""

from __future__ import annotations

from greensched.history._log import RunLog as RunLog
from greensched.history._records import (
    OUTCOME_CLAIM_LOST as OUTCOME_CLAIM_LOST,
)
from greensched.history._records import (
    OUTCOME_ERROR as OUTCOME_ERROR,
)
from greensched.history._records import (
    OUTCOME_EXECUTED as OUTCOME_EXECUTED,
)
from greensched.history._records import (
    OUTCOME_MAX_INSTANCES as OUTCOME_MAX_INSTANCES,
)
from greensched.history._records import (
    OUTCOME_MISSED as OUTCOME_MISSED,
)
from greensched.history._records import (
    OUTCOME_RUNNING as OUTCOME_RUNNING,
)
from greensched.history._records import (
    OUTCOME_TIMEOUT as OUTCOME_TIMEOUT,
)
from greensched.history._records import (
    OUTCOMES as OUTCOMES,
)
from greensched.history._records import (
    ProcessInfo as ProcessInfo,
)
from greensched.history._records import (
    RunRecord as RunRecord,
)

__all__ = (
    "OUTCOMES",
    "OUTCOME_CLAIM_LOST",
    "OUTCOME_ERROR",
    "OUTCOME_EXECUTED",
    "OUTCOME_MAX_INSTANCES",
    "OUTCOME_MISSED",
    "OUTCOME_RUNNING",
    "OUTCOME_TIMEOUT",
    "ProcessInfo",
    "RunLog",
    "RunRecord",
)
