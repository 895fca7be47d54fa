"""What every `evbot` command shares: logging, the configuration, the store, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from bot.app.bootstrap import open_store
from bot.cli.logs import configure_logging
from bot.commands.arguments import ArgumentError, PeriodSpec, parse_period
from bot.config.load import load_config
from bot.config.version import evbot_version
from bot.domain.channels import Channel
from bot.domain.defuse import defuse_json
from bot.domain.formatting import validate_locale
from bot.domain.periods import Month, PeriodError
from bot.domain.powertrains import CHOICES as POWERTRAIN_CHOICES
from bot.domain.settings import LOG_FORMATS, LOG_LEVELS, WEBHOOK_KINDS, Config
from bot.store.postgres.base import is_postgres
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A failure to report in one line on stderr, with exit status 1."""


def resolve_database(flag: str | None, config: Config) -> str:
    """`--db`, else `EVBOT_DB`, else the configuration's, else `./evbot.sqlite3`."""
    return flag or os.environ.get("EVBOT_DB") or config.database


def load_settings(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("EVBOT_CONFIG")
    config = load_config(path)
    # --log-level and --log-format win over [logging] level and format
    level = getattr(args, "log_level", None) or config.log_level
    configure_logging(level, getattr(args, "log_format", None) or config.log_format)
    return config


def add_locale(p: argparse.ArgumentParser) -> None:
    """The `--locale` option of a command that prints announcements."""
    p.add_argument(
        "--locale",
        help="language, numbers and months, e.g. en, nb, de, fr, nl, es, ja (default: config)",
    )


def with_locale(config: Config, args: argparse.Namespace) -> Config:
    """The configuration with `--locale` in place of its own, when given (checked: a bad code is
    a usage error naming it)."""
    asked = getattr(args, "locale", None)
    if not asked:
        return config
    try:
        return replace(config, locale=validate_locale(asked))
    except ValueError as exc:
        raise CliError(f"--locale: {exc}") from exc


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


def add_common(p: argparse.ArgumentParser, *, locale: bool = False) -> None:
    """`--db` and `--config`; `--locale` too for a command that prints announcements."""
    if locale:
        add_locale(p)
    p.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file or postgresql:// URL (default: $EVBOT_DB, else the configuration's "
        "database, else evbot.sqlite3)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML configuration (default: $EVBOT_CONFIG)")
    add_log_level(p, argparse.SUPPRESS)  # also after the command; the global one otherwise
    add_log_format(p, argparse.SUPPRESS)


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """`evbot --version` and `evbot --log-level LEVEL COMMAND`."""
    version = f"evbot {evbot_version()}"  # the installed distribution's
    parser.add_argument("--version", action="version", version=version, help="print the version")
    add_log_level(parser, None)
    add_log_format(parser, None)


def add_log_format(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default,
        help="log lines as text, or one JSON object each, every line on stdout and stderr "
        "included (default: the configuration's [logging] format, text)",
    )


def add_powertrain(p: argparse.ArgumentParser) -> None:
    """`--powertrain`, as chat's `powertrain:` on the reading commands."""
    p.add_argument(
        "--powertrain",
        type=str.lower,
        choices=POWERTRAIN_CHOICES,
        default="electric",
        help="electric: BEV + PHEV and figures without a powertrain; bev, phev, or fcev "
        "(fuel-cell cars, never in the default) (default: %(default)s)",
    )


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


def channel_of(args: argparse.Namespace, config: Config | None = None) -> Channel:
    """The channel `--platform`, `--workspace` and `--channel` name. A URL platform's or a Matrix
    room's workspace is `default`. A platform webhook's channel is a `[webhooks.NAME]` of its
    kind, checked when `config` is given; the error never repeats what was given when it looks
    like a URL (a webhook URL is a credential)."""
    platform = args.platform
    # webhooks and Matrix rooms need no workspace: a URL, a name or a room id names the channel
    alone = platform in ("webhook", "matrix") or platform in WEBHOOK_KINDS
    channel = Channel(platform, args.workspace or ("default" if alone else "local"), args.channel)
    if config is not None and platform in WEBHOOK_KINDS:
        names = config.platforms[platform].webhooks if platform in config.platforms else {}
        if channel.channel not in names:
            given = "this URL" if "://" in channel.channel else repr(channel.channel)
            known = ", ".join(sorted(names)) or "none"
            raise CliError(
                f"--channel: {given} is not a webhook of kind {platform} in the configuration "
                f"(configured: {known}); a webhook URL goes in an environment variable or a "
                f"file named by [webhooks.NAME] url_env or url_file, and --channel names NAME"
            )
    return channel
