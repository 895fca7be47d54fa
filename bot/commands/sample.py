"""/ev-test (and `evbot test-message`): a sample announcement, rendered as this channel's
subscription would render it (its locale, ladder and charts), from the subject's real figures,
its title marked "Test:". It is the command's own reply: never queued, never recorded, so the
first real milestone is still news. Channel managers only, once a minute per channel."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Mapping
from dataclasses import replace

from bot.commands.arguments import ArgumentError
from bot.commands.channels import followed, kinds_list, mode_word
from bot.commands.context import CommandContext
from bot.commands.types import Invocation, Reply
from bot.delivery.templating import templated
from bot.domain.announcer import announce_digest, announce_group, digest_label
from bot.domain.channels import Channel
from bot.domain.events import MilestoneEvent
from bot.domain.headlines_corrections import chart_alt
from bot.domain.i18n import t, tp
from bot.domain.ladders import Ladder
from bot.domain.messages import Message
from bot.domain.periods import Month
from bot.domain.projection import project
from bot.domain.rungs import RungRange
from bot.domain.subjects import shown_name
from bot.domain.subscriptions import Subscription, admit, most_specific

log = logging.getLogger("evbot.commands")

COOLDOWN_SECONDS = 60.0
SUBSCRIBE_EXAMPLE = "/ev-subscribe alliance"

# when each channel last had a test message, per command context (so per running bot)
_LAST_TEST: weakref.WeakKeyDictionary[CommandContext, dict[Channel, float]] = (
    weakref.WeakKeyDictionary()
)


class FollowsNothing(ArgumentError):
    """The channel has no subscription whose format a test could show."""


def cooldown_left(ctx: CommandContext, channel: Channel) -> float:
    """Seconds until `channel` may have another test message (0 when it may now)."""
    last = _LAST_TEST.get(ctx, {}).get(channel)
    if last is None:
        return 0.0
    return max(0.0, COOLDOWN_SECONDS - (ctx.clock() - last))


def _choose(subs: list[Subscription]) -> Subscription:
    """The subscription whose format the test shows: an active one taking milestones, the
    most specific first; else any."""
    for pool in (
        [s for s in subs if s.active and "milestone" in s.spec.kinds],
        [s for s in subs if s.active],
        subs,
    ):
        if pool:
            return most_specific(pool)
    raise AssertionError("no subscription to choose from")


def _synthetic(
    ctx: CommandContext, sub: Subscription, ladder: Ladder
) -> tuple[MilestoneEvent, bool]:
    """The subject's latest milestone on the ladder, from the figures held (and whether they
    are real: with no figures, the ladder's first threshold in the current month)."""
    spec = sub.spec
    series = ctx.model.series(spec.subject, spec.region, spec.metric)
    total = series.cum[-1] if series.cum else 0
    reached = ladder.up_to(total)
    if not reached:
        first = ladder.next_above(0) or 1
        month = Month.parse(_month_now(ctx))
        thresholds = RungRange(ladder.spec, first, first, 1)
        return (
            MilestoneEvent(spec.subject, spec.region, spec.metric, thresholds, month, first),
            False,
        )
    rung = reached[-1]
    period, value = next((m, c) for m, c in series.points() if c >= rung)
    # the next threshold and its projection as the detector told them then
    then = [(m, c) for m, c in series.points() if m <= period]
    upcoming = ladder.next_above(value)
    return (
        MilestoneEvent(
            spec.subject,
            spec.region,
            spec.metric,
            RungRange(ladder.spec, rung, rung, 1),
            period,
            value,
            next_threshold=upcoming,
            projected=project(then, upcoming) if upcoming else None,
        ),
        True,
    )


def _month_now(ctx: CommandContext) -> str:
    return time.strftime("%Y-%m", time.gmtime(ctx.clock()))


async def _stored(ctx: CommandContext, sub: Subscription) -> MilestoneEvent | None:
    """The newest stored milestone about the subject, as this subscription would hear it."""
    spec = sub.spec
    for stored in reversed(await ctx.store.events_about(spec.subject.key, spec.region, 20)):
        event = stored.event
        if isinstance(event, MilestoneEvent) and event.metric == spec.metric:
            admitted = admit(event, sub, ctx.subscription_ladders)
            if isinstance(admitted, MilestoneEvent):
                return admitted
    return None


