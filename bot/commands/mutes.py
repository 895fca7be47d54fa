"""/ev-mute and /ev-unmute: a channel silences a subject (or all) for a while; what would have
been posted meanwhile goes to the digest or is dropped (`bot.domain.mutes`)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.commands.subjects import resolve_subject
from bot.commands.types import Invocation, Reply
from bot.domain.i18n import t
from bot.domain.messages import Message
from bot.domain.mutes import ALL, Mute, MuteError, describe_until, parse_duration, parse_then


def at_utc(at: float) -> str:
    """A time as `2026-12-14 07:00 UTC`."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def mute_line(mute: Mute, now: float, loc: str = "en") -> str:
    """One mute in words of the language of `loc`, for /ev-subscriptions and /ev-preview."""
    v = {
        "subject": mute.subject_name,
        "until": at_utc(mute.until),
        "left": describe_until(mute, now, loc),
        "by": mute.created_by or "?",
    }
    everything = mute.subject_key == ALL
    if mute.then == "digest":
        if everything:
            return t(
                loc,
                "everything muted until {until} ({left} more; news meanwhile goes to the "
                "digest; by {by})",
                **v,
            )
        return t(
            loc,
            "{subject} muted until {until} ({left} more; news meanwhile goes to the digest; "
            "by {by})",
            **v,
        )
    if everything:
        return t(
            loc,
            "everything muted until {until} ({left} more; news meanwhile is dropped; by {by})",
            **v,
        )
    return t(
        loc, "{subject} muted until {until} ({left} more; news meanwhile is dropped; by {by})", **v
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


def _muted_body(name: str, everything: bool, then: str, loc: str, **v: str) -> str:
    """What /ev-mute answers: one whole message per subject (or everything) and fate."""
    if everything and then == "digest":
        return t(
            loc,
            "This channel hears nothing until {until} ({left}). News meanwhile is still recorded "
            "(/ev-milestones shows it) and goes to the next digest. {unmute} ends it sooner.",
            **v,
        )
    if everything:
        return t(
            loc,
            "This channel hears nothing until {until} ({left}). News meanwhile is still recorded "
            "(/ev-milestones shows it) and is not posted here at all. {unmute} ends it sooner.",
            **v,
        )
    if then == "digest":
        return t(
            loc,
            "This channel hears nothing about {subject} until {until} ({left}). News meanwhile is "
            "still recorded (/ev-milestones shows it) and goes to the next digest. {unmute} ends "
            "it sooner.",
            subject=name,
            **v,
        )
    return t(
        loc,
        "This channel hears nothing about {subject} until {until} ({left}). News meanwhile is "
        "still recorded (/ev-milestones shows it) and is not posted here at all. {unmute} ends "
        "it sooner.",
        subject=name,
        **v,
    )


async def cmd_mute(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    loc = inv.locale
    key, name = _subject(ctx, args.get("subject", ""))
    try:
        seconds = parse_duration(args.get("for"))
        then = parse_then(args.get("then"))
    except MuteError as exc:  # an argument's error, as the command line catches it
        raise ArgumentError(exc.message, **exc.values) from exc
    now = ctx.clock()
    mute = Mute(inv.channel, key, name, now + seconds, then, inv.user, now)
    earlier = [m for m in await ctx.store.mutes(inv.channel, now) if m.subject_key == key]
    await ctx.store.mute(mute)
    follows = await ctx.store.subscriptions(inv.channel)
    everything = key == ALL
    body = _muted_body(
        name,
        everything,
        then,
        loc,
        until=at_utc(mute.until),
        left=describe_until(mute, now, loc),
        unmute=f"/ev-unmute {args.get('subject', '').strip()}",
    )
    if earlier:
        body += "\n" + t(
            loc, "This replaces the mute that ran until {until}.", until=at_utc(earlier[0].until)
        )
    if not follows:
        body += "\n" + t(
            loc, "Note: this channel follows nothing yet, so there is nothing to silence."
        )
    title = t(loc, "Muted everything") if everything else t(loc, "Muted {subject}", subject=name)
    return Reply(
        Message(title=title, body=body, accent="info", locale=loc),
        data={"subject": key, "until": mute.until, "then": then, "replaced": bool(earlier)},
    )


async def cmd_unmute(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    loc = inv.locale
    text = args.get("subject", "")
    key, name = _subject(ctx, text)
    now = ctx.clock()
    active = await ctx.store.mutes(inv.channel, now)
    # `all` ends every mute of the channel, not only a mute of everything
    ending = active if key == ALL else [m for m in active if m.subject_key == key]
    if not ending:
        held = ", ".join(m.subject_name for m in active)
        if key == ALL:
            raise ArgumentError("Nothing is muted in this channel.")
        if held:
            raise ArgumentError(
                "{subject} is not muted in this channel. Muted here: {held}.",
                subject=name,
                held=held,
            )
        raise ArgumentError(
            "{subject} is not muted in this channel. Nothing is muted here.", subject=name
        )
    await ctx.store.unmute(inv.channel, None if key == ALL else key)
    if key == ALL:
        title = t(loc, "Unmuted everything")
        body = t(
            loc,
            "Ended every mute of this channel; news is posted here again from the next poll. "
            "News held for the digest meanwhile stays in the digest.",
        )
    else:
        title = t(loc, "Unmuted {subject}", subject=name)
        body = t(
            loc,
            "Ended the mute of {subject}; news is posted here again from the next poll. News "
            "held for the digest meanwhile stays in the digest.",
            subject=name,
        )
    return Reply(
        Message(title=title, body=body, accent="info", locale=loc),
        data={"ended": [m.subject_key for m in ending]},
    )
