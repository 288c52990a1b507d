"""Integrations with servers and frameworks that host a scheduler (``greensched.contrib.gunicorn``)."""

from __future__ import annotations

__all__: list[str] = []
