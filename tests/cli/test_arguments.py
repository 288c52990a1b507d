"""The ``greensched`` command line: a command's options and arguments in any order, global
options (``--store``, ``--table``, ``--log-*``) anywhere after the command, and usage errors
that show the usage of the command they are in."""

from __future__ import annotations

import json
import re

import pytest

from greensched.testing import MockClock
from tests.cli.conftest import Store
from tests.cli.test_admin import FUNC, command
from tests.support.processes import greensched

ARGS = 'args=["a.jsonl"]'


@pytest.mark.slow
def test_jobs_add_takes_options_between_its_arguments(store: Store) -> None:
    add = greensched("jobs", "add", "y", FUNC, "interval", *store.args(), "seconds=5", ARGS)
    assert (add.returncode, add.stderr) == (0, "")
    assert re.fullmatch(r"Added job 'y': next run [^\n]+ \(in \d s\)\n", add.stdout)

    refused = greensched("jobs", "add", "z", FUNC, "interval", "--bogus", *store.args(), ARGS)
    assert (refused.returncode, refused.stdout) == (2, "")
    lines = refused.stderr.splitlines()
    assert lines[0].startswith("usage: greensched jobs add [-h] [--store URL]")
    assert lines[-1] == "greensched jobs add: error: unrecognized arguments: --bogus"

    listed = greensched("jobs", "list", "--json", *store.args())
    assert [(job["id"], job["trigger"]) for job in json.loads(listed.stdout)] == [
        ("y", "interval[0:00:05]")
    ]


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(["ID", "FUNC", "TRIGGER", "OPTIONS", "STORE", "--replace"], id="last"),
        pytest.param(["STORE", "--replace", "ID", "FUNC", "TRIGGER", "OPTIONS"], id="first"),
        pytest.param(["ID", "STORE", "FUNC", "--replace", "TRIGGER", "OPTIONS"], id="between"),
        pytest.param(["ID", "FUNC", "TRIGGER", "minutes=5", "STORE", ARGS, "--replace"], id="in"),
    ],
)
def test_jobs_add_options_may_come_anywhere(
    sqlite: Store, berlin_clock: MockClock, capsys: pytest.CaptureFixture[str], order: list[str]
) -> None:
    parts = {
        "ID": ["t"],
        "FUNC": [FUNC],
        "TRIGGER": ["interval"],
        "OPTIONS": ["minutes=5", ARGS],
        "STORE": [*sqlite.args(), "--log-level", "ERROR"],
    }
    argv = [word for part in order for word in parts.get(part, [part])]
    assert command(capsys, "jobs", "add", *argv) == (
        0,
        "Added job 't': next run 2024-06-03 12:05:00 CEST (in 5 min)\n",
        "",
    )
    code, out, _ = command(capsys, "jobs", "show", "--json", *sqlite.args(), "t")
    assert (code, json.loads(out)["trigger"], json.loads(out)["args"]) == (
        0,
        "interval[0:05:00]",
        ["a.jsonl"],
    )


@pytest.mark.parametrize(
    ("argv", "usage", "error"),
    [
        pytest.param(
            ["jobs", "list", "--frob"],
            "usage: greensched jobs list [-h]",
            "greensched jobs list: error: unrecognized arguments: --frob",
            id="jobs-list",
        ),
        pytest.param(
            ["jobs", "show", "a", "b"],
            "usage: greensched jobs show [-h]",
            "greensched jobs show: error: unrecognized arguments: b",
            id="jobs-show",
        ),
        pytest.param(
            ["jobs", "add", "y"],
            "usage: greensched jobs add [-h]",
            "greensched jobs add: error: the following arguments are required: FUNC, TRIGGER",
            id="jobs-add",
        ),
        pytest.param(
            ["export", "-", "--store"],
            "usage: greensched export [-h]",
            "greensched export: error: argument --store: expected one argument",
            id="export",
        ),
        pytest.param(
            ["run", "x.toml", "y.toml"],
            "usage: greensched run [-h]",
            "greensched run: error: unrecognized arguments: y.toml",
            id="run",
        ),
    ],
)
def test_a_usage_error_shows_the_usage_of_its_command(
    capsys: pytest.CaptureFixture[str], argv: list[str], usage: str, error: str
) -> None:
    code, out, err = command(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(usage)
    assert err.splitlines()[-1] == error
