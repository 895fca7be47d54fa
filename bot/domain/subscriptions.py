"""Subscriptions and fan-out: which channel hears which event, once, with whose settings.

A subscription to a subject also covers what lies inside it: the Alliance covers its makes and
their models, `all` covers everything. Where a channel's subscriptions overlap, each fact goes
to the channel once: among the subscriptions that admit (by kind and ladder) any of the events
telling it (`bot.domain.facts`: the Leaf, Nissan and the Alliance passing 10,000 on the Leaf's
figures
alone), the most specific one (model, then make, then group, then all; a region before the
world) applies, with its kinds, ladder and locale, and hears the fact's most specific event it
admits, named after its own subject when that is not the one told. All events of one detection
for one channel become one delivery: one grouped message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.channels import Channel
from bot.domain.events import Event, Metric, MilestoneEvent, Subject
from bot.domain.facts import event_rank, fact_key, region_rank
from bot.domain.formatting import validate_locale
from bot.domain.i18n import LocalizedError
from bot.domain.ladders import Ladder, LadderError, parse_ladder
from bot.domain.records import StoredEvent

KINDS = ("milestone", "share", "growth", "record")
# what a subscription counts (counting rule 3): units sold, or vehicles registered (a level); a
# channel hears the events of its subscription's metric only
METRICS = ("sales", "stock")
MODES = ("instant", "daily", "weekly", "monthly")
INSTANT_BY_DEFAULT = ("milestone", "share")  # growth and records go to a digest unless asked
DEFAULT_DIGEST_AT = "09:00"
SPECIFICITY = {"model": 3, "make": 2, "group": 1, "region": 0, "all": 0}


# The platforms this version can deliver to. A subscription to anything else would wait forever,
# so it is refused. (A list here for now; an adapter registry will hold it.)
class SubscriptionError(LocalizedError):
    """A subscription setting that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """What a channel asks for when it subscribes."""

    channel: Channel
    subject: Subject
    region: str = "World"
    kinds: tuple[str, ...] = KINDS
    instant_kinds: tuple[str, ...] = INSTANT_BY_DEFAULT
    ladder: str = "default"
    locale: str = "en"
    mode: str = "instant"
    digest_at: str = DEFAULT_DIGEST_AT  # HH:MM in `timezone`
    timezone: str = "UTC"
    created_by: str = ""
    charts: bool = True  # milestone announcements carry the cumulative chart
    corrections: bool = True  # corrections of milestones it heard (they follow the milestone kind)
    metric: Metric = "sales"  # sales or stock: part of what makes a subscription unique


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription."""

    id: int
    spec: SubscriptionSpec
    created_at: str
    status: str = "active"  # active or paused
    paused_reason: str | None = None
    last_error: str | None = None
    failures: int = 0

    @property
    def channel(self) -> Channel:
        return self.spec.channel

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """One message to one channel: the events it groups, and the subscription of each."""

    channel: Channel
    kind: str  # instant, digest or following
    event_ids: tuple[int, ...]
    subscription_ids: tuple[int, ...]
    locale: str
    payload: str | None = None  # a pre-rendered message (JSON) for following/digest notices


@dataclass
class FanoutPlan:
    deliveries: list[PlannedDelivery] = field(default_factory=list)
    digest_items: list[tuple[int, int]] = field(default_factory=list)  # (subscription, event)


def check_platform(platform: str, known: Collection[str]) -> None:
    """Refuse a platform this version cannot deliver to (not in `known`), listing those it can."""
    if platform not in known:
        raise SubscriptionError(
            "platform: {value} is not a platform evbot can deliver to (known: {known})",
            value=repr(platform),
            known=", ".join(known),
        )


def waiting_reason(platform: str, served: Collection[str], known: Collection[str]) -> str | None:
    """Why deliveries to `platform` cannot go out while the platforms in `served` run (None:
    they can): one not in `known`, or a known one that is not enabled."""
    if platform in served:
        return None
    if platform not in known:
        return f"{platform} is not a platform evbot knows (known: {', '.join(known)})"
    if platform == "console":
        return "console runs only when no platform is enabled in the configuration"
    return f"{platform} is not enabled in the configuration ([platforms.{platform}] enabled)"


def validate_spec(spec: SubscriptionSpec, ladders: Mapping[str, str | tuple[int, ...]]) -> None:
    """Refuse settings that cannot work, naming the setting and what it accepts."""
    for kind in spec.kinds:
        if kind not in KINDS:
            raise SubscriptionError(
                "kinds: {value} is not one of {choices}", value=repr(kind), choices=", ".join(KINDS)
            )
    if not spec.kinds:
        raise SubscriptionError("kinds: choose at least one of {choices}", choices=", ".join(KINDS))
    for kind in spec.instant_kinds:
        if kind not in KINDS:
            raise SubscriptionError(
                "instant: {value} is not one of {choices}",
                value=repr(kind),
                choices=", ".join(KINDS),
            )
    try:
        validate_locale(spec.locale)
    except ValueError as exc:
        raise locale_error(spec.locale) from exc
    if spec.ladder not in ladders:
        raise SubscriptionError(
            "ladder: no ladder named {value} (known: {known})",
            value=repr(spec.ladder),
            known=", ".join(sorted(ladders)),
        )
    if spec.metric not in METRICS:
        raise SubscriptionError(
            "metric: {value} is not one of {choices}",
            value=repr(spec.metric),
            choices=", ".join(METRICS),
        )
    if spec.mode not in MODES:
        raise SubscriptionError(
            "mode: {value} is not one of {choices}", value=repr(spec.mode), choices=", ".join(MODES)
        )
    if not isinstance(spec.charts, bool):
        raise SubscriptionError("charts: {value} is not on or off", value=repr(spec.charts))
    hour, _, minute = spec.digest_at.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise SubscriptionError(
            "time: {value} is not a time of day HH:MM", value=repr(spec.digest_at)
        )
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SubscriptionError(
            "timezone: {value} is not a time zone (e.g. {example})",
            value=repr(spec.timezone),
            example="Europe/Paris",
        ) from exc


def locale_error(code: str) -> SubscriptionError:
    """The refusal of a `locale:` Babel does not know, naming the languages the bot writes."""
    return SubscriptionError(
        "locale: unknown locale {value}: expected a code such as {examples}",
        value=repr(code),
        examples="en, nb, de, fr, nl, es, ja, en_GB",
    )


CHART_SWITCH = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


def parse_charts(text: str | None, default: bool = True, name: str = "charts") -> bool:
    """`charts:on` / `charts:off` (also yes/no, true/false) as a subscription's chart setting
    (or, by `name`, another on/off setting such as `corrections`)."""
    if text is None or not text.strip():
        return default
    value = CHART_SWITCH.get(text.strip().lower())
    if value is None:
        raise SubscriptionError("{name}: {value} is not on or off", name=name, value=repr(text))
    return value


def parse_metric(text: str | None) -> Metric:
    """`metric:sales` / `metric:stock` (any case) as a subscription's metric; sales when unset."""
    value = (text or "sales").strip().lower() or "sales"
    if value == "stock":
        return "stock"
    if value != "sales":
        raise SubscriptionError(
            "metric: {value} is not one of {choices}", value=repr(text), choices=", ".join(METRICS)
        )
    return "sales"


