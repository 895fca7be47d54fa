"""`evbot total`, `replay`, `milestones`, `detect` and `chart`: what the figures say."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.app.bootstrap import build_detector, open_commands
from bot.cli.common import (
    EXIT_OK,
    CliError,
    as_flag,
    load_settings,
    parse_period_flag,
    print_json,
    store_for,
    with_locale,
)
from bot.commands.answer_words import counted_line, powertrain_of
from bot.commands.period_total import period_answer
from bot.commands.subjects import resolve_region, resolve_subject
from bot.domain.coverage import source_facts
from bot.domain.formatting import format_percent, format_period, format_units
from bot.domain.i18n import LocalizedError, t, tp
from bot.domain.messages import Message
from bot.domain.periods import Month
from bot.domain.places import where_in
from bot.domain.powertrains import measure
from bot.domain.settings import Config
from bot.reading.queries import TotalAnswer, series_reader, total

if TYPE_CHECKING:
    from bot.domain.events import Event
    from bot.ports.store import BotStore


# -- total ----------------------------------------------------------------------------------


async def cmd_total(args: argparse.Namespace, out: TextIO) -> int:
    """The running total (`--as-of`) or a period's units (`--period`), read with chat's
    parser of periods and regions, so `evbot total` takes and refuses what /ev-total does."""
    config = with_locale(load_settings(args), args)
    loc = config.locale
    as_of_spec = parse_period_flag(args.as_of, "--as-of")
    period = parse_period_flag(args.period, "--period")
    if period is not None and period.kind == "all":
        period = None  # all time: the running total, as chat's period:all
    if period is not None and as_of_spec is not None:
        raise CliError(
            t(
                loc,
                "give --period (what was sold in a period) or --as-of (the running total up to a "
                "date), not both; e.g. {example}",
                example="evbot total leaf --period 2023",
            )
        )
    if period is not None and args.explain:
        raise CliError(t(loc, "--explain tells a running total; ask it without --period"))
    try:
        powertrain = powertrain_of(args.powertrain)
    except LocalizedError as exc:
        raise CliError(as_flag(exc.text(loc))) from exc
    key = measure(args.metric, powertrain)
    async with store_for(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        ctx = await open_commands(store, config)
        await ctx.model.ensure_powertrain(powertrain)
        try:
            resolved = resolve_subject(ctx, args.subject)
            region = resolve_region(ctx, resolved, args.region)
            if period is not None:
                message, data = period_answer(
                    ctx, resolved.subject, region, period, loc, args.metric, powertrain
                )
                return _print_period(message, data, args.json, out)
        except LocalizedError as exc:  # ArgumentError, UnknownSubject…
            raise CliError(as_flag(exc.text(loc))) from exc
        latest = ctx.model.series(resolved.subject, region, key).latest
        as_of = as_of_spec.end(latest) if as_of_spec else None
        reader = series_reader(store, config)
        facts = source_facts(await store.sources(), config)
        answer = await total(
            reader,
            ctx.model.catalog,
            resolved.subject,
            region,
            as_of,
            key,
            facts,
            args.explain,
            loc,
        )
    if args.json:
        data = answer.as_json()
        data["requested_as_of"] = str(as_of) if as_of else None
        print_json(data, out)
    else:
        print(_total_text(answer, loc), file=out)
    return EXIT_OK


def _print_period(message: Message, data: Mapping[str, Any], as_json: bool, out: TextIO) -> int:
    """A period's answer as chat gives it: its message as text, or its data as JSON."""
    if as_json:
        print_json(dict(data), out, ensure_ascii=False)
    else:
        from adapters.text import render_text

        print(render_text(message).rstrip("\n"), file=out)
    return EXIT_OK


def _total_text(answer: TotalAnswer, locale: str) -> str:
    """`evbot total`'s text in the language of `locale`: the total, each model's share, its
    note, source and, with `--explain`, what made it."""
    v = {
        "subject": answer.subject.name,
        "where": where_in(answer.region, answer.told.covers, locale),
    }
    if answer.as_of is None:
        return t(locale, "{subject}{where}: no figures yet.", **v)
    through = format_period(answer.as_of, answer.told.granularity, locale)
    total = format_units(answer.total, locale)
    lines = [counted_line(answer.metric, answer.powertrain, locale, **v, total=total, when=through)]
    for share in answer.breakdown[:10]:
        lines.append(
            f"  {share.name:<28} {format_units(share.units, locale):>12}  "
            f"{format_percent(share.share, locale):>5}"
        )
    if answer.told.note:
        lines.append(t(locale, "Note: {note}.", note=answer.told.note))
    if answer.told.source:
        lines.append(tp(locale, "chart", "Source: {source}", source=answer.told.source))
    lines.extend(f"  {line}" for line in answer.explanation)
    return "\n".join(lines)


# -- replay and milestones -----------------------------------------------------------------


