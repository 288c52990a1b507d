"""``python -m greensched``: the ``greensched`` command."""

from __future__ import annotations

import sys

from greensched.cli import main

__all__ = ()

if __name__ == "__main__":
    sys.exit(main())
