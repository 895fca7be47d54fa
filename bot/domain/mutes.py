"""Mutes: a channel silences a subject (or everything) for a while (issue 18).

While a mute holds, the milestones and other news it covers are still detected and recorded (the
history never loses them); they are only not posted to that channel. What would have been posted
either waits for the subscription's next digest (`then:digest`, the default) or is dropped
(`then:drop`). A mute covers what lies inside its subject, as a subscription does: muting the
Alliance mutes the Leaf; `all` mutes everything the channel follows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain.channels import Channel
from bot.domain.i18n import LocalizedError, tn, tp
from bot.domain.records import StoredEvent
from bot.domain.subjects import ALL as ALL_SUBJECTS
from bot.domain.subscriptions import FanoutPlan, PlannedDelivery, Subscription

ALL = ALL_SUBJECTS.key  # the subject key of a mute of everything
THEN = ("digest", "drop")
MAX_SECONDS = 90 * 86400
UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d{1,4})\s*(m|min|h|d|w)\s*$", re.IGNORECASE)


class MuteError(LocalizedError):
    """A mute setting that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Mute:
    """A channel's mute of a subject (`subject_key` ALL: everything) until a time."""

    channel: Channel
    subject_key: str
    subject_name: str
    until: float  # epoch seconds
    then: str = "digest"  # digest or drop
    created_by: str = ""
    created_at: float = 0.0

    def active(self, now: float) -> bool:
        return now < self.until


def parse_duration(text: str | None) -> float:
    """`for:` as seconds: a whole number of minutes, hours, days or weeks (`30m`, `12h`, `7d`,
    `2w`), at most 90 days."""
    if text is None or not text.strip():
        raise MuteError("for: required, how long to mute, e.g. for:12h, for:7d or for:2w")
    found = _DURATION.match(text)
    if not found:
        raise MuteError(
            "for: {value} is not a duration; use a number and m, h, d or w, e.g. 12h, 7d, 2w",
            value=repr(text),
        )
    seconds = int(found.group(1)) * UNITS[found.group(2)[0].lower()]
    if seconds <= 0:
        raise MuteError(
            "for: {value} is no time at all; mute for at least a minute", value=repr(text)
        )
    if seconds > MAX_SECONDS:
        raise MuteError(
            "for: {value} is longer than the 90 days a mute may last "
            "(unsubscribe instead to stop for good)",
            value=repr(text),
        )
    return float(seconds)


def parse_then(text: str | None) -> str:
    """`then:` as digest (the default) or drop."""
    if text is None or not text.strip():
        return "digest"
    value = text.strip().lower()
    if value not in THEN:
        raise MuteError(
            "then: {value} is not one of {choices}", value=repr(text), choices=", ".join(THEN)
        )
    return value


def muting(mutes: Sequence[Mute], channel: Channel, keys: Sequence[str], now: float) -> Mute | None:
    """The mute of `channel` that covers an event with these covering subject keys (the one
    lasting longest), or None."""
    found = [
        m
        for m in mutes
        if m.channel == channel
        and m.active(now)
        and (m.subject_key == ALL or m.subject_key in keys)
    ]
    return max(found, key=lambda m: m.until) if found else None


@dataclass
class _Kept:
    events: list[int] = field(default_factory=list)
    subs: list[int] = field(default_factory=list)


def apply_mutes(
    plan: FanoutPlan,
    news: Sequence[tuple[StoredEvent, Sequence[str]]],
    subscriptions: Sequence[Subscription],
    mutes: Sequence[Mute],
    now: float,
) -> FanoutPlan:
    """The plan with what muted channels must not hear taken out: each muted event of an instant
    delivery goes to its subscription's digest (`then:digest`) or nowhere (`then:drop`); a muted
    digest item stays (digest) or goes (drop). A delivery left empty is not planned."""
    if not mutes:
        return plan
    keys_of: Mapping[int, Sequence[str]] = {s.id: k for s, k in news}
    channel_of = {s.id: s.channel for s in subscriptions}
    out = FanoutPlan()
    for delivery in plan.deliveries:
        kept = _Kept()
        for event_id, sub_id in zip(delivery.event_ids, delivery.subscription_ids, strict=True):
            mute = muting(mutes, delivery.channel, keys_of.get(event_id, ()), now)
            if mute is None:
                kept.events.append(event_id)
                kept.subs.append(sub_id)
            elif mute.then == "digest":
                out.digest_items.append((sub_id, event_id))
        if kept.events:
            out.deliveries.append(
                _with(delivery, tuple(kept.events), tuple(kept.subs))
                if len(kept.events) != len(delivery.event_ids)
                else delivery
            )
    for sub_id, event_id in plan.digest_items:
        channel = channel_of.get(sub_id)
        mute = (
            muting(mutes, channel, keys_of.get(event_id, ()), now) if channel is not None else None
        )
        if mute is None or mute.then == "digest":
            out.digest_items.append((sub_id, event_id))
    out.digest_items = list(dict.fromkeys(out.digest_items))  # once each, in order
    return out


def _with(
    delivery: PlannedDelivery, events: tuple[int, ...], subs: tuple[int, ...]
) -> PlannedDelivery:
    return PlannedDelivery(
        delivery.channel, delivery.kind, events, subs, delivery.locale, delivery.payload
    )


def describe_until(mute: Mute, now: float, loc: str = "en") -> str:
    """How long a mute still holds, in words of the language of `loc`: `6 days 23 hours`,
    `1 hour 5 minutes`, `less than a minute`."""
    left = max(0, -int((now - mute.until) // 60) * 60)  # whole minutes, rounded up
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    # a duration is a count and its unit, at most two of them: each a plural message, the
    # pair joined by a message of its own (Japanese writes them without a space)
    parts = []
    if days:
        parts.append(tn(loc, "{n} day", "{n} days", days, n=days))
    if hours:
        parts.append(tn(loc, "{n} hour", "{n} hours", hours, n=hours))
    if not days and minutes:
        parts.append(tn(loc, "{n} minute", "{n} minutes", minutes, n=minutes))
    if len(parts) == 2:
        return tp(loc, "duration", "{larger} {smaller}", larger=parts[0], smaller=parts[1])
    return parts[0] if parts else tp(loc, "duration", "less than a minute")