def ladder_objects(ladders: Mapping[str, str | tuple[int, ...]]) -> dict[str, Ladder]:
    """Parsed ladders by name."""
    out = {}
    for name, spec in ladders.items():
        try:
            out[name] = parse_ladder(name, spec if isinstance(spec, str) else list(spec))
        except LadderError as exc:  # config validation refuses these; be safe anyway
            raise SubscriptionError(exc.message, **exc.values) from exc
    return out


def admit(event: Event, sub: Subscription, ladders: Mapping[str, Ladder]) -> Event | None:
    """The event as this subscription should hear it, or None when it filters it out; named
    after the subscription's subject when that tells the same fact (`told_as`)."""
    if event.kind == "correction":
        return event if "milestone" in sub.spec.kinds and sub.spec.corrections else None
    if event.kind not in sub.spec.kinds:
        return None
    if isinstance(event, MilestoneEvent):
        ladder = ladders.get(sub.spec.ladder)
        if ladder is None:
            return None
        kept = event.thresholds.within(ladder)
        if kept is None:
            return None
        same = (kept.lowest, kept.highest, kept.count) == (
            event.thresholds.lowest,
            event.thresholds.highest,
            event.thresholds.count,
        )
        if not same:
            event = replace(event, thresholds=kept)
    subject = sub.spec.subject
    if subject.key != event.subject.key and (subject, sub.spec.region) in event.same_as:
        event = replace(event, told_as=subject)
    return event


def most_specific(candidates: Sequence[Subscription]) -> Subscription:
    """The subscription whose settings apply where several cover one event."""
    return max(
        candidates,
        key=lambda s: (SPECIFICITY.get(s.spec.subject.kind, 0), region_rank(s.spec.region), -s.id),
    )


def plan_fanout(
    events: Sequence[tuple[StoredEvent, Sequence[str]]],
    subscriptions: Sequence[Subscription],
    ladders: Mapping[str, Ladder],
) -> FanoutPlan:
    """Deliveries for one detection's events: one per channel (and locale, should a channel's
    subscriptions differ in it), grouping its instant events.

    `events` pairs each stored event with the subject keys that cover it (its own, its make's,
    its groups', "all"); `subscriptions` are the active ones that may match.
    """
    by_channel: dict[Channel, list[Subscription]] = defaultdict(list)
    for sub in subscriptions:
        if sub.active:
            by_channel[sub.channel].append(sub)
    plan = FanoutPlan()
    for channel in sorted(by_channel):
        subs = by_channel[channel]
        instant: list[tuple[int, int]] = []
        # kinds and ladder first: a Leaf subscription to shares alone must not take the Leaf's
        # milestones from an Alliance subscription that wants them
        facts: dict[object, list[tuple[StoredEvent, list[Subscription]]]] = {}
        for stored, keys in events:
            admitting = [
                s
                for s in subs
                if s.spec.subject.key in keys
                and s.spec.region == stored.event.region
                and s.spec.metric == stored.event.metric
                and admit(stored.event, s, ladders) is not None
            ]
            if admitting:
                fact = fact_key(stored.event) or ("event", stored.id)
                facts.setdefault(fact, []).append((stored, admitting))
        for told in facts.values():
            sub = most_specific([s for _, admitting in told for s in admitting])
            stored = max(
                (st for st, admitting in told if sub in admitting),
                key=lambda st: (event_rank(st.event), -st.id),
            )
            if sub.spec.mode == "instant" and stored.event.kind in sub.spec.instant_kinds:
                instant.append((stored.id, sub.id))
            else:
                plan.digest_items.append((sub.id, stored.id))
        locale_of = {s.id: s.spec.locale for s in subs}
        by_locale: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for event_id, sub_id in instant:
            by_locale[locale_of[sub_id]].append((event_id, sub_id))
        for locale, pairs in by_locale.items():
            plan.deliveries.append(
                PlannedDelivery(
                    channel,
                    "instant",
                    tuple(e for e, _ in pairs),
                    tuple(s for _, s in pairs),
                    locale,
                )
            )
    return plan
