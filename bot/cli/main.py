"""The `evbot` command line: the parser, and `main`, which runs one command; each family of
commands has its module."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TextIO

from adapters import registry
from bot.cli import (
    ask,
    channel_parsers,
    check,
    data,
    deliveries,
    demo,
    figures,
    manual,
    run,
    store,
)
from bot.cli import templates as template_commands
from bot.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Shared,
    add_common,
    add_global_options,
    add_powertrain,
)
from bot.cli.keeping import add_parsers as add_keeping_commands
from bot.cli.logs import complain, configure_logging, report_crash
from bot.cli.sources import add_source_commands
from bot.config.secrets import redact_secrets
from bot.domain.records import ImportFailed
from bot.domain.settings import ConfigError
from bot.domain.subjects import UnknownSubject
from bot.domain.subscriptions import SubscriptionError
from bot.ports.store import StoreError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evbot",
        description="EV Milestone Bot: electric-vehicle sales milestones, told in chat.",
    )
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("import", help="import a CSV file of sales figures")
    p.add_argument("file", nargs="?", help="CSV file (default: the configured source's file)")
    p.add_argument("--source", metavar="NAME", help="source name, or a configured source")
    p.add_argument("--format", choices=("canonical", "iea"), help="file format")
    p.add_argument(
        "--thousands",
        metavar="SEP",
        help='what groups the digits of units, e.g. "." for 1.234 (default: the source\'s '
        '`thousands`, else none; a quoted "1,234" in a comma-separated file always reads 1234)',
    )
    p.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    p.add_argument("--demo", action="store_true", help="load the shipped Alliance demo data")
    p.add_argument(
        "--accept-jumps",
        action="store_true",
        help="hold nothing: figures far outside their series' history are announced as usual",
    )
    add_common(p)
    p.set_defaults(run=data.cmd_import)

    p = sub.add_parser("held", help="figures held as implausible, and the events they hold")
    p.add_argument("--all", action="store_true", help="released and revised holds too")
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_common(p)
    p.set_defaults(run=data.cmd_held)

    p = sub.add_parser("release", help="let a held figure's announcements go out")
    p.add_argument("id", type=int, help="the hold's id (see `evbot held`)")
    add_common(p)
    p.set_defaults(run=data.cmd_release)

    p = sub.add_parser(
        "total", help="cumulative total of a subject, or what was sold in a period (--period)"
    )
    p.add_argument("subject", help='a model, make, group or region, e.g. "nissan leaf"')
    p.add_argument(
        "--region",
        metavar="R",
        help="region; an unknown one is refused with the closest names (default: the region "
        "the subject names, else World)",
    )
    p.add_argument(
        "--as-of",
        metavar="PERIOD",
        help="total up to the end of this period: 2015, 2015-06, 'june 2015', 2015-Q2, ytd or "
        "all, as chat's as-of: (default: all, the latest figures)",
    )
    p.add_argument(
        "--period",
        metavar="PERIOD",
        help="units sold in this period, not cumulative, against a year earlier: 2023, 2023-Q2, "
        "2023-06, ytd or a range 2019..2021, as chat's period: (default: none, the running total)",
    )
    p.add_argument(
        "--metric",
        choices=("sales", "stock"),
        default="sales",
        help="units sold, or vehicles registered (default: %(default)s)",
    )
    add_powertrain(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument(
        "--explain",
        action="store_true",
        help="which regions, sources, years and metric made the figure, and what was left out",
    )
    add_common(p, locale=True)
    p.set_defaults(run=figures.cmd_total)

    p = sub.add_parser(
        "share",
        help="a region's EV share of new cars, as a source gives it (the IEA file), or each "
        "model's share of a make or group: /ev-share's answer",
        epilog="e.g. evbot share norway; evbot share norway --period 2020; evbot share alliance",
    )
    p.add_argument("subject", help="a region (e.g. norway) or a make or group (e.g. alliance)")
    p.add_argument(
        "--region",
        metavar="R",
        help="a make's or group's region (default: the region the subject names, else World)",
    )
    p.add_argument(
        "--period",
        metavar="PERIOD",
        help="a region's share: a year (2020); a make's: any period chat takes (default: all, "
        "a region's latest year)",
    )
    p.add_argument(
        "--as-of",
        metavar="PERIOD",
        help="a region's latest whole year's share by then: 2022, 2023-06 (default: none)",
    )
    p.add_argument(
        "--metric",
        choices=("sales", "stock"),
        help="a region's share of new cars sold, or of cars on the road (default: sales)",
    )
    add_powertrain(p)
    p.add_argument("--json", action="store_true", help="the answer's data as one JSON object")
    add_common(p, locale=True)
    p.set_defaults(run=figures.cmd_share)

    p = sub.add_parser("check-config", help="print the effective settings, secrets redacted")
    add_common(p)
    p.set_defaults(run=check.cmd_check_config)

    p = sub.add_parser("demo", help="watch the Alliance's milestones arrive, no tokens needed")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="pace: faster (2) or slower (0.5) (default: %(default)s)",
    )
    add_common(p, locale=True)
    p.set_defaults(run=demo.cmd_demo)

    p = sub.add_parser("replay", help="every announcement the figures would have made")
    p.add_argument(
        "--from",
        dest="from_",
        metavar="PERIOD",
        help="shown from the start of this period: 2015-06, 'june 2015', 2015, 2015-Q2, as "
        "chat reads a period (default: the first figures)",
    )
    p.add_argument(
        "--to",
        metavar="PERIOD",
        help="shown to the end of this period: 2015-06, 'june 2015', 2015 (to December), "
        "2015-Q2 (default: the latest figures)",
    )
    p.add_argument("--kinds", metavar="K,K", help="milestone,share,growth,record (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--explain",
        action="store_true",
        help="also list what is not told for comparing unlike figures, and why",
    )
    add_common(p, locale=True)
    p.set_defaults(run=figures.cmd_replay)

    p = sub.add_parser("detect", help="detect what changed since the last run and record it")
    add_common(p)
    p.set_defaults(run=figures.cmd_detect)

    p = sub.add_parser("milestones", help="recorded milestones, or their corrections")
    p.add_argument("--corrections", action="store_true", help="show corrections instead")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_common(p)
    p.set_defaults(run=figures.cmd_milestones)

    channel_parsers.add_parsers(sub)  # subscribe ... subscriptions

    p = sub.add_parser(
        "deliveries",
        help="the outbox: what was sent where, what failed and why; --show one; retry failed",
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=("retry",),
        help="retry: queue failed deliveries again (ID, or --failed for all), attempts from 0; "
        "a paused channel stays paused (`evbot resume`) (default: list)",
    )
    p.add_argument("target", nargs="?", metavar="ID", help="the delivery to retry")
    p.add_argument(
        "--failed",
        action="store_true",
        help="only failed deliveries; with retry: every failed one (default: all statuses)",
    )
    p.add_argument(
        "--status",
        choices=("pending", "inflight", "posted", "failed", "cancelled"),
        help="only deliveries of this status (default: all)",
    )
    p.add_argument(
        "--show",
        type=int,
        metavar="ID",
        help="one delivery whole: its message, events, steps, attempts, last error "
        "(default: list them)",
    )
    p.add_argument("--limit", type=int, default=50, help="the newest N (default: 50)")
    p.add_argument("--json", action="store_true", help="one JSON object a line (default: text)")
    add_common(p)
    p.set_defaults(run=deliveries.cmd_deliveries)

    p = sub.add_parser("chart", help="draw a subject's chart to a PNG (what the bot posts)")
    p.add_argument("subject", help='a model, make, group or region, e.g. "Renault-Nissan Alliance"')
    p.add_argument(
        "--kind",
        choices=("cumulative", "shares", "monthly"),
        default="cumulative",
        help="running total with milestones, model shares, or months against a year earlier "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--region",
        metavar="R",
        help="region; an unknown one is refused with close names (default: World)",
    )
    p.add_argument(
        "--metric",
        choices=("sales", "stock"),
        default="sales",
        help="units sold, or vehicles registered (default: %(default)s)",
    )
    p.add_argument("--out", metavar="FILE", help="PNG to write (default: SUBJECT-KIND.png)")
    add_powertrain(p)
    add_common(p, locale=True)
    p.set_defaults(run=figures.cmd_chart)

    p = sub.add_parser("ask", help="run one slash command through the console adapter")
    p.add_argument("text", help='e.g. "/ev-total nissan leaf region:USA as-of:2015-06"')
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_common(p)
    p.set_defaults(run=ask.cmd_ask)

    p = sub.add_parser(
        "migrate-store", help="copy a SQLite store into an empty PostgreSQL one, verified"
    )
    p.add_argument(
        "--from",
        dest="from_",
        required=True,
        metavar="sqlite:PATH",
        help="the SQLite store to copy (required)",
    )
    p.add_argument(
        "--to",
        required=True,
        metavar="postgresql://USER@HOST/DB",
        help="the empty PostgreSQL database to fill (required)",
    )
    p.set_defaults(run=store.cmd_migrate_store)

    p = sub.add_parser(
        "run",
        help="run the bot with every enabled adapter (the console, reading slash commands "
        "from a terminal or a pipe, when none is)",
    )
    p.add_argument(
        "--ops",
        metavar="HOST:PORT",
        help="serve /healthz and /metrics here (default: $EVBOT_OPS_ADDRESS; none)",
    )
    p.add_argument(
        "--exit-on-eof",
        action="store_true",
        help='stop when standard input ends, for scripts: `echo "/ev-total leaf" | evbot run '
        "--exit-on-eof` (console only; default: answer what is piped in or typed, then run on)",
    )
    add_common(p)
    p.set_defaults(run=run.cmd_run)

    add_source_commands(sub)  # `evbot sources`, `evbot fetch`
    template_commands.add_commands(sub, add_common)
    add_keeping_commands(sub)  # backup, restore, export
    registry.add_commands(sub, Shared())  # each platform's own: `evbot discord sync`, ...

    return manual.as_manual(parser)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one `evbot` command; returns the exit status."""
    stream = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(stream)
        return EXIT_USAGE
    configure_logging(args.log_level, args.log_format)  # a command's configuration may change
    runner: Callable[[argparse.Namespace, TextIO], Coroutine[Any, Any, int]] = args.run
    try:
        return asyncio.run(runner(args, stream))
    except ImportFailed as exc:
        for problem in exc.problems:
            complain(problem)
        complain("import failed: nothing was written")
        return EXIT_FAIL
    except (ConfigError, StoreError, CliError, UnknownSubject, SubscriptionError) as exc:
        complain(f"evbot {args.command}: {redact_secrets(str(exc))}")
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `evbot replay | head`: the reader has gone, which is fine
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        # A bug: keep the traceback for the report, but never a password or token in it.
        report_crash(exc, f"evbot {args.command}: internal error (a bug; please report it)")
        return EXIT_FAIL
