"""The commands that change or list what a channel follows: /ev-subscribe (which also resumes a
paused subscription), /ev-unsubscribe and /ev-subscriptions."""

from __future__ import annotations

from collections.abc import Mapping

from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.commands.mutes import mute_line
from bot.commands.subjects import region_suffix, resolve_region, resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.formatting import validate_locale
from bot.domain.messages import Message
from bot.domain.subscriptions import (
    INSTANT_BY_DEFAULT,
    KINDS,
    Subscription,
    SubscriptionSpec,
    parse_charts,
    parse_metric,
)


def _csv(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return default
    return tuple(p.strip().lower() for p in text.replace(" ", ",").split(",") if p.strip())


def _default_locale(ctx: CommandContext, inv: Invocation) -> str:
    """A subscription's language when none is asked: the platform's for the channel (Discord's
    guild_locale), else the configuration's."""
    if inv.channel_locale:
        try:
            return validate_locale(inv.channel_locale)
        except ValueError:
            pass  # a code Babel does not know: the configuration's language
    return validate_locale(ctx.config.locale)


async def cmd_subscribe(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    from bot.delivery.following import subscribe

    resolved = resolve_subject(ctx, args.get("subject"))
    region = resolve_region(ctx, resolved, args.get("region"))
    try:
        locale = (
            validate_locale(args["locale"]) if args.get("locale") else _default_locale(ctx, inv)
        )
    except ValueError as exc:
        raise ArgumentError(f"locale: {exc}") from exc
    kinds = _csv(args.get("kinds"), KINDS)
    spec = SubscriptionSpec(
        channel=inv.channel,
        subject=resolved.subject,
        region=region,
        kinds=kinds,
        instant_kinds=tuple(k for k in INSTANT_BY_DEFAULT if k in kinds) or kinds,
        ladder=args.get("ladder", "default"),
        locale=locale,
        mode=args.get("mode", "instant"),
        created_by=inv.user,
        charts=parse_charts(args.get("charts")),
        corrections=parse_charts(args.get("corrections"), name="corrections"),
        metric=parse_metric(args.get("metric")),
    )
    result = await subscribe(ctx.store, ctx.config, spec, ctx.clock(), args.get("template", ""))
    sub = result.subscription
    what = f"{sub.spec.subject.name}{region_suffix(sub.spec.region)}{counted(sub.spec.metric)}"
    if result.unchanged:
        body = (
            f"This channel already follows {what} with these settings; nothing changed and "
            "nothing is posted."
        )
    elif result.created:
        body = (
            f"This channel now follows {what}: {', '.join(sub.spec.kinds)}, ladder "
            f"{sub.spec.ladder}, {sub.spec.mode}. It gets one status message now, then only news."
        )
    else:
        body = (
            f"This channel already followed {what}; its settings are updated and a status "
            "message under them follows."
        )
    for other in result.overlaps:
        body += (
            f"\nNote: this channel also follows {other.spec.subject.name}, which overlaps. Each "
            "event is sent once, with the most specific subscription's settings."
        )
    # only to the caller: the channel hears the outbox's "now following" message, once
    return Reply(
        Message(title=f"Following {what}", body=body, accent="info", locale=inv.locale),
        ephemeral=True,
        data={
            "id": sub.id,
            "created": result.created,
            "unchanged": result.unchanged,
            "overlaps": [o.id for o in result.overlaps],
            "metric": sub.spec.metric,
        },
    )


async def cmd_unsubscribe(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    text = args.get("subject", "")
    key: str | None = None
    what = "anything"
    if text.strip().lower() != "all":
        subject = resolve_subject(ctx, text).subject
        key, what = subject.key, subject.name
    metric = args.get("metric")
    if metric is None:
        removed = await ctx.store.unsubscribe(inv.channel, key)
    else:  # only that metric's: a channel may follow WA's sales and its registered stock
        removed = 0
        for sub in await ctx.store.subscriptions(inv.channel):
            wanted = key in (None, sub.spec.subject.key) and sub.spec.metric == metric
            if wanted and await ctx.store.unsubscribe_id(sub.id) is not None:
                removed += 1
        what += " (registered stock)" if metric == "stock" else " (sales)"
    if not removed:
        raise ArgumentError(
            f"This channel does not follow {what}. /ev-subscriptions lists what it follows."
        )
    plural = "s" if removed != 1 else ""
    return Reply(
        Message(
            title="Unsubscribed",
            body=f"Removed {removed} subscription{plural}"
            + (f" to {what}." if key else " from this channel."),
            accent="info",
            locale=inv.locale,
        ),
        data={"removed": removed},
    )


def counted(metric: str) -> str:
    """How a subscription names its metric: registered stock is named, sales (the default)
    goes unnamed, as the reading answers do."""
    return " (registered stock)" if metric == "stock" else ""


def _describe(sub: Subscription) -> str:
    s = sub.spec
    status = "" if sub.active else f" [paused: {sub.paused_reason}]"
    return (
        f"• {s.subject.name}{region_suffix(s.region)}{counted(s.metric)}: {','.join(s.kinds)}, "
        f"ladder {s.ladder}, "
        f"{s.mode}, {s.locale}{'' if s.charts else ', no charts'}"
        f"{'' if s.corrections else ', no corrections'}{status} "
        f"(by {s.created_by or '?'})"
    )


async def cmd_subscriptions(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    subs = await ctx.store.subscriptions(inv.channel)
    now = ctx.clock()
    mutes = await ctx.store.mutes(inv.channel, now)
    body = "\n".join(_describe(s) for s in subs) or (
        "This channel follows nothing yet. Example: /ev-subscribe alliance"
    )
    if mutes:
        body += "\nMuted:\n" + "\n".join(f"• {mute_line(m, now)}" for m in mutes)
    return Reply(
        Message(title="This channel's subscriptions", body=body, accent="info", locale=inv.locale),
        ephemeral=True,
        data={
            "subscriptions": [
                {"id": s.id, "subject": s.spec.subject.name, "metric": s.spec.metric} for s in subs
            ],
            "mutes": [{"subject": m.subject_key, "until": m.until, "then": m.then} for m in mutes],
        },
    )
