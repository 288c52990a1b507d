"""A web dashboard over a scheduler: its jobs, their runs (with tracebacks), the processes that
share its stores and what needs attention, as server-rendered pages and JSON, with actions
(pause, resume, run now, remove) for those who have the token.

:class:`Dashboard` is a WSGI application (mount it in Flask, Django or any WSGI server);
:func:`serve` serves it from the scheduler's own hub; ``greensched run --dashboard-port PORT``
does so for the command. README, Dashboard, describes the pages, the JSON and the security.
"""

from __future__ import annotations

from greensched.dashboard.app import Dashboard as Dashboard
from greensched.dashboard.security import TOKEN_ENV as TOKEN_ENV
from greensched.dashboard.server import serve as serve

__all__ = ("TOKEN_ENV", "Dashboard", "serve")
