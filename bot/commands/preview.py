"""/ev-preview: what this channel would hear next about a subject, and why each recent event was
or was not delivered here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.commands.context import CommandContext
from bot.commands.mutes import at_utc, covering_mute, mute_line
from bot.commands.subjects import region_suffix, resolve_region, resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.coverage import told, unlike_years
from bot.domain.deliveries import DeliveryRow
from bot.domain.events import Event, MilestoneEvent, Subject
from bot.domain.formatting import fast_percent, fast_units, format_percent, format_period
from bot.domain.messages import Message
from bot.domain.mutes import Mute
from bot.domain.periods import Month
from bot.domain.projection import project
from bot.domain.subscriptions import Subscription, admit, most_specific

PREVIEW_EVENTS = 5


def _covering_subs(
    ctx: CommandContext,
    subs: Sequence[Subscription],
    subject: Subject,
    month: Month,
    region: str,
    metric: str = "sales",
) -> list[Subscription]:
    keys = ctx.hierarchy.covering(subject, month)
    return [
        s
        for s in subs
        if s.spec.subject.key in keys and s.spec.region == region and s.spec.metric == metric
    ]


def why(
    ctx: CommandContext,
    event_id: int,
    event: Event,
    subs: Sequence[Subscription],
    deliveries: Mapping[int, DeliveryRow],
    mute: Mute | None = None,
) -> str:
    """Why an event was or was not delivered to this channel."""
    delivery = deliveries.get(event_id)
    if delivery is not None:
        if delivery.status == "posted":
            return "already announced here"
        if delivery.status in ("pending", "inflight"):
            return "queued for delivery here"
        return f"{delivery.status} here ({delivery.reason or delivery.last_error or 'no reason'})"
    covering = _covering_subs(ctx, subs, event.subject, event.period, event.region, event.metric)
    if not covering:
        return "no subscription in this channel covers it"
    sub = most_specific(covering)
    if not sub.active:
        return f"the channel is paused ({sub.paused_reason or 'no reason given'})"
    if event.kind not in sub.spec.kinds:
        return (
            f"outside the subscription's kinds ({event.kind} is not in {','.join(sub.spec.kinds)})"
        )
    if isinstance(event, MilestoneEvent) and admit(event, sub, ctx.subscription_ladders) is None:
        crossed = event.thresholds.describe()
        return f"below the ladder: {crossed} is not on the {sub.spec.ladder!r} ladder"
    if mute is not None:
        fate = "held for the digest" if mute.then == "digest" else "dropped"
        return f"muted here ({fate}); the mute ends {at_utc(mute.until)}"
    if sub.spec.mode != "instant" or event.kind not in sub.spec.instant_kinds:
        mode = sub.spec.mode if sub.spec.mode != "instant" else "weekly"
        return f"held for the {mode} digest"
    return "recorded before this channel subscribed (a new subscription is not sent history)"


async def _recent_events(
    ctx: CommandContext, subject: Subject, region: str
) -> list[tuple[int, Event]]:
    stored = await ctx.store.events_about(subject.key, region, PREVIEW_EVENTS)
    return [(s.id, s.event) for s in stored]


async def cmd_preview(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    resolved = resolve_subject(ctx, args.get("subject"))
    subject = resolved.subject
    region = resolve_region(ctx, resolved, args.get("region"))
    loc = inv.locale
    series = ctx.model.series(subject, region)
    subs = await ctx.store.subscriptions(inv.channel)
    latest_month = series.latest or Month(1970, 1)
    covering = _covering_subs(ctx, subs, subject, latest_month, region)
    lines: list[str] = []
    now = ctx.clock()
    mute = covering_mute(
        await ctx.store.mutes(inv.channel, now), ctx.hierarchy.covering(subject, latest_month)
    )
    if mute is not None:
        lines.append(f"Muted here: {mute_line(mute, now)}. /ev-unmute ends it sooner.")
    where = region_suffix(region)
    total = series.cum[-1] if series.cum else 0
    if not covering:
        lines.append(
            f"Next: nothing. This channel follows nothing that covers {subject.name}{where}; "
            f"/ev-subscribe {subject.name} would follow it."
        )
    else:
        sub = most_specific(covering)
        ladder = ctx.subscription_ladders.get(sub.spec.ladder)
        upcoming = ladder.next_above(total) if ladder else None
        via = "" if sub.spec.subject.key == subject.key else f" (via {sub.spec.subject.name})"
        if not sub.active:
            lines.append(
                f"Next: nothing while the channel is paused ({sub.paused_reason}); subscribing "
                "again resumes it."
            )
        elif "milestone" not in sub.spec.kinds:
            lines.append(f"Next: no milestones; the subscription{via} takes {sub.spec.kinds}.")
        elif upcoming is not None:
            when = project(series.points(), upcoming)
            how = told(series.basis, region, series.latest, None, ctx.model.facts)
            around = (
                f", around {format_period(when, how.granularity, loc)} at the recent pace"
                if when
                else ""
            )
            lines.append(
                f"Next: {subject.name}{where} passing {fast_units(upcoming, loc)} on the "
                f"{sub.spec.ladder!r} ladder{via}{around} (now {fast_units(total, loc)})."
            )
        if sub.active and subject.kind == "model" and "share" in sub.spec.kinds:
            lines.extend(await _share_lines(ctx, subject, region, total, loc))
        latest = series.latest
        if sub.active and "growth" in sub.spec.kinds and latest is not None:
            unlike = unlike_years(series.basis, latest.year, ctx.model.facts)
            if unlike:
                lines.append(f"Growth in {latest.year}: not told ({unlike}).")
    events = await _recent_events(ctx, subject, region)
    deliveries = await ctx.store.channel_deliveries(inv.channel, [i for i, _ in events])
    reasons = []
    if events:
        lines.append("Recent events:")
    for event_id, event in events:
        reason = why(ctx, event_id, event, subs, deliveries, mute)
        reasons.append({"event": event_id, "kind": event.kind, "reason": reason})
        lines.append(f"• {event.kind} {event.period}: {reason}")
    if not events:
        lines.append(f"No events recorded yet about {subject.name}{where}.")
    return Reply(
        Message(
            title=f"Preview for this channel: {subject.name}{where}",
            body="\n".join(lines),
            accent="info",
            locale=loc,
        ),
        ephemeral=True,
        data={
            "subject": subject.name,
            "events": reasons,
            "muted_until": mute.until if mute is not None else None,
        },
    )


async def _share_lines(
    ctx: CommandContext, model: Subject, region: str, total: int, loc: str
) -> list[str]:
    ms = ctx.config.milestones
    band, gap = ms.share_band / 100, ms.share_hysteresis / 100
    latest = ctx.model.series(model, region).latest
    if latest is None:
        return []
    out = []
    for parent in ctx.hierarchy.parents(model, ctx.model.catalog, latest):
        parent_total, _ = ctx.model.series(parent, region).at(latest)
        if parent_total <= 0:
            continue
        share = total / parent_total
        level = await ctx.store.share_level((model.key, parent.key, region, "sales"))
        if level is None:
            continue
        news = _next_share(level, band, gap, loc)
        out.append(f"Share of {parent.name}: {fast_percent(share, loc)}. {news}")
    return out


def _next_share(level: float, band: float, gap: float, loc: str) -> str:
    """The share figures the next share news needs: the next band's boundary up (none above
    100 %), more than the hysteresis below the last level down (none below 0 %)."""
    up, down = round(level + band, 9), round(level - gap, 9)
    if up <= 1 and down > 0:
        return (
            f"No share news until it reaches {format_percent(up, loc)} or falls below "
            f"{format_percent(down, loc)}."
        )
    if down > 0:
        return (
            f"No share news unless it falls below {format_percent(down, loc)} (at "
            f"{format_percent(level, loc)} there is no higher share to reach)."
        )
    if up <= 1:
        return f"No share news until it reaches {format_percent(up, loc)}."
    return "No share news: the share has no higher band to reach and no lower to fall to."
