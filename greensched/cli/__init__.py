"""The ``greensched`` command (also ``python -m greensched``)::

    greensched run JOBS_FILE [--store URL] [--table NAME] [--executor TYPE]
                             [--poll-interval SECONDS] [--log-format text|json]
                             [--dashboard-port PORT [--dashboard-addr ADDR]
                              [--dashboard-token TOKEN]]
                             [--metrics-port PORT [--metrics-addr ADDR]]
    greensched celery-beat -A MODULE:APP [the options of run but --executor]
    greensched check JOBS_FILE [--count N]
    greensched jobs list [JOBS_FILE] [--json]           # these take --store URL (or the
    greensched jobs show ID [--json]                    # GREENSCHED_STORE environment
    greensched jobs add ID FUNC TRIGGER [KEY=VALUE ...] [--replace]   # variable) and
    greensched jobs pause|resume|remove|run-now ID      # --table NAME, or --jobs-file
    greensched runs [JOB_ID] [--outcome OUTCOME[,...]] [--limit N] [--json]
    greensched export FILE [--progress]                 # JOBS_FILE (the store run uses
    greensched import FILE [--progress]                 # for it; default: ./jobs.toml's)
    greensched store convert --from pickle|json --to pickle|json
                             [--from-signing-key KEY] [--signing-key KEY]

``run`` and the ``jobs``, ``export`` and ``import`` commands also take ``--serializer
pickle|json`` and ``--signing-key KEY`` (default: the ``GREENSCHED_SERIALIZER`` and
``GREENSCHED_SIGNING_KEY`` environment variables): the format of the store's rows, as the
stores' ``serializer`` and ``signing_key`` options (see README, Security).

``JOBS_FILE`` is a TOML file (:mod:`greensched.cli.jobsfile` describes it) or, for ``run``, a
``module:attribute`` reference to a configured ``GeventScheduler``. Options may come before,
between or after a command's arguments. Exit codes: 0 done, 1 failed (store unreachable or
failing, no such job, id taken), 2 bad usage or input (invalid jobs or export file, bad store
URL: nothing was changed). Errors are one line, ``greensched: error: <message>``, without a
traceback (a JSON log line with ``--log-format json``); store URLs are shown with their
password masked (:func:`greensched.jobstores._url.display_url`).

.. versionadded:: greensched 0.1
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, Callable

from greensched.cli.errors import EXIT_USAGE, CommandError

__all__ = ("build_parser", "main")

_Handler = Callable[[argparse.Namespace], int]


def _run(args: argparse.Namespace) -> int:
    from greensched.cli.run import run_command

    return run_command(args)


def _celery_beat(args: argparse.Namespace) -> int:
    from greensched.cli.celery_beat import celery_beat_command

    return celery_beat_command(args)


def _check(args: argparse.Namespace) -> int:
    from greensched.cli.check import check_command

    return check_command(args)


def _admin(name: str, module: str = "admin") -> _Handler:
    """The handler of an admin command: the function ``name`` of
    ``greensched.cli.<module>``, imported when the command runs."""

    def handler(args: argparse.Namespace) -> int:
        from importlib import import_module

        from greensched.cli.stores import admin_store_url

        admin = import_module(f"greensched.cli.{module}")

        listed = getattr(args, "listed_jobs_file", None)
        if listed is not None and args.jobs_file is not None:
            raise CommandError(
                "give the jobs file once: JOBS_FILE or --jobs-file", exit_code=EXIT_USAGE
            )
        args.store = admin_store_url(args.store, listed or args.jobs_file)
        function: _Handler = getattr(admin, name)
        return function(args)

    return handler


class _CommandParser(argparse.ArgumentParser):
    """A parser whose commands take their options and positionals in any order (``jobs add
    ID FUNC TRIGGER --store URL KEY=VALUE``), and whose usage errors show the usage of the
    command they are in."""

    _parsing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._subparsers is not None or self._parsing:  # a parser of commands, or a pass
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            parsed, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False
        if extras:
            # an unknown option leaves the arguments after it unparsed: name the option only
            unknown = [text for text in extras if text.startswith("-")] or extras
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed, extras


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"must be a positive number, got: {text!r}")
        return value

    return convert


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the command's argument parser (each command's handler is ``args.handler``)."""
    from greensched import __version__

    parser = _CommandParser(
        prog="greensched",
        description="Run scheduled jobs from a jobs file, and manage the jobs of a job store.",
    )
    parser.add_argument("--version", action="version", version=f"greensched {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    logs = _CommandParser(add_help=False)
    logs.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as text, or as one JSON object each (for log collectors)",
    )
    logs.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="the least severe level logged (run: INFO, the others: WARNING)",
    )
    store = _CommandParser(add_help=False)
    store.add_argument(
        "--store",
        metavar="URL",
        help="the job store: sqlite:///PATH, postgresql+psycopg://..., mysql+pymysql://..., "
        "redis://HOST[:PORT][/DB] or memory: (default: $GREENSCHED_STORE)",
    )
    store.add_argument(
        "--table",
        "--prefix",
        dest="table",
        metavar="NAME",
        help="the table (SQL) or key prefix (Redis) of the jobs (default: APScheduler's, "
        "apscheduler_jobs)",
    )
    located = _CommandParser(add_help=False, parents=[store])
    located.add_argument(
        "--jobs-file",
        metavar="JOBS_FILE",
        help="without --store: the store greensched run JOBS_FILE uses, the SQLite file next "
        "to it (default: ./jobs.toml's, if there is one)",
    )
    formats = _CommandParser(add_help=False)
    formats.add_argument(
        "--serializer",
        choices=("pickle", "json"),
        help="the format of the store's rows: pickle (APScheduler 3.x's; reading a row "
        "unpickles it) or json (nothing is unpickled) (default: $GREENSCHED_SERIALIZER, "
        "else pickle)",
    )
    formats.add_argument(
        "--signing-key",
        metavar="KEY",
        help="sign the rows written, and refuse (log and keep) rows without a valid "
        "signature (default: $GREENSCHED_SIGNING_KEY, which other users cannot see in ps)",
    )
    admin_store = _CommandParser(add_help=False, parents=[located, formats])

    serving = _CommandParser(add_help=False, parents=[store, formats, logs])
    serving.add_argument(
        "--poll-interval",
        type=_positive(float),
        default=0.5,
        metavar="SECONDS",
        help="look at a persistent store at least this often (default: 0.5)",
    )
    serving.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics on http://ADDR:PORT/metrics (0: any free port; needs "
        "greensched[metrics])",
    )
    serving.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="the address the metrics are served on (default: 127.0.0.1, this host only)",
    )
    serving.add_argument(
        "--dashboard-port",
        type=_port,
        metavar="PORT",
        help="serve the web dashboard on http://ADDR:PORT/ (0: any free port)",
    )
    serving.add_argument(
        "--dashboard-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="the address the dashboard is served on (default: 127.0.0.1, this host only)",
    )
    serving.add_argument(
        "--dashboard-token",
        metavar="TOKEN",
        help="allow the dashboard's actions (pause, resume, run now, remove) to those who give "
        "this token (default: $GREENSCHED_DASHBOARD_TOKEN, which other users cannot see in "
        "ps; without one the dashboard is read-only)",
    )

    run = commands.add_parser(
        "run",
        parents=[serving],
        help="run the jobs of a jobs file (in the foreground)",
        description="Run a GeventScheduler in the foreground on a job store, with the jobs of "
        "JOBS_FILE added or updated by id. SIGINT/SIGTERM: stop once running jobs end (again: "
        "at once); SIGHUP: read JOBS_FILE again.",
    )
    run.add_argument(
        "jobs",
        metavar="JOBS_FILE",
        help="a TOML jobs file, or module:attribute naming a configured GeventScheduler",
    )
    run.add_argument(
        "--executor",
        metavar="TYPE",
        help="the type of the default executor: gevent (default), threadpool, processpool, debug",
    )
    run.set_defaults(handler=_run)
    run.epilog = "The store defaults to an SQLite file next to JOBS_FILE (jobs.toml: jobs.sqlite)."

    beat = commands.add_parser(
        "celery-beat",
        parents=[serving],
        help="run the beat_schedule of a Celery app, sending each run to Celery (replaces "
        "celery beat; run it N times on one shared store)",
        description="Run the beat_schedule of a Celery app as greensched run runs a jobs file: "
        "one job per entry, upserted by name (entries removed from the schedule are removed), "
        "each due run sent to Celery once. Start it any number of times on one shared store "
        "(PostgreSQL, MySQL, Redis). SIGINT/SIGTERM: stop (again: at once); SIGHUP: re-import "
        "the app's module and upsert its schedule.",
    )
    beat.add_argument(
        "-A",
        "--app",
        required=True,
        metavar="MODULE:APP",
        help="the Celery app (module:attribute)",
    )
    beat.set_defaults(handler=_celery_beat)

    check = commands.add_parser(
        "check",
        parents=[logs],
        help="validate a jobs file and show the next fire times of its jobs",
    )
    check.add_argument("jobs", metavar="JOBS_FILE")
    check.add_argument(
        "--count", type=_positive(int), default=5, help="fire times per job (default: 5)"
    )
    check.set_defaults(handler=_check)

    jobs = commands.add_parser("jobs", help="list and change the jobs of a store")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[admin_store, logs], help="list the jobs")
    listing.add_argument(
        "listed_jobs_file",
        nargs="?",
        metavar="JOBS_FILE",
        help="list the jobs of the store greensched run JOBS_FILE uses (as --jobs-file)",
    )
    listing.add_argument("--json", action="store_true", help="as a JSON array")
    listing.set_defaults(handler=_admin("jobs_list"))
    show = actions.add_parser("show", parents=[admin_store, logs], help="show one job")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="as a JSON object")
    show.set_defaults(handler=_admin("jobs_show"))
    add = actions.add_parser(
        "add",
        parents=[admin_store, logs],
        help="add a job",
        description="Add a job. OPTIONS are the keys of a jobs file's job (trigger options, "
        "args, kwargs, name, misfire_grace_time, ...), each KEY=VALUE with a TOML value "
        "(text that is not one is taken as a string): "
        "greensched jobs add report myapp.tasks:report cron hour=9 'args=[\"daily\"]'",
    )
    add.add_argument("id", metavar="ID")
    add.add_argument("func", metavar="FUNC", help="module:callable")
    add.add_argument("trigger", metavar="TRIGGER", help="date, interval, cron, ...")
    add.add_argument("options", metavar="KEY=VALUE", nargs="*", default=[])
    add.add_argument("--replace", action="store_true", help="replace a job of the same id")
    add.set_defaults(handler=_admin("jobs_add"))
    for name, text in (
        ("pause", "pause a job (it does not run until resumed)"),
        ("resume", "resume a paused job"),
        ("remove", "remove a job"),
        ("run-now", "make a job due now (the running schedulers start it within a second)"),
    ):
        action = actions.add_parser(name, parents=[admin_store, logs], help=text)
        action.add_argument("id", metavar="ID")
        action.set_defaults(handler=_admin("jobs_" + name.replace("-", "_")))

    runs = commands.add_parser(
        "runs",
        parents=[admin_store, logs],
        help="show the recorded runs of the store's jobs, newest first",
        description="Show the run history of the store's jobs (or of JOB_ID), newest first: "
        "when each run started, its outcome, duration and lateness, the process that ran it, "
        "and its error or return value.",
    )
    runs.add_argument("job_id", nargs="?", metavar="JOB_ID", help="only this job's runs")
    runs.add_argument(
        "--outcome",
        metavar="OUTCOME",
        help="only runs with this outcome, or these (comma-separated): running, executed, "
        "error, timeout, missed, max_instances, claim_lost",
    )
    runs.add_argument(
        "--limit", type=_positive(int), default=100, help="the most runs shown (default: 100)"
    )
    runs.add_argument("--json", action="store_true", help="as a JSON array of records")
    runs.set_defaults(handler=_admin("runs_command", "runs"))

    for name, text in (
        ("export", "write the store's jobs to a JSON file (- for stdout)"),
        ("import", "add the jobs of an export file (- for stdin)"),
    ):
        command = commands.add_parser(name, parents=[admin_store, logs], help=text)
        command.add_argument("file", metavar="FILE")
        command.add_argument(
            "--progress",
            action="store_true",
            help="draw a progress bar even if stderr is not a terminal",
        )
        command.set_defaults(handler=_admin(f"{name}_command", "transfer"))

    stores = commands.add_parser("store", help="maintain a job store")
    store_actions = stores.add_subparsers(dest="action", required=True, metavar="ACTION")
    convert = store_actions.add_parser(
        "convert",
        parents=[located, logs],
        help="rewrite every job of a store in another serializer (or signing key)",
        description="Rewrite every stored job from one serializer (and signing key) to "
        "another, in one transaction (Redis: one MULTI/EXEC); a job the target cannot "
        "express is listed and nothing is written. Stop the schedulers of the store first, "
        "and start them again with the new --serializer / --signing-key.",
    )
    convert.add_argument(
        "--from",
        dest="source",
        choices=("pickle", "json"),
        required=True,
        help="the serializer the rows are written with now",
    )
    convert.add_argument(
        "--to",
        dest="target",
        choices=("pickle", "json"),
        required=True,
        help="the serializer to rewrite them with",
    )
    convert.add_argument(
        "--from-signing-key",
        metavar="KEY",
        help="the key the rows are signed with now (default: none, unsigned rows)",
    )
    convert.add_argument(
        "--signing-key",
        metavar="KEY",
        help="sign the rewritten rows with this key (default: $GREENSCHED_SIGNING_KEY; "
        "none: unsigned)",
    )
    convert.set_defaults(handler=_admin("convert_command", "convert"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``greensched`` command with ``argv`` (default: ``sys.argv[1:]``).

    :return: the exit code (0 done, 1 failed, 2 bad usage or input)
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse printed it)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    # Functions are imported by reference from the current directory too (as python -m does)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    running = args.handler in (_run, _celery_beat)
    if running:
        # A gevent program: patched before anything makes locks or sockets or imports the
        # jobs' modules
        from gevent import monkey

        monkey.patch_all()
    from greensched.cli.output import configure_logging

    # run is a service: full tracebacks in its log; the other commands: one line each
    configure_logging(
        args.log_format,
        args.log_level or ("INFO" if running else "WARNING"),
        tracebacks=running,
    )
    try:
        return int(args.handler(args))
    except CommandError as exc:
        if args.log_format == "json":  # the last line of the log, as the others
            logging.getLogger("greensched").error("%s", exc.message)
        else:
            sys.stderr.write(f"greensched: error: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
