"""The JSON documents of ``export_jobs`` and ``import_jobs`` (the encoding of job states is
:mod:`greensched._serialization`'s)."""

from __future__ import annotations

import json
from typing import IO, Any

from greensched import __version__
from greensched._serialization import JobEncoder, decode_object
from greensched._validators import InvalidValueError

__all__ = ("read_export", "write_export")


def write_export(states: list[dict[str, Any]], outfile: str | IO[str]) -> None:
    """Write an export of the job ``states`` to ``outfile`` (a path or a text file object).

    The whole document is encoded before anything is written, so that a state that cannot be
    encoded leaves no half-written file.
    """
    document = {"version": 1, "scheduler_version": __version__, "jobs": states}
    text = json.dumps(document, cls=JobEncoder)
    if isinstance(outfile, str):
        with open(outfile, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        outfile.write(text)


def read_export(infile: str | IO[str]) -> list[Any]:
    """Return the job states of an export (by greensched or APScheduler 3.x) in ``infile``
    (a path or a text file object).

    :raises ValueError: if ``infile`` does not hold an export of version 1
    """
    if isinstance(infile, str):
        with open(infile, encoding="utf-8") as file:
            document = json.load(file, object_hook=decode_object)
    else:
        document = json.load(infile, object_hook=decode_object)
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
        # APScheduler 3.x: ValueError if the document is not a dict, TypeError if its jobs are
        # not iterable
        raise InvalidValueError(
            f"infile must hold a job export with a 'jobs' list, got: {document!r:.200}"
        )
    version = document.get("version")
    if version != 1:
        raise ValueError(f"infile's export version must be 1, got: {version!r}")
    states: list[Any] = document["jobs"]
    return states
