"""Job callables of the APScheduler 3.x interoperability tests, in a module both libraries
import by name: a module-level class whose bound method is a job's callable."""

from __future__ import annotations

#: (name, greeting, punctuation) of each call of :meth:`Greeter.greet`
CALLS: list[tuple[str, str, str]] = []


class Greeter:
    """Instances are equal by name, so that a copy restored from a store can be compared."""

    def __init__(self, name: str) -> None:
        self.name = name

    def greet(self, greeting: str, *, punctuation: str = ".") -> str:
        CALLS.append((self.name, greeting, punctuation))
        return f"{greeting}, {self.name}{punctuation}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Greeter):
            return self.name == other.name
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Greeter({self.name!r})"
