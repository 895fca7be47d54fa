"""/ev-preview: what this channel would hear next about a subject, and why each recent event was
or was not delivered here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.commands.channels import followed, kind_word, kinds_list
from bot.commands.context import CommandContext
from bot.commands.mutes import at_utc, covering_mute, mute_line
from bot.commands.subjects import resolve_region, resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.coverage import told
from bot.domain.deliveries import DeliveryRow
from bot.domain.events import Event, MilestoneEvent, Subject
from bot.domain.formatting import fast_percent, fast_units, format_percent
from bot.domain.i18n import t, tp
from bot.domain.messages import Message
from bot.domain.mutes import Mute
from bot.domain.news_words import around_period
from bot.domain.periods import Month
from bot.domain.projection import project
from bot.domain.subjects import shown_name
from bot.domain.subscriptions import Subscription, admit, most_specific
from bot.domain.unlike_years import unlike_years

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
    loc: str = "en",
) -> str:
    """Why an event was or was not delivered to this channel, in the language of `loc`."""
    delivery = deliveries.get(event_id)
    if delivery is not None:
        return _delivered(delivery, loc)
    covering = _covering_subs(ctx, subs, event.subject, event.period, event.region, event.metric)
    if not covering:
        return t(loc, "no subscription in this channel covers it")
    sub = most_specific(covering)
    if not sub.active:
        if sub.paused_reason:
            return t(loc, "the channel is paused ({reason})", reason=sub.paused_reason)
        return t(loc, "the channel is paused (no reason given)")
    if event.kind not in sub.spec.kinds:
        return t(
            loc,
            "outside the subscription's kinds ({kind} is not in {kinds})",
            kind=kind_word(event.kind, loc),
            kinds=kinds_list(sub.spec.kinds, loc, ","),
        )
    if isinstance(event, MilestoneEvent) and admit(event, sub, ctx.subscription_ladders) is None:
        return t(
            loc,
            "below the ladder: {crossed} is not on the '{ladder}' ladder",
            crossed=event.thresholds.describe(loc),
            ladder=sub.spec.ladder,
        )
    if mute is not None:
        ends = at_utc(mute.until)
        if mute.then == "digest":
            return t(loc, "muted here (held for the digest); the mute ends {ends}", ends=ends)
        return t(loc, "muted here (dropped); the mute ends {ends}", ends=ends)
    if sub.spec.mode != "instant" or event.kind not in sub.spec.instant_kinds:
        if sub.spec.mode == "daily":
            return t(loc, "held for the daily digest")
        if sub.spec.mode == "monthly":
            return t(loc, "held for the monthly digest")
        return t(loc, "held for the weekly digest")
    return t(
        loc, "recorded before this channel subscribed (a new subscription is not sent history)"
    )


def _delivered(delivery: DeliveryRow, loc: str) -> str:
    """Where an event's delivery to this channel stands."""
    if delivery.status == "posted":
        return t(loc, "already announced here")
    if delivery.status in ("pending", "inflight"):
        return t(loc, "queued for delivery here")
    # the reason is the platform's or the store's own words, as logged
    reason = delivery.reason or delivery.last_error
    if delivery.status == "failed":
        if reason:
            return t(loc, "failed here ({reason})", reason=reason)
        return t(loc, "failed here (no reason)")
    if delivery.status == "cancelled":
        if reason:
            return t(loc, "cancelled here ({reason})", reason=reason)
        return t(loc, "cancelled here (no reason)")
    return t(loc, "{status} here ({reason})", status=delivery.status, reason=reason or "?")


async def _recent_events(
    ctx: CommandContext, subject: Subject, region: str
) -> list[tuple[int, Event]]:
    stored = await ctx.store.events_about(subject.key, region, PREVIEW_EVENTS)
    return [(s.id, s.event) for s in stored]


