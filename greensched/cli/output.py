"""What the ``greensched`` command shows: times (local and relative), tables, progress bars and
its log lines (text, or one JSON object per line)."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo
from typing import IO, Any

from greensched._clock import Clock, current_clock
from greensched._logging import count

__all__ = (
    "RUN_FIELDS",
    "BriefFormatter",
    "JsonFormatter",
    "Progress",
    "configure_logging",
    "describe_next_run",
    "format_time",
    "job_state",
    "relative_time",
    "render_table",
)

#: The format of text log lines.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The attribute of a log record that holds the fields of a run (``extra={RUN_FIELDS: {...}}``):
#: JSON log lines carry them as fields of their own.
RUN_FIELDS = "greensched_run"


def relative_time(when: datetime, now: datetime) -> str:
    """Return how far ``when`` is from ``now`` in words: ``'in 5 min'``, ``'3 s ago'``,
    ``'in 2 h 5 min'``, ``'in 1 day 4 h'``, or ``'now'`` within half a second.

    Each unit is truncated (``'in 5 min'`` up to 5 min 59 s); both are aware datetimes,
    compared as instants (whatever their zones).
    """
    delta = when.timestamp() - now.timestamp()
    seconds = round(abs(delta))
    if seconds == 0:
        return "now"
    if seconds < 60:
        text = f"{seconds} s"
    elif seconds < 3600:
        text = f"{seconds // 60} min"
    elif seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        text = f"{hours} h" + (f" {minutes} min" if minutes else "")
    else:
        days, hours = divmod(seconds // 3600, 24)
        text = f"{days} day{'' if days == 1 else 's'}" + (f" {hours} h" if hours else "")
    return f"in {text}" if delta > 0 else f"{text} ago"


def format_time(when: datetime, zone: tzinfo, *, weekday: bool = False) -> str:
    """Return ``when`` as a wall time of ``zone``: ``'2024-06-03 12:05:00 CEST'`` (with
    ``weekday``: ``'Mon 2024-06-03 12:05:00 CEST'``)."""
    return when.astimezone(zone).strftime(("%a " if weekday else "") + "%Y-%m-%d %H:%M:%S %Z")


def describe_next_run(when: datetime | None, now: datetime, zone: tzinfo) -> str:
    """Return a job's next run time in ``zone`` with its distance from ``now``
    (``'2024-06-03 12:05:00 CEST (in 5 min)'``), or ``'-'`` for a paused job."""
    if when is None:
        return "-"
    return f"{format_time(when, zone)} ({relative_time(when, now)})"


def job_state(next_run_time: datetime | None, now: datetime) -> str:
    """Return ``'paused'`` (no next run time), ``'due'`` (its time has come: a scheduler is
    about to run it, or none runs on the store) or ``'scheduled'``."""
    if next_run_time is None:
        return "paused"
    return "due" if next_run_time.timestamp() <= now.timestamp() else "scheduled"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return ``rows`` under ``headers`` as left-aligned columns two spaces apart, one line
    each (ending with a newline)."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
        for line in [list(headers), *rows]
    ]
    return "".join(line + "\n" for line in lines)


class Progress:
    """A one-line progress bar on a terminal: ``importing [#####-----] 500/1000 jobs``, or
    ``exporting 500 jobs`` when the total is unknown. Redrawn at most ten times a second;
    draws nothing unless ``enabled``.

    :param label: what is being done
    :param total: how many jobs in all, if known
    :param stream: where to draw (stderr)
    :param enabled: draw at all (stderr is a terminal, or ``--progress``)
    """

    WIDTH = 30
    INTERVAL = 0.1

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        stream: IO[str],
        enabled: bool,
        clock: Clock | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream
        self._enabled = enabled
        self._clock = clock or current_clock()
        self._drawn_at: float | None = None

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more jobs done; redraw if the last drawing is old enough."""
        self.done += count
        if not self._enabled:
            return
        now = self._clock.monotonic()
        if self._drawn_at is None or now - self._drawn_at >= self.INTERVAL:
            self._drawn_at = now
            self._draw()

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if self._enabled:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def render(self) -> str:
        """Return the bar's text as it is now."""
        if not self.total:
            return f"{self.label} {count(self.done, 'job')}"
        filled = min(self.WIDTH, self.WIDTH * self.done // self.total)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        return f"{self.label} [{bar}] {self.done}/{count(self.total, 'job')}"

    def _draw(self) -> None:
        self._stream.write("\r" + self.render())
        self._stream.flush()


class JsonFormatter(logging.Formatter):
    """Formats a log record as one JSON object: ``time`` (ISO 8601, UTC, milliseconds),
    ``level``, ``logger``, ``message``, the run fields of a run's record (``event``,
    ``job_id``, ``scheduled``, ``lateness``, ``duration``...) and ``exception`` (the
    formatted traceback) if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(getattr(record, RUN_FIELDS, None) or {})
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class BriefFormatter(logging.Formatter):
    """Text log lines whose exception is shown as its type and message (one more line), not
    as a traceback: for the admin commands, whose errors are the user's to read."""

    def format(self, record: logging.LogRecord) -> str:
        # not the traceback another handler's formatter may have cached in the record
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: Any) -> str:
        return "".join(traceback.format_exception_only(ei[0], ei[1])).strip()


class _CommandHandler(logging.StreamHandler):
    """The handler :func:`configure_logging` installs (and replaces on a second call)."""


def configure_logging(log_format: str, level: int | str, *, tracebacks: bool = True) -> None:
    """Send log records of ``level`` and above to stderr, as text or JSON lines.

    :param log_format: ``'text'`` or ``'json'``
    :param level: a level number or name
    :param tracebacks: show the traceback of a record's exception in text lines (``False``:
        its type and message only)
    """
    handler = _CommandHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter((logging.Formatter if tracebacks else BriefFormatter)(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CommandHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
