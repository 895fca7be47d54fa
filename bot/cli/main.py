"""The `evbot` command line: argument parsing and printing; the work happens in the core modules."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from adapters.console import ConsoleAdapter
from adapters.registry import PLATFORMS
from bot.config.load import load_config, redact_secrets, redacted
from bot.domain.channels import Channel
from bot.domain.coverage import source_facts
from bot.domain.defuse import defuse_json, map_strings
from bot.domain.delivery_steps import settled_entries
from bot.domain.formatting import format_percent, format_period, format_units, in_region
from bot.domain.messages import Message
from bot.domain.periods import Month, PeriodError
from bot.domain.records import ImportFailed
from bot.domain.series import WORLD
from bot.domain.settings import LOG_LEVELS, Config, ConfigError
from bot.domain.subjects import UnknownSubject
from bot.domain.subscriptions import (
    INSTANT_BY_DEFAULT,
    KINDS,
    MODES,
    SubscriptionError,
    SubscriptionSpec,
    check_platform,
    waiting_reason,
)
from bot.ingest.importer import ImportReport, import_demo, import_file
from bot.ports.chat import ChatAdapter
from bot.ports.store import StoreError
from bot.reading.queries import TotalAnswer, load_catalog, series_reader, total
from bot.store.postgres.base import is_postgres
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore

if TYPE_CHECKING:
    from bot.app.runtime import App
    from bot.domain.events import Event
    from bot.ports.store import BotStore

log = logging.getLogger("evbot.cli")

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


def _config(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("EVBOT_CONFIG")
    config = load_config(path)
    if getattr(args, "log_level", None) is None:  # --log-level wins over [logging] level
        configure_logging(config.log_level)
    return config


def _store(
    args: argparse.Namespace, config: Config, *, read: bool = False
) -> SqliteStore | PgStore:
    """The store; a command that only reads refuses a database that does not exist yet,
    rather than creating an empty one (a typo in --db would otherwise look like "no data").
    A postgresql:// URL selects PostgreSQL, whose database must exist (the schema is made)."""
    path = resolve_database(args.db, config)
    if is_postgres(path):
        return PgStore(path)
    if path != ":memory:" and not Path(path).exists():
        if read:
            raise CliError(
                f"no database at {path} "
                f"(import figures first, e.g. evbot import --demo --db {path})"
            )
        if getattr(args, "dry_run", False):
            return SqliteStore(":memory:")  # a dry run against a new database writes nothing
    return SqliteStore(path)


def _print_json(
    data: Any, out: TextIO, *, ensure_ascii: bool = True, indent: int | None = None
) -> None:
    """One JSON document with every text in it defused: scripts forward it to chat."""
    print(json.dumps(defuse_json(data), ensure_ascii=ensure_ascii, indent=indent), file=out)


def _month(text: str | None, what: str) -> Month | None:
    if text is None:
        return None
    try:
        return Month.parse(text)
    except PeriodError as exc:
        raise CliError(f"{what}: {exc}") from exc


# -- import ---------------------------------------------------------------------------------


async def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    if not args.demo and args.file is None and args.source is None:
        raise CliError("import: give a FILE, --source NAME (a configured source) or --demo")
    async with _store(args, config) as store:
        await store.sync_groups(config.groups)
        if args.demo:
            report = await import_demo(store, config, dry_run=args.dry_run)
        else:
            path = args.file
            size = await asyncio.to_thread(_file_size, path)
            with _progress(size) as progress:
                report = await import_file(
                    store,
                    config,
                    path,
                    source=args.source,
                    fmt=args.format,
                    dry_run=args.dry_run,
                    progress=progress,
                    accept_jumps=args.accept_jumps,
                )
    _print_report(report, out)
    return EXIT_OK


def _file_size(path: str | None) -> int:
    return Path(path).stat().st_size if path and Path(path).is_file() else 0


