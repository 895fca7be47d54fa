"""/ev-chart: a subject's chart as a PNG, its figures read from the read model (never the
sales rows) and drawn in a worker thread."""

from __future__ import annotations

from collections.abc import Mapping

from bot.charts.data import KINDS as CHART_KINDS
from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.commands.reading import (
    counted_metric,
    metric_asked,
    metric_named,
    no_figures_of,
    powertrain_asked,
)
from bot.commands.subjects import region_suffix, resolve_region, resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.formatting import fast_month
from bot.domain.messages import Message
from bot.domain.powertrains import ELECTRIC, counted_suffix


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
            "is a level, not a month's registrations. Try /ev-chart WA metric:stock"
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
        raise ArgumentError(str(exc)) from exc
    where = region_suffix(region)
    if data.frame.as_of is None:
        return Reply(
            Message(
                title=f"{subject.name}{where}{counted_metric(metric)}{counted_suffix(powertrain)}",
                body=f"No {metric_named(metric)}figures{no_figures_of(powertrain)} for "
                f"{subject.name}{where} yet: nothing to draw.",
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
        raise ArgumentError(str(exc)) from exc
    accent = {"cumulative": "milestone", "shares": "share"}.get(data.kind, "growth")
    return Reply(
        Message(
            title=f"{subject.name}{where}: {data.kind} chart{counted_metric(metric)}"
            + counted_suffix(powertrain),
            body=describe(data),
            footer=f"Data through {fast_month(data.frame.as_of, loc)}",
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
