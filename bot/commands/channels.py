"""The commands that change or list what a channel follows: /ev-subscribe (which also resumes a
paused subscription), /ev-unsubscribe and /ev-subscriptions."""

from __future__ import annotations

from collections.abc import Mapping

from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.commands.mutes import mute_line
from bot.commands.subjects import resolve_region, resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.formatting import validate_locale
from bot.domain.i18n import t, tn, tp
from bot.domain.messages import Message
from bot.domain.places import N_, where_in
from bot.domain.subjects import shown_name
from bot.domain.subscriptions import (
    INSTANT_BY_DEFAULT,
    KINDS,
    Subscription,
    SubscriptionSpec,
    locale_error,
    parse_charts,
    parse_metric,
)

# the words a setting's value is told by (the option's value as typed is the English word)
KIND_WORDS = {
    "milestone": N_("event kind", "milestone"),
    "share": N_("event kind", "share"),
    "growth": N_("event kind", "growth"),
    "record": N_("event kind", "record"),
    "correction": N_("event kind", "correction"),
}
MODE_WORDS = {
    "instant": N_("mode", "instant"),
    "daily": N_("mode", "daily"),
    "weekly": N_("mode", "weekly"),
    "monthly": N_("mode", "monthly"),
}


def kind_word(kind: str, loc: str) -> str:
    """A kind of event as a word of the language of `loc` (an unknown one as written)."""
    found = KIND_WORDS.get(kind)
    return tp(loc, *found) if found else kind


def kinds_list(kinds: tuple[str, ...], loc: str, separator: str | None = None) -> str:
    """A subscription's kinds in words: `milestone, share`."""
    sep = tp(loc, "list", ", ") if separator is None else separator
    return sep.join(kind_word(k, loc) for k in kinds)


def mode_word(mode: str, loc: str) -> str:
    """A delivery mode (`instant`, `daily`…) as a word of the language of `loc`."""
    found = MODE_WORDS.get(mode)
    return tp(loc, *found) if found else mode


def followed(name: str, region: str, metric: str, loc: str) -> str:
    """What a subscription follows, named in the language of `loc`: `Nissan Leaf in Norway`,
    `all EVs in WA (registered stock)`; a noun phrase of its own message, so each language
    places the region (Japanese before the name)."""
    where = where_in(region, (), loc)
    if metric == "stock":
        if where:
            return t(loc, "{subject}{where} (registered stock)", subject=name, where=where)
        return t(loc, "{subject} (registered stock)", subject=name)
    if where:
        return t(loc, "{subject}{where}", subject=name, where=where)
    return name


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

    loc = inv.locale
    resolved = resolve_subject(ctx, args.get("subject"))
    region = resolve_region(ctx, resolved, args.get("region"))
    try:
        locale = (
            validate_locale(args["locale"]) if args.get("locale") else _default_locale(ctx, inv)
        )
    except ValueError as exc:
        raise locale_error(args.get("locale", "")) from exc
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
    what = followed(shown_name(sub.spec.subject, loc), sub.spec.region, sub.spec.metric, loc)
    if result.unchanged:
        body = t(
            loc,
            "This channel already follows {what} with these settings; nothing changed and "
            "nothing is posted.",
            what=what,
        )
    elif result.created:
        body = t(
            loc,
            "This channel now follows {what}: {kinds}, ladder {ladder}, {mode}. It gets one "
            "status message now, then only news.",
            what=what,
            kinds=kinds_list(sub.spec.kinds, loc),
            ladder=sub.spec.ladder,
            mode=mode_word(sub.spec.mode, loc),
        )
    else:
        body = t(
            loc,
            "This channel already followed {what}; its settings are updated and a status "
            "message under them follows.",
            what=what,
        )
    for other in result.overlaps:
        body += "\n" + t(
            loc,
            "Note: this channel also follows {other}, which overlaps. Each event is sent once, "
            "with the most specific subscription's settings.",
            other=shown_name(other.spec.subject, loc),
        )
    # only to the caller: the channel hears the outbox's "now following" message, once
    return Reply(
        Message(title=t(loc, "Following {what}", what=what), body=body, accent="info", locale=loc),
        ephemeral=True,
        data={
            "id": sub.id,
            "created": result.created,
            "unchanged": result.unchanged,
            "overlaps": [o.id for o in result.overlaps],
            "metric": sub.spec.metric,
        },
    )


