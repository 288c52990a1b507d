"""A module whose import fails (the loader's error for a function that cannot be imported)."""

from __future__ import annotations

raise RuntimeError("this module is broken on purpose")
