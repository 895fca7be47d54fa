"""The reading commands: /ev-total, /ev-share, /ev-milestones and /ev-chart, answered from the
read model (`bot.reading.read_model`), never from the sales rows."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.commands.answer_words import (
    counted_tag,
    no_period,
    powertrain_of,
    where_named,
)
from bot.commands.arguments import ArgumentError, PeriodSpec, parse_period
from bot.commands.completion import MAX_CHOICES
from bot.commands.context import CommandContext, MilestoneFacts
from bot.commands.market_share import market_share, share_region
from bot.commands.period_total import period_answer, period_words, refuse_finer, yearly_inside
from bot.commands.running_total import running_total
from bot.commands.subjects import resolve_region, resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.events import Subject
from bot.domain.formatting import fast_percent, fast_units, format_month
from bot.domain.i18n import t, tn, tp
from bot.domain.ladders import union_next_above
from bot.domain.messages import Field, Message
from bot.domain.news_words import footer as data_footer
from bot.domain.news_words import next_value
from bot.domain.periods import Month
from bot.domain.powertrains import ELECTRIC, measure
from bot.domain.projection import project
from bot.domain.rungs import union_rungs
from bot.domain.series import WORLD
from bot.domain.subjects import UnknownSubject, shown_name
from bot.reading.read_model import Series

RECENT_MILESTONES = 5
PACE_MONTHS = 12  # bot.domain.projection.project's default window


def metric_asked(args: Mapping[str, str]) -> str:
    """The metric asked for: `sales` unless `metric:stock` (the table offers only these)."""
    return args.get("metric", "sales")


def powertrain_asked(args: Mapping[str, str]) -> str:
    """The powertrain asked for: "" (electric cars: BEV + PHEV, the default), BEV, PHEV or FCEV."""
    return powertrain_of(args.get("powertrain"))


_Answer = tuple[Message, Mapping[str, Any]]


def _reply(answer: _Answer) -> Reply:
    message, data = answer
    return Reply(message, data=data)


async def cmd_total(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    resolved = resolve_subject(ctx, args.get("subject"))
    region = resolve_region(ctx, resolved, args.get("region"))
    explained = args.get("explain", "no") == "yes"
    metric, powertrain = metric_asked(args), powertrain_asked(args)
    await ctx.model.ensure_powertrain(powertrain)
    text = args.get("as-of")
    period = parse_period(args["period"]) if "period" in args else None
    if period is not None and period.kind != "all":
        if text:
            raise ArgumentError(
                "Give period: (what was sold in a period) or as-of: (the running total up to "
                "a date), not both. Example: {example}",
                example="/ev-total leaf period:2023",
            )
        if explained:
            raise ArgumentError("explain:yes tells a running total; ask it without period:.")
        subject = resolved.subject
        return _reply(period_answer(ctx, subject, region, period, inv.locale, metric, powertrain))
    message, data = running_total(
        ctx, resolved.subject, region, text, inv.locale, explained, metric, powertrain
    )
    if data.get("as_of") is None and not powertrain:
        message = await _fuel_cell_hint(ctx, message, resolved.subject, region, metric, inv.locale)
    return _reply((message, data))


async def _fuel_cell_hint(
    ctx: CommandContext, message: Message, subject: Subject, region: str, metric: str, loc: str
) -> Message:
    """An empty answer about electric cars, for a subject that has fuel-cell figures (a Mirai),
    says how to ask for them: fuel-cell cars are never counted as electric."""
    await ctx.model.ensure_powertrain("FCEV")
    if ctx.model.series(subject, region, measure(metric, "FCEV")).latest is None:
        return message
    words = subject.name if subject.kind != "all" else "all"
    if region != WORLD:
        words += f" region:{region}"
    example = f"/ev-total {words} powertrain:fcev"
    hint = t(
        loc,
        "Fuel-cell cars are counted apart from electric cars (BEV + PHEV): {example}",
        example=example,
    )
    return replace(message, body=f"{message.body}\n{hint}")


async def cmd_share(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    """Each model's share of a make or group; for a region (or all), the region's EV share of
    new cars as a source gives it (`bot.commands.market_share`)."""
    try:
        resolved = resolve_subject(ctx, args.get("subject"))
    except UnknownSubject:
        # a region some source gives a share for, with no units of its own held
        region = share_region(await ctx.store.market_shares(), args.get("subject"))
        if region is None:
            raise
        return await market_share(ctx, inv, args, region)
    subject = resolved.subject
    if subject.kind in ("all", "region"):  # a region's name (or all: the world)
        region = resolve_region(ctx, resolved, args.get("region"))
        return await market_share(ctx, inv, args, region)
    if subject.kind not in ("make", "group"):
        raise ArgumentError(
            "/ev-share shows the models of a make or a group, or a region's EV share of new "
            "cars; {subject} is a model. Example: {example}",
            subject=subject.name,
            example="/ev-share nissan period:2015, /ev-share norway",
        )
    if args.get("metric", "sales") != "sales" or "as-of" in args:
        raise ArgumentError(
            "metric: and as-of: are for a region's EV share ({example}); the models' shares of "
            "{subject} are of units sold, over period:",
            example="/ev-share norway as-of:2022",
            subject=subject.name,
        )
    region = resolve_region(ctx, resolved, args.get("region"))
    period = parse_period(args.get("period", "all"))
    powertrain = powertrain_asked(args)
    await ctx.model.ensure_powertrain(powertrain)
    return _reply(_share(ctx, subject, region, period, inv.locale, powertrain))


def _share(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    period: PeriodSpec,
    loc: str,
    powertrain: str = "",
) -> _Answer:
    key = measure("sales", powertrain)
    series = ctx.model.series(subject, region, key)
    window = period.bounds(series.latest)
    first, last = window if window else (None, None)
    if window is not None:
        cut = yearly_inside(series.basis, window[0], window[1], ctx.facts())
        if cut:  # a quarter or month of a year held whole: not to be told (counting rule 2)
            where = where_named(region, loc)
            label = period_words(period, window, series.latest, loc)
            raise refuse_finer(subject, where, cut, label, ctx.facts(), series.basis)
    parent = series.window(first, last)
    shares = ctx.model.breakdown(subject, region, first, last, key)
    label = period_words(period, window, series.latest, loc)
    where = where_named(region, loc)
    v = {"subject": shown_name(subject, loc), "where": where}
    if parent <= 0:
        body = no_period(powertrain, False, loc, **v, period=label)
    else:
        lines = [
            f"• {s.name}: {fast_percent(s.share, loc)} ({fast_units(s.units, loc)})"
            for s in shares[:MAX_CHOICES]
        ]
        if len(shares) > MAX_CHOICES:
            more = len(shares) - MAX_CHOICES
            lines.append(tn(loc, "…and {n} more", "…and {n} more", more, n=more))
        body = "\n".join(lines) or t(loc, "No model figures for {subject}{where}.", **v)
    data = {
        "subject": subject.name,
        "region": region,
        "period": label,
        "powertrain": powertrain or ELECTRIC,
        "first": str(first) if first else None,
        "last": str(last) if last else None,
        "total": parent,
        "shares": [{"model": s.name, "units": s.units, "share": round(s.share, 4)} for s in shares],
    }
    return (
        Message(
            title=t(loc, "Model shares of {subject}{where}, {period}", **v, period=label)
            + counted_tag("sales", powertrain, loc),
            body=body,
            fields=(
                Field(tp(loc, "field", "Total"), fast_units(parent, loc)),
                Field(tp(loc, "field", "Period"), label),
            ),
            accent="share",
            locale=loc,
        ),
        data,
    )


def _milestone_facts(ctx: CommandContext, series: Series) -> MilestoneFacts:
    """Recent crossings, the total, the next threshold and its projected month (kept per
    series: a refresh makes a new series, so a stale answer is never found)."""
    found = ctx.milestone_memo.get(id(series))
    if found is not None and found[0] is series:
        return found[1]
    # as first_crossings over the whole series, for the newest thresholds only: the running
    # peak reaches every threshold up to the peak, first where a value does
    peaks = series.peaks()
    rungs = union_rungs(ctx.ladders)
    recent: list[tuple[int, tuple[Month, int]]] = []
    # the newest thresholds counted down from the peak by arithmetic, however high it is
    threshold = rungs.at_or_below(peaks[-1]) if peaks else None
    while threshold is not None and len(recent) < RECENT_MILESTONES:
        i = bisect_left(peaks, threshold)
        if i < len(peaks):
            recent.append((threshold, (series.months[i], series.cum[i])))
        threshold = rungs.at_or_below(threshold - 1)
    latest = series.cum[-1] if series.cum else 0
    upcoming = union_next_above(ctx.ladders, latest)
    # the projection reads only the trailing pace window
    projected = (
        project(series.recent_points(PACE_MONTHS), upcoming, PACE_MONTHS) if upcoming else None
    )
    facts = (recent, latest, upcoming, projected)
    if len(ctx.milestone_memo) > 100_000:
        ctx.milestone_memo.clear()
    ctx.milestone_memo[id(series)] = (series, facts)
    return facts


async def cmd_milestones(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    resolved = resolve_subject(ctx, args.get("subject"))
    subject = resolved.subject
    region = resolve_region(ctx, resolved, args.get("region"))
    metric, powertrain = metric_asked(args), powertrain_asked(args)
    await ctx.model.ensure_powertrain(powertrain)
    return _reply(_milestones(ctx, subject, region, inv.locale, metric, powertrain))


def _milestones(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    loc: str,
    metric: str = "sales",
    powertrain: str = "",
) -> _Answer:
    series = ctx.model.series(subject, region, measure(metric, powertrain))
    recent, latest, upcoming, projected = _milestone_facts(ctx, series)
    data = {
        "subject": subject.name,
        "region": region,
        "metric": metric,
        "powertrain": powertrain or ELECTRIC,
        "total": latest,
        "milestones": [{"threshold": t, "month": str(m), "value": v} for t, (m, v) in recent],
        "next": upcoming,
        "projected": str(projected) if projected else None,
    }
    # every subject without figures shares one empty series: its words differ by the rest
    memo_key = (id(series), subject.name, region, metric, powertrain, loc)
    found = ctx.milestone_words.get(memo_key)
    if found is not None and found[0] is series:
        return found[1], data
    message = _milestones_message(ctx, subject, region, series, loc, metric, powertrain)
    if len(ctx.milestone_words) > 100_000:
        ctx.milestone_words.clear()
    # kept per series (a refresh makes a new one) and what else its words depend on; the series
    # is held too, so that its id is not another's while the entry lives
    ctx.milestone_words[memo_key] = (series, message)
    return message, data


def _milestones_message(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    series: Series,
    loc: str,
    metric: str,
    powertrain: str,
) -> Message:
    """The /ev-milestones answer of a series in the language of `loc`."""
    where = where_named(region, loc)
    recent, latest, upcoming, projected = _milestone_facts(ctx, series)
    lines = [f"• {fast_units(n, loc)}: {format_month(m, loc)}" for n, (m, _) in recent]
    fields = [Field(tp(loc, "field", "Total"), fast_units(latest, loc))]
    if upcoming is not None:
        fields.append(
            Field(tp(loc, "field", "Next milestone"), next_value(upcoming, projected, loc))
        )
    v = {"subject": shown_name(subject, loc), "where": where}
    if lines:
        body = "\n".join(lines)
    elif metric == "stock":
        body = t(loc, "No registered-stock milestones yet for {subject}{where}.", **v)
    else:
        body = t(loc, "No milestones yet for {subject}{where}.", **v)
    return Message(
        title=t(loc, "Milestones: {subject}{where}", **v) + counted_tag(metric, powertrain, loc),
        body=body,
        fields=tuple(fields),
        footer=data_footer("", format_month(series.latest, loc), loc) if series.latest else "",
        accent="milestone",
        locale=loc,
    )
