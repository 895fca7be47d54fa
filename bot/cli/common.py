"""What every `evbot` command shares: logging, the configuration, the store, JSON output."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.app.bootstrap import open_store
from bot.commands.arguments import ArgumentError, PeriodSpec, parse_period
from bot.config.load import load_config
from bot.config.secrets import redact_secrets
from bot.config.version import evbot_version
from bot.domain.defuse import defuse_json
from bot.domain.periods import Month, PeriodError
from bot.domain.settings import LOG_LEVELS, Config
from bot.store.postgres.base import is_postgres
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_LOG_LEVEL = "info"
# libraries whose INFO lines are chatter (APScheduler logs every job run): warnings only,
# unless debugging
QUIET_LIBRARIES = ("apscheduler",)


class CliError(Exception):
    """A failure to report in one line on stderr, with exit status 1."""


class _StderrLog(logging.Handler):
    """Log lines to whatever `sys.stderr` is when they are written (tests swap it), with every
    secret the environment holds redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(redact_secrets(self.format(record)) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never take the bot down
            self.handleError(record)


def configure_logging(level: str | None = None) -> None:
    """Set up the standard `logging` module once per process (one handler, on stderr) and
    set its level by name; calling it again only changes the level."""
    root = logging.getLogger()
    if not any(isinstance(h, _StderrLog) for h in root.handlers):
        handler = _StderrLog()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    name = (level or DEFAULT_LOG_LEVEL).upper()
    root.setLevel(name)
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel("DEBUG" if name == "DEBUG" else "WARNING")


def resolve_database(flag: str | None, config: Config) -> str:
    """`--db`, else `EVBOT_DB`, else the configuration's, else `./evbot.sqlite3`."""
    return flag or os.environ.get("EVBOT_DB") or config.database


def load_settings(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("EVBOT_CONFIG")
    config = load_config(path)
    if getattr(args, "log_level", None) is None:  # --log-level wins over [logging] level
        configure_logging(config.log_level)
    return config


def store_for(
    args: argparse.Namespace, config: Config, *, read: bool = False
) -> SqliteStore | PgStore:
    """The store; a command that only reads refuses a database that does not exist yet,
    rather than creating an empty one (a typo in --db would otherwise look like "no data").
    A postgresql:// URL selects PostgreSQL, whose database must exist (the schema is made)."""
    path = resolve_database(args.db, config)
    if not is_postgres(path) and path != ":memory:" and not Path(path).exists():
        if read:
            raise CliError(
                f"no database at {path} "
                f"(import figures first, e.g. evbot import --demo --db {path})"
            )
        if getattr(args, "dry_run", False):
            return open_store(":memory:")  # a dry run against a new database writes nothing
    return open_store(path)


def print_json(
    data: Any, out: TextIO, *, ensure_ascii: bool = True, indent: int | None = None
) -> None:
    """One JSON document with every text in it defused: scripts forward it to chat."""
    print(json.dumps(defuse_json(data), ensure_ascii=ensure_ascii, indent=indent), file=out)


def parse_month(text: str | None, what: str) -> Month | None:
    if text is None:
        return None
    try:
        return Month.parse(text)
    except PeriodError as exc:
        raise CliError(f"{what}: {exc}") from exc


def parse_period_flag(text: str | None, flag: str) -> PeriodSpec | None:
    """A period option read as chat reads one (`bot.commands.arguments.parse_period`: a year, a
    month, `june 2015`, a quarter, `ytd`, a range, `all`), its error naming the option."""
    if text is None:
        return None
    try:
        return parse_period(text)
    except ArgumentError as exc:
        raise CliError(f"{flag}: {exc}") from exc


_CHAT_OPTION = re.compile(r"^([a-z][a-z-]*): ")


def as_flag(message: str) -> str:
    """A chat error that starts by naming its option (`region: no figures for 'Mars'.`) named
    as the command line's flag (`--region: …`)."""
    return _CHAT_OPTION.sub(r"--\1: ", message, count=1)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file or postgresql:// URL (default: $EVBOT_DB, else the configuration's "
        "database, else evbot.sqlite3)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML configuration (default: $EVBOT_CONFIG)")
    add_log_level(p, argparse.SUPPRESS)  # also after the command; the global one otherwise


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """`evbot --version` and `evbot --log-level LEVEL COMMAND`."""
    version = f"evbot {evbot_version()}"  # the installed distribution's
    parser.add_argument("--version", action="version", version=version, help="print the version")
    add_log_level(parser, None)


def add_log_level(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=default,
        help="how much to log on stderr (default: the configuration's [logging] level, info)",
    )


class Shared:
    """What every command shares, for the platforms' own commands (`registry.CommandLine`)."""

    def add_common(self, parser: argparse.ArgumentParser) -> None:
        add_common(parser)

    def settings(self, args: argparse.Namespace) -> Config:
        return load_settings(args)

    def database(self, args: argparse.Namespace, config: Config) -> str:
        return resolve_database(args.db, config)

    def error(self, message: str) -> Exception:
        return CliError(message)
