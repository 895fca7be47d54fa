"""/ev-mute and /ev-unmute: a channel silences a subject (or all) for a while; what would have
been posted meanwhile goes to the digest or is dropped (`bot.domain.mutes`)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.commands.subjects import resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.messages import Message
from bot.domain.mutes import ALL, Mute, MuteError, describe_until, parse_duration, parse_then


def at_utc(at: float) -> str:
    """A time as `2026-12-14 07:00 UTC`."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def mute_line(mute: Mute, now: float) -> str:
    """One mute in words, for /ev-subscriptions and /ev-preview."""
    what = "everything" if mute.subject_key == ALL else mute.subject_name
    then = "goes to the digest" if mute.then == "digest" else "is dropped"
    return (
        f"{what} muted until {at_utc(mute.until)} ({describe_until(mute, now)} more; news "
        f"meanwhile {then}; by {mute.created_by or '?'})"
    )


def covering_mute(mutes: Sequence[Mute], keys: Sequence[str]) -> Mute | None:
    """The mute among a channel's that covers a subject with these covering keys."""
    found = [m for m in mutes if m.subject_key == ALL or m.subject_key in keys]
    return max(found, key=lambda m: m.until) if found else None


def _subject(ctx: CommandContext, text: str) -> tuple[str, str]:
    if text.strip().lower() == ALL:
        return ALL, "everything"
    subject = resolve_subject(ctx, text).subject
    return subject.key, subject.name


async def cmd_mute(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    key, name = _subject(ctx, args.get("subject", ""))
    try:
        seconds = parse_duration(args.get("for"))
        then = parse_then(args.get("then"))
    except MuteError as exc:
        raise ArgumentError(str(exc)) from exc
    now = ctx.clock()
    mute = Mute(inv.channel, key, name, now + seconds, then, inv.user, now)
    earlier = [m for m in await ctx.store.mutes(inv.channel, now) if m.subject_key == key]
    await ctx.store.mute(mute)
    follows = await ctx.store.subscriptions(inv.channel)
    fate = "goes to the next digest" if then == "digest" else "is not posted here at all"
    body = (
        f"This channel hears nothing about {name} until {at_utc(mute.until)} "
        f"({describe_until(mute, now)}). News meanwhile is still recorded (/ev-milestones shows "
        f"it) and {fate}. /ev-unmute {args.get('subject', '').strip()} ends it sooner."
    )
    if earlier:
        body += f"\nThis replaces the mute that ran until {at_utc(earlier[0].until)}."
    if not follows:
        body += "\nNote: this channel follows nothing yet, so there is nothing to silence."
    return Reply(
        Message(title=f"Muted {name}", body=body, accent="info", locale=inv.locale),
        data={"subject": key, "until": mute.until, "then": then, "replaced": bool(earlier)},
    )


async def cmd_unmute(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    text = args.get("subject", "")
    key, name = _subject(ctx, text)
    now = ctx.clock()
    active = await ctx.store.mutes(inv.channel, now)
    # `all` ends every mute of the channel, not only a mute of everything
    ending = active if key == ALL else [m for m in active if m.subject_key == key]
    if not ending:
        held = ", ".join(m.subject_name for m in active)
        hint = f" Muted here: {held}." if held else " Nothing is muted here."
        raise ArgumentError(f"{name} is not muted in this channel.{hint}")
    await ctx.store.unmute(inv.channel, None if key == ALL else key)
    what = "every mute of this channel" if key == ALL else f"the mute of {name}"
    return Reply(
        Message(
            title=f"Unmuted {name}",
            body=f"Ended {what}; news is posted here again from the next poll. News held for "
            "the digest meanwhile stays in the digest.",
            accent="info",
            locale=inv.locale,
        ),
        data={"ended": [m.subject_key for m in ending]},
    )
