"""The exit codes of the ``greensched`` command and the error that ends it with one line."""

from __future__ import annotations

__all__ = ("EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "CommandError")

#: The command did what it was asked.
EXIT_OK = 0
#: It could not: the job store failed or is unreachable, no job has the given id, an id is
#: taken, or ``run`` stopped on an error.
EXIT_FAILURE = 1
#: It was asked wrongly: bad arguments, an invalid jobs file or export file, a bad store URL.
#: Nothing was changed.
EXIT_USAGE = 2


class CommandError(Exception):
    """Ends the command with ``greensched: error: <message>`` on stderr (no traceback) and
    ``exit_code``.

    :param message: one line naming the bad value and what was expected
    :param exit_code: :data:`EXIT_FAILURE` or :data:`EXIT_USAGE`
    """

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