def _notes(sub: Subscription, real: bool, digest: bool, mode: str, loc: str) -> list[str]:
    """The sentences after a sample: what it shows, and why it may differ from real news."""
    spec = sub.spec
    what = followed(shown_name(spec.subject, loc), spec.region, spec.metric, loc)
    if digest:
        shown = tp(loc, "setting", "{mode} digest", mode=mode_word(mode, loc))
    elif spec.charts:
        shown = tp(loc, "setting", "with a chart")
    else:
        shown = tp(loc, "setting", "no charts")
    settings = [what, tp(loc, "setting", "ladder {ladder}", ladder=spec.ladder), spec.locale, shown]
    notes = [
        t(
            loc,
            "This is a test of how announcements look in this channel ({settings}); it is not "
            "news and is not recorded.",
            settings=tp(loc, "list", ", ").join(settings),
        )
    ]
    if not real:
        notes.append(t(loc, "No figures for {what} yet: the figure is illustrative.", what=what))
    if "milestone" not in spec.kinds:
        notes.append(
            t(
                loc,
                "This subscription takes {kinds}, not milestones; a milestone shows the format.",
                kinds=kinds_list(spec.kinds, loc),
            )
        )
    if not sub.active and sub.paused_reason:
        notes.append(
            t(
                loc,
                "The subscription is paused ({reason}): nothing is announced here until it is "
                "resumed.",
                reason=sub.paused_reason,
            )
        )
    elif not sub.active:
        notes.append(
            t(
                loc,
                "The subscription is paused (no reason given): nothing is announced here until "
                "it is resumed.",
            )
        )
    return notes


async def sample_message(
    ctx: CommandContext, channel: Channel, *, draw: bool = True, loc: str | None = None
) -> tuple[Message, Subscription, bool]:
    """The test message for `channel`, the subscription it follows, and whether it is built
    from real figures; ArgumentError when the channel follows nothing. The "Test:" marker and
    the note are in the language of `loc` (the subscription's when None)."""
    subs = await ctx.store.subscriptions(channel)
    if not subs:
        raise FollowsNothing(
            "This channel follows nothing, so there is no format to test. Subscribe first, "
            "e.g. {example}, then try again.",
            example=SUBSCRIBE_EXAMPLE,
        )
    sub = _choose(subs)
    spec = sub.spec
    ladder = ctx.subscription_ladders.get(spec.ladder)
    if ladder is None:
        raise ArgumentError(
            "This channel's subscription to {subject} names the ladder {ladder}, which is not "
            "configured; subscribe again with a configured ladder.",
            subject=spec.subject.name,
            ladder=repr(spec.ladder),
        )
    event: MilestoneEvent | None = await _stored(ctx, sub)
    real = event is not None
    if event is None:
        event, real = _synthetic(ctx, sub, ladder)
    # a milestone the subscription holds for its digest is told in the digest, without a chart
    digest = spec.mode != "instant" or "milestone" not in spec.instant_kinds
    mode = spec.mode if spec.mode != "instant" else "weekly"
    if digest:
        message = announce_digest([event], spec.locale, digest_label(mode, spec.locale))
    else:
        message = await templated(
            ctx.store, announce_group([event], spec.locale), event, (sub.id,), "/ev-test"
        )
    # the marker and the note are told to whoever tests (`loc`); the announcement itself stays
    # in the subscription's language, as a real one would read
    loc = spec.locale if loc is None else loc
    note = " ".join(_notes(sub, real, digest, mode, loc))
    body = f"{message.body}\n\n{note}" if message.body else note
    title = t(loc, "Test: {title}", title=message.title)
    message = replace(message, title=title, body=body)
    if spec.charts and draw and not digest:
        message = await _with_chart(ctx, message, event, ladder, spec.locale)
    return message, sub, real


async def _with_chart(
    ctx: CommandContext, message: Message, event: MilestoneEvent, ladder: Ladder, locale: str
) -> Message:
    """The message with the milestone's chart, as a real announcement carries it; without it
    (logged) when it cannot be drawn."""
    from bot.charts.service import StoreCharts

    try:
        png, name = await StoreCharts(ctx.store, ctx.config).milestone_chart(event, ladder, locale)
    except Exception:
        log.warning("test message: no chart for %s", event.subject.name, exc_info=True)
        return message
    return replace(message, image=png, image_name=name, image_alt=chart_alt(event, locale))


async def cmd_test(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    left = cooldown_left(ctx, inv.channel)
    if left > 0:
        raise ArgumentError(
            "A test message was posted here less than {limit} seconds ago; try again in {left} s.",
            limit=round(COOLDOWN_SECONDS),
            left=round(left),
        )
    # taken before the await: two tests at once in one channel post one sample
    tested = _LAST_TEST.setdefault(ctx, {})
    now = ctx.clock()
    for channel in [c for c, at in tested.items() if now - at >= COOLDOWN_SECONDS]:
        del tested[channel]  # long past: forgotten, so the table stays small
    tested[inv.channel] = now
    try:
        message, sub, real = await sample_message(ctx, inv.channel, loc=inv.locale)
    except BaseException:
        del tested[inv.channel]  # refused (follows nothing): no cooldown
        raise
    # public: the reply is the sample, posted in the channel; nothing is queued or recorded
    return Reply(
        message,
        ephemeral=False,
        data={
            "test": True,
            "subscription": sub.id,
            "subject": sub.spec.subject.name,
            "locale": sub.spec.locale,
            "ladder": sub.spec.ladder,
            "charts": sub.spec.charts,
            "real_figures": real,
        },
    )