class _progress:
    """A progress bar on a terminal for files over a few megabytes; nothing otherwise."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if self.size < 4_000_000 or not sys.stderr.isatty():
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("reading", total=self.size)
        bar = self.bar

        def update(done: int) -> None:
            bar.update(task, completed=done)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_report(report: ImportReport, out: TextIO) -> None:
    for notice in report.notices[:20]:
        print(f"note: {notice}", file=sys.stderr)
    if len(report.notices) > 20:
        print(f"note: ... and {len(report.notices) - 20} more notes", file=sys.stderr)
    for s in report.summaries:
        verb = "would import" if s.dry_run else "imported"
        print(
            f"{verb} {report.file} as source {s.source!r}: {report.rows_read:,} rows read, "
            f"{s.records:,} figures: {s.new:,} new, {s.revised:,} revised, "
            f"{s.unchanged:,} unchanged"
            + (
                f"; {report.duplicates:,} exact duplicate rows counted once"
                if report.duplicates
                else ""
            )
            + (f"; {report.skipped:,} rows left out by filters" if report.skipped else "")
            + (" (first import of this source: recorded as history)" if s.first_import else ""),
            file=out,
        )


# -- total ----------------------------------------------------------------------------------


async def cmd_total(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    as_of = _month(args.as_of, "--as-of")
    async with _store(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        catalog = await load_catalog(store, config)
        resolved = catalog.resolve(args.subject)
        region = catalog.region(args.region) if args.region else (resolved.region or WORLD)
        reader = series_reader(store, config)
        facts = source_facts(await store.sources(), config)
        answer = await total(
            reader, catalog, resolved.subject, region, as_of, args.metric, facts, args.explain
        )
    if args.json:
        data = answer.as_json()
        data["requested_as_of"] = str(as_of) if as_of else None
        _print_json(data, out)
    else:
        print(_total_text(answer, config.locale), file=out)
    return EXIT_OK


def _total_text(answer: TotalAnswer, locale: str) -> str:
    what = "registered" if answer.metric == "stock" else "sold"
    where = in_region(answer.region, answer.told.covers)
    if answer.as_of is None:
        return f"{answer.subject.name}{where}: no figures yet."
    through = format_period(answer.as_of, answer.told.granularity, locale)
    lines = [
        f"{answer.subject.name}{where}: {format_units(answer.total, locale)} electric vehicles "
        f"{what} through {through}"
    ]
    for share in answer.breakdown[:10]:
        lines.append(
            f"  {share.name:<28} {format_units(share.units, locale):>12}  "
            f"{format_percent(share.share, locale):>5}"
        )
    if answer.told.note:
        lines.append(f"Note: {answer.told.note}.")
    if answer.told.source:
        lines.append(f"Source: {answer.told.source}")
    lines.extend(f"  {line}" for line in answer.explanation)
    return "\n".join(lines)


# -- check-config ---------------------------------------------------------------------------


async def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    settings = redacted(config)
    settings["database_used"] = resolve_database(args.db, config)
    # every text redacted, not only the database: a secret may be pasted anywhere in the file
    _print_json(map_strings(settings, redact_secrets), out, ensure_ascii=False, indent=2)
    return EXIT_OK


# -- replay and milestones -----------------------------------------------------------------


async def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    from bot.detection.replay import KINDS, replay
    from bot.domain.announcer import announce
    from bot.domain.event_codec import event_to_dict

    config = _config(args)
    first, last = _month(args.from_, "--from"), _month(args.to, "--to")
    if first is not None and last is not None and last < first:
        raise CliError(f"--to {last} is before --from {first}: no month can be shown")
    kinds = args.kinds.split(",") if args.kinds else list(KINDS)
    for kind in kinds:
        if kind not in KINDS:
            raise CliError(f"--kinds: {kind!r} is not one of {', '.join(KINDS)}")
    async with _store(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        untold: list[tuple[Event, str]] | None = [] if args.explain else None
        events = await replay(store, config, first, last, kinds, untold=untold)
        held = await _held_marks(store, config, events)
    for event, reason in untold or ():
        if args.json:
            data = event_to_dict(event)
            data["untold"] = reason
            _print_json(data, out, ensure_ascii=False)
        else:
            print(f"{event.period!s:<7}  not told: {announce(event).title}: {reason}", file=out)
    for event, holds in zip(events, held, strict=True):
        message = announce(event, config.locale)
        if args.json:
            data = event_to_dict(event)
            data["text"] = message.body
            if holds:
                data["held"] = list(holds)
            _print_json(data, out, ensure_ascii=False)  # the codec's dict stays raw data
        else:
            period = event.period.year if event.granularity == "year" else event.period
            mark = f" (unconfirmed: held, hold {', '.join(map(str, holds))})" if holds else ""
            print(f"{period!s:<7}  {message.body}{mark}", file=out)
    return EXIT_OK


async def _held_marks(
    store: BotStore, config: Config, events: Sequence[Event]
) -> list[tuple[int, ...]]:
    """The holds each replayed event depends on (`Detector.held_by`): none when nothing is held."""
    from bot.detection.detector import Detector

    holds = await store.holds()
    if not holds:
        return [()] * len(events)
    return Detector(store, config).held_by(events, holds)


def _rungs(row: Mapping[str, Any]) -> str:
    """A logged range of thresholds: "5,000", or "5,000 to 1,000,000 (42 thresholds)"."""
    if row["count"] == 1:
        return f"{row['highest']:,}"
    return f"{row['lowest']:,} to {row['highest']:,} ({row['count']:,} thresholds)"


async def cmd_milestones(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    async with _store(args, config, read=True) as store:
        rows = await (store.correction_log() if args.corrections else store.milestone_log())
    if args.json:
        for row in rows:
            _print_json(row, out)
    elif args.corrections:
        for r in rows:
            new = f"{r['new_period']} ({r['new_value']:,})" if r["new_period"] else "no longer"
            print(
                f"{r['subject']} ({r['region']}) {_rungs(r)}: {r['reason']}: "
                f"{r['old_period']} ({r['old_value']:,}) -> {new}",
                file=out,
            )
    else:
        for r in rows:
            flags = " [history]" if r["history"] else ""
            flags += " [since revised below]" if r["below"] else ""
            print(
                f"{r['period']}  {r['subject']} ({r['region']}, {r['metric']}) passed "
                f"{_rungs(r)} at {r['value']:,}{flags}",
                file=out,
            )
    if not rows:
        print("no corrections recorded" if args.corrections else "no milestones yet", file=out)
    return EXIT_OK


async def cmd_detect(args: argparse.Namespace, out: TextIO) -> int:
    from bot.detection.detector import Detector
    from bot.domain.announcer import announce

    config = _config(args)
    async with _store(args, config) as store:
        await store.sync_groups(config.groups)
        stored = await Detector(store, config).poll()
    for item in stored:
        print(f"{item.event.period}  {announce(item.event, config.locale).body}", file=out)
    print(f"{len(stored)} new events", file=out)
    return EXIT_OK


# -- held figures ----------------------------------------------------------------------------


async def cmd_held(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    async with _store(args, config) as store:
        holds = await store.holds(everything=args.all)
    if args.json:
        _print_json(
            {
                "holds": [
                    {
                        "id": h.id,
                        "source": h.source,
                        "make_key": h.make_key,
                        "model_key": h.model_key,
                        "region": h.region,
                        "period": h.period,
                        "metric": h.metric,
                        "units": h.units,
                        "reason": h.reason,
                        "where": h.place,
                        "events": h.events,
                        "released": h.released,
                    }
                    for h in holds
                ]
            },
            out,
        )
        return EXIT_OK
    for h in holds:
        state = " (released)" if h.released else ""
        print(
            f"{h.id}  {h.place}: {h.make_key}/{h.model_key} in {h.region}, {h.period} "
            f"({h.metric}): {h.reason}; {h.events} events held{state}",
            file=out,
        )
    if not holds:
        print("nothing held", file=out)
    return EXIT_OK


async def cmd_release(args: argparse.Namespace, out: TextIO) -> int:
    from bot.domain.subscriptions import ladder_objects, plan_fanout

    config = _config(args)
    subscription_ladders = ladder_objects(config.ladders)
    async with _store(args, config) as store:
        try:
            released = await store.release_hold(
                args.id,
                lambda events, subs: plan_fanout(events, subs, subscription_ladders),
                time.time(),
            )
        except (LookupError, ValueError) as exc:
            raise CliError(f"release: {exc.args[0]}") from None
    print(f"hold {args.id} released: {len(released)} events go out", file=out)
    return EXIT_OK


# -- subscriptions and deliveries ------------------------------------------------------------


def _channel(args: argparse.Namespace) -> Channel:
    workspace = args.workspace or ("default" if args.platform == "webhook" else "local")
    return Channel(args.platform, workspace, args.channel)


def _csv(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if text is None:
        return default
    return tuple(p.strip() for p in text.split(",") if p.strip())


async def cmd_subscribe(args: argparse.Namespace, out: TextIO) -> int:
    from bot.delivery.following import subscribe

    config = _config(args)
    # before the store: a refused subscription creates nothing. (The CLI is where a platform is
    # named by hand; a slash command's is the platform of the adapter that received it.)
    check_platform(args.platform, PLATFORMS)
    async with _store(args, config) as store:
        await store.sync_groups(config.groups)
        catalog = await load_catalog(store, config)
        resolved = catalog.resolve(args.subject)
        region = catalog.region(args.region) if args.region else (resolved.region or WORLD)
        spec = SubscriptionSpec(
            channel=_channel(args),
            subject=resolved.subject,
            region=region,
            kinds=_csv(args.kinds, KINDS),
            instant_kinds=_csv(args.instant, INSTANT_BY_DEFAULT),
            ladder=args.ladder,
            locale=args.locale or config.locale,
            mode=args.mode,
            digest_at=args.at,
            timezone=args.timezone,
            created_by=args.by or os.environ.get("USER", "cli"),
            charts=args.charts,
            corrections=args.corrections,
        )
        result = await subscribe(store, config, spec, time.time())
    sub = result.subscription
    verb = (
        "now follows"
        if result.created
        else "already follows, with these settings,"
        if result.unchanged
        else "already followed; settings updated for"
    )
    print(f"{sub.channel} {verb} {sub.spec.subject.name} ({sub.spec.region}) [#{sub.id}]", file=out)
    waiting = waiting_reason(sub.channel.platform, config.served_platforms, PLATFORMS)
    if waiting is not None:
        print(
            f"evbot subscribe: warning: {waiting}; its deliveries wait until `evbot run` serves it",
            file=sys.stderr,
        )
    for other in result.overlaps:
        print(
            f"note: this channel also follows {other.spec.subject.name}; each event is sent "
            "once, with the most specific subscription's settings",
            file=out,
        )
    return EXIT_OK


async def cmd_unsubscribe(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    async with _store(args, config, read=True) as store:
        key: str | None = None
        if args.subject.strip().lower() != "all":
            catalog = await load_catalog(store, config)
            key = catalog.resolve(args.subject).subject.key
        removed = await store.unsubscribe(_channel(args), key)
    if not removed:
        raise CliError(f"{_channel(args)} does not follow {args.subject!r}")
    print(f"removed {removed} subscription{'s' if removed != 1 else ''}", file=out)
    return EXIT_OK


async def cmd_resume(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    async with _store(args, config, read=True) as store:
        key: str | None = None
        if args.subject:
            catalog = await load_catalog(store, config)
            key = catalog.resolve(args.subject).subject.key
        resumed = await store.resume(_channel(args), key)
    print(f"resumed {resumed} subscription{'s' if resumed != 1 else ''}", file=out)
    return EXIT_OK


async def cmd_subscriptions(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    async with _store(args, config, read=True) as store:
        subs = await store.subscriptions()
    for sub in subs:
        spec = sub.spec
        if args.json:
            _print_json(
                {
                    "id": sub.id,
                    "channel": str(spec.channel),
                    "subject": spec.subject.name,
                    "region": spec.region,
                    "kinds": list(spec.kinds),
                    "ladder": spec.ladder,
                    "locale": spec.locale,
                    "mode": spec.mode,
                    "charts": spec.charts,
                    "corrections": spec.corrections,
                    "status": sub.status,
                    "paused_reason": sub.paused_reason,
                    "last_error": sub.last_error,
                    "created_by": spec.created_by,
                    "created_at": sub.created_at,
                },
                out,
            )
            continue
        status = sub.status if sub.active else f"PAUSED ({sub.paused_reason})"
        error = f"; last error: {sub.last_error}" if sub.last_error else ""
        print(
            f"#{sub.id} {spec.channel}: {spec.subject.name} ({spec.region}) "
            f"{','.join(spec.kinds)} ladder={spec.ladder} {spec.mode} {spec.locale} "
            f"{'' if spec.charts else 'charts=off '}"
            f"{'' if spec.corrections else 'corrections=off '}"
            f"[{status}] by {spec.created_by or '?'} "
            f"at {sub.created_at}{error}",
            file=out,
        )
    if not subs and not args.json:
        print("no subscriptions", file=out)
    return EXIT_OK


async def cmd_deliveries(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    status = "failed" if args.failed else args.status
    async with _store(args, config, read=True) as store:
        rows = await store.deliveries(status, args.limit)
        counts = await store.delivery_counts()
    for d in rows:
        if args.json:
            _print_json(
                {
                    "id": d.id,
                    "channel": str(d.channel),
                    "kind": d.kind,
                    "status": d.status,
                    "attempts": d.attempts,
                    "reason": d.reason,
                    "last_error": d.last_error,
                    "message_id": d.message_id,
                    "steps": list(d.steps_done),
                },
                out,
            )
        else:
            why = (
                f" {d.reason}: {d.last_error}"
                if d.status in ("failed", "pending") and d.reason
                else ""
            )
            if settled := settled_entries(d.steps_done):
                why += f"; not done: {', '.join(settled)}"
            print(
                f"#{d.id} {d.channel} {d.kind} {d.status} after {d.attempts} tries{why}", file=out
            )
    if not args.json:
        print(", ".join(f"{k} {v}" for k, v in counts.items()), file=out)
    return EXIT_OK


# -- chart ----------------------------------------------------------------------------------


async def cmd_chart(args: argparse.Namespace, out: TextIO) -> int:
    from bot.charts.data import ChartError, describe
    from bot.charts.service import store_chart

    config = _config(args)
    async with _store(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        try:
            data, chart = await store_chart(
                store, config, args.subject, args.kind, args.region, args.locale
            )
        except (ChartError, ValueError) as exc:
            raise CliError(str(exc)) from exc
    path = Path(args.out or chart.name)
    try:
        await asyncio.to_thread(_write_file, path, chart.png)
    except OSError as exc:
        raise CliError(f"--out {path}: cannot write: {exc.strerror or exc}") from exc
    print(
        f"wrote {path} ({chart.width}x{chart.height}, {len(chart.png):,} bytes): {describe(data)}",
        file=out,
    )
    return EXIT_OK


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# -- ask ------------------------------------------------------------------------------------


async def cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    from bot.cli.ask import ask

    config = _config(args)
    store = _store(args, config, read=True)  # refuses a missing database, with the reason
    status, text = await ask(config, store, args.text, args.json)
    print(text, file=out)
    return status


# -- run ------------------------------------------------------------------------------------


async def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from bot.app.bootstrap import build_adapters
    from bot.app.ops import Ops
    from bot.app.runtime import App
    from bot.store.postgres.leader import Leadership

    config = _config(args)
    adapters = build_adapters(config, out)
    store = _store(args, config)
    # replicas share PostgreSQL: one of them at a time leads (polls and runs the jobs)
    leadership = Leadership(store.dsn) if isinstance(store, PgStore) else None
    app = App(config, store, adapters, leadership=leadership)
    ops_address = args.ops or os.environ.get("EVBOT_OPS_ADDRESS")
    ops = Ops(app, ops_address) if ops_address else None  # checks the address before starting
    await app.start()
    if ops is not None:
        try:
            await ops.start()
        except OSError as exc:
            await app.stop()
            raise CliError(f"--ops {ops_address}: cannot listen: {exc.strerror or exc}") from exc
        print(f"ops listening on {ops.host}:{ops.port} (/healthz, /metrics)", file=out, flush=True)
        log.info("health and metrics on %s port %d (/healthz, /metrics)", ops.host, ops.port)
    try:
        return await _serve(app, adapters, config, out)
    finally:
        if ops is not None:
            await ops.stop()


async def _serve(app: App, adapters: dict[str, ChatAdapter], config: Config, out: TextIO) -> int:
    console = adapters.get("console")
    prompt = isinstance(console, ConsoleAdapter) and sys.stdin.isatty()
    print(
        f"evbot running: {', '.join(sorted(adapters))}; polling every {config.poll_seconds:g} s; "
        + ("type /ev-help for commands; " if prompt else "")
        + "Ctrl-C stops",
        file=out,
    )
    if prompt and isinstance(console, ConsoleAdapter):
        from bot.cli.ask import CONSOLE_CHANNEL, console_user
        from bot.commands.context import open_context
        from bot.commands.dispatch import run_text
        from bot.commands.types import Invocation

        ctx = await open_context(app.store, config)
        who = Invocation(CONSOLE_CHANNEL, console_user(), can_manage=True, locale=config.locale)

        async def handle(text: str) -> Message:
            return (await run_text(ctx, who, text)).message

        task = asyncio.create_task(console.serve_commands(handle, app.stopping))
        await app.serve_forever()
        task.cancel()
    else:
        await app.serve_forever()
    return EXIT_OK


# -- discord --------------------------------------------------------------------------------


async def cmd_discord(args: argparse.Namespace, out: TextIO) -> int:
    from adapters.discord.chores import run_discord_command

    config = _config(args)
    database = resolve_database(args.db, config)
    return await run_discord_command(args.action, config, database, out, force=args.force)


async def cmd_slack_manifest(args: argparse.Namespace, out: TextIO) -> int:
    from adapters.slack.manifest import cmd_manifest

    try:
        return await cmd_manifest(args, out)
    except ValueError as exc:
        raise CliError(str(exc)) from None


# -- migrate-store --------------------------------------------------------------------------


async def cmd_migrate_store(args: argparse.Namespace, out: TextIO) -> int:
    from bot.store.migrate import migrate_store

    report = await migrate_store(args.from_, args.to)
    for table, n in report.counts.items():
        print(f"{table:<14} {n:>10,}", file=out)
    print(
        f"copied {report.total:,} rows from {report.source} to {report.target}; "
        "every table's count verified",
        file=out,
    )
    return EXIT_OK


# -- demo -----------------------------------------------------------------------------------


async def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from bot.cli.demo import run_demo

    config = _config(args)
    if args.log_level is None:  # the demo is a show on stdout: its start-up lines would clutter it
        configure_logging("warning")
    status: int = await run_demo(config, out, speed=args.speed, db=args.db)
    return status


# -- parser ---------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file or postgresql:// URL (default: $EVBOT_DB, config)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML configuration (default: $EVBOT_CONFIG)")
    _log_level(p, argparse.SUPPRESS)  # also after the command; the global one otherwise


def _log_level(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=default,
        help="how much to log on stderr (default: the configuration's [logging] level, info)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evbot",
        description="EV Milestone Bot: electric-vehicle sales milestones, told in chat.",
    )
    _log_level(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("import", help="import a CSV file of sales figures")
    p.add_argument("file", nargs="?", help="CSV file (default: the configured source's file)")
    p.add_argument("--source", metavar="NAME", help="source name, or a configured source")
    p.add_argument("--format", choices=("canonical", "iea"), help="file format")
    p.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    p.add_argument("--demo", action="store_true", help="load the shipped Alliance demo data")
    p.add_argument(
        "--accept-jumps",
        action="store_true",
        help="hold nothing: figures far outside their series' history are announced as usual",
    )
    _common(p)
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("held", help="figures held as implausible, and the events they hold")
    p.add_argument("--all", action="store_true", help="released and revised holds too")
    p.add_argument("--json", action="store_true", help="one JSON object")
    _common(p)
    p.set_defaults(run=cmd_held)

    p = sub.add_parser("release", help="let a held figure's announcements go out")
    p.add_argument("id", type=int, help="the hold's id (see `evbot held`)")
    _common(p)
    p.set_defaults(run=cmd_release)

    p = sub.add_parser("total", help="cumulative total of a subject")
    p.add_argument("subject", help='a model, make, group or region, e.g. "nissan leaf"')
    p.add_argument("--region", metavar="R", help="region (default: World)")
    p.add_argument("--as-of", metavar="YYYY-MM", help="total up to and including this month")
    p.add_argument("--metric", choices=("sales", "stock"), default="sales")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument(
        "--explain",
        action="store_true",
        help="which regions, sources, years and metric made the figure, and what was left out",
    )
    _common(p)
    p.set_defaults(run=cmd_total)

    p = sub.add_parser("check-config", help="print the effective settings, secrets redacted")
    _common(p)
    p.set_defaults(run=cmd_check_config)

    p = sub.add_parser("demo", help="watch the Alliance's milestones arrive, no tokens needed")
    p.add_argument("--speed", type=float, default=1.0, help="faster (2) or slower (0.5)")
    _common(p)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("replay", help="every announcement the figures would have made")
    p.add_argument("--from", dest="from_", metavar="YYYY-MM", help="first month shown")
    p.add_argument("--to", metavar="YYYY-MM", help="last month shown")
    p.add_argument("--kinds", metavar="K,K", help="milestone,share,growth,record (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--explain",
        action="store_true",
        help="also list what is not told for comparing unlike figures, and why",
    )
    _common(p)
    p.set_defaults(run=cmd_replay)

    p = sub.add_parser("detect", help="detect what changed since the last run and record it")
    _common(p)
    p.set_defaults(run=cmd_detect)

    p = sub.add_parser("milestones", help="recorded milestones, or their corrections")
    p.add_argument("--corrections", action="store_true", help="show corrections instead")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    _common(p)
    p.set_defaults(run=cmd_milestones)

    def channel_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--platform", default="console", help=", ".join(PLATFORMS))
        p.add_argument(
            "--workspace", help="workspace or guild id (default: local; webhook: default)"
        )
        p.add_argument("--channel", default="terminal", help="channel id (webhook: the URL)")

    p = sub.add_parser("subscribe", help="make a channel follow a subject")
    p.add_argument("subject")
    channel_args(p)
    p.add_argument("--region", metavar="R")
    p.add_argument("--kinds", metavar="K,K", help=f"of {','.join(KINDS)} (default: all)")
    p.add_argument("--instant", metavar="K,K", help="kinds sent at once (default: milestone,share)")
    p.add_argument("--ladder", default="default", help="a ladder named in the configuration")
    p.add_argument("--mode", default="instant", choices=MODES)
    p.add_argument("--at", default="09:00", metavar="HH:MM", help="digest time of day")
    p.add_argument("--timezone", default="UTC", metavar="TZ", help="e.g. Europe/Paris")
    p.add_argument("--locale", help="e.g. en, fr, de (default: the configuration's)")
    p.add_argument("--by", metavar="WHO", help="who is subscribing (default: $USER)")
    p.add_argument(
        "--charts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="attach the cumulative chart to milestones (default: yes)",
    )
    p.add_argument(
        "--corrections",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tell corrections of the milestones the channel heard (default: yes)",
    )
    _common(p)
    p.set_defaults(run=cmd_subscribe)

    p = sub.add_parser("unsubscribe", help="stop a channel following a subject (or all)")
    p.add_argument("subject", help='a subject, or "all"')
    channel_args(p)
    _common(p)
    p.set_defaults(run=cmd_unsubscribe)

    p = sub.add_parser("resume", help="resume a channel's paused subscriptions")
    p.add_argument("subject", nargs="?")
    channel_args(p)
    _common(p)
    p.set_defaults(run=cmd_resume)

    p = sub.add_parser("subscriptions", help="list subscriptions with status and last error")
    p.add_argument("--json", action="store_true")
    _common(p)
    p.set_defaults(run=cmd_subscriptions)

    p = sub.add_parser("deliveries", help="the outbox: what was sent, what failed and why")
    p.add_argument("--failed", action="store_true", help="only failed deliveries")
    p.add_argument("--status", choices=("pending", "inflight", "posted", "failed", "cancelled"))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    _common(p)
    p.set_defaults(run=cmd_deliveries)

    p = sub.add_parser("chart", help="draw a subject's chart to a PNG (what the bot posts)")
    p.add_argument("subject", help='a model, make, group or region, e.g. "Renault-Nissan Alliance"')
    p.add_argument(
        "--kind",
        choices=("cumulative", "shares", "monthly"),
        default="cumulative",
        help="running total with milestones (default), model shares, or months against a "
        "year earlier",
    )
    p.add_argument("--region", metavar="R", help="region (default: World)")
    p.add_argument("--locale", help="numbers and months, e.g. en, fr, de (default: config)")
    p.add_argument("--out", metavar="FILE", help="PNG to write (default: SUBJECT-KIND.png)")
    _common(p)
    p.set_defaults(run=cmd_chart)

    p = sub.add_parser("ask", help="run one slash command through the console adapter")
    p.add_argument("text", help='e.g. "/ev-total nissan leaf region:USA as-of:2015-06"')
    p.add_argument("--json", action="store_true", help="one JSON object")
    _common(p)
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("discord", help="Discord: sync the slash commands, print the invite URL")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("sync", help="sync the slash commands to Discord now")
    q.add_argument("--force", action="store_true", help="even when they did not change")
    _common(q)
    q.set_defaults(run=cmd_discord)
    q = actions.add_parser("invite-url", help="the URL that adds the bot to a server")
    _common(q)
    q.set_defaults(run=cmd_discord, force=False)

    p = sub.add_parser(
        "migrate-store", help="copy a SQLite store into an empty PostgreSQL one, verified"
    )
    p.add_argument("--from", dest="from_", required=True, metavar="sqlite:PATH")
    p.add_argument("--to", required=True, metavar="postgresql://USER@HOST/DB")
    p.set_defaults(run=cmd_migrate_store)

    p = sub.add_parser("run", help="run the bot with every enabled adapter")
    p.add_argument(
        "--ops",
        metavar="HOST:PORT",
        help="serve /healthz and /metrics here (default: $EVBOT_OPS_ADDRESS; none)",
    )
    _common(p)
    p.set_defaults(run=cmd_run)

    p = sub.add_parser("slack", help="Slack helpers (the app manifest)")
    slack = p.add_subparsers(dest="slack_command", metavar="SLACK_COMMAND", required=True)
    p = slack.add_parser("manifest", help="print a Slack app manifest (JSON) to paste")
    p.add_argument("--url", help="HTTP mode: the bot's public https:// base URL")
    p.add_argument("--name", default="EV Milestone Bot", help="the app's name in Slack")
    p.set_defaults(run=cmd_slack_manifest)

    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one `evbot` command; returns the exit status."""
    stream = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(stream)
        return EXIT_USAGE
    configure_logging(args.log_level)  # once, here; a command's configuration may set the level
    runner: Callable[[argparse.Namespace, TextIO], Coroutine[Any, Any, int]] = args.run
    try:
        return asyncio.run(runner(args, stream))
    except ImportFailed as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("import failed: nothing was written", file=sys.stderr)
        return EXIT_FAIL
    except (ConfigError, StoreError, CliError, UnknownSubject, SubscriptionError) as exc:
        print(f"evbot {args.command}: {redact_secrets(str(exc))}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `evbot replay | head`: the reader has gone, which is fine
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        # A bug: keep the traceback for the report, but never a password or token in it.
        crash = "".join(traceback.format_exception(exc))
        print(redact_secrets(crash), file=sys.stderr, end="")
        print(f"evbot {args.command}: internal error (a bug; please report it)", file=sys.stderr)
        return EXIT_FAIL
