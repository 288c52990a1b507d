"""A pytest plugin that installs greensched's ``apscheduler`` alias before any test module,
conftest or other plugin imports ``apscheduler`` (give it with ``-p apscheduler_alias``)."""

from __future__ import annotations

from greensched.compat import install_apscheduler_alias

install_apscheduler_alias()