def _not_followed(name: str | None, metric: str | None) -> ArgumentError:
    """The refusal of /ev-unsubscribe when nothing it names is followed here."""
    if name is None and metric is None:
        return ArgumentError(
            "This channel does not follow anything. /ev-subscriptions lists what it follows."
        )
    if name is None:
        if metric == "stock":
            return ArgumentError(
                "This channel follows no registered stock. /ev-subscriptions lists what it follows."
            )
        return ArgumentError(
            "This channel follows no sales. /ev-subscriptions lists what it follows."
        )
    if metric == "stock":
        return ArgumentError(
            "This channel does not follow {subject} (registered stock). /ev-subscriptions lists "
            "what it follows.",
            subject=name,
        )
    if metric == "sales":
        return ArgumentError(
            "This channel does not follow {subject} (sales). /ev-subscriptions lists what it "
            "follows.",
            subject=name,
        )
    return ArgumentError(
        "This channel does not follow {subject}. /ev-subscriptions lists what it follows.",
        subject=name,
    )


async def cmd_unsubscribe(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    loc = inv.locale
    text = args.get("subject", "")
    key: str | None = None
    name: str | None = None
    if text.strip().lower() != "all":
        subject = resolve_subject(ctx, text).subject
        key, name = subject.key, subject.name
    metric = args.get("metric")
    if metric is None:
        removed = await ctx.store.unsubscribe(inv.channel, key)
    else:  # only that metric's: a channel may follow WA's sales and its registered stock
        removed = 0
        for sub in await ctx.store.subscriptions(inv.channel):
            wanted = key in (None, sub.spec.subject.key) and sub.spec.metric == metric
            if wanted and await ctx.store.unsubscribe_id(sub.id) is not None:
                removed += 1
    if not removed:
        raise _not_followed(name, metric)
    if name is None:
        body = tn(
            loc,
            "Removed {n} subscription from this channel.",
            "Removed {n} subscriptions from this channel.",
            removed,
            n=removed,
        )
    else:
        what = name
        if metric == "sales":
            what = t(loc, "{subject} (sales)", subject=name)
        elif metric == "stock":
            what = t(loc, "{subject} (registered stock)", subject=name)
        body = tn(
            loc,
            "Removed {n} subscription to {what}.",
            "Removed {n} subscriptions to {what}.",
            removed,
            n=removed,
            what=what,
        )
    return Reply(
        Message(title=t(loc, "Unsubscribed"), body=body, accent="info", locale=loc),
        data={"removed": removed},
    )


def counted(metric: str) -> str:
    """How a subscription names its metric in English (the command line's lists): registered
    stock is named, sales (the default) goes unnamed, as the reading answers do."""
    return " (registered stock)" if metric == "stock" else ""


def _describe(sub: Subscription, loc: str) -> str:
    """One subscription as a line of /ev-subscriptions: what, its settings, who made it."""
    s = sub.spec
    settings = [
        kinds_list(s.kinds, loc, ","),
        tp(loc, "setting", "ladder {ladder}", ladder=s.ladder),
        mode_word(s.mode, loc),
        s.locale,
    ]
    if not s.charts:
        settings.append(tp(loc, "setting", "no charts"))
    if not s.corrections:
        settings.append(tp(loc, "setting", "no corrections"))
    v = {
        "what": followed(shown_name(s.subject, loc), s.region, s.metric, loc),
        "settings": tp(loc, "list", ", ").join(settings),
        "by": s.created_by or "?",
    }
    if sub.active:
        return t(loc, "• {what}: {settings} (by {by})", **v)
    return t(
        loc, "• {what}: {settings} [paused: {reason}] (by {by})", reason=sub.paused_reason, **v
    )


async def cmd_subscriptions(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    loc = inv.locale
    subs = await ctx.store.subscriptions(inv.channel)
    now = ctx.clock()
    mutes = await ctx.store.mutes(inv.channel, now)
    body = "\n".join(_describe(s, loc) for s in subs) or t(
        loc,
        "This channel follows nothing yet. Example: {example}",
        example="/ev-subscribe alliance",
    )
    if mutes:
        lines = [f"• {mute_line(m, now, loc)}" for m in mutes]
        body += "\n" + tp(loc, "heading", "Muted:") + "\n" + "\n".join(lines)
    return Reply(
        Message(title=t(loc, "This channel's subscriptions"), body=body, accent="info", locale=loc),
        ephemeral=True,
        data={
            "subscriptions": [
                {"id": s.id, "subject": s.spec.subject.name, "metric": s.spec.metric} for s in subs
            ],
            "mutes": [{"subject": m.subject_key, "until": m.until, "then": m.then} for m in mutes],
        },
    )
