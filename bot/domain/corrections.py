"""Corrections of announced milestones: the events a revision makes, and who must hear them.

A revision that moves a recorded milestone's crossing period, takes the figure back below it, or
brings it back over it, is a `CorrectionEvent`. It is news whatever the age of the revised
period, but only for the channels that received the original announcement: an original still
waiting in the outbox (never rendered) or in an unsent digest is withdrawn from it instead, and
a channel that never heard the milestone hears nothing of its correction. Both stores run the
same plan (`plan_corrections`) over the rows they read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain.channels import Channel
from bot.domain.events import CorrectionEvent, Event, Metric, MilestoneEvent, Subject
from bot.domain.milestones import Correction
from bot.domain.periods import Month
from bot.domain.records import DetectionWrite, StoredEvent
from bot.domain.subscriptions import PlannedDelivery, Subscription, admit, most_specific

SILENT_FLAG = "silent_redetection"
"""A store flag a migration sets when it re-records figures (periods stored anew, counting rules
changed): the next detection's corrections are recorded in the log but told to no one."""

# a delivery in these states has reached (or will, as rendered) its channel
RECEIVED = ("posted", "inflight")


def correction_events(
    subject: Subject,
    region: str,
    metric: Metric,
    corrections: Sequence[Correction],
    latest: tuple[Month, int] | None,
    source: str = "",
) -> list[CorrectionEvent]:
    """The events of one series' corrections; `latest` is its figure now (month, cumulative)."""
    out = []
    for c in corrections:
        period, value = latest if latest is not None else (c.new_period or c.old_period, 0)
        out.append(
            CorrectionEvent(
                subject=subject,
                region=region,
                metric=metric,
                threshold=c.lowest,  # a range's first: in the one event that told it
                reason=c.reason,
                period=period,
                value=value,
                old_period=c.old_period,
                old_value=c.old_value,
                new_period=c.new_period,
                new_value=c.new_value,
                source=source,
            )
        )
    return out


MilestoneKey = tuple[str, str, str, int]  # subject key, region, metric, threshold


def corrected_milestones(write: DetectionWrite) -> list[MilestoneKey]:
    """The recorded milestones a detection's correction events are about."""
    return sorted(
        {(e.subject.key, e.region, e.metric, e.threshold) for e in corrections_of(write.events)}
    )


def keep_told(write: DetectionWrite, told: set[MilestoneKey]) -> None:
    """Drop the correction events of milestones never told (recorded as history): the
    correction log keeps them, but there is nothing to correct in any channel."""
    keys = write.event_keys or [[] for _ in write.events]
    kept = [
        (event, covering)
        for event, covering in zip(write.events, keys, strict=True)
        if not isinstance(event, CorrectionEvent)
        or (event.subject.key, event.region, event.metric, event.threshold) in told
    ]
    write.events = [event for event, _ in kept]
    if write.event_keys:
        write.event_keys = [list(covering) for _, covering in kept]


@dataclass(frozen=True, slots=True)
class Original:
    """A delivery that carried (or carries) a milestone a correction changes."""

    delivery_id: int
    channel: Channel
    status: str
    rendered: bool  # its text was fixed at a first claim: it goes out (or went out) as is
    event_ids: tuple[int, ...]
    subscription_ids: tuple[int, ...]


@dataclass
class CorrectionPlan:
    """What the outbox does for one detection's corrections."""

    deliveries: list[PlannedDelivery] = field(default_factory=list)
    # pending deliveries to rewrite without the withdrawn events: id -> (event ids, sub ids);
    # empty tuples cancel the delivery
    rewrites: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    withdrawn_digest_items: list[tuple[int, int]] = field(default_factory=list)


def milestones_corrected(
    corrections: Sequence[StoredEvent], candidates: Sequence[StoredEvent]
) -> dict[int, list[int]]:
    """For each correction's id, the ids of the stored milestone events that announced it."""
    out: dict[int, list[int]] = {}
    for stored in corrections:
        event = stored.event
        assert isinstance(event, CorrectionEvent)
        out[stored.id] = [
            c.id
            for c in candidates
            if isinstance(c.event, MilestoneEvent) and event.corrects(c.event)
        ]
    return out


def plan_corrections(
    corrections: Sequence[tuple[StoredEvent, Sequence[str]]],
    originals_of: Mapping[int, Sequence[int]],
    originals: Sequence[Original],
    digest_items: Sequence[tuple[int, int]],
    subscriptions: Mapping[Channel, Sequence[Subscription]],
) -> CorrectionPlan:
    """Withdraw what is still pending; tell the channels that received the original.

    `originals_of` maps each correction's event id to the milestone events it corrects;
    `originals` are the deliveries carrying any of those; `digest_items` the (subscription,
    event) pairs still waiting in digests; `subscriptions` each concerned channel's.
    """
    plan = CorrectionPlan()
    corrected = {m for ms in originals_of.values() for m in ms}
    plan.withdrawn_digest_items = [item for item in digest_items if item[1] in corrected]
    received: dict[Channel, set[int]] = defaultdict(set)  # channel -> corrected milestones
    sources: dict[Channel, set[int]] = defaultdict(set)  # channel -> original deliveries
    for original in sorted(originals, key=lambda o: o.delivery_id):
        carried = [e for e in original.event_ids if e in corrected]
        if not carried:
            continue
        if original.status == "pending" and not original.rendered:
            kept = [
                (e, s)
                for e, s in zip(original.event_ids, original.subscription_ids, strict=True)
                if e not in corrected
            ]
            plan.rewrites[original.delivery_id] = (
                tuple(e for e, _ in kept),
                tuple(s for _, s in kept),
            )
        elif original.status in RECEIVED or original.status == "pending":
            received[original.channel].update(carried)
            sources[original.channel].add(original.delivery_id)
    for channel in sorted(received):
        subs = [s for s in subscriptions.get(channel, ()) if s.active]
        pairs: list[tuple[int, int]] = []
        for stored, keys in corrections:
            if not set(originals_of.get(stored.id, ())) & received[channel]:
                continue
            covering = [
                s
                for s in subs
                if s.spec.subject.key in keys
                and s.spec.region == stored.event.region
                and s.spec.metric == stored.event.metric
            ]
            if not covering:
                continue  # no longer subscribed
            sub = most_specific(covering)
            if sub.active and admit(stored.event, sub, {}) is not None:
                pairs.append((stored.id, sub.id))
        if not pairs:
            continue
        locale = next(s.spec.locale for s in subs if s.id == pairs[0][1])
        plan.deliveries.append(
            PlannedDelivery(
                channel,
                "correction",
                tuple(e for e, _ in pairs),
                tuple(s for _, s in pairs),
                locale,
                correction_payload(sorted(sources[channel])),
            )
        )
    return plan


def correction_payload(originals: Sequence[int]) -> str:
    """A correction delivery's payload: the deliveries whose messages it corrects."""
    return json.dumps({"originals": list(originals)})


def corrections_of(events: Sequence[Event]) -> list[CorrectionEvent]:
    """The corrections among `events`."""
    return [e for e in events if isinstance(e, CorrectionEvent)]
