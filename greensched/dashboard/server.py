"""Serving the dashboard from the scheduler's own hub: :func:`serve`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from greensched.dashboard.app import Dashboard

if TYPE_CHECKING:
    from gevent.pywsgi import WSGIServer

    from greensched.schedulers.base import BaseScheduler

__all__ = ("serve",)

logger = logging.getLogger("greensched.dashboard")


def serve(
    scheduler: BaseScheduler,
    port: int,
    *,
    addr: str = "127.0.0.1",
    token: str | None = None,
    jobstore: str | None = None,
) -> WSGIServer:
    """Serve a :class:`~greensched.dashboard.Dashboard` of ``scheduler`` over HTTP at
    ``http://ADDR:PORT/``, in a :class:`gevent.pywsgi.WSGIServer` of the calling thread's hub:
    call it from the thread that runs the scheduler's loop (the main thread for a
    :class:`~greensched.schedulers.gevent.GeventScheduler`). The server is started when this
    returns; ``server.stop()`` stops it, ``server.server_port`` is its port.

    :param port: the TCP port; 0 picks a free one
    :param addr: the address to listen on (``127.0.0.1``: this host only; give another
        address, such as ``0.0.0.0``, to be reachable from other hosts)
    :param token: the secret that allows actions (``None``: read-only)
    :param jobstore: show only this store (default: every store)
    :raises ValueError: if ``port`` is not an int from 0 to 65535, or ``token`` is empty
    :raises OSError: if the address cannot be listened on (the port is taken)
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got: {port!r}")
    from gevent.pywsgi import WSGIServer

    app = Dashboard(scheduler, token=token, jobstore=jobstore)
    server = WSGIServer((addr, port), app, log=None, error_log=logger)
    server.start()
    mode = "read-only" if token is None else "actions need the token"
    logger.info("Dashboard on http://%s:%d/ (%s)", addr, server.server_port, mode)
    return server