async def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    from bot.detection.replay import KINDS, replay
    from bot.domain.announcer import announce
    from bot.domain.event_codec import event_to_dict

    config = with_locale(load_settings(args), args)
    first, last = _edge(args.from_, "--from", 0), _edge(args.to, "--to", 1)
    if first is not None and last is not None and last < first:
        raise CliError(f"--to {last} is before --from {first}: no month can be shown")
    kinds = args.kinds.split(",") if args.kinds else list(KINDS)
    for kind in kinds:
        if kind not in KINDS:
            raise CliError(f"--kinds: {kind!r} is not one of {', '.join(KINDS)}")
    async with store_for(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        untold: list[tuple[Event, str]] | None = [] if args.explain else None
        events = await replay(store, config, first, last, kinds, untold=untold)
        held = await _held_marks(store, config, events)
    for event, reason in untold or ():
        if args.json:
            data = event_to_dict(event)
            data["untold"] = reason
            print_json(data, out, ensure_ascii=False)
        else:
            print(
                f"{event.period!s:<7}  not told: {announce(event, config.locale).title}: {reason}",
                file=out,
            )
    for event, holds in zip(events, held, strict=True):
        message = announce(event, config.locale)
        if args.json:
            data = event_to_dict(event)
            data["text"] = message.body
            if holds:
                data["held"] = list(holds)
            print_json(data, out, ensure_ascii=False)  # the codec's dict stays raw data
        else:
            period = event.period.year if event.granularity == "year" else event.period
            mark = f" (unconfirmed: held, hold {', '.join(map(str, holds))})" if holds else ""
            print(f"{period!s:<7}  {message.body}{mark}", file=out)
    return EXIT_OK


def _edge(text: str | None, flag: str, end: int) -> Month | None:
    """The first (`end` 0) or last (1) month of a period option read as chat reads a period;
    None for none or `all`."""
    spec = parse_period_flag(text, flag)
    if spec is None or spec.kind == "all":
        return None
    if spec.kind == "ytd":
        raise CliError(f"{flag}: give a year, a quarter or a month, e.g. {flag} 2015-06; not ytd")
    window = spec.bounds(None)
    return window[end] if window else None


async def _held_marks(
    store: BotStore, config: Config, events: Sequence[Event]
) -> list[tuple[int, ...]]:
    """The holds each replayed event depends on (`Detector.held_by`): none when nothing is held."""
    holds = await store.holds()
    if not holds:
        return [()] * len(events)
    return build_detector(store, config).held_by(events, holds)


def _rungs(row: Mapping[str, Any]) -> str:
    """A logged range of thresholds: "5,000", or "5,000 to 1,000,000 (42 thresholds)"."""
    if row["count"] == 1:
        return f"{row['highest']:,}"
    return f"{row['lowest']:,} to {row['highest']:,} ({row['count']:,} thresholds)"


async def cmd_milestones(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    async with store_for(args, config, read=True) as store:
        rows = await (store.correction_log() if args.corrections else store.milestone_log())
    if args.json:
        for row in rows:
            print_json(row, out)
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
    from bot.domain.announcer import announce

    config = load_settings(args)
    async with store_for(args, config) as store:
        await store.sync_groups(config.groups)
        stored = await build_detector(store, config).poll()
    for item in stored:
        print(f"{item.event.period}  {announce(item.event, config.locale).body}", file=out)
    print(f"{len(stored)} new events", file=out)
    return EXIT_OK


# -- share ----------------------------------------------------------------------------------


async def cmd_share(args: argparse.Namespace, out: TextIO) -> int:
    """/ev-share from the command line: a region's EV share of new cars (as a source gives it),
    or each model's share of a make or group; the chat command's own answer, printed."""
    from bot.cli.ask import CONSOLE_CHANNEL, console_user
    from bot.commands.reading import cmd_share as chat_share
    from bot.commands.types import Invocation

    config = with_locale(load_settings(args), args)
    options = {
        "subject": args.subject,
        "region": args.region,
        "period": args.period,
        "as-of": args.as_of,
        "metric": args.metric,
        "powertrain": args.powertrain,
    }
    given = {k: v for k, v in options.items() if v is not None}
    async with store_for(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        ctx = await open_commands(store, config)
        who = Invocation(CONSOLE_CHANNEL, console_user(), can_manage=False, locale=config.locale)
        try:
            reply = await chat_share(ctx, who, given)
        except LocalizedError as exc:  # ArgumentError, UnknownSubject…
            raise CliError(as_flag(exc.text(config.locale))) from exc
    return _print_period(reply.message, reply.data or {}, args.json, out)


# -- chart ----------------------------------------------------------------------------------


async def cmd_chart(args: argparse.Namespace, out: TextIO) -> int:
    """A subject's chart written to a PNG: chat's /ev-chart run as the console, so the command
    line takes and refuses what chat does (an unknown `--region` gets the same "did you mean")."""
    from bot.cli.ask import CONSOLE_CHANNEL, console_user
    from bot.commands.chart import cmd_chart as chat_chart
    from bot.commands.types import Invocation

    config = with_locale(load_settings(args), args)
    options = {"subject": args.subject, "kind": args.kind, "metric": args.metric}
    if args.region:
        options["region"] = args.region
    if args.powertrain:
        options["powertrain"] = args.powertrain
    async with store_for(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        ctx = await open_commands(store, config)
        locale = config.locale
        invocation = Invocation(CONSOLE_CHANNEL, console_user(), locale=locale)
        try:
            reply = await chat_chart(ctx, invocation, options)
        except LocalizedError as exc:  # ArgumentError, UnknownSubject…
            raise CliError(as_flag(exc.text(locale))) from exc
        except ValueError as exc:
            raise CliError(as_flag(str(exc))) from exc
    message = reply.message
    if message.image is None:
        raise CliError(message.body)
    path = Path(args.out or message.image_name or "chart.png")
    try:
        await asyncio.to_thread(_write_file, path, message.image)
    except OSError as exc:
        raise CliError(f"--out {path}: cannot write: {exc.strerror or exc}") from exc
    data = reply.data or {}
    wrote = t(
        locale,
        "wrote {path} ({width}x{height}, {size} bytes): {description}",
        path=path,
        width=data.get("width"),
        height=data.get("height"),
        size=format_units(len(message.image), locale),
        description=message.body,
    )
    print(wrote, file=out)
    return EXIT_OK


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
