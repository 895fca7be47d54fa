"""Subscribing a channel: validate, store, and send one "now following" baseline, never history."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from bot.domain.announcer import following_message
from bot.domain.coverage import source_facts, told
from bot.domain.event_codec import message_to_dict
from bot.domain.events import Subject
from bot.domain.ladders import union_next_above
from bot.domain.messages import Message
from bot.domain.projection import project
from bot.domain.series import cumulative
from bot.domain.settings import Config
from bot.domain.subjects import SubjectKey
from bot.domain.subscriptions import (
    SPECIFICITY,
    PlannedDelivery,
    Subscription,
    SubscriptionError,
    SubscriptionSpec,
    ladder_objects,
    validate_spec,
)
from bot.ports.store import BotStore
from bot.reading.queries import series_reader

SAVE_TEMPLATE = "evbot template set NAME KIND FILE"  # the command as typed, in every language


@dataclass(frozen=True)
class SubscribeResult:
    subscription: Subscription
    created: bool
    overlaps: list[Subscription]  # the channel's other subscriptions that cover or are covered
    unchanged: bool = False  # already in place with these settings: nothing stored or queued


def _covers(outer: Subject, inner: Subject, config: Config) -> bool:
    """Whether a subscription to `outer` also hears events about `inner`."""
    if outer.key == inner.key or outer.kind == "all":
        return True
    if SPECIFICITY.get(outer.kind, 0) >= SPECIFICITY.get(inner.kind, 0):
        return False
    inner_make = SubjectKey.parse(inner.key).make
    if outer.kind == "make":
        return inner.kind == "model" and outer.key == SubjectKey.for_make(inner_make)
    if outer.kind == "group":
        from bot.domain.names import name_key

        for group in config.groups:
            if SubjectKey.for_group(group.name) == outer.key:
                return any(name_key(m.make) == inner_make for m in group.members)
    return False


def _overlaps(
    mine: list[Subscription], spec: SubscriptionSpec, config: Config
) -> list[Subscription]:
    """The channel's other subscriptions in the same region and metric that cover or are
    covered."""
    return [
        s
        for s in mine
        if s.spec.region == spec.region
        and s.spec.metric == spec.metric
        and s.spec.subject.key != spec.subject.key
        and (
            _covers(s.spec.subject, spec.subject, config)
            or _covers(spec.subject, s.spec.subject, config)
        )
    ]


async def subscribe(
    store: BotStore, config: Config, spec: SubscriptionSpec, now: float, template: str = ""
) -> SubscribeResult:
    """Store a subscription and queue its baseline message; raises SubscriptionError.

    Subscribing again with the same settings to an active subscription changes nothing and
    posts nothing: a repeated (or replayed) command must not post to the channel each time.
    `template` names the workspace's template its announcements use ("": the bot's words).
    """
    validate_spec(spec, config.ladders)
    if template:
        names = {
            t.name for t in await store.templates(spec.channel.platform, spec.channel.workspace)
        }
        if template not in names and names:
            raise SubscriptionError(
                "template: no template {name} here (there are: {names}); save one first: {example}",
                name=repr(template),
                names=", ".join(sorted(names)),
                example=SAVE_TEMPLATE,
            )
        if template not in names:
            raise SubscriptionError(
                "template: no template {name} here; save one first: {example}",
                name=repr(template),
                example=SAVE_TEMPLATE,
            )
    mine = await store.subscriptions(spec.channel)
    prior = next(
        (
            s
            for s in mine
            if s.spec.region == spec.region
            and s.spec.metric == spec.metric
            and s.spec.subject.key == spec.subject.key
        ),
        None,
    )
    if (
        prior is not None
        and prior.active
        and replace(spec, created_by=prior.spec.created_by) == prior.spec
    ):
        await store.use_template(prior.id, template)
        return SubscribeResult(prior, False, _overlaps(mine, spec, config), unchanged=True)
    overlaps = _overlaps(mine, spec, config)
    sub, created = await store.subscribe(spec)
    await store.use_template(sub.id, template)
    # the figures of now go in the payload only as a fallback: the delivery worker renders the
    # notice again when it first claims it (`following_now`), with the figures of then
    message = await following_now(store, config, spec)
    await store.enqueue(
        [
            PlannedDelivery(
                spec.channel,
                "following",
                (),
                (sub.id,),
                spec.locale,
                json.dumps(message_to_dict(message)),
            )
        ],
        now,
    )
    return SubscribeResult(sub, created, overlaps)


async def following_now(store: BotStore, config: Config, spec: SubscriptionSpec) -> Message:
    """The "now following" notice of a subscription, with the store's figures as they are."""
    reader = series_reader(store, config)
    basis: dict[int, set[tuple[str, int]]] = {}
    monthly = await reader.monthly(spec.subject, spec.region, spec.metric, basis)
    points = cumulative(monthly)
    total = points[-1][1] if points else 0
    as_of = points[-1][0] if points else None
    ladder = ladder_objects(config.ladders)[spec.ladder]
    upcoming = union_next_above([ladder], total)
    projected = project(points, upcoming) if upcoming and points else None
    how = told(basis, spec.region, as_of, None, source_facts(await store.sources(), config))
    return following_message(
        spec.subject.name,
        total,
        as_of,
        upcoming,
        projected,
        spec.locale,
        how.granularity,
        spec.metric,
    )