def _next_milestone(
    ctx: CommandContext, sub: Subscription, subject: Subject, region: str, loc: str
) -> list[str]:
    """What the subscription covering `subject` hears next: the next threshold, or why none."""
    series = ctx.model.series(subject, region)
    total = series.cum[-1] if series.cum else 0
    ladder = ctx.subscription_ladders.get(sub.spec.ladder)
    upcoming = ladder.next_above(total) if ladder else None
    via = sub.spec.subject.name if sub.spec.subject.key != subject.key else ""
    if not sub.active:
        return [
            t(
                loc,
                "Next: nothing while the channel is paused ({reason}); subscribing again resumes "
                "it.",
                reason=sub.paused_reason or "?",
            )
        ]
    kinds = kinds_list(sub.spec.kinds, loc)
    if "milestone" not in sub.spec.kinds:
        if via:
            return [
                t(
                    loc,
                    "Next: no milestones; the subscription (via {via}) takes {kinds}.",
                    via=via,
                    kinds=kinds,
                )
            ]
        return [t(loc, "Next: no milestones; the subscription takes {kinds}.", kinds=kinds)]
    if upcoming is None:
        return []
    when = project(series.points(), upcoming)
    v = {
        "what": followed(shown_name(subject, loc), region, "sales", loc),
        "threshold": fast_units(upcoming, loc),
        "ladder": sub.spec.ladder,
        "total": fast_units(total, loc),
        "via": via,
    }
    if when is not None:
        how = told(series.basis, region, series.latest, None, ctx.facts(), loc)
        v["around_when"] = around_period(when, how.granularity, loc)
        if via:
            line = t(
                loc,
                "Next: {what} passing {threshold} on the '{ladder}' ladder (via {via}), "
                "{around_when} at the recent pace (now {total}).",
                **v,
            )
        else:
            line = t(
                loc,
                "Next: {what} passing {threshold} on the '{ladder}' ladder, {around_when} at the "
                "recent pace (now {total}).",
                **v,
            )
    elif via:
        line = t(
            loc,
            "Next: {what} passing {threshold} on the '{ladder}' ladder (via {via}) (now {total}).",
            **v,
        )
    else:
        line = t(
            loc, "Next: {what} passing {threshold} on the '{ladder}' ladder (now {total}).", **v
        )
    return [line]


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
        lines.append(
            t(loc, "Muted here: {mute}. /ev-unmute ends it sooner.", mute=mute_line(mute, now, loc))
        )
    what = followed(shown_name(subject, loc), region, "sales", loc)
    total = series.cum[-1] if series.cum else 0
    if not covering:
        lines.append(
            t(
                loc,
                "Next: nothing. This channel follows nothing that covers {what}; {example} would "
                "follow it.",
                what=what,
                example="/ev-subscribe " + subject.name,
            )
        )
    else:
        sub = most_specific(covering)
        lines.extend(_next_milestone(ctx, sub, subject, region, loc))
        if sub.active and subject.kind == "model" and "share" in sub.spec.kinds:
            lines.extend(await _share_lines(ctx, subject, region, total, loc))
        latest = series.latest
        if sub.active and "growth" in sub.spec.kinds and latest is not None:
            unlike = unlike_years(series.basis, latest.year, ctx.facts(), loc)
            if unlike:
                lines.append(
                    t(
                        loc,
                        "Growth in {year}: not told ({reason}).",
                        year=latest.year,
                        reason=unlike,
                    )
                )
    events = await _recent_events(ctx, subject, region)
    deliveries = await ctx.store.channel_deliveries(inv.channel, [i for i, _ in events])
    reasons = []
    if events:
        lines.append(tp(loc, "heading", "Recent events:"))
    for event_id, event in events:
        reason = why(ctx, event_id, event, subs, deliveries, mute, loc)
        reasons.append({"event": event_id, "kind": event.kind, "reason": reason})
        lines.append(f"• {kind_word(event.kind, loc)} {event.period}: {reason}")
    if not events:
        lines.append(t(loc, "No events recorded yet about {what}.", what=what))
    return Reply(
        Message(
            title=t(loc, "Preview for this channel: {what}", what=what),
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
        share_of = t(
            loc,
            "Share of {parent}: {share}.",
            parent=shown_name(parent, loc),
            share=fast_percent(share, loc),
        )
        out.append(f"{share_of} {news}")
    return out


def _next_share(level: float, band: float, gap: float, loc: str) -> str:
    """The share figures the next share news needs: the next band's boundary up (none above
    100 %), more than the hysteresis below the last level down (none below 0 %)."""
    up, down = round(level + band, 9), round(level - gap, 9)
    if up <= 1 and down > 0:
        return t(
            loc,
            "No share news until it reaches {up} or falls below {down}.",
            up=format_percent(up, loc),
            down=format_percent(down, loc),
        )
    if down > 0:
        return t(
            loc,
            "No share news unless it falls below {down} (at {level} there is no higher share to "
            "reach).",
            down=format_percent(down, loc),
            level=format_percent(level, loc),
        )
    if up <= 1:
        return t(loc, "No share news until it reaches {up}.", up=format_percent(up, loc))
    return t(loc, "No share news: the share has no higher band to reach and no lower to fall to.")
