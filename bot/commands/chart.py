"""/ev-chart: a subject's chart as a PNG, its figures read from the read model (never the
sales rows) and drawn in a worker thread."""

from __future__ import annotations

from collections.abc import Mapping

from bot.charts.data import KINDS as CHART_KINDS
from bot.commands.answer_words import counted_tag, headed, no_chart, where_named
from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.commands.reading import metric_asked, powertrain_asked
from bot.commands.subjects import resolve_region, resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.formatting import format_month
from bot.domain.i18n import t
from bot.domain.messages import Message
from bot.domain.news_words import footer
from bot.domain.powertrains import ELECTRIC
from bot.domain.subjects import shown_name


async def cmd_chart(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    """A subject's chart as a PNG. The figures are read from the read model here; the drawing
    runs in a worker thread, so the loop keeps answering other commands meanwhile."""
    from bot.charts.data import ChartError, describe
    from bot.charts.service import model_chart_data, render_off_loop

    text, kind = args.get("subject", ""), args.get("kind")
    words = text.split()
    if kind is None and len(words) > 1 and words[-1].lower() in CHART_KINDS:
        kind, text = words[-1].lower(), " ".join(words[:-1])  # /ev-chart alliance shares
    resolved = resolve_subject(ctx, text)
    subject = resolved.subject
    region = resolve_region(ctx, resolved, args.get("region"))
    loc = inv.locale
    metric, powertrain = metric_asked(args), powertrain_asked(args)
    await ctx.model.ensure_powertrain(powertrain)
    if metric == "stock" and kind == "monthly":
        # counting rule 10: stock is a level, never told as a month's registrations
        raise ArgumentError(
            "kind: monthly compares each month's sales with a year earlier; registered stock "
            "is a level, not a month's registrations. Try {example}",
            example="/ev-chart WA metric:stock",
        )
    if kind is not None and kind not in CHART_KINDS:
        raise ArgumentError(
            "kind: {kind} is not one of {choices}", kind=repr(kind), choices=", ".join(CHART_KINDS)
        )
    if kind == "shares" and subject.kind not in ("make", "group"):
        if subject.kind == "model":
            raise ArgumentError(
                "kind: shares shows the models of a make or a group; {subject} is a model. Ask "
                "it of a make or group, e.g. {example}",
                subject=shown_name(subject, loc),
                example="alliance",
            )
        raise ArgumentError(
            "kind: shares shows the models of a make or a group; {subject} is not a make or "
            "group. Ask it of a make or group, e.g. {example}",
            subject=shown_name(subject, loc),
            example="alliance",
        )
    try:
        data = model_chart_data(
            ctx.model,
            kind or "cumulative",
            subject,
            region,
            ladders=ctx.ladders,
            locale=loc,
            metric=metric,
            powertrain=powertrain,
        )
    except ChartError as exc:
        raise ArgumentError(exc.message, **exc.values) from exc
    where = where_named(region, loc)
    counted = counted_tag(metric, powertrain, loc)
    if data.frame.as_of is None:
        return Reply(
            Message(
                title=headed(shown_name(subject, loc), where, loc) + counted,
                body=no_chart(
                    metric, powertrain, loc, subject=shown_name(subject, loc), where=where
                ),
                accent="info",
                locale=loc,
            ),
            data={
                "subject": subject.name,
                "region": region,
                "metric": metric,
                "powertrain": powertrain or ELECTRIC,
                "kind": data.kind,
                "image": None,
            },
        )
    try:
        chart = await render_off_loop(data)
    except ChartError as exc:
        raise ArgumentError(exc.message, **exc.values) from exc
    accent = {"cumulative": "milestone", "shares": "share"}.get(data.kind, "growth")
    return Reply(
        Message(
            title=_title(data.kind, shown_name(subject, loc), where, loc) + counted,
            body=describe(data),
            footer=footer("", format_month(data.frame.as_of, loc), loc),
            accent=accent,
            image=chart.png,
            image_name=chart.name,
            locale=loc,
        ),
        data={
            "subject": subject.name,
            "region": region,
            "metric": metric,
            "powertrain": powertrain or ELECTRIC,
            "kind": data.kind,
            "image": chart.name,
            "bytes": len(chart.png),
            "width": chart.width,
            "height": chart.height,
        },
    )


def _title(kind: str, subject: str, where: str, loc: str) -> str:
    """ "Nissan Leaf in Norway: cumulative chart"."""
    if kind == "shares":
        return t(loc, "{subject}{where}: shares chart", subject=subject, where=where)
    if kind == "monthly":
        return t(loc, "{subject}{where}: monthly chart", subject=subject, where=where)
    return t(loc, "{subject}{where}: cumulative chart", subject=subject, where=where)
