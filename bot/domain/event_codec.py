"""Events to and from plain JSON-able dicts, for storage, the outbox and `evbot replay --json`."""

from __future__ import annotations

from typing import Any

from bot.domain.events import (
    CorrectionEvent,
    Event,
    GrowthEvent,
    Leader,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.messages import Field, Message
from bot.domain.periods import Month, end_month, normalize_period
from bot.domain.rungs import RungRange, listed_range


def _subject(s: Subject) -> dict[str, str]:
    return {"kind": s.kind, "key": s.key, "name": s.name}


def _month(m: Month | None, granularity: str = "month") -> str | None:
    if m is None:
        return None
    return str(m.year) if granularity == "year" else str(m)


def _parse(text: str) -> Month:
    """A month, or a year (held as its December)."""
    return end_month(normalize_period(text))


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-able dict with at least kind, subject, region, metric, period and value."""
    base: dict[str, Any] = {
        "kind": event.kind,
        "subject": event.subject.name,
        "subject_ref": _subject(event.subject),
        "region": event.region,
        "metric": event.metric,
        "period": _month(event.period, event.granularity),
        "granularity": event.granularity,
        "source": event.source,
    }
    if event.covers:
        base["covers"] = list(event.covers)
    if event.basis:
        base["basis"] = event.basis
        base["same_as"] = [
            {"subject": _subject(subject), "region": region} for subject, region in event.same_as
        ]
    if isinstance(event, MilestoneEvent):
        if event.since:
            base.update(since=event.since, before=list(event.before))
        base.update(
            thresholds={
                "ladder": event.thresholds.ladder,
                "lowest": event.thresholds.lowest,
                "highest": event.thresholds.highest,
                "count": event.thresholds.count,
            },
            value=event.value,
            next_threshold=event.next_threshold,
            projected=_month(event.projected, event.granularity),
            leader=(
                {
                    "name": event.leader.name,
                    "units": event.leader.units,
                    "share": event.leader.share,
                }
                if event.leader
                else None
            ),
        )
    elif isinstance(event, ShareEvent):
        base.update(
            parent=_subject(event.parent),
            direction=event.direction,
            boundary=event.boundary,
            share=event.share,
            value=event.units,
            parent_units=event.parent_units,
        )
    elif isinstance(event, GrowthEvent):
        base.update(value=event.value, previous=event.previous, change=round(event.change, 6))
    elif isinstance(event, CorrectionEvent):
        base.update(
            value=event.value,
            threshold=event.threshold,
            reason=event.reason,
            old_period=str(event.old_period),
            old_value=event.old_value,
            new_period=_month(event.new_period),
            new_value=event.new_value,
        )
    else:
        base.update(
            value=event.value,
            previous_best=event.previous_best,
            previous_best_period=_month(event.previous_best_period, event.granularity),
        )
    return base


def event_from_dict(data: dict[str, Any]) -> Event:
    """The event a dict from `event_to_dict` describes."""
    s = data["subject_ref"]
    subject = Subject(s["kind"], s["key"], s["name"])
    period = _parse(data["period"])
    kind = data["kind"]
    common: dict[str, Any] = {
        "subject": subject,
        "region": data["region"],
        "metric": data["metric"],
        "period": period,
        "source": data.get("source", ""),
        "granularity": data.get("granularity", "month"),
        "covers": tuple(data.get("covers", ())),
        # events stored before bases were kept have none: they are never merged
        "basis": data.get("basis", ""),
        "same_as": tuple(
            (Subject(o["subject"]["kind"], o["subject"]["key"], o["subject"]["name"]), o["region"])
            for o in data.get("same_as", ())
        ),
    }
    if kind == "milestone":
        leader = data.get("leader")
        return MilestoneEvent(
            thresholds=_rung_range(data["thresholds"]),
            value=data["value"],
            leader=Leader(leader["name"], leader["units"], leader["share"]) if leader else None,
            next_threshold=data.get("next_threshold"),
            projected=_parse(data["projected"]) if data.get("projected") else None,
            since=data.get("since", 0),
            before=tuple(data.get("before", ())),
            **common,
        )
    if kind == "share":
        p = data["parent"]
        return ShareEvent(
            parent=Subject(p["kind"], p["key"], p["name"]),
            direction=data["direction"],
            boundary=data["boundary"],
            share=data["share"],
            units=data["value"],
            parent_units=data["parent_units"],
            **common,
        )
    if kind == "growth":
        return GrowthEvent(value=data["value"], previous=data["previous"], **common)
    if kind == "record":
        prev = data.get("previous_best_period")
        return RecordEvent(
            value=data["value"],
            previous_best=data["previous_best"],
            previous_best_period=_parse(prev) if prev else None,
            **common,
        )
    if kind == "correction":
        new = data.get("new_period")
        return CorrectionEvent(
            threshold=data["threshold"],
            reason=data["reason"],
            value=data["value"],
            old_period=Month.parse(data["old_period"]),
            old_value=data["old_value"],
            new_period=Month.parse(new) if new else None,
            new_value=data.get("new_value"),
            **common,
        )
    raise ValueError(f"unknown event kind {kind!r}")


def _rung_range(data: Any) -> RungRange:
    """A milestone event's thresholds: a range, or the list an older version stored (whose
    own rungs it then names, so that they can still be listed)."""
    if isinstance(data, dict):
        return RungRange(data["ladder"], data["lowest"], data["highest"], data["count"])
    return listed_range(data)


def dedupe_key(event: Event) -> str:
    """What makes an event the same event, so that it is stored (and announced) once."""
    base = f"{event.kind}|{event.subject.key}|{event.region}|{event.metric}"
    if isinstance(event, MilestoneEvent):
        return f"{base}|{event.headline}"
    if isinstance(event, ShareEvent):
        return f"{base}|{event.parent.key}|{event.direction}|{event.boundary:.4f}|{event.period}"
    if isinstance(event, CorrectionEvent):
        # a milestone can be corrected more than once: each change of what is true is its own
        return (
            f"{base}|{event.threshold}|{event.reason}|{event.old_period}|{event.old_value}"
            f"|{event.new_period}|{event.new_value}|{event.period}|{event.value}"
        )
    return f"{base}|{event.period}"


def message_to_dict(message: Message) -> dict[str, Any]:
    """A JSON-able form of a message (without its image, which is rendered again when sent)."""
    return {
        "title": message.title,
        "body": message.body,
        "fields": [{"name": f.name, "value": f.value, "inline": f.inline} for f in message.fields],
        "footer": message.footer,
        "accent": message.accent,
        "locale": message.locale,
        "kind": message.kind,
        "corrects": list(message.corrects),
    }


def message_from_dict(data: dict[str, Any]) -> Message:
    """The message a dict from `message_to_dict` describes."""
    return Message(
        title=data["title"],
        body=data["body"],
        fields=tuple(Field(f["name"], f["value"], f.get("inline", True)) for f in data["fields"]),
        footer=data.get("footer", ""),
        accent=data.get("accent", "info"),
        locale=data.get("locale", "en"),
        kind=data.get("kind", "info"),
        corrects=tuple(data.get("corrects") or ()),
    )
