"""greensched: an in-process job scheduler for gevent programs, a drop-in for APScheduler 3.x.

Errors (each keeps the name and base class it has in APScheduler 3.x)::

    KeyError
     +-- greensched.jobstores.base.JobLookupError
     +-- greensched.jobstores.base.ConflictingIdError
    ValueError
     +-- greensched.jobstores.base.TransientJobError
    Exception
     +-- greensched.executors.base.MaxInstancesReachedError
     +-- greensched.schedulers.SchedulerAlreadyRunningError
     +-- greensched.schedulers.SchedulerNotRunningError
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

__all__ = ("__version__", "release", "version", "version_info")

try:
    release: str = _distribution_version("greensched")
except PackageNotFoundError:  # a source checkout that was not installed
    release = "0.0.0+unknown"

version = __version__ = release
version_info = tuple(int(part) if part.isdigit() else part for part in release.split("."))
